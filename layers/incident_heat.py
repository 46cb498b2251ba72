"""Incident density as a heatmap, binned in PostGIS.

Below zoom 12 a grid is smaller than the heatmap's radius, so each grid is one weighted
point (its PointOnSurface) with its count read from the daily aggregate `incident_daily`
(migration 0018): whole days from the aggregate, the two partial edge days of the window
from `incident`, so the count is exact and a tile costs grids x days, not incidents.
Incidents in no grid weigh on their community's point. From zoom 12 on, a tile covers a
few grids and incidents are counted in square bins of 1/128 of the tile (about 2 pixels);
only the bin centres and counts travel. MapLibre's heatmap layer weights each point by its
count. The time window and category filter are tile parameters.

Below zoom 12 the served tile is assembled by `render_low_zoom` (end of this module) from
cached per-grid totals, feature for feature equal to the SQL here, which stays the
reference and serves every other case.
"""
from layers import LegendItem, MapLayer

LAYER = MapLayer(
    id="incident_heat",
    label="layer.incident_heat",
    order=30,
    sql="""WITH near AS MATERIALIZED (   -- the grids of this tile: the aggregate is read for them only
               SELECT code FROM grid_current WHERE %(z)s < 12 AND geom && (SELECT b FROM bbox)
           ), low AS (   -- zoom < 12: per grid (or per community for gridless incidents)
               SELECT c.grid_code, c.admin_code, sum(c.n) AS n FROM (
                   SELECT d.grid_code, d.admin_code, d.n FROM incident_daily d
                    WHERE %(z)s < 12 AND d.day > incident_day(%(start)s) AND d.day < incident_day(%(end)s)
                      AND (d.grid_code IN (SELECT code FROM near) OR d.grid_code = '')
                      AND (%(major)s::text IS NULL OR left(d.minor_code, 2) = %(major)s)
                   UNION ALL
                   SELECT COALESCE(i.grid_code, ''), i.admin_code, 1 FROM incident i
                    WHERE %(z)s < 12 AND i.reported_at >= %(start)s AND i.reported_at < %(end)s
                      AND (i.reported_at < incident_day_start(incident_day(%(start)s) + 1)
                           OR i.reported_at >= incident_day_start(incident_day(%(end)s)))
                      AND (%(major)s::text IS NULL OR left(i.minor_code, 2) = %(major)s)) c
                GROUP BY 1, 2)
           SELECT ST_PointOnSurface(g.geom) AS geom, sum(low.n)::int AS n
             FROM low JOIN grid_current g ON g.code = low.grid_code
            WHERE g.geom && (SELECT b FROM bbox) GROUP BY g.code, g.geom
           UNION ALL
           SELECT ST_PointOnSurface(a.geom), sum(low.n)::int
             FROM low JOIN admin_unit a ON a.code = low.admin_code
            WHERE low.grid_code = '' AND a.geom && (SELECT b FROM bbox) GROUP BY a.code, a.geom
           UNION ALL   -- zoom >= 12: raw incidents in bins of 1/128 tile
           SELECT ST_Transform(ST_SetSRID(ST_MakePoint(avg(ST_X(p)), avg(ST_Y(p))), 3857), 4326), count(*)::int
             FROM (SELECT ST_Transform(i.geom, 3857) AS p
                     FROM incident i
                    WHERE %(z)s >= 12 AND i.geom && (SELECT b FROM bbox)
                      AND i.reported_at >= %(start)s AND i.reported_at < %(end)s
                      AND (%(major)s::text IS NULL OR left(i.minor_code, 2) = %(major)s)) s
            GROUP BY floor(ST_X(p) / %(cell_m)s), floor(ST_Y(p) / %(cell_m)s)""",
    attributes=("n",),
    style=(
        {"type": "heatmap", "paint": {
            "heatmap-weight": ["interpolate", ["linear"], ["get", "n"], 0, 0, 6, 1],
            "heatmap-intensity": ["interpolate", ["linear"], ["zoom"], 8, 1.6, 14, 3],
            "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 8, 14, 12, 26, 15, 38],
            "heatmap-opacity": 0.82,
            "heatmap-color": ["interpolate", ["linear"], ["heatmap-density"],
                              0, "rgba(0,0,0,0)", 0.15, "#3b0f70", 0.35, "#8c2981",
                              0.55, "#de4968", 0.75, "#fe9f6d", 1, "#fcfdbf"]}},
    ),
    legend=(LegendItem("#8c2981,#de4968,#fe9f6d,#fcfdbf", "legend.density", "ramp"),),
    depends_on=("incident",),
    filters=("window", "category"),
    simplify=False,
)


