"""The big screen's caches (issue #8) never show a stale or different figure: a write is
counted on the next refresh, a cache hit equals a cold computation, and the heat layer's
low-zoom tiles built from cached per-grid totals equal the plain SQL path feature for feature."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta

import pytest

from geo import db, tiles
from geo.analysis import dashboard
from geo.bench.screen import initial_view
from geo.web.api.tiles import window_bounds
from geo.worktime import CST


def panels(conn, now):
    return dict(
        kpis=dashboard.kpis(conn, now=now),
        cats=dashboard.by_category(conn, now=now),
        trend=dashboard.trend(conn, now=now),
        levels=dashboard.level_shares(conn, now=now),
        towns=dashboard.town_ranking(conn, now=now),
    )


def test_a_hit_equals_a_cold_computation(demo_conn):
    now = datetime.now(CST)
    dashboard.clear_cache()
    cold = panels(demo_conn, now)
    assert panels(demo_conn, now) == cold
    later = now + timedelta(hours=3)  # the live edge moves, the cached whole days stay
    hit = panels(demo_conn, later)
    dashboard.clear_cache()
    assert panels(demo_conn, later) == hit


def test_a_write_is_counted_on_the_next_refresh(demo_conn):
    now = datetime.now(CST)
    before = panels(demo_conn, now)
    with db.transaction(demo_conn) as cur:
        cur.execute(
            """INSERT INTO incident (title, minor_code, source, reported_at, admin_code, status, geom)
                       VALUES ('缓存测试', '0102', 'operator', %s, '620802001001', 'received',
                               ST_SetSRID(ST_MakePoint(106.66, 35.54), 4326)) RETURNING id""",
            (now - timedelta(minutes=1),),
        )
        new_id = cur.fetchone()[0]
    try:
        after = panels(demo_conn, now)
        k0, k1 = before["kpis"], after["kpis"]
        assert (k1["today"], k1["month"], k1["open"]) == (k0["today"] + 1, k0["month"] + 1, k0["open"] + 1)
        cats0 = {r["major_code"]: r["n"] for r in before["cats"]}
        cats1 = {r["major_code"]: r["n"] for r in after["cats"]}
        assert cats1["01"] == cats0.get("01", 0) + 1
        assert after["trend"][-1]["disputes"] == before["trend"][-1]["disputes"] + 1
        town0 = {r["code"]: r["found"] for r in before["towns"]}
        assert {r["code"]: r["found"] for r in after["towns"]}["620802001"] == town0["620802001"] + 1
    finally:
        with db.transaction(demo_conn) as cur:
            cur.execute("DELETE FROM incident WHERE id = %s", (new_id,))
    assert panels(demo_conn, now) == before


def _features(conn, layer, z, x, y, params, gcj02, monkeypatch):
    """The tile's features as sorted text (point and count), whichever path renders it."""
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

    monkeypatch.setattr(db, "scalar", capture)
    tiles.render(conn, layer, z, x, y, params, gcj02)
    monkeypatch.setattr(db, "scalar", plain)
    return got.get("v") or ""


@pytest.mark.parametrize("window", ["1", "7", "30", "90"])
def test_low_zoom_heat_tiles_equal_the_sql_path(demo_conn, monkeypatch, window):
    from geo.analysis import heat
    from layers import LAYERS

    layer = LAYERS["incident_heat"]
    assert layer.render is heat.render_low_zoom  # the layer says how it renders
    sql_only = dataclasses.replace(layer, render=None)  # the SQL path, the reference
    j = dashboard.jurisdiction(demo_conn)
    z, view = initial_view((j["xmin"], j["ymin"], j["xmax"], j["ymax"]))
    assert z < 12
    start, end = window_bounds({"window": window}, datetime.now(CST))
    seen = 0
    for major in (None, "01"):
        params = {"start": start, "end": end, "major": major}
        for zz, x, y in [(z, x, y) for x, y in view] + [(z + 1, 2 * view[0][0], 2 * view[0][1])]:
            for gcj02 in (False, True):
                cached = _features(demo_conn, layer, zz, x, y, params, gcj02, monkeypatch)
                assert cached == _features(demo_conn, sql_only, zz, x, y, params, gcj02, monkeypatch)
                seen += cached.count(";") + bool(cached)
    assert seen > 0
