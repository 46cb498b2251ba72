"""Vector tiles over HTTP: valid, filtered, cached under data versions, aligned on GCJ-02."""

from __future__ import annotations

import math

import pytest

from geo import crs, tiles

# The demo's urban core at zoom 12 (Pingliang city).
Z, X, Y = 12, 3261, 1614


@pytest.fixture(scope="module")
def client(demo_url):
    import os

    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = demo_url
    import app  # the one Dash app of the process (a second one would take the pages' callbacks from it)
    from tests.support.webapp import signed_in_client

    yield signed_in_client(app.server, demo_url)
    if old is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = old


def test_tile_bounds_roundtrip():
    w, s, e, n = tiles.tile_bounds_lonlat(Z, X, Y)
    assert w < 106.67 < e and s < 35.54 < n  # the tile holds the city centre


@pytest.mark.parametrize("z", [6, 9, 12, 15, 18])
def test_one_gcj02_shift_per_tile_is_sub_pixel(z):
    """The GCJ-02 offset varies so slowly that shifting a tile by its centre's offset errs by
    less than a pixel at every zoom, so overlays line up with a GCJ-02 basemap."""
    n = 2**z
    x = int((106.67 + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(35.54))) / math.pi) / 2 * n)
    dx, dy = tiles.gcj02_shift(z, x, y)
    w, s, e, nn = tiles.tile_bounds_lonlat(z, x, y)
    pixel_deg = (e - w) / 256
    for lon, lat in ((w, s), (w, nn), (e, s), (e, nn)):
        glon, glat = crs.wgs84_to_gcj02(lon, lat)
        assert abs((glon - lon) - dx) < pixel_deg and abs((glat - lat) - dy) < pixel_deg
    assert 0.001 < math.hypot(dx, dy) < 0.01  # a few hundred metres, as GCJ-02 is


@pytest.mark.parametrize("layer", ["grid_risk", "admin_boundaries", "incident_heat", "places", "households", "coverage"])
def test_every_layer_serves_a_tile(client, layer):
    r = client.get(f"/tiles/{layer}/{Z}/{X}/{Y}.pbf?window=90")
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.mapbox-vector-tile"
    assert len(r.data) > 0
    assert r.headers["ETag"]


def test_filters_change_the_heat_tile_and_bad_input_is_refused(client):
    all_90 = client.get(f"/tiles/incident_heat/{Z}/{X}/{Y}.pbf?window=90").data
    disputes_90 = client.get(f"/tiles/incident_heat/{Z}/{X}/{Y}.pbf?window=90&major=01").data
    today = client.get(f"/tiles/incident_heat/{Z}/{X}/{Y}.pbf?window=1").data
    assert len(disputes_90) < len(all_90) and len(today) < len(all_90)
    assert client.get(f"/tiles/incident_heat/{Z}/{X}/{Y}.pbf?window=999").status_code == 400
    assert client.get(f"/tiles/incident_heat/{Z}/{X}/{Y}.pbf?major=1;DROP").status_code == 400
    assert client.get(f"/tiles/incident_heat/{Z}/{X}/{Y}.pbf?window=custom&start=2026-01-01").status_code == 400
    assert client.get("/tiles/nope/1/0/0.pbf").status_code == 404
    assert client.get("/tiles/grid_risk/3/99/0.pbf").status_code == 400


def test_etag_revalidation_and_versions_endpoint(client):
    r = client.get(f"/tiles/grid_risk/{Z}/{X}/{Y}.pbf")
    again = client.get(f"/tiles/grid_risk/{Z}/{X}/{Y}.pbf", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    versions = client.get("/api/versions").get_json()
    assert {"incident", "grid", "household"} <= set(versions)


def test_a_new_incident_is_a_new_heat_tile(client, demo_conn):
    """Caching is keyed by data versions: a write makes the next request compute a new tile."""
    from geo import db

    before = client.get(f"/tiles/incident_heat/{Z}/{X}/{Y}.pbf?window=1")
    w, s, e, n = tiles.tile_bounds_lonlat(Z, X, Y)
    with db.transaction(demo_conn) as cur:
        cur.execute(
            """INSERT INTO incident (title, minor_code, source, reported_at, admin_code, geom)
                       VALUES ('瓦片测试', '0102', 'operator', now(), '620802001001', ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
            ((w + e) / 2, (s + n) / 2),
        )
    after = client.get(f"/tiles/incident_heat/{Z}/{X}/{Y}.pbf?window=1")
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.data != before.data


def test_screens_at_the_same_versions_share_a_tile_while_writes_go_on(client, demo_conn):
    """During a burst the database's versions move with every write: a tile is keyed by the
    versions its page shows (the URL's v) when the read has reached them, so every screen at
    those versions gets the same tile; a URL naming a version not reached yet is keyed by
    the database's instead, so no tile is ever cached under a future version."""
    from geo import db

    def heat(v: str):
        return client.get(f"/tiles/incident_heat/{Z}/{X}/{Y}.pbf?window=1&v={v}")

    def write():
        w, s, e, n = tiles.tile_bounds_lonlat(Z, X, Y)
        with db.transaction(demo_conn) as cur:
            cur.execute(
                """INSERT INTO incident (title, minor_code, source, reported_at, admin_code, geom)
                   VALUES ('瓦片测试', '0102', 'operator', now(), '620802001001', ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                ((w + e) / 2, (s + n) / 2),
            )
        return db.scalar(demo_conn, "SELECT version FROM data_version WHERE name = 'incident'")

    shown = write()
    first = heat(str(shown))
    write()  # the database moves on; the screen still shows `shown`
    again = heat(str(shown))
    assert again.headers["ETag"] == first.headers["ETag"] and again.data == first.data
    newest = write()
    assert heat(str(newest)).data != first.data  # the page at the new version: a new tile
    future = heat(str(newest + 1000))
    assert future.headers["ETag"] == heat(str(newest)).headers["ETag"]  # keyed by what the read has


def test_a_tile_made_at_the_pages_versions_is_served_without_the_database(client, monkeypatch):
    """Fifty screens after a write ask for the same tiles while the writers hold the
    connections: a tile already made at the URL's versions needs no connection at all."""
    from geo import db

    v = client.get("/api/versions").get_json()["incident"]
    url = f"/tiles/incident_heat/{Z}/{X}/{Y}.pbf?window=7&v={v}"
    first = client.get(url)

    def no_database(*_a, **_k):
        raise AssertionError("a cached tile took a connection")

    monkeypatch.setattr(db, "reading", no_database)
    monkeypatch.setattr(db, "pooled", no_database)
    again = client.get(url)
    assert again.status_code == 200 and again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
