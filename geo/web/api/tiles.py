"""Vector tiles and data versions over HTTP.

`/tiles/<layer>/<z>/<x>/<y>.pbf` serves a layer of `layers/` as a Mapbox vector tile,
made by PostGIS and cached under the data versions it depends on (so a tile is never
stale, and unchanged tiles are free); `/api/versions` tells the page what changed.
Query parameters are validated before they reach SQL, and reach it only as bound values.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, abort, jsonify, request

from geo import cache, config, db, tiles
from geo.analysis import dashboard
from geo.worktime import CST
from layers import LAYERS

bp = Blueprint("maptiles", __name__)
# Tiles by (layer, tile, filters, data versions, scope): a change in the data is a new key, so a
# cached tile is never stale; old keys fall out by least-recent use within a byte budget.
CACHE = cache.LRU(64 * 1024 * 1024, weigh=len)
_prepare_lock = threading.Lock()
WINDOWS = {"1", "7", "30", "90", "custom"}
MAJOR = re.compile(r"^[0-9]{2}$")
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2100, 1, 1)


def window_bounds(args, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The time window of a request: today, the last 7/30/90 days, or custom dates (inclusive)."""
    now = now or datetime.now(CST)
    window = args.get("window", "30")
    if window not in WINDOWS:
        abort(400, f"window must be one of {sorted(WINDOWS)}")
    if window == "1":
        return datetime.combine(now.astimezone(CST).date(), time.min, CST), now + timedelta(minutes=1)
    if window == "custom":
        try:
            start = date.fromisoformat(args.get("start", ""))
            end = date.fromisoformat(args.get("end", ""))
        except ValueError:
            abort(400, "custom window needs start and end as YYYY-MM-DD")
        if end < start or (end - start).days > 3660:
            abort(400, "end must follow start, within ten years")
        if start < FIRST_DAY or end >= LAST_DAY:  # year 9999 + 1 day overflows
            abort(400, f"start and end must lie between {FIRST_DAY} and {LAST_DAY}")
        return datetime.combine(start, time.min, CST), datetime.combine(end + timedelta(days=1), time.min, CST)
    return now - timedelta(days=int(window)), now + timedelta(minutes=1)


def filter_params(layer, args) -> tuple[dict, tuple]:
    """Bound parameters for the layer's SQL and the part of the cache key they make."""
    params = {"start": None, "end": None, "major": None}
    key = ()
    if "window" in layer.filters:
        start, end = window_bounds(args)
        params.update(start=start, end=end)
        # Key by window name and day: "the last 30 days" is the same tile all day until data changes.
        key += (args.get("window", "30"), args.get("start"), args.get("end"), datetime.now(CST).date())
    if "category" in layer.filters:
        major = args.get("major") or None
        if major is not None and not MAJOR.match(major):
            abort(400, "major must be a two-digit category code")
        params["major"] = major
        key += (major,)
    return params, key


@bp.get("/tiles/<layer_id>/<int:z>/<int:x>/<int:y>.pbf")
def tile(layer_id: str, z: int, x: int, y: int):
    layer = LAYERS.get(layer_id)
    if layer is None:
        abort(404, f"no layer {layer_id}")
    if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
        abort(400, "tile out of range")
    params, fkey = filter_params(layer, request.args)
    gcj02 = config.settings().basemap_crs == "gcj02"
    place = (layer.id, z, x, y, fkey, gcj02)
    asked = url_versions(layer, request.args.get("v"))
    key = place + (tuple(asked[name] for name in layer.depends_on), db.scope_key()) if asked else None
    # The common case on a wall of screens: the tile was made at the versions the page shows
    # (only a read that had reached them keeps it there), so it is served with no database
    # round trip; under a burst of writes the connections go to the writers and the misses.
    data = CACHE.get_if_present(key) if key else None
    if data is None:
        key, data = _read_tile(layer, z, x, y, params, gcj02, place, asked)
    tag = tiles.etag(key)
    if request.headers.get("If-None-Match") == tag:
        return Response(status=304)
    body, gzipped = tiles.maybe_gzip(data, request.headers.get("Accept-Encoding", ""))
    resp = Response(body, mimetype="application/vnd.mapbox-vector-tile")
    if gzipped:
        resp.headers["Content-Encoding"] = "gzip"
    resp.headers["ETag"] = tag
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def url_versions(layer, v: str | None) -> dict:
    """The data versions a tile URL names (`v=3.17`, one per layer.depends_on), as a dict; {} when
    absent or malformed (the page always sends them; a script may not)."""
    parts = (v or "").split(".")
    if len(parts) != len(layer.depends_on) or not all(p.isdigit() and len(p) < 19 for p in parts):
        return {}
    return dict(zip(layer.depends_on, map(int, parts)))


def _read_tile(layer, z, x, y, params, gcj02, place, asked) -> tuple[tuple, bytes]:
    """(key, tile) read from the database. A tile is read where the versions in its URL (the
    page's) have arrived, in one snapshot with the versions that key it; a replica behind the
    page is passed over. A layer that refreshes a derived table before serving (`prepare`, a
    write) is read on the primary."""
    reader = db.pooled() if layer.prepare else db.reading(at_least=asked)
    with reader as conn:
        key = place + (key_versions(layer, asked, dashboard.versions(conn)), db.scope_key())

        def render() -> bytes:
            if layer.prepare:
                with _prepare_lock:
                    layer.prepare(conn)
            return tiles.render(conn, layer, z, x, y, params, gcj02=gcj02)

        try:  # screens asking for the same new tile at once render it once (geo.cache.LRU)
            return key, CACHE.get(key, render)
        except tiles.TileTimeout as exc:
            abort(503, str(exc))


def key_versions(layer, asked: dict, current: dict) -> tuple:
    """The versions that key a tile: the page's (its URL's) when this read has reached them all,
    so that every screen showing the same versions shares one tile while writes move the
    database on (a burst of fifty writes a second would otherwise make every request a new
    key and a new rendering); else the database's. Never a version the read has not reached:
    a URL naming a future version would cache today's tile under it. A tile kept under a
    version holds data at least that new, as every cached value here does."""
    now = tuple(current.get(name) for name in layer.depends_on)
    if asked and all(v is not None and asked[name] <= v for name, v in zip(layer.depends_on, now)):
        return tuple(asked[name] for name in layer.depends_on)
    return now


@bp.get("/api/versions")
def versions():
    with db.reading() as conn:
        return jsonify(dashboard.versions(conn))
