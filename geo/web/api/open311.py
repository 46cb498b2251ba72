"""Open311 GeoReport v2 at /open311/v2/: residents' apps, the 12345 platform and partner
systems report incidents and follow them without a custom integration.

Why follow the specification to the letter (array roots, error arrays, W3C times with a
zone, XML element names): any existing Open311 client must work unchanged. The detailed
Chinese status goes in `status_notes` ("处置中 in_progress"); `extensions=true` adds
`extended_attributes` (detailed status, grid, overdue, level handled).

Privacy (issue #18): reporters' names, phones and e-mails are stored and never returned.
Anonymous reads list only published categories (`category.public`), at the grid's centre
with the community's name for an address, a scrubbed description and no photo; a key with
the scope read:restricted or read:precise reads more (geo/incidents/open311.py decides, in
SQL, what each reader sees; this module only parses and answers in the spec's format).
Geocoding is not offered (no geocoder works offline here): `lat`/`long` are required and a
request with only `address_string` gets a 400 saying so.

Bad input (issue #9): every parameter is checked before it reaches SQL (and reaches it only
as a bound value): no control characters, bounded lengths, codes by pattern, dates within
MIN_DATE..MAX_DATE, finite WGS84 coordinates, bodies up to MAX_POST_BYTES (413) and only the
form encodings the specification names (415). Fuzzed by tests/fuzz/test_open311.py
(docs/fuzzing.md).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Any

import flask
from werkzeug.exceptions import HTTPException

from geo import db
from geo.incidents import dispatch as routing
from geo.incidents import lifecycle
from geo.incidents import open311 as requests_db
from geo.security import apikeys
from geo.worktime import CST

bp = flask.Blueprint("open311", __name__, url_prefix="/open311/v2")

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
MAX_POST_BYTES = 64 * 1024  # 4,000 Chinese characters, percent-encoded, fit
MAX_FIELD_CHARS = {
    "description": routing.MAX_DESCRIPTION,
    "address_string": 300,
    "first_name": 50,
    "last_name": 50,
    "email": 200,
    "phone": 30,
    "media_url": 1000,
    "device_id": 100,
}
MAX_RESULTS = 1000  # also the largest page_size
MAX_PAGE = 10_000
MAX_QUERY_BYTES = 8192  # what common front ends (nginx, gunicorn) accept in a request line
MAX_ARG_CHARS = 1000  # any one query parameter
MAX_CODES = 200  # service_code values in one GET
MIN_DATE, MAX_DATE = datetime(1970, 1, 1, tzinfo=CST), datetime(2100, 1, 1, tzinfo=CST)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SERVICE_CODE = re.compile(r"^[0-9]{4}$")
JURISDICTION = re.compile(r"^[0-9]{6,12}$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 controls except tab, LF, CR; and DEL
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # chars XML 1.0 cannot carry
MAX_SPAN = timedelta(days=90)
POSTS_PER_MINUTE = 60
LIST_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
FORMAT = "<any(json, xml):fmt>"
ATTRIBUTES = [  # the four risk factors of the Lijiang mechanism, as optional attributes
    dict(code="people_involved", datatype="number", description="涉事人数 (number of people involved)", values=None),
    dict(code="duration_days", datatype="number", description="持续天数 (how many days it has lasted)", values=None),
    dict(
        code="conflict_intensity",
        datatype="singlevaluelist",
        description="冲突程度 (intensity of the conflict)",
        values=[("0", "无 none"), ("1", "口角 verbal"), ("2", "肢体冲突 physical"), ("3", "激烈对抗 violent")],
    ),
    dict(
        code="behaviour_risk",
        datatype="singlevaluelist",
        description="当事人思想行为动态 (parties' behaviour)",
        values=[("0", "平稳 calm"), ("1", "有情绪 upset"), ("2", "扬言过激 threats"), ("3", "极端倾向 extreme")],
    ),
]


class Open311Error(Exception):
    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code, self.description = code, description


# --------------------------------------------------------------------------- responses


def _respond(fmt: str, root: str, payload: Any, status: int = 200) -> flask.Response:
    if fmt == "xml":
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(_element(root, payload), encoding="utf-8")
        return flask.Response(body, status, content_type="text/xml; charset=utf-8")
    return flask.Response(json.dumps(payload, ensure_ascii=False), status, content_type="application/json; charset=utf-8")


def _element(tag: str, value: Any) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, dict):
        for k, v in value.items():
            el.append(_element(k, v))
    elif isinstance(value, list):
        for v in value:
            el.append(_element(LIST_ITEMS.get(tag, "item"), v))
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = NOT_XML.sub("\ufffd", str(value))  # data imported elsewhere may hold control characters
    return el


@bp.errorhandler(Open311Error)
def _error(exc: Open311Error):
    fmt = "xml" if flask.request.path.endswith(".xml") else "json"
    return _respond(fmt, "errors", [{"code": exc.code, "description": exc.description}], exc.code)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    """Werkzeug's own refusals inside the API (413 while reading a form, say) in the spec's format."""
    return _error(Open311Error(exc.code or 400, exc.description or exc.name))


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _not_found(exc):
    """Unknown paths and methods under /open311/ answer in the spec's error format; others keep Flask's page."""
    if not flask.request.path.startswith(bp.url_prefix):
        return exc
    if exc.code == 405:
        return _error(Open311Error(405, f"method {flask.request.method} not allowed on {flask.request.path}"))
    return _error(Open311Error(404, f"not found: {flask.request.path}"))


@bp.before_request
def _check_request() -> None:
    """Refusals that need no database: size, media type, control characters, lengths."""
    request = flask.request
    request.max_content_length = MAX_POST_BYTES  # also bounds bodies sent without a Content-Length
    if len(request.query_string) > MAX_QUERY_BYTES:
        raise Open311Error(414, f"query string longer than {MAX_QUERY_BYTES} bytes")
    if request.method == "POST":
        if (request.content_length or 0) > MAX_POST_BYTES:
            raise Open311Error(413, f"request too large: at most {MAX_POST_BYTES} bytes (send photos as media_url)")
        if request.mimetype not in FORM_TYPES and (request.mimetype or request.content_length):
            raise Open311Error(
                415,
                f"unsupported media type {request.mimetype or '(none)'!r}: send the form as application/x-www-form-urlencoded",
            )
    for where, values in (("query", request.args), ("form", request.form if request.method == "POST" else None)):
        for name, value in values.items(multi=True) if values else ():
            if CONTROL.search(name) or CONTROL.search(value):
                raise Open311Error(400, f"{where} parameter {_shown(name)} contains control characters")
            if where == "query" and len(value) > MAX_ARG_CHARS:
                raise Open311Error(400, f"query parameter {_shown(name)} longer than {MAX_ARG_CHARS} characters")


def _shown(name: str) -> str:
    """A parameter name safe to echo in an error (printable, short)."""
    return repr(CONTROL.sub("?", name[:40]))


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(CST).isoformat(timespec="seconds") if value else None


# --------------------------------------------------------------------------- plumbing


def _conn():
    return db.pooled(flask.current_app.config.get("QUANYU_DATABASE_URL"))


def _verify_key(key: str | None) -> dict | None:
    """Keys are checked as the owner: the public role that serves Open311 cannot read them."""
    with db.system(flask.current_app.config.get("QUANYU_DATABASE_URL")) as conn:
        return apikeys.verify(conn, key)


def _check_jurisdiction(conn) -> None:
    jid = flask.request.values.get("jurisdiction_id", "").strip()
    if jid and not JURISDICTION.match(jid):
        raise Open311Error(400, "jurisdiction_id must be a 6- to 12-digit division code (e.g. 620802)")
    if jid and not requests_db.jurisdiction_exists(conn, jid):
        raise Open311Error(404, f"jurisdiction_id {jid!r} not found")


_posts: dict[int, deque] = defaultdict(deque)
_posts_lock = threading.Lock()


def _throttle(key_id: int) -> None:
    """At most POSTS_PER_MINUTE posts per key per process: a runaway client must not flood the screen."""
    now = time.monotonic()
    with _posts_lock:
        q = _posts[key_id]
        while q and now - q[0] > 60:
            q.popleft()
        if len(q) >= POSTS_PER_MINUTE:
            raise Open311Error(429, f"too many requests: at most {POSTS_PER_MINUTE} per minute per api_key")
        q.append(now)


# --------------------------------------------------------------------------- discovery & services


@bp.get(f"/discovery.{FORMAT}")
def discovery(fmt):
    with _conn() as conn:
        changed = requests_db.changed_at(conn)
    url = flask.url_for("open311.discovery", fmt=fmt, _external=True).rsplit("/", 1)[0] + "/"
    changeset = _iso(changed) or _iso(datetime.now(CST))
    payload = {
        "changeset": changeset,
        "contact": "综治中心指挥中心 (the command centre of the comprehensive-governance centre)",
        "key_service": "python -m geo apikey create --name NAME (issued by the centre's administrator)",
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": url,
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return _respond(fmt, "discovery", payload)


def _service(r: dict) -> dict:
    return {
        "service_code": r["minor_code"],
        "service_name": r["minor_name"],
        "description": r["description"] or "",
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join([r["major_name"], r["minor_name"], r["department"]]),
        "group": r["major_name"],
    }


@bp.get(f"/services.{FORMAT}")
def services(fmt):
    with _conn() as conn:
        _check_jurisdiction(conn)
        rows = requests_db.services(conn)
    return _respond(fmt, "services", [_service(r) for r in rows])


@bp.get(f"/services/<code>.{FORMAT}")
def service_definition(code, fmt):
    with _conn() as conn:
        _check_jurisdiction(conn)
        known = SERVICE_CODE.match(code) and requests_db.category_exists(conn, code)
    if not known:
        raise Open311Error(404, f"service_code {code!r} not found")
    attributes = [
        {
            "variable": True,
            "code": a["code"],
            "datatype": a["datatype"],
            "required": False,
            "datatype_description": "非负整数 a whole number >= 0" if a["datatype"] == "number" else "",
            "order": k + 1,
            "description": a["description"],
            "values": [{"key": key, "name": name} for key, name in a["values"] or []],
        }
        for k, a in enumerate(ATTRIBUTES)
    ]
    return _respond(fmt, "service_definition", {"service_code": code, "attributes": attributes})


# --------------------------------------------------------------------------- POST requests


def write_lanes() -> int:
    """Open311 writes in progress per process (QUANYU_WRITE_LANES, default half the pool)."""
    return max(1, int(os.environ.get("QUANYU_WRITE_LANES", "0") or 0) or db.pool_size() // 2)


_lanes: threading.BoundedSemaphore | None = None
_lanes_lock = threading.Lock()


@contextlib.contextmanager
def _write_lane():
    """A partner system's burst (fifty reports a second) queues in a few lanes instead of
    taking every pooled connection: the wall screens' reads always find one free, and the
    writes still all land, in order of arrival. A write that waits longer than the pool's
    wait gets 503 with Retry-After, as any request the pool cannot serve."""
    global _lanes
    with _lanes_lock:
        if _lanes is None:
            _lanes = threading.BoundedSemaphore(write_lanes())
    wait = db.pool_wait_seconds()
    if not _lanes.acquire(timeout=wait):
        raise db.PoolBusy(wait, write_lanes(), retry_after=2)
    try:
        yield
    finally:
        _lanes.release()


@bp.post(f"/requests.{FORMAT}")
def post_request(fmt):
    form = flask.request.form  # size, media type and control characters checked in _check_request
    with _write_lane():
        # the key first, on its own borrow: a write holds one connection at a time
        key = _verify_key(form.get("api_key"))
        if key is None:
            raise Open311Error(403, "api_key missing, unknown or revoked")
        _throttle(key["id"])
        row = _create(form, key)
    incident_id = row["id"]
    notice = f"已受理，责任单位：{row['department']}，办理时限：{row['deadline'].astimezone(CST):%Y-%m-%d %H:%M}"
    return _respond(
        fmt, "service_requests", [{"service_request_id": str(incident_id), "service_notice": notice, "account_id": None}]
    )


def _create(form, key: dict) -> dict:
    with _conn() as conn:
        _check_jurisdiction(conn)
        fields = _incident_fields(conn, form)
        try:
            return requests_db.create(conn, key["name"], fields)
        except routing.RoutingError as exc:
            raise Open311Error(400, str(exc)) from None


def _incident_fields(conn, form) -> dict:
    """The incident to create from the form, or a 400 naming the first problem."""
    for name, limit in MAX_FIELD_CHARS.items():
        if len(form.get(name, "")) > limit:
            raise Open311Error(400, f"{name} longer than {limit} characters")
    code = form.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    if not SERVICE_CODE.match(code) or not requests_db.category_exists(conn, code):
        raise Open311Error(400, f"service_code {code!r} not found (see services.json)")
    lat, lon = form.get("lat", "").strip(), form.get("long", "").strip()
    if not (lat and lon):
        if form.get("address_string") or form.get("address_id"):
            raise Open311Error(400, "lat and long are required: this server does not geocode address_string or address_id")
        raise Open311Error(400, "lat and long are required (WGS84 decimal degrees)")
    try:
        flat, flon = float(lat), float(lon)
    except ValueError:
        raise Open311Error(400, f"lat and long must be numbers (WGS84 decimal degrees), not {lat[:40]!r}, {lon[:40]!r}") from None
    if not (math.isfinite(flat) and math.isfinite(flon) and -90 <= flat <= 90 and -180 <= flon <= 180):
        raise Open311Error(400, "lat and long must be WGS84 decimal degrees (-90..90, -180..180)")
    attrs = {a["code"]: form.get(f"attribute[{a['code']}]", "").strip() for a in ATTRIBUTES}
    for a in ATTRIBUTES:
        allowed = [k for k, _ in a["values"] or []]
        if allowed and attrs[a["code"]] and attrs[a["code"]] not in allowed:
            raise Open311Error(400, f"attribute[{a['code']}] must be one of {', '.join(allowed)}")
    name = " ".join(p for p in (form.get("last_name", "").strip(), form.get("first_name", "").strip()) if p)
    defaults = {"people_involved": 1, "duration_days": 0, "conflict_intensity": 0, "behaviour_risk": 0}
    return dict(
        lon=lon,
        lat=lat,
        minor_code=code,
        description=form.get("description") or None,
        address=form.get("address_string") or None,
        reporter_name=name or None,
        reporter_phone=form.get("phone") or None,
        reporter_email=form.get("email") or None,
        media_url=form.get("media_url") or None,
        **{k: attrs[k] or v for k, v in defaults.items()},
    )


# --------------------------------------------------------------------------- GET requests


def _read_scopes() -> tuple[str, ...]:
    """What the reader may see beyond the anonymous view: the scopes of the api_key sent, if any."""
    sent = flask.request.args.get("api_key")
    if sent is None:
        return ()
    key = _verify_key(sent)
    if key is None:
        raise Open311Error(403, "api_key unknown or revoked (reads need no key; send one only for its scopes)")
    return tuple(key["scopes"] or ())


def _public(r: dict, extensions: bool, now: datetime) -> dict:
    notes = lifecycle.status_label(r["status"]) + (f"，合并至 #{r['merged_into']}" if r["merged_into"] else "")
    out = {
        "service_request_id": str(r["id"]),
        "status": "closed" if r["status"] in lifecycle.CLOSED_STATUSES else "open",
        "status_notes": notes,
        "service_name": r["minor_name"],
        "service_code": r["minor_code"],
        "description": r["description"],
        "agency_responsible": r["department"],
        "service_notice": None,
        "requested_datetime": _iso(r["reported_at"]),
        "updated_datetime": _iso(r["updated_at"]),
        "expected_datetime": _iso(r["deadline"]),
        "address": r["address"] or None,
        "address_id": None,
        "zipcode": None,
        "lat": round(r["lat"], 7),
        "long": round(r["lon"], 7),
        "media_url": r["media_url"],
    }
    if extensions:
        out["extended_attributes"] = {
            "detailed_status": r["status"],
            "grid_code": r["grid_code"],
            "level_handled": r["level_handled"],
            "overdue": routing.is_overdue(r["status"], r["deadline"], now),
            "merged_into": str(r["merged_into"]) if r["merged_into"] else None,
        }
    return out


def _parse_time(name: str) -> datetime | None:
    text = flask.request.args.get(name, "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
        value = value if value.tzinfo else value.replace(tzinfo=CST)
        inside = MIN_DATE <= value <= MAX_DATE  # comparing aware times converts to UTC: may overflow at year 1
    except (ValueError, OverflowError):
        raise Open311Error(400, f"{name} must be a W3C/ISO 8601 date-time such as 2026-11-01T00:00:00+08:00") from None
    if not inside:
        raise Open311Error(400, f"{name} must lie between {MIN_DATE:%Y-%m-%d} and {MAX_DATE:%Y-%m-%d}")
    return value


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = flask.request.args.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and low <= int(text) <= high):
        raise Open311Error(400, f"{name} must be a whole number from {low} to {high}")
    return int(text)


def _csv_arg(name: str) -> list[str]:
    return [v.strip() for v in flask.request.args.get(name, "").split(",") if v.strip()]


def _extensions() -> bool:
    return flask.request.args.get("extensions", "").lower() in ("true", "1")


@bp.get(f"/requests.{FORMAT}")
def get_requests(fmt):
    ids = _csv_arg("service_request_id")
    scopes = _read_scopes()
    with _conn() as conn:
        _check_jurisdiction(conn)
        now = requests_db.now(conn)
        if ids:  # the spec: service_request_id overrides every other parameter
            if not all(i.isascii() and i.isdigit() and len(i) < 19 for i in ids):
                raise Open311Error(400, "service_request_id must be a comma-separated list of numbers")
            if len(ids) > MAX_RESULTS:
                raise Open311Error(400, f"at most {MAX_RESULTS} service_request_id values at once")
            rows = requests_db.requests_by_id(conn, [int(i) for i in ids], scopes)
        else:
            start, end = _parse_time("start_date"), _parse_time("end_date")
            if start and end and end - start > MAX_SPAN:
                raise Open311Error(400, "start_date and end_date may not span more than 90 days")
            if start and end and end < start:
                raise Open311Error(400, "end_date is before start_date")
            end = end or (start + MAX_SPAN if start else now)
            start = start or end - MAX_SPAN
            statuses = _csv_arg("status")
            if any(s not in ("open", "closed") for s in statuses):
                raise Open311Error(400, "status must be open, closed or both (comma-separated)")
            codes = _csv_arg("service_code")
            if len(codes) > MAX_CODES or not all(SERVICE_CODE.match(c) for c in codes):
                raise Open311Error(400, f"service_code must be up to {MAX_CODES} four-digit codes, comma-separated")
            page_size = _int_arg("page_size", MAX_RESULTS, 1, MAX_RESULTS)
            offset = (_int_arg("page", 1, 1, MAX_PAGE) - 1) * page_size
            rows = requests_db.find_requests(
                conn,
                start=start,
                end=end,
                codes=codes,
                want_open=not statuses or "open" in statuses,
                want_closed=not statuses or "closed" in statuses,
                limit=page_size,
                offset=offset,
                scopes=scopes,
            )
    return _respond(fmt, "service_requests", [_public(r, _extensions(), now) for r in rows])


@bp.get(f"/requests/<request_id>.{FORMAT}")
def get_request(request_id, fmt):
    scopes = _read_scopes()
    with _conn() as conn:
        _check_jurisdiction(conn)
        valid = request_id.isascii() and request_id.isdigit() and len(request_id) < 19
        found = requests_db.requests_by_id(conn, [int(request_id)], scopes) if valid else []
        row = found[0] if found else None
        now = requests_db.now(conn)
    if row is None:
        raise Open311Error(404, f"service_request_id {request_id!r} not found")
    return _respond(fmt, "service_requests", [_public(row, _extensions(), now)])


@bp.get(f"/tokens/<token>.{FORMAT}")
def get_token(token, fmt):
    """Creation is synchronous, so a request's token is its id; the endpoint exists for clients
    that ask. It finds only what the reader may read (an unpublished category needs a key)."""
    scopes = _read_scopes()
    with _conn() as conn:
        _check_jurisdiction(conn)
        valid = token.isascii() and token.isdigit() and len(token) < 19
        found = valid and requests_db.incident_exists(conn, int(token), scopes)
    if not found:
        raise Open311Error(404, f"token {token!r} not found")
    return _respond(fmt, "service_requests", [{"service_request_id": token, "token": token}])
