"""Every tile query runs under a statement timeout (QUANYU_STATEMENT_TIMEOUT_TILES, as pg_tileserv's
DbTimeout): a slow one is cut off by PostgreSQL, answers 503 with what to do, and leaves
its pooled connection free; a tile in time leaves the transaction's setting as it was."""

from __future__ import annotations

import math
import time

import flask
import pytest

from geo import config, db, tiles
from geo import pgserver as cluster
from geo.web.api import tiles as maptiles
from layers import LAYERS, MapLayer
from tests.support.loop import IN_SW

SLEEP_S = 5
SLOW = MapLayer(
    id="slow_test",
    label="layer.slow_test",
    order=99,
    sql=f"SELECT g.geom, 1 AS n FROM grid_current g, (SELECT pg_sleep({SLEEP_S})) s WHERE g.geom && (SELECT b FROM bbox)",
    attributes=("n",),
    style=(),
)


def tile_of(lon: float, lat: float, z: int = 14) -> tuple[int, int, int]:
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def test_a_slow_tile_query_is_cut_off_and_the_connection_is_usable(loop_world):
    conn = loop_world
    z, x, y = tile_of(*IN_SW)
    started = time.monotonic()
    with pytest.raises(tiles.TileTimeout) as info:
        tiles.render(conn, SLOW, z, x, y, {}, timeout_s=0.3)
    assert time.monotonic() - started < SLEEP_S / 2
    message = str(info.value)
    assert f"slow_test/{z}/{x}/{y}" in message and "0.3 s" in message and "QUANYU_STATEMENT_TIMEOUT_TILES" in message
    assert db.scalar(conn, "SELECT 1") == 1  # rolled back, not left aborted
    assert db.scalar(conn, "SHOW statement_timeout") == "0"  # the setting went with the transaction


def test_a_tile_in_time_keeps_the_timeout_to_itself(loop_world):
    conn = loop_world
    conn.rollback()
    z, x, y = tile_of(*IN_SW)
    data = tiles.render(conn, LAYERS["admin_boundaries"], z, x, y, {}, timeout_s=5)
    assert data  # the tiny jurisdiction's boundaries are in this tile
    assert db.scalar(conn, "SHOW statement_timeout") == "0"  # same transaction, setting back
    conn.rollback()


@pytest.fixture
def client(loop_world, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))  # the pooled connections read DATABASE_URL
    monkeypatch.setenv("QUANYU_STATEMENT_TIMEOUT_TILES", "0.3")
    monkeypatch.setitem(LAYERS, SLOW.id, SLOW)
    app = flask.Flask("tile-timeout")
    app.register_blueprint(maptiles.bp)
    return app.test_client()


def test_a_slow_tile_answers_503_and_never_holds_a_connection(client, conn):
    z, x, y = tile_of(*IN_SW)
    started = time.monotonic()
    for _ in range(10):  # more than the pool's 8 connections: a held one would exhaust it
        resp = client.get(f"/tiles/{SLOW.id}/{z}/{x}/{y}.pbf")
        assert resp.status_code == 503
        assert "took longer than 0.3 s" in resp.get_data(as_text=True)
    assert time.monotonic() - started < 10 * SLEEP_S / 2
    conn.rollback()
    sleeping = db.scalar(
        conn,
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%pg_sleep(' || %s || ')%%' AND state = 'active' AND pid <> pg_backend_pid()",
        (str(SLEEP_S),),
    )
    assert sleeping == 0
    assert client.get(f"/tiles/admin_boundaries/{z}/{x}/{y}.pbf").status_code == 200


@pytest.mark.parametrize("raw", ["0", "-1", "ten", "nan", "1e9"])
def test_a_bad_timeout_setting_is_refused_by_name(monkeypatch, raw):
    monkeypatch.setenv("QUANYU_STATEMENT_TIMEOUT_TILES", raw)
    with pytest.raises(ValueError, match="QUANYU_STATEMENT_TIMEOUT_TILES must be a number of seconds above 0"):
        config.settings()