# --------------------------------------------------------------------------- low zooms
# Below zoom 12 the SQL above costs a scan of the window's incident_daily rows of every grid
# in the tile: at city scale (0.27 incidents per grid-day, so about one aggregate row per
# incident) a z10 tile of a 90-day window reads ~40,000 rows, and a screen has 12 tiles.
# The same figure is assembled from two cached parts and one small live read instead:
# - each grid's (or, for incidents in no grid, each community's) point on surface, cached
#   per grid/admin_unit version;
# - each point's count over the window's whole local days, one scan of incident_daily for
#   the whole scope, cached per incident version and whole-day range (whole days cannot
#   change without a write, and every write bumps the version);
# - the two partial edge days read from incident, keyed by the exact window (so the
#   tiles of one screen share one read, and no other instant reuses it).
# So the tile equals the SQL path's tile feature for feature (tests/test_screen_cache.py). Every
# cache key carries the database, the role scope (db.scope_key) and the data versions.

import numpy as np  # noqa: E402

from geo import db, tiles  # noqa: E402
from geo.memo import LRU  # noqa: E402
from geo.worktime import CST  # noqa: E402

# Points and whole-day totals; the edge days apart, since every request of the app has its
# own instant and their entries must not push the long-lived ones out.
_cache = LRU(32)
_edge_cache = LRU(8)


def _cached(key, compute, store=_cache):
    return store.get(key, compute)


def clear_cache() -> None:
    _cache.clear()
    _edge_cache.clear()


def _where(conn) -> tuple:
    """The database and login a connection reads as, and the request's role scope."""
    return (conn.info.host, conn.info.port, conn.info.dbname, conn.info.user, db.scope_key())


def _points(conn, versions: dict):
    """Keys ('g' + grid code, 'c' + community code), lon and lat of every weighted point."""
    def compute():
        rows = db.rows(conn, """
            SELECT 'g' || code AS k, ST_X(p) AS x, ST_Y(p) AS y
              FROM (SELECT code, ST_PointOnSurface(geom) AS p FROM grid_current) g
            UNION ALL
            SELECT 'c' || code, ST_X(p), ST_Y(p)
              FROM (SELECT code, ST_PointOnSurface(geom) AS p FROM admin_unit WHERE level = 'community') a""")
        keys = np.array([r["k"] for r in rows], dtype=object)
        xy = np.array([(r["x"], r["y"]) for r in rows], dtype=float).reshape(-1, 2)
        return keys, xy
    return _cached(("points", _where(conn), versions.get("grid"), versions.get("admin_unit")), compute)


def _whole_days(conn, versions: dict, first, last, major):
    """Counts per point key over the local days strictly between `first` and `last`."""
    def compute():
        rows = db.rows(conn, """
            SELECT CASE WHEN grid_code = '' THEN 'c' || admin_code ELSE 'g' || grid_code END AS k, sum(n)::bigint AS n
              FROM incident_daily
             WHERE day > %(first)s AND day < %(last)s
               AND (%(major)s::text IS NULL OR left(minor_code, 2) = %(major)s)
             GROUP BY 1""", dict(first=first, last=last, major=major))
        return {r["k"]: r["n"] for r in rows}
    return _cached(("days", _where(conn), versions.get("incident"), first, last, major), compute)


