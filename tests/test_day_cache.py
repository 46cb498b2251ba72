"""The per-day caches of the big screen (migration 0024, issue #8): the change log tags
every local day a statement touches, and a write to a past day (a status change of an old
incident, a deletion, a report time moved to another day) is seen on the next refresh by
every panel and by the low-zoom heat tiles, while a write of today re-reads today only.
Every figure is checked against a count over the raw incidents of a tiny world."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta

import pytest
import shapely

from geo import db, tiles
from geo.analysis import dashboard, indicators
from geo.risk import tiers as risk
from geo.worktime import CST

GRID_A = "620802001001001"
GRID_B = "620802001002001"
BOX_A = shapely.box(106.650, 35.530, 106.655, 35.535)
BOX_B = shapely.box(106.660, 35.530, 106.665, 35.535)
NOW = datetime.now(CST).replace(microsecond=0)
DAY = timedelta(days=1)


@pytest.fixture
def world(tiny_jurisdiction, categories, add_grids, conn):
    add_grids([(GRID_A, "A网格", "urban", BOX_A), (GRID_B, "B网格", "rural", BOX_B)])
    risk.load_config(conn)
    dashboard.clear_cache()
    return conn


def add(conn, rows: list[tuple]) -> list[int]:
    """Insert (grid, minor_code, status, reported_at) rows in one statement; deadline a day later."""
    with db.transaction(conn) as cur:
        cur.execute(
            """
            INSERT INTO incident (title, minor_code, source, reported_at, status, grid_code, admin_code, deadline, geom)
            SELECT 't', r.minor, 'patrol', r.at, r.status, r.grid, left(r.grid, 12), r.at + interval '1 day',
                   ST_SetSRID(ST_MakePoint(CASE WHEN r.grid = %s THEN 106.652 ELSE 106.662 END, 35.532), 4326)
              FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[]) r (grid, minor, status, at)
            RETURNING id""",
            [GRID_A] + [list(c) for c in zip(*rows)],
        )
        return [r[0] for r in cur.fetchall()]


def versions(conn) -> dict:
    return {
        r["day"]: r["version"]
        for r in db.rows(
            conn,
            """
        SELECT CASE WHEN day = '-infinity' THEN NULL ELSE day END AS day, version FROM incident_day_version""",
        )
    }


def local(t: datetime):
    return t.astimezone(CST).date()


def close(conn, ids: list[int]) -> None:
    """in_progress -> verified -> closed, with the history rows the lifecycle requires."""
    with db.transaction(conn) as cur:
        for frm, to in (("in_progress", "verified"), ("verified", "closed")):
            cur.execute(
                "UPDATE incident SET status = %s, level_handled = 'community', closed_at = CASE WHEN %s = 'closed' "
                "THEN reported_at + interval '1 hour' END WHERE id = ANY(%s)",
                (to, to, ids),
            )
            cur.execute(
                """INSERT INTO incident_history (incident_id, from_status, to_status, actor, admin_code)
                           SELECT id, %s, %s, 'test', admin_code FROM incident WHERE id = ANY(%s)""",
                (frm, to, ids),
            )


def test_the_log_tags_every_day_a_statement_touches(world):
    conn = world
    ids = add(conn, [(GRID_A, "0101", "in_progress", NOW - 20 * DAY), (GRID_B, "0301", "in_progress", NOW - 3 * DAY)])
    v0 = versions(conn)
    assert set(v0) == {local(NOW - 20 * DAY), local(NOW - 3 * DAY)} | ({None} & set(v0))
    with db.transaction(conn) as cur:  # a column the screen does not read: no day changes
        cur.execute("UPDATE incident SET title = 'x'")
    assert versions(conn) == v0
    close(conn, ids[:1])  # a status change of the old incident: its day only
    v1 = versions(conn)
    assert v1[local(NOW - 20 * DAY)] > v0[local(NOW - 20 * DAY)] and v1[local(NOW - 3 * DAY)] == v0[local(NOW - 3 * DAY)]
    with db.transaction(conn) as cur:  # moving the report time: the old and the new day
        cur.execute("UPDATE incident SET reported_at = reported_at - interval '47 days' WHERE id = %s", (ids[1],))
    v2 = versions(conn)
    assert v2[local(NOW - 3 * DAY)] > v1[local(NOW - 3 * DAY)] and local(NOW - 50 * DAY) in v2
    assert v2[local(NOW - 20 * DAY)] == v1[local(NOW - 20 * DAY)]
    with db.transaction(conn) as cur:
        cur.execute("DELETE FROM incident WHERE id = %s", (ids[1],))
    v3 = versions(conn)
    assert v3[local(NOW - 50 * DAY)] > v2[local(NOW - 50 * DAY)]
    with db.transaction(conn) as cur:  # TRUNCATE: a new generation, above every version given so far
        cur.execute("TRUNCATE incident_history, incident CASCADE")
    v4 = versions(conn)
    assert v4[None] > max(v for v in v3.values())
    assert db.scalar(conn, "SELECT has_table_privilege('quanyu_web', 'incident_day_version', 'SELECT')")


def raw(conn, now: datetime) -> dict:
    """The panels' figures written out from their definitions over raw incidents."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    one = db.one(
        conn,
        """
        SELECT count(*) FILTER (WHERE reported_at >= %(m)s AND status <> 'cancelled') AS today,
               count(*) FILTER (WHERE reported_at >= %(month)s AND status <> 'cancelled') AS month,
               count(*) FILTER (WHERE status NOT IN ('closed', 'followed_up', 'cancelled')) AS open,
               count(*) FILTER (WHERE status NOT IN ('closed', 'followed_up', 'cancelled') AND deadline < %(now)s) AS overdue
          FROM incident""",
        dict(m=midnight, month=midnight.replace(day=1), now=now),
    )
    cats = {
        r["m"]: r["n"]
        for r in db.rows(
            conn,
            """
        SELECT left(minor_code, 2) AS m, count(*) AS n FROM incident WHERE reported_at >= %s GROUP BY 1""",
            (now - 30 * DAY,),
        )
    }
    trend = {
        r["d"]: (r["disputes"], r["events"])
        for r in db.rows(
            conn,
            """
        SELECT (reported_at AT TIME ZONE 'Asia/Shanghai')::date AS d, count(*) FILTER (WHERE minor_code LIKE '01%%') AS disputes,
               count(*) FILTER (WHERE minor_code NOT LIKE '01%%') AS events FROM incident GROUP BY 1""",
        )
    }
    # the ranking and the rate read whole local days (geo.analysis.indicators)
    found = db.scalar(
        conn, "SELECT count(*) FROM incident WHERE reported_at >= %s AND status <> 'cancelled'", (midnight - 89 * DAY,)
    )
    resolved, valid = db.one(
        conn,
        """
        SELECT count(*) FILTER (WHERE status IN ('closed', 'followed_up')) AS r, count(*) FILTER (WHERE status <> 'cancelled') AS v
          FROM incident WHERE minor_code LIKE '01%%' AND reported_at >= %s""",
        (midnight - 364 * DAY,),
    ).values()
    return dict(one, cats=cats, trend=trend, found=found, rate=indicators.ratio(resolved, valid), base=(resolved, valid))


