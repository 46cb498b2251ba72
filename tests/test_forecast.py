"""风险预测 (issue #16): the forecast reads nothing at or after its as-of instant, the
backtest's arithmetic holds on hand-worked cases, the model recovers a known generating
process, stored weekly runs give last week's hit rate and the forecast warning, and the CLI
speaks the issue's JSON."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import numpy as np
import pytest
import shapely

from geo import cli, db
from geo.forecast import backtest as bt
from geo.forecast import model as fc
from geo.forecast import store as forecast_store
from geo.worktime import CST

COMMUNITY = "620802001001"
SIDE = 5  # a 5 x 5 lattice of grids in the tiny jurisdiction's urban community
AS_OF = datetime(2026, 11, 30, tzinfo=CST)  # a Monday


def lattice_codes() -> list[str]:
    return [f"{COMMUNITY}{i + 1:03d}" for i in range(SIDE * SIDE)]


@pytest.fixture
def lattice(tiny_jurisdiction, categories, add_grids, conn):
    """25 square grids of 0.002 degrees in the west half of the tiny jurisdiction."""
    grids = []
    for i, code in enumerate(lattice_codes()):
        x0, y0 = 106.650 + 0.002 * (i % SIDE), 35.530 + 0.002 * (i // SIDE)
        grids.append((code, f"网格{i + 1}", "urban", shapely.box(x0, y0, x0 + 0.002, y0 + 0.002)))
    add_grids(grids)
    return conn


def add_incidents(conn, rows: list[tuple[str, datetime]], status: str = "received") -> None:
    """Insert (grid_code, reported_at) incidents in one statement, each inside its grid."""
    with db.transaction(conn) as cur:
        cur.execute(
            """INSERT INTO incident (title, minor_code, source, reported_at, status, grid_code, admin_code, geom)
               SELECT 't', '0102', 'import', r.at, %s, r.grid, left(r.grid, 12), ST_PointOnSurface(g.geom)
                 FROM unnest(%s::text[], %s::timestamptz[]) r (grid, at)
                 JOIN grid_current g ON g.code = r.grid""",
            (status, [r[0] for r in rows], [r[1] for r in rows]),
        )


def history_rows(seed: int = 3, days: int = 400) -> list[tuple[str, datetime]]:
    """Incidents over `days` days before AS_OF: grid i has a rate rising with i."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, code in enumerate(lattice_codes()):
        n = rng.poisson(days * 0.02 * (1 + i / 3))
        for offset in rng.uniform(60, days * 86400, n):  # seconds before AS_OF (never at it)
            rows.append((code, AS_OF - timedelta(seconds=float(offset))))
    return rows


# --------------------------------------------------------------------------- never the future


def test_the_forecast_never_reads_data_at_or_after_as_of(lattice):
    add_incidents(lattice, history_rows())
    before = fc.forecast(lattice, AS_OF, 7)
    assert before.model["method"] == "poisson_glm"
    codes = lattice_codes()
    future = [(codes[0], AS_OF)]  # exactly at the as-of instant
    future += [(codes[i % 25], AS_OF + timedelta(minutes=5 + 37 * i)) for i in range(200)]  # the same day and after
    future += [(codes[24], AS_OF + timedelta(days=3 + i)) for i in range(30)]
    add_incidents(lattice, future)
    after = fc.forecast(lattice, AS_OF, 7)
    assert after.to_json() == before.to_json()
    assert after.model == before.model
    # ...and the future is there to be read: a later as-of does see it.
    assert fc.forecast(lattice, AS_OF + timedelta(days=40), 7).to_json() != before.to_json()


def test_an_as_of_inside_a_day_counts_that_day_up_to_the_instant(lattice):
    add_incidents(lattice, history_rows())
    noon = AS_OF + timedelta(hours=12)
    base = fc.load_history(lattice, noon)
    add_incidents(lattice, [(lattice_codes()[3], AS_OF + timedelta(hours=11))])  # before noon: read
    add_incidents(lattice, [(lattice_codes()[3], AS_OF + timedelta(hours=12))])  # at noon: not read
    again = fc.load_history(lattice, noon)
    assert again.count(0, 1)[3] == base.count(0, 1)[3] + 1
    assert again.count(0, 10_000).sum() == base.count(0, 10_000).sum() + 1


