"""Mapbox vector tiles made by PostGIS, as pg_tileserv makes them.

A map layer (see `layers/`) supplies only a SELECT that yields `geom` (EPSG:4326) and its
attribute columns for the features near a tile; this module wraps it so PostGIS clips,
simplifies, quantises and encodes the tile (ST_TileEnvelope, ST_AsMVTGeom, ST_AsMVT). The
browser never receives raw geometry or raw points: 20,000 grids cost a few tiles, and
incidents arrive already binned.

The wrapped SELECT sees a CTE `bbox(b)`: the tile's envelope in EPSG:4326 with a margin,
for an index-assisted `geom && (SELECT b FROM bbox)`, and the bound parameters of the
request (`z`, `start`, `end`, `major`, `cell_m`: a bin size of 1/128 of the tile).

When the basemap is GCJ-02, each tile is shifted by the GCJ-02 offset at the tile's centre.
The offset varies by centimetres across a street and by metres across a county, so one
offset per tile is always well under a pixel and overlays line up with the basemap.
"""

from __future__ import annotations

import gzip
import hashlib
import math

import psycopg2.errors

from geo import config, crs, db

EXTENT = 4096
BUFFER = 64
WORLD_M = 40075016.68557849


def tile_bounds_lonlat(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    n = 2**z

    def lon(xx):
        return xx / n * 360.0 - 180.0

    def lat(yy):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return lon(x), lat(y + 1), lon(x + 1), lat(y)


def gcj02_shift(z: int, x: int, y: int) -> tuple[float, float]:
    """Degrees to add to WGS84 coordinates so they sit on a GCJ-02 basemap at this tile."""
    w, s, e, n = tile_bounds_lonlat(z, x, y)
    lon, lat = (w + e) / 2, (s + n) / 2
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    return float(glon - lon), float(glat - lat)


def tile_sql(layer) -> str:
    cols = "".join(f", src.{c}" for c in layer.attributes)
    geom = "ST_Transform(ST_Translate(src.geom, %(dx)s, %(dy)s), 3857)"
    if layer.simplify:
        geom = f"ST_Simplify({geom}, %(px_m)s / 2, true)"
    return f"""
        WITH bbox AS (
            SELECT ST_Translate(ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {BUFFER / EXTENT}), 4326),
                                -%(dx)s, -%(dy)s) AS b
        ), src AS ({layer.sql}),
        t AS (
            SELECT ST_AsMVTGeom({geom}, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {EXTENT}, {BUFFER}, true) AS mvtgeom{cols}
              FROM src
        )
        SELECT ST_AsMVT(t.*, %(name)s, {EXTENT}, 'mvtgeom') FROM t WHERE mvtgeom IS NOT NULL"""


class TileTimeout(Exception):
    """A tile's queries ran longer than the tile statement timeout and were cut off."""


def render(conn, layer, z: int, x: int, y: int, params: dict, gcj02: bool = False, timeout_s: float | None = None) -> bytes:
    """The layer's tile: by its `render` (which may decline with None), else by PostGIS from
    its SQL; every query of it under a statement timeout (QUANYU_STATEMENT_TIMEOUT_TILES, or
    `timeout_s`). A tile cut off raises TileTimeout with the transaction rolled back, so
    the connection is free again at once."""
    dx, dy = gcj02_shift(z, x, y) if gcj02 else (0.0, 0.0)
    tile_m = WORLD_M / 2**z
    args = dict(params, z=z, x=x, y=y, dx=dx, dy=dy, name=layer.id, px_m=tile_m / 256, cell_m=tile_m / 128)
    seconds = config.settings().tile_timeout_s if timeout_s is None else timeout_s
    try:
        with db.statement_timeout(conn, seconds):
            data = layer.render(conn, layer, args) if layer.render is not None else None
            if data is None:
                found = db.scalar(conn, tile_sql(layer), args)
                data = bytes(found) if found else b""
        return data
    except psycopg2.errors.QueryCanceled:
        conn.rollback()
        raise TileTimeout(
            f"tile {layer.id}/{z}/{x}/{y} took longer than {seconds:g} s and was cut off: zoom in or narrow the "
            "time window; if such tiles are expected, raise QUANYU_STATEMENT_TIMEOUT_TILES"
        ) from None


def etag(key) -> str:
    return hashlib.sha1(repr(key).encode()).hexdigest()[:20]


def maybe_gzip(data: bytes, accept_encoding: str) -> tuple[bytes, bool]:
    if len(data) > 1024 and "gzip" in (accept_encoding or ""):
        return gzip.compress(data, compresslevel=5), True
    return data, False