def shown(conn, now: datetime) -> dict:
    """The same figures as the screen's functions give them."""
    k = dashboard.kpis(conn, now=now)
    return dict(
        today=k["today"],
        month=k["month"],
        open=k["open"],
        overdue=k["overdue"],
        cats={r["major_code"]: r["n"] for r in dashboard.by_category(conn, now=now)},
        trend={r["day"]: (r["disputes"], r["events"]) for r in dashboard.trend(conn, now=now) if r["disputes"] or r["events"]},
        found=sum(r["found"] for r in dashboard.town_ranking(conn, now=now)),
        rate=k["resolution_rate"],
        base=(k["resolution_resolved"], k["resolution_base"]),
    )


def expected(conn, now: datetime) -> dict:
    r = raw(conn, now)
    first = local(now) - 29 * DAY
    r["trend"] = {d: v for d, v in r["trend"].items() if first <= d <= local(now)}
    return r


def test_writes_to_past_days_are_seen_on_the_next_refresh(world):
    conn = world
    now = NOW
    ids = add(
        conn,
        [
            (GRID_A, "0101", "in_progress", now - 20 * DAY),
            (GRID_A, "0102", "in_progress", now - 20 * DAY),
            (GRID_B, "0301", "in_progress", now - 10 * DAY),
            (GRID_B, "0101", "closed", now - 3 * DAY),
            (GRID_A, "0101", "received", now - timedelta(minutes=5)),
        ],
    )
    first = shown(conn, now)
    assert first == expected(conn, now)
    assert (first["open"], first["cats"], first["found"]) == (4, {"01": 4, "03": 1}, 5)
    assert (first["rate"], first["base"]) == (None, (1, 4))  # 1 of 4 resolved: too few disputes for a rate

    close(conn, ids[:1])  # status change of a 20-day-old incident
    second = shown(conn, now)
    assert second == expected(conn, now)
    assert (second["open"], second["base"]) == (3, (2, 4))

    with db.transaction(conn) as cur:  # the 10-day-old one moves 40 days back: out of 30 days
        cur.execute("UPDATE incident SET reported_at = reported_at - interval '40 days' WHERE id = %s", (ids[2],))
    third = shown(conn, now)
    assert third == expected(conn, now)
    assert third["cats"] == {"01": 4} and local(now - 10 * DAY) not in third["trend"]

    with db.transaction(conn) as cur:  # deletion of a 20-day-old incident
        cur.execute("DELETE FROM incident WHERE id = %s", (ids[1],))
    fourth = shown(conn, now)
    assert fourth == expected(conn, now)
    assert fourth["trend"][local(now - 20 * DAY)] == (1, 0) and fourth["found"] == 4

    with db.transaction(conn) as cur:  # a later deadline of an open incident: overdue changes
        cur.execute("UPDATE incident SET deadline = %s WHERE id = %s", (now + DAY, ids[2]))
    fifth = shown(conn, now)
    assert fifth == expected(conn, now) and fifth["overdue"] == fourth["overdue"] - 1
    dashboard.clear_cache()
    assert shown(conn, now) == fifth  # what the caches gave equals a cold computation


