"""Kernel density of incidents: a smooth surface of where incidents fall, independent of grid lines.

Counting is done by PostGIS (points snapped to a fine square lattice in the jurisdiction's
metric CRS, one row per occupied cell), so only a few thousand numbers leave the database
even for years of incidents; scipy's Gaussian filter then spreads each cell by the bandwidth.
The default bandwidth follows the map: about 15 screen pixels at the zoom level shown, or a
fiftieth of the extent, so the surface is neither speckled nor one blur.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter

from geo import db
from geo.analysis.filters import INCIDENT_FILTER, filter_params

CELLS_ACROSS = 200  # default lattice resolution along the longer side
MAX_CELLS = 1_000_000


def bandwidth_for_zoom(zoom: float, latitude: float = 35.5, pixels: float = 15) -> float:
    """Metres covered by `pixels` screen pixels at a web-map zoom level."""
    return pixels * 156_543.03392 * math.cos(math.radians(latitude)) / 2**zoom


def kde(
    conn,
    start,
    end,
    major_code: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    cell_m: float | None = None,
    bandwidth_m: float | None = None,
    zoom: float | None = None,
) -> dict:
    """Density surface: dict(srid, bounds (metric xmin, ymin, xmax, ymax), bounds_lonlat, cell_m,
    bandwidth_m, incidents, density (2-D list, rows south→north, incidents per km²)).

    bbox is lon/lat (default: the jurisdiction's extent); bandwidth from zoom when given,
    else a fiftieth of the extent.
    """
    srid = db.scalar(conn, "SELECT metric_srid FROM jurisdiction LIMIT 1") or 4545
    extent = db.one(
        conn,
        """
        SELECT ST_XMin(e) AS xmin, ST_YMin(e) AS ymin, ST_XMax(e) AS xmax, ST_YMax(e) AS ymax
          FROM (SELECT ST_Extent(ST_Transform(b, %(srid)s)) AS e
                  FROM (SELECT CASE WHEN %(bbox)s::float8[] IS NULL
                                    THEN (SELECT ST_SetSRID(ST_Extent(geom)::geometry, 4326) FROM admin_unit WHERE level = 'district')
                                    ELSE ST_MakeEnvelope((%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2],
                                                         (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326)
                               END AS b) AS area) AS m""",
        dict(srid=srid, bbox=list(bbox) if bbox else None),
    )
    if not extent or extent["xmin"] is None:
        raise LookupError("no extent: give a bbox or load administrative units")
    width, height = extent["xmax"] - extent["xmin"], extent["ymax"] - extent["ymin"]
    cell = float(cell_m or max(max(width, height) / CELLS_ACROSS, 10.0))
    bandwidth = float(bandwidth_m or (bandwidth_for_zoom(zoom) if zoom is not None else max(width, height) / 50))
    if cell <= 0 or bandwidth <= 0:
        raise ValueError("cell and bandwidth must be positive metres")
    nx, ny = math.ceil(width / cell) or 1, math.ceil(height / cell) or 1
    if nx * ny > MAX_CELLS:
        raise ValueError(f"{nx} x {ny} cells: choose a larger cell_m or a smaller bbox")
    params = filter_params(start, end, major_code, srid=srid, cell=cell, **extent)
    grid = np.zeros((ny, nx))
    for r in db.rows(
        conn,
        f"""
            SELECT floor((ST_X(p) - %(xmin)s) / %(cell)s)::int AS col, floor((ST_Y(p) - %(ymin)s) / %(cell)s)::int AS row,
                   count(*) AS n
              FROM incident i, LATERAL ST_Transform(i.geom, %(srid)s) AS p
             WHERE {INCIDENT_FILTER}
               AND ST_X(p) >= %(xmin)s AND ST_X(p) < %(xmax)s AND ST_Y(p) >= %(ymin)s AND ST_Y(p) < %(ymax)s
             GROUP BY 1, 2""",
        params,
    ):
        grid[min(r["row"], ny - 1), min(r["col"], nx - 1)] += r["n"]
    total = int(grid.sum())
    density = gaussian_filter(grid, sigma=bandwidth / cell, mode="constant") / (cell / 1000) ** 2
    corners = db.one(
        conn,
        """
        SELECT ST_X(a) AS west, ST_Y(a) AS south, ST_X(b) AS east, ST_Y(b) AS north
          FROM ST_Transform(ST_SetSRID(ST_Point(%(xmin)s, %(ymin)s), %(srid)s), 4326) AS a,
               ST_Transform(ST_SetSRID(ST_Point(%(xmax)s, %(ymax)s), %(srid)s), 4326) AS b""",
        params,
    )
    return dict(
        srid=srid,
        bounds=(extent["xmin"], extent["ymin"], extent["xmin"] + nx * cell, extent["ymin"] + ny * cell),
        bounds_lonlat=(corners["west"], corners["south"], corners["east"], corners["north"]),
        cell_m=cell,
        bandwidth_m=bandwidth,
        incidents=total,
        density=density.round(3).tolist(),
    )