def test_cancelled_incidents_and_incidents_in_no_grid_are_not_counted(lattice):
    add_incidents(lattice, [(lattice_codes()[0], AS_OF - timedelta(days=2))])
    add_incidents(lattice, [(lattice_codes()[1], AS_OF - timedelta(days=2))], status="cancelled")
    h = fc.load_history(lattice, AS_OF)
    assert h.count(0, 7).tolist()[:2] == [1.0, 0.0]
    assert h.span == 2


def test_a_new_deployment_with_a_few_weeks_of_history_gets_the_long_run_rate(lattice):
    codes = lattice_codes()
    add_incidents(
        lattice, [(codes[4], AS_OF - timedelta(days=d) + timedelta(hours=2)) for d in range(1, 21)]
    )  # one a day, 20 days
    add_incidents(lattice, [(codes[9], AS_OF - timedelta(days=3))])
    result = fc.forecast(lattice, AS_OF, 7)
    assert result.model["method"] == "long_run_rate"
    by_code = {g["grid_code"]: g for g in result.grids}
    assert by_code[codes[4]]["expected"] == pytest.approx(20 / 20 * 7, abs=0.01)  # its rate over the 20 days there are
    assert by_code[codes[9]]["expected"] == pytest.approx(1 / 20 * 7, abs=0.01)
    # the top two of 25 are high; only those two expect anything, so the rest are low
    assert [g["grid_code"] for g in result.grids if g["tier"] == "high"] == [codes[4], codes[9]]
    assert {g["tier"] for g in result.grids[2:]} == {"low"}


def test_grids_with_nothing_expected_are_never_flagged(lattice):
    result = fc.forecast(lattice, AS_OF, 7)  # no incidents at all
    assert {g["tier"] for g in result.grids} == {"low"}
    assert all(g["expected"] == 0 and not g["rising"] for g in result.grids)


# --------------------------------------------------------------------------- the arithmetic


def test_hit_rate_and_pai_on_a_hand_worked_case():
    # 20 grids: the top 5 % is ceil(1.0) = 1 grid. Grid 0 scores highest alone.
    scores = np.array([9.0] + [1.0] * 19)
    actual = np.array([3.0] + [0.0] * 9 + [1.0] * 7 + [0.0] * 3)  # 10 incidents, 3 in grid 0
    area = np.array([2.0] + [1.0] * 19)  # 21 km² in all, grid 0 has 2
    r = bt.top_share_hits(scores, actual, area)
    assert r["k"] == 1 and r["incidents"] == 10
    assert r["hits"] == 3 and r["hit_rate"] == pytest.approx(0.3)
    assert r["area_share"] == pytest.approx(2 / 21)
    assert r["pai"] == pytest.approx(0.3 / (2 / 21))  # 3.15


def test_ties_at_the_edge_of_the_top_share_are_split_evenly():
    # 40 grids: k = 2. One grid above the rest, three tied for the one place left: each
    # tied grid counts for 1/3 of its incidents and of its area.
    scores = np.array([5.0, 3.0, 3.0, 3.0] + [0.0] * 36)
    actual = np.array([4.0, 3.0, 0.0, 6.0] + [1.0] * 36)  # 49 incidents
    area = np.array([1.0, 3.0, 3.0, 3.0] + [1.0] * 36)  # 46 km²
    r = bt.top_share_hits(scores, actual, area)
    assert r["k"] == 2
    assert r["hits"] == pytest.approx(4 + (3 + 0 + 6) / 3)  # 7
    assert r["hit_rate"] == pytest.approx(7 / 49)
    assert r["area_share"] == pytest.approx((1 + 9 / 3) / 46)
    assert r["pai"] == pytest.approx((7 / 49) / (4 / 46))


