"""Fuzzing the other web entry points with hypothesis: the drill-down JSON API
(geo/web/api/analysis.py), vector tiles (geo/web/api/tiles.py), the weekly reports
(geo/web/api/reports.py) and photo uploads (geo/incidents/media.py).

Why: every query parameter and upload must end in an answer or a 4xx naming the problem,
never a 500 or a stack trace, and GET requests never write. The blueprints run on a bare
Flask app over the tiny world of tests/support/loop.py. docs/fuzzing.md has the record.
"""

from __future__ import annotations

import base64
from datetime import date
from urllib.parse import quote, urlencode

import flask
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from geo import db
from geo import pgserver as cluster
from geo.incidents import media as intake_media
from geo.web.api import analysis as analysis_api
from geo.web.api import reports
from geo.web.api import tiles as maptiles
from tests.fuzz.hostile import short_hostile, short_nasty

TRACE_MARKERS = ("Traceback", 'File "/', "psycopg", "Werkzeug Debugger")
TOWN = "620802001"


@pytest.fixture
def client(loop_world, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))  # the pooled connections read DATABASE_URL
    app = flask.Flask("fuzz-api")
    for bp in (analysis_api.bp, maptiles.bp, reports.bp):
        app.register_blueprint(bp)
    return app.test_client()


def tables(conn) -> dict[str, int]:
    conn.rollback()
    found = {t: db.scalar(conn, f'SELECT count(*) FROM "{t}"') for t in ("incident", "household", "grid", "import_log")}
    conn.rollback()  # no transaction left open: a later test's TRUNCATE would wait for it forever
    return found


def check(resp):
    text = resp.get_data(as_text=True) if resp.mimetype.startswith(("text/", "application/json")) else ""
    assert resp.status_code < 500, text[:500]
    assert not any(m in text for m in TRACE_MARKERS), text[:500]
    event(f"status {resp.status_code}")
    if resp.status_code == 400 and resp.mimetype == "application/json":
        assert resp.get_json()["error"]


days = st.one_of(
    st.dates().map(date.isoformat),
    st.dates(date(2025, 1, 1), date(2027, 1, 1)).map(date.isoformat),
    st.sampled_from(("2026-02-30", "9999-12-31", "0001-01-01", "2026-7-1", "yesterday")),
)
numbers = st.one_of(
    st.integers(-10, 10**7).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(("", "1e309", "9" * 5000, "0x10", "12abc")),
)
ARGS = {
    "start": days,
    "end": days,
    "code": st.sampled_from(("620802", TOWN, "620802001001", "620802001001001", "123", "²²²²²²")),
    "major": st.sampled_from(("01", "03", "1", "xx")),
    "measure": st.sampled_from(analysis_api.MEASURES + ("speed",)),
    "bucket": st.sampled_from(("day", "week", "month", "year")),
    "limit": numbers,
    "weeks": numbers,
    "distance": numbers,
    "cell": numbers,
    "bandwidth": numbers,
    "zoom": numbers,
    "last": numbers,
    "rate_below": numbers,
    "weights": st.sampled_from(("queen", "distance", "rook")),
    "method": st.sampled_from(("gi", "moran", "x")),
    "fdr": st.sampled_from(("1", "true", "no")),
    "rate": st.sampled_from(("1", "0")),
    "bbox": st.one_of(
        st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=5).map(lambda v: ",".join(map(repr, v))),
        st.sampled_from(("106.65,35.53,106.67,35.55", "1,2,3", "a,b,c,d")),
    ),
    "quarter": st.sampled_from(("2026Q3", "2026Q5", "Q3", "")),
    "month": st.sampled_from(("2026-07", "2026-13", "x")),
    "window": st.sampled_from(("1", "7", "30", "90", "custom", "365")),
}


@st.composite
def query(draw) -> str:
    pairs = []
    for name in draw(st.lists(st.sampled_from(sorted(ARGS)) | short_nasty, max_size=6)):
        values = ARGS.get(name, short_hostile)
        pairs.append((name, draw(st.one_of(values, values, values, short_hostile))))
    return urlencode(pairs)


