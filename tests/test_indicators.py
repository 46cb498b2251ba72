"""One definition per indicator: each KPI computed through the big screen, the drill page, the
季通报 and the CLI reads the same for the same scope and window (geo.analysis.indicators)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from geo import db
from geo import pgserver as cluster
from geo.analysis import dashboard, drill, indicators, rankings
from geo.cli import main
from geo.worktime import CST
from tests.support.drill import add_incidents, lattice

TOWN = "620802001"
NOW = datetime.now(CST)
URBAN = (106.652, 35.532)  # in the urban community's first grid
VILLAGE = (106.665, 35.54)


def at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


@pytest.fixture
def county(tiny_jurisdiction, conn, add_grids, categories):
    """A county built here: disputes resolved at village and town level, open and overdue
    cases, a cancelled report, an old case outside every window and other events."""
    add_grids(lattice(2, dx=0.005, dy=0.01))
    add_incidents(conn, [URBAN] * 9, reported_at=at(40))  # disputes, followed up
    add_incidents(conn, [URBAN] * 3, status="closed", reported_at=at(3))
    add_incidents(conn, [URBAN] * 2, status="in_progress", reported_at=at(20), deadline_days=5)  # overdue now
    add_incidents(conn, [URBAN], status="dispatched", reported_at=at(1), deadline_days=30)  # open, not due
    add_incidents(conn, [URBAN], status="cancelled", reported_at=at(2))  # not an incident
    add_incidents(conn, [VILLAGE] * 4, minor_code="0701", reported_at=at(10))  # not disputes
    add_incidents(conn, [URBAN] * 5, reported_at=at(500))  # outside the year
    add_incidents(conn, [URBAN] * 2, reported_at=NOW - timedelta(minutes=5))  # today
    with db.transaction(conn) as cur:
        cur.execute("UPDATE incident SET level_handled = 'community' WHERE status IN ('closed', 'followed_up')")
        cur.execute(
            "UPDATE incident SET level_handled = 'town' WHERE id IN (SELECT id FROM incident WHERE status = 'closed' LIMIT 2)"
        )
    dashboard.clear_cache()
    return conn


def test_ratios_need_a_minimum_sample():
    assert indicators.ratio(1, 1) is None and indicators.ratio(0, 0) is None
    assert indicators.ratio(9, 10) == pytest.approx(0.9)
    assert indicators.fmt("resolution_rate", None) == "样本不足"
    assert indicators.fmt("resolution_rate", 0.5) == "50.0%"


def test_durations_in_days_beyond_48_hours():
    assert indicators.duration_text(30) == "30小时"
    assert indicators.duration_text(48) == "48小时"
    assert indicators.duration_text(13143) == "547.6天"


def test_windows_and_captions():
    now = datetime(2026, 12, 6, 10, tzinfo=CST)
    assert indicators.last_days(365, now) == (date(2025, 12, 7), date(2026, 12, 6))
    assert indicators.window_caption(*indicators.last_days(365, now), now) == "近365天"
    assert indicators.window_caption(date(2026, 12, 6), date(2026, 12, 6), now) == "今日"
    assert indicators.window_caption(date(2026, 7, 1), date(2026, 9, 30), now) == "2026-07-01至2026-09-30"
    # 环比: six days of December against the first six of November
    assert indicators.equal_span(date(2026, 12, 1), date(2026, 12, 31), now) == (
        (date(2026, 12, 1), date(2026, 12, 6)),
        (date(2026, 11, 1), date(2026, 11, 6)),
    )
    # a finished month against the whole month before, cut to its length
    assert indicators.equal_span(date(2026, 3, 1), date(2026, 3, 31), now)[1] == (date(2026, 2, 1), date(2026, 2, 28))


def test_every_page_and_the_cli_read_the_same_numbers(county, monkeypatch, capsys):
    start, end = indicators.last_days(dashboard.YEAR_DAYS, NOW)
    ref = indicators.compute(county, TOWN, start, end, NOW)
    # from the definitions, by hand: 17 disputes in the year (9 + 3 + 2 + 1 + 2, the cancelled
    # one and the old five left out), 14 of them resolved; 18 resolved incidents with a level
    # (the 4 village events too), 16 at village level
    assert (ref["resolution_base"], ref["resolution_rate"]) == (17, pytest.approx(14 / 17))
    assert (ref["village_base"], ref["village_share"]) == (18, pytest.approx(16 / 18))
    assert (ref["open"], ref["overdue"], ref["today"]) == (3, 2, 2)

    # the big screen (its cached path), the district being this one town
    k = dashboard.kpis(county, "", NOW)
    for key in ("today", "month", "open", "overdue", "resolution_rate", "village_share"):
        assert k[key] == pytest.approx(ref[key]), key
    # the drill page over the same days
    s = drill.summary(county, TOWN, start, end)
    assert s["resolution_rate"] == pytest.approx(ref["resolution_rate"])
    assert s["incidents"] == ref["incidents"]
    assert indicators.current_open(county, TOWN, NOW) == dict(open=ref["open"], overdue=ref["overdue"])
    # the 季通报's town row over the same days
    (town,) = rankings.towns(county, start, end)
    assert town["resolution_rate"] == pytest.approx(ref["resolution_rate"]) and town["found"] == ref["incidents"]
    # the big screen's ranking over its own 90 days, against the reference over those days
    (row,) = dashboard.town_ranking(county, now=NOW)
    r90 = indicators.compute(county, TOWN, *indicators.last_days(dashboard.RANKING_DAYS, NOW), NOW)
    assert (row["found"], row["rate"]) == (r90["incidents"], r90["resolution_rate"])
    # the CLI
    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))
    assert main(["indicators", "--unit", TOWN, "--from", str(start), "--to", str(end), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("incidents", "open", "overdue", "resolution_rate", "village_share"):
        assert out[key] == pytest.approx(ref[key]), key
    assert main(["indicators", "--unit", TOWN]) == 0
    text = capsys.readouterr().out
    assert "化解率" in text and f"{ref['resolution_rate'] * 100:.1f}%" in text and "[近365天]" in text


def test_rates_over_few_cases_say_so_everywhere(county, monkeypatch, capsys):
    """A window with only a handful of disputes: no percentage anywhere, "样本不足" instead."""
    start = end = (NOW - timedelta(days=3)).date()  # three disputes that day
    ref = indicators.compute(county, TOWN, start, end, NOW)
    assert ref["resolution_base"] == 3 and ref["resolution_rate"] is None
    assert drill.summary(county, TOWN, start, end)["resolution_rate"] is None
    assert rankings.towns(county, start, end)[0]["resolution_rate"] is None
    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))
    assert main(["indicators", "--unit", TOWN, "--from", str(start), "--to", str(end)]) == 0
    assert "样本不足" in capsys.readouterr().out


def test_cli_says_how_to_fix_a_bad_window(county, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))
    assert main(["indicators", "--from", "2026-07-01"]) == 1
    assert "--from and --to go together" in capsys.readouterr().err
    assert main(["indicators", "--unit", "12x"]) == 1
    assert "6, 9, 12 or 15 digits" in capsys.readouterr().err
