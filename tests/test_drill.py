"""Drill-down aggregates: a parent's numbers are the sums of its children's, at every level."""

from __future__ import annotations

from datetime import date

import pytest

from geo import db
from geo.analysis import drill
from tests.support.drill import COMMUNITY, VILLAGE

WINDOW = (date(2026, 7, 1), date(2026, 7, 31))


def test_children_sum_to_parent_at_every_level(town):
    for code in ("620802", "620802001", COMMUNITY, VILLAGE):
        parent = drill.summary(town, code, *WINDOW)
        kids = drill.children(town, code, *WINDOW)
        for key in (*drill.MEASURE_KEYS, "households"):
            assert sum(k[key] for k in kids) == parent[key], (code, key)
    assert drill.summary(town, "620802", *WINDOW)["incidents"] == 10


def test_measures_and_rates(town):
    town_row = drill.children(town, "620802", *WINDOW)[0]
    assert town_row["code"] == "620802001" and town_row["level"] == "town"
    assert (town_row["incidents"], town_row["resolved"], town_row["open"], town_row["overdue"]) == (10, 8, 2, 1)
    # 化解率 is resolved disputes over disputes (geo.analysis.indicators); 8 disputes are
    # under the minimum sample, so there is no rate to show ("样本不足")
    assert (town_row["disputes"], town_row["resolved_disputes"]) == (8, 6)
    assert town_row["resolution_rate"] is None
    assert town_row["per_1000_households"] == pytest.approx(10 / 4 * 1000)
    community, village = drill.children(town, "620802001", *WINDOW)
    assert (community["incidents"], community["households"], village["incidents"], village["households"]) == (8, 3, 2, 1)


def test_grids_of_a_community_and_the_remainder(town):
    grids = {g["code"]: g for g in drill.children(town, COMMUNITY, *WINDOW)}
    assert [g["incidents"] for g in grids.values()] == [3, 1, 2, 2]
    assert grids[COMMUNITY + "001"]["households"] == 2
    village = drill.children(town, VILLAGE, *WINDOW)
    assert [(v["code"], v["name"], v["incidents"], v["households"]) for v in village] == [(None, drill.REMAINDER_NAME, 2, 1)]


def test_a_grids_children_are_its_incidents(town):
    kids = drill.children(town, COMMUNITY + "003", *WINDOW)
    assert [k["status"] for k in kids] == ["dispatched", "in_progress"]  # newest (highest id) first
    assert sum(k["overdue"] for k in kids) == drill.summary(town, COMMUNITY + "003", *WINDOW)["overdue"] == 1
    assert all(k["level"] == "incident" and k["code"] == str(k["id"]) for k in kids)


def test_the_trend_has_every_period_and_numeric_dates(town):
    """A day with no case is a zero, not a missing bar (a daily bar was drawn a week wide and
    the line ran over empty days), and the axis reads 11-15, not "Nov 15"."""
    import app  # noqa: F401  (pages register with the one Dash app)
    from geo.web.pages import drill as page

    days = drill.trend(town, "620802", date(2026, 7, 1), date(2026, 7, 7), bucket="day")
    assert [r["period"] for r in days] == [date(2026, 7, d) for d in range(1, 8)]
    assert sum(r["incidents"] for r in days) == drill.summary(town, "620802", date(2026, 7, 1), date(2026, 7, 7))["incidents"]
    weeks = drill.trend(town, "620802", date(2026, 7, 1), date(2026, 7, 31), bucket="week")
    assert [r["period"] for r in weeks] == [
        date(2026, 6, 29),
        date(2026, 7, 6),
        date(2026, 7, 13),
        date(2026, 7, 20),
        date(2026, 7, 27),
    ]
    fig = page.trend_figure(days, "day")
    assert fig.layout.xaxis.tickformat == "%m-%d" and page.trend_figure(days, "month").layout.xaxis.tickformat == "%Y-%m"


def test_trend_charts_say_what_the_bars_and_the_line_are():
    """Both trend charts carry a legend naming their two series, and the big screen's bars
    are named for what they count, the events other than disputes (a yellow line above blue
    bars, unnamed, read as "more disputes than events")."""
    import app  # noqa: F401  (pages register with the one Dash app)
    from geo.web.pages import bigscreen
    from geo.web.pages import drill as page

    screen = bigscreen.trend_figure([dict(day=date(2026, 12, 1), events=3, disputes=5)])
    assert screen.layout.showlegend and [tr.name for tr in screen.data] == ["其他事件", "矛盾纠纷"]
    rows = [dict(period=date(2026, 12, 1), incidents=4, open=1)]
    desk = page.trend_figure(rows, "day")
    assert desk.layout.showlegend and [tr.name for tr in desk.data] == ["事件", "在办"]


def test_category_filter_trend_and_top_categories(town):
    assert drill.summary(town, "620802", *WINDOW, major_code="07")["incidents"] == 2
    assert [
        (t["period"], t["incidents"]) for t in drill.trend(town, "620802", date(2026, 7, 1), date(2026, 9, 30), bucket="month")
    ] == [(date(2026, 7, 1), 10), (date(2026, 8, 1), 0), (date(2026, 9, 1), 1)]  # every month, the empty one too
    top = drill.top_categories(town, "620802", *WINDOW, n=1)
    assert [(t["minor_code"], t["incidents"]) for t in top] == [("0103", 8)]


def test_breadcrumb_from_city_down(town):
    db.execute(town, "INSERT INTO admin_unit (code, level, name) VALUES ('620800', 'city', '平凉市')")
    db.execute(town, "UPDATE admin_unit SET parent_code = '620800' WHERE code = '620802'")
    assert [c[2] for c in drill.breadcrumb(town, COMMUNITY + "002")] == ["city", "district", "town", "community", "grid"]
    assert drill.breadcrumb(town, "620802001")[-1] == ("620802001", "东关街道", "town")
    assert drill.children(town, "620800", *WINDOW)[0]["incidents"] == 10
    town.rollback()


def test_bad_input_is_refused(town):
    with pytest.raises(ValueError):
        drill.children(town, "62080", *WINDOW)
    with pytest.raises(ValueError):
        drill.summary(town, "620802", date(2026, 7, 2), date(2026, 7, 1))
    with pytest.raises(ValueError):
        drill.trend(town, "620802", *WINDOW, bucket="year")
    with pytest.raises(ValueError):
        drill.summary(town, "620802", *WINDOW, major_code="1; drop")
    with pytest.raises(LookupError):
        drill.breadcrumb(town, "620802009")


def test_demo_children_sum_to_parent(demo_conn):
    window = (date(2026, 1, 1), date(2026, 3, 31))
    for code in ("620802", "620802001"):
        parent = drill.summary(demo_conn, code, *window)
        kids = drill.children(demo_conn, code, *window)
        assert parent["incidents"] > 100
        for key in drill.MEASURE_KEYS:
            assert sum(k[key] for k in kids) == parent[key]
