"""JSON for the drill-down (研判) page: /api/drill, /api/hotspots, /api/emerging, /api/density, /api/rankings.

The whole view lives in the query string (place, window, category, measure, bucket), parsed
by one function, `parse_view`, and written back by `view_query`, so a shared or reloaded URL
shows exactly the same page, and the page and this API cannot disagree about defaults.
Bad input is a 400 naming the parameter, never a 500: dates within MIN_DAY..MAX_DAY, numbers
finite and within NUMBER_RANGES, no control characters (fuzzed by tests/fuzz/test_api.py).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

import flask

from geo import db
from geo.analysis import drill, filters
from geo.worktime import CST

bp = flask.Blueprint("analysis_api", __name__)

MEASURES = ("incidents", "per_1000_households", "resolution_rate", "overdue", "high_risk")
DEFAULT_DAYS = 90
MIN_DAY, MAX_DAY = date(1970, 1, 1), date(2100, 1, 1)  # beyond them window arithmetic overflows
MAX_ARG_CHARS = 200
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NUMBER_RANGES = {  # query parameter -> (lowest, highest) accepted
    "limit": (1, 5000),
    "weeks": (2, 104),  # = geo.analysis.emerging.MAX_WEEKS (520 took 13 s and 5.3 GB per request)
    "distance": (1, 100_000),
    "cell": (10, 100_000),
    "bandwidth": (10, 100_000),
    "zoom": (0, 24),
    "last": (1, 1000),
    "rate_below": (0, 1),
}


def _day(args, name: str) -> date | None:
    if not args.get(name):
        return None
    value = date.fromisoformat(args[name])
    if not MIN_DAY <= value < MAX_DAY:
        raise ValueError(f"{name} must lie between {MIN_DAY} and {MAX_DAY}")
    return value


def parse_view(args, code: str | None = None) -> dict:
    """The normalised view of a query string (a dict-like); raises ValueError on bad input."""
    end = _day(args, "end") or datetime.now(CST).date()
    start = _day(args, "start") or end - timedelta(days=DEFAULT_DAYS - 1)
    filters.time_window(start, end)  # refuses an empty window
    view = dict(
        code=code or args.get("code") or None,
        start=start,
        end=end,
        major=args.get("major") or None,
        measure=args.get("measure") or "incidents",
        bucket=args.get("bucket") or "day",
    )
    if view["code"]:
        drill.level_of(view["code"])
    if view["measure"] not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}")
    if view["bucket"] not in drill.BUCKETS:
        raise ValueError(f"bucket must be one of {drill.BUCKETS}")
    filters.filter_params(start, end, view["major"])  # validates the category
    return view


def view_query(view: dict) -> str:
    """The query string that parse_view turns back into `view` (defaults left out)."""
    keep = {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in view.items()
        if v is not None and not (k == "measure" and v == "incidents") and not (k == "bucket" and v == "day")
    }
    return urlencode(keep)


def _json(payload, status: int = 200) -> flask.Response:
    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    text = json.dumps(clean(payload), ensure_ascii=False, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))
    return flask.Response(text, status=status, mimetype="application/json")


@bp.errorhandler(ValueError)
def _bad_request(exc):
    return _json({"error": str(exc)}, 400)


@bp.errorhandler(LookupError)
def _not_found(exc):
    return _json({"error": str(exc)}, 404)


def _flag(name: str) -> bool:
    return flask.request.args.get(name, "").lower() in ("1", "true", "yes", "on")


@bp.before_request
def _check_args() -> None:
    for name, value in flask.request.args.items(multi=True):
        if CONTROL.search(name) or CONTROL.search(value) or len(value) > MAX_ARG_CHARS:
            raise ValueError(f"query parameter {CONTROL.sub('?', name[:40])!r} has control characters or is too long")


def _number(name: str, kind=float, default=None):
    """A finite number within NUMBER_RANGES[name], or `default` when the parameter is absent."""
    raw = flask.request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number, not {raw[:40]!r}") from None
    low, high = NUMBER_RANGES[name]
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be between {low} and {high}")
    return value


@bp.get("/api/drill/<code>")
def drill_view(code: str):
    """Everything one level of the drill-down page shows."""
    v = parse_view(flask.request.args, code)
    window = (v["start"], v["end"])
    with db.reading() as conn:
        return _json(
            dict(
                view=v,
                query=view_query(v),
                breadcrumb=[dict(code=c, name=n, level=lv) for c, n, lv in drill.breadcrumb(conn, code)],
                summary=drill.summary(conn, code, *window, v["major"]),
                children=drill.children(conn, code, *window, v["major"]),
                trend=drill.trend(conn, code, *window, v["major"], v["bucket"]),
                top_categories=drill.top_categories(conn, code, *window),
                incidents=drill.incidents(conn, code, *window, v["major"], limit=_number("limit", int, 200)),
            )
        )


@bp.get("/api/hotspots")
def hotspots_view():
    """Gi* per grid (method=gi, default) or Local Moran's I (method=moran)."""
    from geo.analysis import hotspots

    v = parse_view(flask.request.args)
    options = dict(weights=flask.request.args.get("weights", "queen"), distance_m=_number("distance"), rate=_flag("rate"))
    with db.reading() as conn:
        if flask.request.args.get("method", "gi") == "moran":
            frame = hotspots.local_moran(conn, v["start"], v["end"], v["major"], **options)
        else:
            frame = hotspots.gi_star(conn, v["start"], v["end"], v["major"], fdr=_flag("fdr"), **options)
    return _json(dict(view=v, grids=frame.to_dict(orient="records")))


@bp.get("/api/emerging")
def emerging_view():
    from geo.analysis import emerging

    v = parse_view(flask.request.args)
    with db.reading() as conn:
        frame = emerging.emerging(conn, v["end"], _number("weeks", int, 26), v["major"])
    return _json(dict(view=v, window=frame.attrs, grids=frame.to_dict(orient="records")))


@bp.get("/api/density")
def density_view():
    from geo.analysis import density

    v = parse_view(flask.request.args)
    bbox = flask.request.args.get("bbox")
    bbox = tuple(float(x) for x in bbox.split(",")) if bbox else None
    if bbox is not None and not (
        len(bbox) == 4 and all(map(math.isfinite, bbox)) and -180 <= bbox[0] < bbox[2] <= 180 and -90 <= bbox[1] < bbox[3] <= 90
    ):
        raise ValueError("bbox is west,south,east,north in degrees (west < east, south < north)")
    with db.reading() as conn:
        return _json(
            dict(
                view=v,
                **density.kde(
                    conn,
                    v["start"],
                    v["end"],
                    v["major"],
                    bbox=bbox,
                    cell_m=_number("cell"),
                    bandwidth_m=_number("bandwidth"),
                    zoom=_number("zoom"),
                ),
            )
        )


@bp.get("/api/rankings")
def rankings_view():
    from geo.analysis import rankings

    args = flask.request.args
    with db.reading() as conn:
        report = rankings.quarterly(
            conn, args.get("quarter", ""), last_n=_number("last", int, rankings.LAST_N), rate_below=_number("rate_below")
        )
        month = rankings.monthly(conn, args["month"]) if args.get("month") else None
    return _json(dict(report, month=month))
