"""The incident heat layer's low zooms (layers/incident_heat.py), from cached parts.

Below zoom 12 the layer's SQL costs a scan of the window's incident_daily rows of every grid
in the tile: at city scale (0.27 incidents per grid-day, so about one aggregate row per
incident) a z10 tile of a 90-day window reads ~40,000 rows, and a screen has 12 tiles.
The same figure is assembled from cached parts and one small live read instead:
- each grid's (or, for incidents in no grid, each community's) point on surface, cached
  per grid/admin_unit version;
- each local day's counts per point and major category as three small arrays, cached per
  day and tagged with the day's version from the change log incident_day_version
  (migration 0024): a write re-reads only the days it touched, and a window's whole days
  are summed with one bincount (the total is kept for the tiles of the same screen);
- the incidents of the window's two partial edge days (point, major, report time), kept
  per day and version too, and cut at the window's exact instants in memory.
So the tile equals the SQL path's tile feature for feature (tests/test_screen_cache.py). Every
cache key carries the database, the role scope (db.scope_key) and the versions.

Why here: it is the big screen's other per-day cache beside geo/analysis/dashboard.py's
counts, and the layer module keeps only what the layer is (its SQL, the reference path, its
paint rules and legend) and names `render_low_zoom` as the way it renders below zoom 12.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from geo import db, tiles
from geo.cache import LRU, Days, day_versions
from geo.worktime import CST

# Points (and long windows' sums); window totals apart, so that the windows x categories
# of a busy screen never push the points out; per-day families (whole days' counts, edge
# days' incidents).
_cache = LRU(32)
_totals = LRU(32)
_families = LRU(16)
# Longer windows (custom dates, up to ten years) are summed in SQL rather than held per day.
MAX_CACHED_DAYS = 400
# The longest preset window (1/7/30/90 days, geo/web/api/tiles.py): its whole days are read
# on a family's first use.
PREFETCH_DAYS = 90


def _cached(key, compute, store=_cache):
    return store.get(key, compute)


def clear_cache() -> None:
    _cache.clear()
    _totals.clear()
    _families.clear()


def _where(conn) -> tuple:
    """The database and login a connection reads as, and the request's role scope."""
    return (conn.info.host, conn.info.port, conn.info.dbname, conn.info.user, db.scope_key())


def _points(conn, versions: dict):
    """Keys ('g' + grid code, 'c' + community code), lon and lat of every weighted point."""

    def compute():
        # one row: the keys as an array, the points packed as big-endian float8 pairs (at city,
        # 23,000 rows read one dict each cost a new worker's first screen half a second)
        row = db.one(
            conn,
            """
            SELECT array_agg(k) AS keys, string_agg(float8send(ST_X(p)) || float8send(ST_Y(p)), ''::bytea) AS xy
              FROM (SELECT 'g' || code AS k, ST_PointOnSurface(geom) AS p FROM grid_current
                    UNION ALL
                    SELECT 'c' || code, ST_PointOnSurface(geom) FROM admin_unit WHERE level = 'community') pts""",
        )
        keys = np.array(row["keys"] or [], dtype=object)
        xy = np.frombuffer(bytes(row["xy"] or b""), dtype=">f8").astype(float).reshape(-1, 2)
        return keys, xy

    return _cached(("points", _where(conn), versions.get("grid"), versions.get("admin_unit")), compute)


def _majors(conn) -> tuple[str, ...]:
    """Every two-character category prefix (the filter `major` compares left(minor_code, 2));
    incidents reference category, so no incident has another."""
    return tuple(r["m"] for r in db.rows(conn, "SELECT DISTINCT left(minor_code, 2) AS m FROM category ORDER BY 1"))


_EMPTY = (np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros(0, np.int64))


def _split(keys) -> tuple[np.ndarray, np.ndarray]:
    """Which points are grids ('g' keys, the others communities), and their positions."""
    return np.array([k.startswith("g") for k in keys], dtype=bool), np.arange(len(keys))