def _edges(conn, versions: dict, start, end, major):
    """Counts per point key over the window's partial first and last local days, read from
    incident (its reported_at index: at most two days of rows). Keyed by the exact window,
    so the tiles of one screen share it and nothing outside that instant reuses it."""
    def compute():
        rows = db.rows(conn, """
            SELECT CASE WHEN grid_code IS NULL THEN 'c' || admin_code ELSE 'g' || grid_code END AS k, count(*) AS n
              FROM incident
             WHERE reported_at >= %(start)s AND reported_at < %(end)s
               AND (reported_at < incident_day_start(incident_day(%(start)s) + 1)
                    OR reported_at >= incident_day_start(incident_day(%(end)s)))
               AND (%(major)s::text IS NULL OR left(minor_code, 2) = %(major)s)
             GROUP BY 1""", dict(start=start, end=end, major=major))
        return {r["k"]: r["n"] for r in rows}
    return _cached(("edges", _where(conn), versions.get("incident"), start, end, major), compute, _edge_cache)


def _array(values: np.ndarray) -> str:
    """A PostgreSQL array literal, bound as one text parameter: a list of thousands of
    floats costs psycopg2 ~25 ms to adapt per tile, this ~1 ms (repr round-trips a float
    exactly, so the points are the same)."""
    return "{" + ",".join(map(repr, values.tolist())) + "}"


def render_low_zoom(conn, layer, args) -> bytes | None:
    if args["z"] >= 12 or args.get("start") is None or args.get("end") is None:
        return None
    versions = {r["name"]: r["version"] for r in db.rows(conn, "SELECT name, version FROM data_version")}
    keys, xy = _points(conn, versions)
    w, s, e, n = tiles.tile_bounds_lonlat(args["z"], args["x"], args["y"])
    mx, my = (e - w) * tiles.BUFFER / tiles.EXTENT, (n - s) * tiles.BUFFER / tiles.EXTENT
    # the tile with its buffer in unshifted coordinates (a GCJ-02 tile is shifted by dx, dy);
    # the Mercator margin is not uniform in latitude, so widen by one margin and let
    # ST_AsMVTGeom clip exactly
    inside = ((xy[:, 0] >= w - 2 * mx - args["dx"]) & (xy[:, 0] <= e + 2 * mx - args["dx"])
              & (xy[:, 1] >= s - 2 * my - args["dy"]) & (xy[:, 1] <= n + 2 * my - args["dy"]))
    if not inside.any():
        return b""
    first, last = args["start"].astimezone(CST).date(), args["end"].astimezone(CST).date()
    whole = _whole_days(conn, versions, first, last, args.get("major"))
    edge = _edges(conn, versions, args["start"], args["end"], args.get("major"))
    counts = np.array([whole.get(c, 0) + edge.get(c, 0) for c in keys[inside]], dtype=np.int64)
    pick = counts > 0
    if not pick.any():
        return b""
    data = db.scalar(conn, """
        WITH t AS (
            SELECT ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(p.x + %(dx)s, p.y + %(dy)s), 4326), 3857),
                                ST_TileEnvelope(%(z)s, %(x)s, %(y)s), %(extent)s, %(buffer)s, true) AS mvtgeom, p.n
              FROM unnest(%(px)s::float8[], %(py)s::float8[], %(pn)s::int[]) AS p (x, y, n)
        )
        SELECT ST_AsMVT(t.*, %(name)s, %(extent)s, 'mvtgeom') FROM t WHERE mvtgeom IS NOT NULL""",
        dict(args, px=_array(xy[inside, 0][pick]), py=_array(xy[inside, 1][pick]), pn=_array(counts[pick]),
             extent=tiles.EXTENT, buffer=tiles.BUFFER))
    return bytes(data) if data else b""


tiles.RENDERERS[LAYER.id] = render_low_zoom