def test_no_incidents_means_a_zero_hit_rate_not_a_division_by_zero():
    r = bt.top_share_hits(np.arange(10.0), np.zeros(10), np.ones(10))
    assert r["hit_rate"] == 0 and r["pai"] == 0


def test_the_backtest_counts_each_week_from_the_database(lattice):
    """One cut-off by hand: the last-28-days baseline's top grid and the week after."""
    codes = lattice_codes()
    end = AS_OF
    cutoff = end - timedelta(days=7)
    rows = history_rows(seed=5)
    rows = [r for r in rows if not (cutoff - timedelta(days=28) <= r[1] < end)]  # the last 5 weeks written by hand
    rows += [(codes[7], cutoff - timedelta(days=d, hours=3)) for d in range(1, 21)]  # grid 8: 20 in the 28 days
    rows += [(codes[i], cutoff - timedelta(days=2, hours=i % 20)) for i in range(25) if i != 7]  # one each elsewhere
    week = [(codes[7], cutoff + timedelta(hours=5 + i)) for i in range(3)]  # 3 in grid 8 during the week
    week += [(codes[i], cutoff + timedelta(days=2, hours=i % 20)) for i in (1, 2, 3, 4, 5, 6, 9)]  # 7 elsewhere
    add_incidents(lattice, rows + week)
    result = bt.backtest(lattice, weeks=1, end=end)
    [row] = result["cutoffs"]
    assert row["cutoff"] == cutoff.isoformat() and row["incidents"] == 10
    c28 = row["methods"]["counts_28"]
    assert c28["k"] == 2  # ceil(0.05 * 25)
    # The top two by 28-day count: grid 8 (20) and the best of the rest, which all tie at 1
    # (plus whatever history_rows left before the 28 days: none, by construction): so grid 8
    # and 1/24 of each other grid.
    others = 7 / 24
    assert c28["hits"] == pytest.approx(3 + others, abs=1e-3)
    assert c28["hit_rate"] == pytest.approx((3 + others) / 10, abs=1e-4)
    assert c28["area_share"] == pytest.approx(2 / 25, abs=1e-4)  # equal squares (to the metre)
    assert set(result["summary"]) == set(bt.METHODS)
    assert result["margins"]["counts_28"]["hit_rate_points"] == pytest.approx(
        100 * (result["summary"]["model"]["hit_rate"] - result["summary"]["counts_28"]["hit_rate"]), abs=0.01
    )


# --------------------------------------------------------------------------- a known process