def _whole_days(conn, versions: dict, points, first, last, major) -> np.ndarray:
    """Counts per point (in _points' order) over the local days strictly between `first`
    and `last`."""
    keys = points[0]
    n_days = (last - first).days - 1
    if n_days <= 0:
        return np.zeros(len(keys), np.int64)
    if n_days > MAX_CACHED_DAYS:
        return _long_window(conn, versions, keys, first, last, major)
    generation, day_v = day_versions(conn)  # before the counts they tag
    majors = _majors(conn)
    family = ("days", _where(conn), generation, versions.get("grid"), versions.get("admin_unit"), majors)
    fam = _families.get(family, lambda: Days(_EMPTY, max_days=2 * MAX_CACHED_DAYS, persist=family))
    days = [first + timedelta(days=k) for k in range(1, n_days + 1)]

    def fetch(stale):
        grid, index = _split(keys)
        # one row per day: (point index, major index, n) packed as big-endian int4 triples
        # (rows of one point and major on one day are summed by the bincount, not here)
        contiguous = (max(stale) - min(stale)).days + 1 == len(stale)
        rows = db.rows(
            conn,
            f"""
            WITH pg AS (SELECT code, i FROM unnest(%(gc)s::text[], %(gi)s::int[]) u (code, i)),
                 pc AS (SELECT code, i FROM unnest(%(cc)s::text[], %(ci)s::int[]) u (code, i)),
                 m AS (SELECT m, (o - 1)::int AS j FROM unnest(%(majors)s::text[]) WITH ORDINALITY u (m, o))
            SELECT d.day, string_agg(int4send(COALESCE(pg.i, pc.i)) || int4send(m.j) || int4send(d.n), ''::bytea) AS packed
              FROM incident_daily d
              LEFT JOIN pg ON pg.code = d.grid_code AND d.grid_code <> ''
              LEFT JOIN pc ON pc.code = d.admin_code AND d.grid_code = ''
              JOIN m ON m.m = left(d.minor_code, 2)
             WHERE d.day BETWEEN %(lo)s AND %(hi)s {"" if contiguous else "AND d.day = ANY(%(days)s::date[])"}
               AND COALESCE(pg.i, pc.i) IS NOT NULL
             GROUP BY d.day""",
            dict(
                gc=_array_text(k[1:] for k in keys[grid]),
                gi=_array(index[grid]),
                cc=_array_text(k[1:] for k in keys[~grid]),
                ci=_array(index[~grid]),
                majors=list(majors),
                days=stale,
                lo=min(stale),
                hi=max(stale),
            ),
        )
        out = {}
        for r in rows:
            a = np.frombuffer(bytes(r["packed"]), dtype=">i4").reshape(-1, 3)
            out[r["day"]] = (a[:, 0].astype(np.int32), a[:, 1].astype(np.int16), a[:, 2].astype(np.int64))
        return out

    if len(fam) == 0 and last == datetime.now(CST).date() and n_days < PREFETCH_DAYS - 1:
        # A new family serves its first window ending today: read the longest preset
        # window's days at once, so that switching windows is a click and not a scan.
        fam.get([last - timedelta(days=k) for k in range(PREFETCH_DAYS - 1, 0, -1)], day_v, fetch, conn)
    per_day = fam.get(days, day_v, fetch, conn)
    tag = tuple(day_v.get(d, 0) for d in days)

    def total():
        parts = [per_day[d] for d in days]
        idx = np.concatenate([p[0] for p in parts])
        n = np.concatenate([p[2] for p in parts])
        if major is not None:
            pick = np.concatenate([p[1] for p in parts]) == (majors.index(major) if major in majors else -1)
            idx, n = idx[pick], n[pick]
        return np.bincount(idx, weights=n, minlength=len(keys)).astype(np.int64)

    return _cached(
        ("total", _where(conn), generation, versions.get("grid"), versions.get("admin_unit"), majors, first, last, major, tag),
        total,
        _totals,
    )


