"""What the drill-down map draws beyond geo.analysis.drill's numbers: the shapes of a unit's children,
its extent, one incident in full, and the density surface as a picture.

The children of a district are twenty towns, of a town a dozen communities, of a community
a few dozen grids, so their outlines travel as a small simplified GeoJSON with the page's
data (no tile server round trip, one consistent snapshot with the numbers beside it). The
tolerance follows the unit's size: a town is simplified at a few metres, the city at tens.
"""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np

from geo import db
from geo.analysis import drill
from geo.incidents import lifecycle

SIMPLIFY_SHARE = 1 / 800  # tolerance as a share of the unit's longer side (about 1 px on a 800 px map)


def grid_prefix(code: str) -> str:
    """The prefix every grid code of the unit starts with (a city's grids share its first 4 digits)."""
    return drill.unit_prefix(code)


def bounds(conn, code: str) -> list[list[float]] | None:
    """[[west, south], [east, north]] of a unit or grid, for fitting the map."""
    table = "grid_current" if drill.level_of(code) == "grid" else "admin_unit"
    row = db.one(
        conn,
        f"""SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n
                             FROM (SELECT ST_Extent(geom) AS e FROM {table} WHERE code = %s) x""",
        (code,),
    )
    if not row or row["w"] is None:
        return None
    return [[row["w"], row["s"]], [row["e"], row["n"]]]


def child_shapes(conn, code: str) -> dict:
    """GeoJSON FeatureCollection of the children's outlines (code, name, a point inside), simplified.

    Below a community the children are its current grids; a grid has no child areas, so its
    own outline is returned (the map then shows its incidents as points on it).
    """
    level = drill.level_of(code)
    if level == "grid":
        source, where = "grid_current", "code = %(code)s"
    elif level == "community":
        source, where = "grid_current", "admin_code = %(code)s"
    else:
        source, where = "admin_unit", "parent_code = %(code)s"
    rows = db.rows(
        conn,
        f"""
        WITH unit AS (SELECT greatest(ST_XMax(e) - ST_XMin(e), ST_YMax(e) - ST_YMin(e)) AS side
                        FROM (SELECT ST_Extent(geom) AS e FROM {source} WHERE {where}) x)
        SELECT code, name, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, (SELECT side FROM unit) * %(share)s), 6) AS geometry
          FROM {source} WHERE {where} ORDER BY code""",
        dict(code=code, share=SIMPLIFY_SHARE),
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(r["geometry"]),
                "properties": {"code": r["code"], "name": r["name"], "lon": r["lon"], "lat": r["lat"]},
            }
            for r in rows
        ],
    }


def incident_detail(conn, incident_id: int) -> dict | None:
    """One incident with its category, place names and status history (no reporter data)."""
    row = db.one(
        conn,
        """
        SELECT i.id, i.title, i.description, i.minor_code, c.minor_name, c.major_name, c.department, i.source,
               i.reported_at, i.people_involved, i.duration_days, i.conflict_intensity, i.behaviour_risk,
               i.status, i.level_handled, i.deadline, i.closed_at, i.satisfaction, i.address,
               i.grid_code, g.name AS grid_name, i.admin_code, a.name AS community_name,
               i.risk_tier, i.risk_score, i.risk_reasons, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
          FROM incident i
          JOIN category c ON c.minor_code = i.minor_code
          LEFT JOIN grid_current g ON g.code = i.grid_code
          LEFT JOIN admin_unit a ON a.code = i.admin_code
         WHERE i.id = %s""",
        (int(incident_id),),
    )
    if row is None:
        return None
    row["history"] = lifecycle.history(conn, row["id"])
    return row


# --------------------------------------------------------------------------- density picture

# Transparent → blue → yellow → red, as (position, r, g, b, alpha).
DENSITY_RAMP = np.array(
    [
        (0.0, 40, 90, 200, 0),
        (0.15, 40, 140, 230, 110),
        (0.45, 250, 210, 60, 170),
        (0.75, 245, 120, 40, 200),
        (1.0, 230, 40, 40, 225),
    ],
    dtype=float,
)


def density_png(density, ramp: np.ndarray = DENSITY_RAMP) -> bytes:
    """An RGBA PNG of a density lattice (rows south→north, as geo.analysis.density.kde gives it).

    Scaled to the 99th percentile of the non-empty cells, so one extreme cell does not wash
    out the rest; written with zlib and struct, PNG needs nothing more.
    """
    values = np.asarray(density, dtype=float)
    if values.ndim != 2 or not values.size:
        raise ValueError("density must be a non-empty 2-D array")
    positive = values[values > 0]
    top = np.percentile(positive, 99) if positive.size else 1.0
    share = np.clip(values / (top or 1.0), 0, 1)[::-1]  # image rows run north→south
    rgba = np.stack([np.interp(share, ramp[:, 0], ramp[:, k]) for k in range(1, 5)], axis=-1)
    rgba[values[::-1] <= top * 1e-3] = 0
    return png_bytes(rgba.round().astype(np.uint8))


def png_bytes(rgba: np.ndarray) -> bytes:
    """Encode an (h, w, 4) uint8 array as PNG."""
    height, width, _ = rgba.shape
    raw = b"".join(b"\x00" + rgba[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def default_code(conn) -> str | None:
    """Where the page opens without a code: the jurisdiction's district if there is one, else the city."""
    return db.scalar(
        conn,
        """SELECT code FROM admin_unit WHERE level IN ('district', 'city')
                               ORDER BY level = 'district' DESC, code LIMIT 1""",
    )


def grid_names(conn, prefix: str) -> dict[str, str]:
    """Names of the current grids whose code starts with `prefix`."""
    return {
        r["code"]: r["name"] for r in db.rows(conn, "SELECT code, name FROM grid_current WHERE code LIKE %s", (prefix + "%",))
    }


def major_categories(conn) -> list[dict]:
    """The major categories for the category filter."""
    return db.rows(conn, "SELECT DISTINCT major_code, major_name FROM category ORDER BY major_code")