def simulate(seed: int = 7, side: int = 30, days: int = 3 * 365 + 8 * 7):
    """Daily counts on a side x side lattice of 500 m grids from a known process:
    an inhomogeneous Poisson process (a smooth 'trouble' field times households times a
    yearly season) plus self-excitation (each incident raises its grid's intensity by 0.05
    a day, decaying with a 10-day time constant, and its neighbours' by a fifth of that)."""
    rng = np.random.default_rng(seed)
    n = side * side
    xy = np.array([(i % side, i // side) for i in range(n)], float) * 500.0
    centres, amp = rng.uniform(0, side * 500, (12, 2)), rng.lognormal(0, 0.8, 12)
    trouble = 0.2 + (amp * np.exp(-((xy[:, None, :] - centres[None]) ** 2).sum(-1) / (2 * 1500.0**2))).sum(1)
    households = rng.integers(50, 400, n).astype(float)
    base = trouble * households / households.mean() * 0.03
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(days) / 365)
    neighbours = fc.nearest(xy, fc.NEIGHBOURS)
    decay = math.exp(-1 / 10)
    excite = np.zeros(n)
    counts = np.zeros((n, days), np.int32)
    state = np.zeros((n, days))
    for d in range(days):
        state[:, d] = excite
        c = rng.poisson(base * season[d] + excite)
        counts[:, d] = c
        spread = 0.05 * c
        excite = excite * decay + spread + 0.2 * fc.neighbour_mean(neighbours, spread)
    return households, counts, neighbours, base, season, state, decay


def test_on_a_known_process_the_top_grids_catch_95_percent_of_what_the_true_intensity_would():
    households, counts, neighbours, base, season, state, decay = simulate()
    n, days = counts.shape
    cum = np.zeros((n, days + 1), np.int32)
    np.cumsum(counts[:, ::-1], axis=1, out=cum[:, 1:])  # column j: the j days before the end
    h = fc.History(
        as_of=AS_OF,
        codes=np.array([f"{i:015d}" for i in range(n)]),
        cum=cum,
        span=days,
        households=households,
        neighbours=neighbours,
    )
    hits = {"model": 0.0, "truth": 0.0, "counts_28": 0.0}
    for week in range(8, 0, -1):
        offset = 7 * week
        cut = days - offset  # the cut-off's day, counted forward
        actual = h.count(offset - 7, offset)
        expected, fitted, _, _ = fc.predict(h, offset, 7)
        assert fitted.method == "poisson_glm"
        # The true intensity's expectation for the week, knowing only the state at the cut-off.
        truth = sum(base * season[cut + j] + state[:, cut] * decay**j for j in range(7))
        for name, scores in (("model", expected), ("truth", truth), ("counts_28", h.count(offset, offset + 28))):
            hits[name] += bt.top_share_hits(scores, actual, np.full(n, 0.25))["hits"]
    assert hits["model"] >= 0.95 * hits["truth"], hits
    assert hits["model"] > hits["counts_28"], hits


# --------------------------------------------------------------------------- stored runs


def test_weekly_runs_give_last_weeks_hit_rate_and_the_forecast_warning(lattice):
    add_incidents(lattice, history_rows())
    last_monday = AS_OF - timedelta(days=7)
    made = forecast_store.ensure_weekly(lattice, AS_OF + timedelta(hours=9))
    assert made == [last_monday, AS_OF]
    assert forecast_store.ensure_weekly(lattice, AS_OF + timedelta(days=2)) == []  # never twice
    run = db.one(lattice, "SELECT id FROM forecast_run WHERE as_of = %s", (last_monday,))
    top = [r["grid_code"] for r in forecast_store.top_grids(lattice, run["id"])]
    assert len(top) == 2  # ceil(5 % of 25)
    stored = db.scalar(lattice, "SELECT count(*) FROM forecast_grid WHERE run_id = %s", (run["id"],))
    assert stored == 25
    # Last week (from last Monday to AS_OF) holds history_rows' incidents; add 4 more in
    # the run's top grids and 6 elsewhere, and count what the run should have caught.
    codes = lattice_codes()
    others = [c for c in codes if c not in top]
    add_incidents(
        lattice,
        [(top[0], last_monday + timedelta(days=1)), (top[1], last_monday + timedelta(days=2))] * 2
        + [(others[i], last_monday + timedelta(days=3)) for i in range(6)],
    )
    expected_before = db.scalar(
        lattice,
        "SELECT count(*) FROM incident WHERE reported_at >= %s AND reported_at < %s",
        (last_monday, AS_OF),
    )
    result = forecast_store.last_week(lattice, AS_OF + timedelta(days=1))
    assert result["incidents"] == expected_before
    in_top = db.scalar(
        lattice,
        "SELECT count(*) FROM incident WHERE reported_at >= %s AND reported_at < %s AND grid_code = ANY(%s)",
        (last_monday, AS_OF, top),
    )
    assert result["hits"] == in_top and result["hit_rate"] == pytest.approx(in_top / expected_before)
    # The forecast warning: this week's top grids whose forecast is rising.
    rising = forecast_store.rising_top_grids(lattice, AS_OF + timedelta(days=1))
    this_week = db.rows(
        lattice,
        """SELECT f.grid_code FROM forecast_grid f JOIN forecast_run r ON r.id = f.run_id
            WHERE r.as_of = %s AND f.tier = 'high' AND f.expected >= %s * f.recent AND f.expected - f.recent >= %s""",
        (AS_OF, fc.RISING_RATIO, fc.RISING_MIN_PER_WEEK),
    )
    assert sorted(r["grid_code"] for r in rising) == sorted(r["grid_code"] for r in this_week)
    assert all(r["run_as_of"] == AS_OF for r in rising)


def test_a_town_sees_only_its_own_grids_forecast(lattice):
    from geo.security import access

    add_incidents(lattice, history_rows())
    forecast_store.ensure_weekly(lattice, AS_OF)
    lattice.commit()
    other = access.Scope("someone", "leader", "620802001002")  # the village next door: no grids here
    with db.scoped(other), db.pooled(db.url_of(lattice) or db.cluster.database_url(test=True)) as conn:
        assert db.scalar(conn, "SELECT count(*) FROM forecast_grid") == 0
        assert forecast_store.rising_top_grids(conn, AS_OF) == []
    mine = access.Scope("someone", "leader", COMMUNITY)
    with db.scoped(mine), db.pooled(db.cluster.database_url(test=True)) as conn:
        assert db.scalar(conn, "SELECT count(*) FROM forecast_grid") == 50


# --------------------------------------------------------------------------- the command line


def test_the_command_prints_the_issues_json(lattice, capsys, monkeypatch):
    add_incidents(lattice, history_rows())
    monkeypatch.setenv("DATABASE_URL", db.cluster.database_url(test=True))
    assert cli.main(["forecast", "--as-of", "2026-11-30", "--days", "7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"as_of", "days", "grids"}
    assert out["as_of"] == "2026-11-30T00:00:00+08:00" and out["days"] == 7
    assert len(out["grids"]) == 25
    assert set(out["grids"][0]) == {"grid_code", "expected", "tier", "reasons"}
    assert [g["expected"] for g in out["grids"]] == sorted((g["expected"] for g in out["grids"]), reverse=True)
    assert [g["tier"] for g in out["grids"]].count("high") == 2
    assert any("长期水平" in r for r in out["grids"][0]["reasons"]) and len(out["grids"][0]["reasons"]) == 4
    assert cli.main(["forecast", "backtest", "--weeks", "2", "--end", "2026-11-30", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["cutoffs"]) == 2 and set(report["summary"]) == set(bt.METHODS)


def test_bad_arguments_say_what_to_do(lattice, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db.cluster.database_url(test=True))
    assert cli.main(["forecast", "--as-of", "30/11/2026"]) == 1
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert cli.main(["forecast", "--days", "0"]) == 1
    assert "between 1 and 90" in capsys.readouterr().err


def test_no_grids_is_an_error_with_a_way_forward(clean_db, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db.cluster.database_url(test=True))
    assert cli.main(["forecast"]) == 1
    assert "import grids" in capsys.readouterr().err


def test_the_benchmark_measures_the_full_forecast_and_reports_the_backtest(lattice):
    from geo.bench import measure
    from geo.bench import report as bench_report

    add_incidents(lattice, history_rows())
    result = measure.forecast(lattice, repeat=1, weeks=1)
    assert result["grids"] == 25 and result["model"] == "poisson_glm" and result["median_ms"] > 0
    assert set(result["backtest"]["summary"]) == set(bt.METHODS)
    [target] = [t for t in bench_report.targets({"forecast": result}) if t["name"] == "forecast"]
    assert target["met"] is (result["median_ms"] <= 10_000)


# --------------------------------------------------------------------------- the demo


def test_on_the_demo_the_model_beats_every_baseline(demo_conn):
    result = bt.backtest(demo_conn, weeks=8)
    summary = result["summary"]
    for baseline in bt.METHODS[1:]:
        assert summary["model"]["hit_rate"] > summary[baseline]["hit_rate"], (baseline, summary)
        assert summary["model"]["pai"] > summary[baseline]["pai"], (baseline, summary)
    assert all(result["model_beats"].values())