def test_a_write_of_today_rereads_today_only(world):
    conn = world
    now = datetime.now(CST)
    add(conn, [(GRID_A, "0101", "in_progress", now - k * DAY) for k in range(1, 40)])
    shown(conn, now)
    families = list(dashboard._families._items.values())
    before = [f.reads for f in families]
    assert all(f.reads >= 1 for f in families)
    add(conn, [(GRID_B, "0301", "received", now - timedelta(minutes=1))])
    assert shown(conn, now) == expected(conn, now)
    assert [f.reads - b for f, b in zip(families, before)] == [1] * len(families)  # today, once per family


def _features(conn, z, x, y, params, cached: bool, monkeypatch) -> str:
    """The heat tile's features as sorted 'POINT(..) n' text, from the cached path or the SQL path."""
    from geo.analysis import heat
    from layers import LAYERS

    layer = LAYERS["incident_heat"]
    got = {}
    plain = db.scalar

    def capture(c, sql, args=None):
        if "ST_AsMVT(t.*" in sql:
            sql = re.sub(
                r"SELECT ST_AsMVT\(t\.\*.*$",
                "SELECT string_agg(ST_AsText(mvtgeom) || ' ' || n, ';' "
                "ORDER BY ST_AsText(mvtgeom) || ' ' || n) FROM t WHERE mvtgeom IS NOT NULL",
                sql.strip(),
                flags=re.S,
            )
            got["v"] = plain(c, sql, args)
            return b"x"
        return plain(c, sql, args)

    assert layer.render is heat.render_low_zoom  # the layer says how it renders
    if not cached:
        layer = dataclasses.replace(layer, render=None)  # the SQL path, the reference
    monkeypatch.setattr(db, "scalar", capture)
    try:
        tiles.render(conn, layer, z, x, y, params, False)
    finally:
        monkeypatch.setattr(db, "scalar", plain)
    return got.get("v") or ""