def _long_window(conn, versions: dict, keys, first, last, major) -> np.ndarray:
    """A window of more than MAX_CACHED_DAYS whole days: one sum in SQL, cached per incident
    version."""

    def compute():
        rows = db.rows(
            conn,
            """
            SELECT CASE WHEN grid_code = '' THEN 'c' || admin_code ELSE 'g' || grid_code END AS k, sum(n)::bigint AS n
              FROM incident_daily
             WHERE day > %(first)s AND day < %(last)s
               AND (%(major)s::text IS NULL OR left(minor_code, 2) = %(major)s)
             GROUP BY 1""",
            dict(first=first, last=last, major=major),
        )
        got = {r["k"]: r["n"] for r in rows}
        return np.array([got.get(k, 0) for k in keys], dtype=np.int64)

    return _cached(
        ("long", _where(conn), versions.get("incident"), versions.get("grid"), versions.get("admin_unit"), first, last, major),
        compute,
    )


def warm(conn, start, end) -> None:
    """Fill the points and the per-day counts of a window (geo/web/screen_warm.py)."""
    versions = {r["name"]: r["version"] for r in db.rows(conn, "SELECT name, version FROM data_version")}
    points = _points(conn, versions)
    _whole_days(conn, versions, points, start.astimezone(CST).date(), end.astimezone(CST).date(), None)


def _array_text(values) -> str:
    """A PostgreSQL text array literal of plain keys (digits and letters), bound as one
    parameter: adapting 20,000 strings one by one costs more than the query."""
    return "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ROW = np.dtype([("i", ">i4"), ("m", ">i4"), ("t", ">i8")])
_NO_ROWS = np.zeros(0, _ROW)


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def _edges(conn, versions: dict, keys, start: datetime, end: datetime, major) -> np.ndarray:
    """Counts per point over the window's partial first and last local days. The incidents
    of those days (point, major category, report time in microseconds) are kept per day
    and version like the whole days (today's are re-read after a write of today), so any
    window's edges are cut from memory to the microsecond: the tiles of one screen, each
    with its own `now`, read them once."""
    first, last = start.astimezone(CST).date(), end.astimezone(CST).date()
    generation, day_v = day_versions(conn)  # before the rows they tag
    majors = _majors(conn)
    fam = _families.get(
        ("rows", _where(conn), generation, versions.get("grid"), versions.get("admin_unit"), majors),
        lambda: Days(_NO_ROWS, max_days=8),
    )

    def fetch(stale):
        grid, index = _split(keys)
        params = dict(
            gc=_array_text(k[1:] for k in keys[grid]),
            gi=_array(index[grid]),
            cc=_array_text(k[1:] for k in keys[~grid]),
            ci=_array(index[~grid]),
            majors=list(majors),
        )
        params.update((f"d{k}", d) for k, d in enumerate(stale))
        days = " OR ".join(
            f"(i.reported_at >= incident_day_start(%(d{k})s::date) AND i.reported_at < incident_day_start(%(d{k})s::date + 1))"
            for k in range(len(stale))
        )
        rows = db.rows(
            conn,
            f"""
            WITH pg AS (SELECT code, i FROM unnest(%(gc)s::text[], %(gi)s::int[]) u (code, i)),
                 pc AS (SELECT code, i FROM unnest(%(cc)s::text[], %(ci)s::int[]) u (code, i)),
                 m AS (SELECT m, (o - 1)::int AS j FROM unnest(%(majors)s::text[]) WITH ORDINALITY u (m, o))
            SELECT incident_day(i.reported_at) AS day,
                   string_agg(int4send(COALESCE(pg.i, pc.i)) || int4send(m.j)
                              || int8send((extract(epoch FROM i.reported_at) * 1000000)::bigint), ''::bytea) AS packed
              FROM incident i
              LEFT JOIN pg ON pg.code = i.grid_code
              LEFT JOIN pc ON pc.code = i.admin_code AND i.grid_code IS NULL
              JOIN m ON m.m = left(i.minor_code, 2)
             WHERE ({days}) AND COALESCE(pg.i, pc.i) IS NOT NULL
             GROUP BY 1""",
            params,
        )
        return {r["day"]: np.frombuffer(bytes(r["packed"]), dtype=_ROW) for r in rows}

    rows = fam.get(sorted({first, last}), day_v, fetch)
    lo, hi = _us(start), _us(end)
    parts = [rows[first][(rows[first]["t"] >= lo) & (rows[first]["t"] < hi)]]
    if last != first:
        parts.append(rows[last][rows[last]["t"] < hi])
    r = np.concatenate(parts)
    if major is not None:
        r = r[r["m"] == (majors.index(major) if major in majors else -1)]
    return np.bincount(r["i"].astype(np.int64), minlength=len(keys)).astype(np.int64)