@given(
    path=st.one_of(
        st.sampled_from(("/api/hotspots", "/api/emerging", "/api/density", "/api/rankings", "/api/versions")),
        st.sampled_from(("620802", TOWN, "620802001001", "620802009", "1")).map(lambda c: f"/api/drill/{c}"),
        short_nasty.filter(bool).map(lambda c: f"/api/drill/{quote(c, safe='')}"),
    ),
    q=query(),
)
def test_analysis_api_never_fails(client, loop_world, path, q):
    before = tables(loop_world)
    check(client.get(f"{path}?{q}"))
    assert tables(loop_world) == before


LAYER_IDS = sorted(__import__("layers").LAYERS)


@given(
    layer=st.sampled_from(LAYER_IDS + ["nope"]), z=st.integers(0, 30), x=st.integers(0, 2**24), y=st.integers(0, 2**24), q=query()
)
def test_tiles_never_fail(client, loop_world, layer, z, x, y, q):
    x, y = (x % 2**z, y % 2**z) if z <= 22 and x % 3 else (x, y)  # mostly in range
    before = tables(loop_world)
    check(client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf?{q}"))
    assert tables(loop_world) == before


@given(
    kind=st.sampled_from(("risk-list", "notice", "notice", "other")),
    town=st.one_of(
        st.just(TOWN), st.just(TOWN), st.sampled_from(("620802999", "620802", "６２０８０２００１")), short_nasty.filter(bool)
    ),
    fmt=st.sampled_from((None, "html", "xlsx", "docx", "")),
    week_end=st.none() | days,
)
def test_reports_never_fail(client, loop_world, kind, town, fmt, week_end):
    args = {k: v for k, v in (("format", fmt), ("week_end", week_end)) if v is not None}
    before = tables(loop_world)
    check(client.get(f"/reports/{kind}/{quote(town, safe='')}?{urlencode(args)}"))
    assert tables(loop_world) == before


JPEG, PNG = b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\x89PNG\r\n\x1a\n\x00\x00"


@given(
    head=st.sampled_from((b"", JPEG, PNG, b"GIF89a", b"<svg onload=alert(1)>", b"<?php")),
    body=st.binary(max_size=256),
    prefix=st.sampled_from(("data:image/jpeg;base64,", "data:image/png;base64,", "data:text/html;base64,", "", "data:,")),
    mangle=st.sampled_from(("none", "bad_base64", "not_str", "no_comma")),
    filename=st.none() | short_nasty,
)
def test_photo_uploads_are_checked_by_content(head, body, prefix, mangle, filename):
    data = head + body
    contents = prefix + base64.b64encode(data).decode()
    if mangle == "bad_base64":
        contents = contents + "%*"
    elif mangle == "not_str":
        contents = {"contents": contents}
    elif mangle == "no_comma":
        contents = contents.replace(",", "")
    try:
        photo = intake_media.from_upload(contents, filename)
    except intake_media.PhotoRejected as exc:
        assert len(str(exc)) < 300 and "\x00" not in str(exc)
        event("rejected")
        return
    if photo is None:  # an empty value is "no photo", not a rejection
        assert not contents
        return
    event("accepted")
    assert mangle == "none" and prefix.startswith("data:") and photo.data == data
    assert photo.ext == ("jpg" if data.startswith(b"\xff\xd8\xff") else "png" if data.startswith(b"\x89PNG\r\n\x1a\n") else None)


def test_known_findings_are_400s(client, loop_world):
    """Inputs that were 500s before (docs/fuzzing.md), pinned."""
    for url in [
        "/api/drill/620802?end=9999-12-31",
        "/api/drill/620802?start=0001-01-01&end=0001-01-02",
        "/api/drill/620802?limit=-1",
        "/api/emerging?weeks=99999999",
        "/api/density?cell=inf",
        "/api/density?bbox=nan,1,2,3",
        "/api/hotspots?weights=distance&distance=inf",
        "/api/drill/620802?major=%00",
        "/tiles/incident_heat/0/0/0.pbf?window=custom&start=9999-12-30&end=9999-12-31",
        f"/reports/notice/{TOWN}?week_end=9999-12-31",
        f"/reports/notice/{TOWN}?week_end=0001-01-01",
        f"/reports/notice/{TOWN}?format=docx",
    ]:
        resp = client.get(url)
        assert resp.status_code == 400, (url, resp.status_code, resp.get_data(as_text=True)[:200])
    assert client.get("/reports/notice/%00").status_code == 404
    for contents in ({"x": 1}, "data:image/png;base64", "no-data-url"):
        with pytest.raises(intake_media.PhotoRejected):
            intake_media.from_upload(contents, "a\x00b.png")