def test_heat_tiles_see_writes_to_past_days(world, monkeypatch):
    conn = world
    now = NOW
    z = 10
    x, y = tiles_of(z)
    ids = add(
        conn,
        [
            (GRID_A, "0101", "in_progress", now - 20 * DAY),
            (GRID_A, "0301", "in_progress", now - 20 * DAY),
            (GRID_B, "0101", "in_progress", now - 5 * DAY),
        ],
    )

    def both(window_days, major=None):
        params = {"start": now - window_days * DAY, "end": now + timedelta(minutes=1), "major": major}
        cached = _features(conn, z, x, y, params, True, monkeypatch)
        assert cached == _features(conn, z, x, y, params, False, monkeypatch)
        return sorted(int(f.rsplit(" ", 1)[1]) for f in cached.split(";") if f)

    assert both(30) == [1, 2] and both(7) == [1] and both(30, "03") == [1]
    with db.transaction(conn) as cur:  # a past incident moves from grid A's day 20 to day 40
        cur.execute("UPDATE incident SET reported_at = reported_at - interval '20 days' WHERE id = %s", (ids[1],))
    assert both(30) == [1, 1] and both(30, "03") == [] and both(90, "03") == [1]
    with db.transaction(conn) as cur:
        cur.execute("DELETE FROM incident WHERE id = %s", (ids[0],))
    assert both(30) == [1] and both(90) == [1, 1]
    # the edge days are cut at the window's instants: 7 days back an hour either side of
    # the start, and today's new incident counts as soon as it is written
    add(
        conn,
        [
            (GRID_A, "0101", "received", now - 7 * DAY - timedelta(hours=1)),
            (GRID_A, "0101", "received", now - 7 * DAY + timedelta(hours=1)),
        ],
    )
    assert both(7) == [1, 1]
    add(conn, [(GRID_A, "0102", "received", now - timedelta(minutes=2))])
    assert both(7) == [1, 2] and both(7, "01") == [1, 2] and both(1) == [1]


def tiles_of(z: int) -> tuple[int, int]:
    """The tile of zoom z holding the tiny world's centre."""
    import math

    lon, lat = 106.66, 35.54
    k = 2**z
    return (
        int((lon + 180) / 360 * k),
        int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * k),
    )


def test_a_warm_up_fills_the_caches_of_its_role_and_unit_only(demo_url):
    """The worker's warm-up (geo/web/screen_warm.py) computes as the account's role and unit
    under row-level security; its entries serve that scope and no other."""
    from geo.analysis import heat
    from geo.security.access import Scope
    from geo.web import screen_warm
    from geo.web.home import home_code

    dashboard.clear_cache()
    heat.clear_cache()
    admin = Scope("a", "admin", "620802")
    screen_warm.warm_scope(admin, url=demo_url)
    keys = list(dashboard._families._items)
    assert keys and all(("admin", "620802") in k for k in keys)
    assert len(heat._families) == 1 and all(k[1][-1] == ("admin", "620802") for k in heat._families._items)

    def panels(scope):
        with db.scoped(scope), db.pooled(demo_url) as c:
            home = home_code(c)
            now = datetime.now(CST)
            return (
                dashboard.kpis(c, home, now),
                dashboard.by_category(c, home, now=now),
                dashboard.trend(c, home, now=now),
                dashboard.town_ranking(c, home, now=now),
            )

    reads = {k: f.reads for k, f in dashboard._families._items.items()}
    warm = panels(admin)
    assert {k: f.reads for k, f in dashboard._families._items.items() if k in reads} == reads  # all hits
    town = Scope("b", "leader", "620802001")
    mine = panels(town)
    assert len(dashboard._families) > len(reads)  # the town's own families, read under its scope
    assert mine[0]["month"] < warm[0]["month"]
    dashboard.clear_cache()
    assert panels(admin) == warm and panels(town) == mine  # equal to cold computations


def _family_reads() -> list[int]:
    return [f.reads for f in dashboard._families._items.values()]