def _array(values: np.ndarray) -> str:
    """A PostgreSQL array literal, bound as one text parameter: a list of thousands of
    floats costs psycopg2 ~25 ms to adapt per tile, this ~1 ms (repr round-trips a float
    exactly, so the points are the same)."""
    return "{" + ",".join(map(repr, values.tolist())) + "}"


def render_low_zoom(conn, layer, args) -> bytes | None:
    """The layer's tile below zoom 12 with a time window (geo.tiles.render's `args`), or None
    for the layer's SQL to make it."""
    if args["z"] >= 12 or args.get("start") is None or args.get("end") is None:
        return None
    versions = {r["name"]: r["version"] for r in db.rows(conn, "SELECT name, version FROM data_version")}
    keys, xy = _points(conn, versions)
    w, s, e, n = tiles.tile_bounds_lonlat(args["z"], args["x"], args["y"])
    mx, my = (e - w) * tiles.BUFFER / tiles.EXTENT, (n - s) * tiles.BUFFER / tiles.EXTENT
    # the tile with its buffer in unshifted coordinates (a GCJ-02 tile is shifted by dx, dy);
    # the Mercator margin is not uniform in latitude, so widen by one margin and let
    # ST_AsMVTGeom clip exactly
    inside = (
        (xy[:, 0] >= w - 2 * mx - args["dx"])
        & (xy[:, 0] <= e + 2 * mx - args["dx"])
        & (xy[:, 1] >= s - 2 * my - args["dy"])
        & (xy[:, 1] <= n + 2 * my - args["dy"])
    )
    if not inside.any():
        return b""
    first, last = args["start"].astimezone(CST).date(), args["end"].astimezone(CST).date()
    whole = _whole_days(conn, versions, (keys, xy), first, last, args.get("major"))
    edge = _edges(conn, versions, keys, args["start"], args["end"], args.get("major"))
    counts = whole[inside] + edge[inside]
    pick = counts > 0
    if not pick.any():
        return b""
    data = db.scalar(
        conn,
        """
        WITH t AS (
            SELECT ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(p.x + %(dx)s, p.y + %(dy)s), 4326), 3857),
                                ST_TileEnvelope(%(z)s, %(x)s, %(y)s), %(extent)s, %(buffer)s, true) AS mvtgeom, p.n
              FROM unnest(%(px)s::float8[], %(py)s::float8[], %(pn)s::int[]) AS p (x, y, n)
        )
        SELECT ST_AsMVT(t.*, %(name)s, %(extent)s, 'mvtgeom') FROM t WHERE mvtgeom IS NOT NULL""",
        dict(
            args,
            px=_array(xy[inside, 0][pick]),
            py=_array(xy[inside, 1][pick]),
            pn=_array(counts[pick]),
            extent=tiles.EXTENT,
            buffer=tiles.BUFFER,
        ),
    )
    return bytes(data) if data else b""
