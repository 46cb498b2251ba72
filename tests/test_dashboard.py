"""The big screen's numbers, each recomputed here in plain SQL from its definition."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from geo import db
from geo.analysis import dashboard
from geo.worktime import CST

NOW = datetime.now(CST)
# 化解率 and 小事不出村 read the 365 local days ending today (whole days, as every page)
YEAR_START = datetime.combine(NOW.date() - timedelta(days=364), datetime.min.time(), CST)


@pytest.fixture(scope="module")
def k(demo_conn):
    return dashboard.kpis(demo_conn, now=NOW)


def count(conn, where: str, params=None) -> int:
    return db.scalar(conn, f"SELECT count(*) FROM incident WHERE {where}", params)


def test_today_and_month(demo_conn, k):
    midnight = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    # cancelled reports are not incidents (geo.analysis.indicators)
    assert k["today"] == count(demo_conn, "status <> 'cancelled' AND reported_at >= %s", (midnight,))
    assert k["month"] == count(demo_conn, "status <> 'cancelled' AND reported_at >= %s", (midnight.replace(day=1),))
    assert k["month"] >= k["today"] > 0


def test_open_and_overdue(demo_conn, k):
    open_sql = "status NOT IN ('closed', 'followed_up', 'cancelled')"
    assert k["open"] == count(demo_conn, open_sql)
    assert k["overdue"] == count(demo_conn, f"{open_sql} AND deadline < %s", (NOW,))
    assert 0 < k["overdue"] < k["open"]


def test_resolution_rate_of_disputes(demo_conn, k):
    total, resolved = db.one(
        demo_conn,
        """
        SELECT count(*) AS total, count(*) FILTER (WHERE status IN ('closed', 'followed_up')) AS resolved
          FROM incident WHERE minor_code LIKE '01%%' AND status <> 'cancelled' AND reported_at >= %s""",
        (YEAR_START,),
    ).values()
    assert k["resolution_base"] == total
    assert k["resolution_rate"] == pytest.approx(resolved / total)
    assert 0.9 < k["resolution_rate"] < 1.0  # Kongtong: 95.4% rising to 99.6%


def test_village_share(demo_conn, k):
    village, resolved = db.one(
        demo_conn,
        """
        SELECT count(*) FILTER (WHERE level_handled = 'community') AS v, count(*) AS r FROM incident
         WHERE status IN ('closed', 'followed_up') AND level_handled IS NOT NULL AND reported_at >= %s""",
        (YEAR_START,),
    ).values()
    assert k["village_base"] == resolved
    assert k["village_share"] == pytest.approx(village / resolved)
    assert k["village_share"] > 0.95  # Kongtong: 97.2% at village/community level


def test_high_risk_grids(demo_conn, k):
    assert k["high_risk_grids"] == db.scalar(
        demo_conn, "SELECT count(*) FROM grid_risk WHERE tier = 'high' AND grid_code IN (SELECT code FROM grid_current)"
    )


def test_coverage_share(demo_conn, k):
    covered = db.scalar(
        demo_conn,
        """
        SELECT ST_Area(ST_Intersection(d.geom, ST_Union(g.geom))::geography) / ST_Area(d.geom::geography)
          FROM admin_unit d, grid_current g WHERE d.code = '620802' GROUP BY d.geom""",
    )
    assert k["coverage"] == pytest.approx(covered, abs=1e-9)
    assert 0.95 < k["coverage"] < 1.0  # gaps were put in on purpose


def test_fulltime_staffing(demo_conn, k):
    urban, staffed = db.one(
        demo_conn,
        """
        SELECT count(*) AS urban, count(*) FILTER (WHERE code IN (SELECT grid_code FROM grid_staff WHERE role = 'fulltime')) AS staffed
          FROM grid_current WHERE kind = 'urban'""",
    ).values()
    assert k["fulltime_urban"] == pytest.approx(staffed / urban)
    assert k["fulltime_urban"] < 1.0  # some grids have no worker


def test_panels_add_up(demo_conn):
    cats = dashboard.by_category(demo_conn, days=30, now=NOW)
    assert sum(r["n"] for r in cats) == count(demo_conn, "reported_at >= %s", (NOW - timedelta(days=30),))
    trend = dashboard.trend(demo_conn, days=30, now=NOW)
    assert len(trend) == 30 and trend[-1]["day"] == NOW.date()
    first_day = datetime.combine(trend[0]["day"], datetime.min.time(), CST)
    assert sum(r["disputes"] + r["events"] for r in trend) == count(demo_conn, "reported_at >= %s", (first_day,))
    ranking = dashboard.town_ranking(demo_conn, days=90, now=NOW)
    assert len(ranking) == 20
    rates = [r["rate"] for r in ranking]
    assert rates == sorted(rates, reverse=True)
    since = datetime.combine(NOW.date() - timedelta(days=89), datetime.min.time(), CST)
    assert sum(r["found"] for r in ranking) == count(demo_conn, "status <> 'cancelled' AND reported_at >= %s", (since,))


def test_feed_is_newest_by_report_time(demo_conn):
    items = dashboard.feed(demo_conn, limit=5)
    times = [r["reported_at"] for r in items]
    assert times == sorted(times, reverse=True) and len(times) == 5
    assert times[0] == db.scalar(demo_conn, "SELECT max(reported_at) FROM incident")


def test_feed_time_says_the_date_when_not_today():
    now = datetime(2026, 12, 6, 15, 0, tzinfo=CST)
    assert dashboard.feed_time(datetime(2026, 12, 6, 9, 5, tzinfo=CST), now) == "09:05"
    assert dashboard.feed_time(datetime(2026, 12, 4, 9, 5, tzinfo=CST), now) == "12-04 09:05"
    assert dashboard.feed_time(datetime(2025, 11, 26, 9, 5, tzinfo=CST), now) == "2025-11-26 09:05"


def test_grid_card(demo_conn):
    code = db.scalar(
        demo_conn,
        """SELECT grid_code FROM household WHERE grid_code IS NOT NULL
                                   GROUP BY grid_code ORDER BY count(*) DESC LIMIT 1""",
    )
    card = dashboard.grid_card(demo_conn, code)
    assert card["code"] == code
    assert card["households"] == db.scalar(demo_conn, "SELECT count(*) FROM household WHERE grid_code = %s", (code,))
    assert card["town"] and card["community"]
    assert [s["role"] for s in card["staff"]][0] == "leader"
    assert dashboard.grid_card(demo_conn, "000000000000000") is None