def test_a_new_worker_reads_the_persisted_days_and_rereads_only_what_changed(world):
    """Issue #17 (a cold process): the days before today one worker read are kept in
    day_cache (migration 0074); a new worker (caches cleared) reads no day from
    incident_daily but today, and after a write to a past day that day besides."""
    conn = world
    now = NOW
    ids = add(conn, [(GRID_A if k % 2 else GRID_B, "0101", "in_progress", now - k * DAY) for k in range(1, 40)])
    first = shown(conn, now)
    conn.commit()
    assert db.scalar(conn, "SELECT count(*) FROM day_cache") > 0
    assert db.scalar(conn, "SELECT count(*) FROM day_cache WHERE day = '-infinity'") >= 1  # the open rows' family: complete

    dashboard.clear_cache()  # a new worker
    assert shown(conn, now) == first == expected(conn, now)
    assert _family_reads() and max(_family_reads()) <= 1  # today at most (it moves with every report: never kept)

    close(conn, ids[19:20])  # a status change of an incident twenty days old
    dashboard.clear_cache()
    assert shown(conn, now) == expected(conn, now)
    assert max(_family_reads()) == 2  # that day and today, per family that covers it
    kept = {r["day"] for r in db.rows(conn, "SELECT day FROM day_cache")}
    assert max(kept) < local(now) and local(now - 20 * DAY) in kept


def test_persisted_days_are_kept_per_role_and_unit(demo_url):
    """A day computed under one account's role and unit is read back by the same only: the
    row's owner key is set by the database, and another role cannot read or forge it."""
    import psycopg2

    from geo.analysis import heat
    from geo.security.access import Scope
    from geo.web import screen_warm

    dashboard.clear_cache()
    heat.clear_cache()
    admin, town = Scope("a", "admin", "620802"), Scope("b", "leader", "620802001")
    screen_warm.warm_scope(admin, url=demo_url)
    with db.scoped(admin), db.pooled(demo_url) as c:
        mine = db.scalar(c, "SELECT count(*) FROM day_cache")
        assert mine > 0 and db.scalar(c, "SELECT count(DISTINCT owner_key) FROM day_cache") == 1
    with db.scoped(town), db.pooled(demo_url) as c:
        assert db.scalar(c, "SELECT count(*) FROM day_cache WHERE owner_key LIKE %s", ("%|620802",)) == 0
        with pytest.raises(psycopg2.Error):  # a row under another owner's key
            db.execute(
                c,
                "INSERT INTO day_cache (family, day, version, payload, owner_key) VALUES ('f', current_date, 0, '', 'quanyu_admin|620802')",
            )


def test_the_codec_keeps_data_and_refuses_anything_else():
    import numpy as np

    from geo.cache import decode, encode

    value = {
        ("620802001", True, None): 3,
        "open": (np.arange(5, dtype=">i8"), np.array([True, False]), [1.5, "x"]),
        "day": datetime(2026, 1, 2).date(),
    }
    back = decode(encode(value))
    assert back[("620802001", True, None)] == 3 and back["day"] == value["day"]
    assert back["open"][0].tolist() == [0, 1, 2, 3, 4] and back["open"][0].dtype == np.dtype(">i8")
    assert back["open"][1].tolist() == [True, False] and back["open"][2] == [1.5, "x"]
    with pytest.raises(TypeError):
        encode(np.array([object()]))
    with pytest.raises(ValueError):  # a forged row cannot make numpy build objects
        decode(b'{"a":["|O",[1],"AAAAAAAAAAA="]}')


def test_threads_refreshing_the_same_days_read_them_once():
    """The tiles of a screen after a write of today ask for today together: one read."""
    import threading
    import time
    from datetime import date

    from geo.cache import Days

    days, calls, results, gate = Days(0), [], [], threading.Event()
    today = date(2026, 12, 6)

    def fetch(stale):
        calls.append(list(stale))
        gate.wait(5)
        return {d: 7 for d in stale}

    threads = [threading.Thread(target=lambda: results.append(days.get([today], {today: 3}, fetch))) for _ in range(8)]
    for th in threads:
        th.start()
    time.sleep(0.3)
    gate.set()
    for th in threads:
        th.join(10)
    assert calls == [[today]] and results == [{today: 7}] * 8 and days.reads == 1
    assert days.get([today], {today: 4}, fetch) == {today: 7} and len(calls) == 2  # a new version is read again
