"""Fuzzing the Open311 GeoReport v2 API with hypothesis through the Flask test client.

Why: the API faces other systems (12345 platform, residents' apps), so any query string or
form body must get either an answer or an Open311 error (a JSON/XML `errors` array with a
4xx code), never a 500 or a stack trace, and must write to the database only when the
request was valid. The app is the blueprint on a bare Flask app pointed at the test
database, as in tests/test_open311.py. What was tried and found: docs/fuzzing.md.
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlencode

import flask
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from geo import db
from geo.security import apikeys
from geo.web.api import open311
from tests.fuzz.hostile import INJECTIONS, hostile, huge_text, nasty_text, numberish, short_hostile, short_nasty
from tests.support.loop import IN_SW, IN_VILLAGE, OUTSIDE

PREFIX = "/open311/v2"
TRACE_MARKERS = ("Traceback", 'File "/', "psycopg", "Werkzeug Debugger")


@pytest.fixture
def client(loop_world, monkeypatch):
    monkeypatch.setattr(open311, "POSTS_PER_MINUTE", 10**9)  # the throttle is tested in test_open311
    open311._posts.clear()
    app = flask.Flask("open311-fuzz")
    app.config["QUANYU_DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL") or db.cluster.database_url(test=True)
    app.register_blueprint(open311.bp)
    return app.test_client()


@pytest.fixture
def key(loop_world):
    return apikeys.create(loop_world, "fuzz")


def counts(conn) -> tuple[int, int, int]:
    conn.rollback()
    return (
        db.scalar(conn, "SELECT count(*) FROM incident"),
        db.scalar(conn, "SELECT count(*) FROM incident_history"),
        db.scalar(conn, "SELECT count(*) FROM api_key"),
    )


def check(resp, fmt: str):
    """Every answer: below 500, no stack trace, an Open311 error array when it is an error."""
    text = resp.get_data(as_text=True)
    assert resp.status_code < 500, text[:500]
    assert not any(m in text for m in TRACE_MARKERS), text[:500]
    if fmt == "xml":
        root = ET.fromstring(resp.data)  # well-formed XML, whatever the data holds
        if resp.status_code >= 400:
            assert root.tag == "errors" and root.find("error/code").text == str(resp.status_code)
        return root
    body = json.loads(text)
    if resp.status_code >= 400:
        assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}, body
        assert body[0]["code"] == resp.status_code
    return body


# --------------------------------------------------------------------------- generators


def _iso(d: datetime) -> str:
    return d.isoformat()


offsets = st.sampled_from(
    [None, timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]
)
dates = st.one_of(
    st.builds(
        lambda d, tz: d.replace(tzinfo=tz).isoformat(),
        st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1)) | st.datetimes(),
        offsets,
    ),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(
        (
            "yesterday",
            "2026-13-01",
            "2026-02-30T25:00",
            "0001-01-01",
            "9999-12-31T23:59:59+14:00",
            "2026-01-01T00:00:00Z",
            "2026-01-01 00:00:00+08:00",
        )
    ),
)
id_lists = st.lists(st.one_of(st.integers(-5, 10**20).map(str), st.sampled_from(("1;drop", " 1", "", "0"))), max_size=5).map(
    ",".join
)
codes = st.sampled_from(("0301", "0103", "0102", "9999", "301", "03010", "0301,0103", "0301,9999", ",,"))
QUERY_VALUES = {
    "service_request_id": id_lists,
    "service_code": codes,
    "start_date": dates,
    "end_date": dates,
    "status": st.sampled_from(("open", "closed", "open,closed", "pending", "OPEN", ",")),
    "jurisdiction_id": st.sampled_from(("620802", "110101", "62080200000000000000", "")),
    "extensions": st.sampled_from(("true", "1", "false", "yes")),
}
QUERY_VALUES["page"] = QUERY_VALUES["page_size"] = st.one_of(st.integers(-2, 20_000).map(str), numberish)
param_names = st.one_of(st.sampled_from(sorted(QUERY_VALUES)), st.sampled_from(("api_key", "format")), short_nasty)


@st.composite
def queries(draw) -> list[tuple[str, str]]:
    """Mostly well-formed values (so that filters run), sometimes hostile, rarely huge."""
    pairs = []
    for name in draw(st.lists(param_names, max_size=6)):
        values = QUERY_VALUES.get(name, short_hostile)
        pairs.append((name, draw(st.one_of(values, values, values, short_hostile) if draw(st.integers(0, 19)) else huge_text)))
    return pairs


paths = st.one_of(
    st.sampled_from(("discovery", "services", "requests")),
    st.builds(
        lambda kind, seg: f"{kind}/{quote(seg, safe='')}",
        st.sampled_from(("services", "requests", "tokens")),
        st.one_of(st.sampled_from(("0301", "1", "0", "99999999999999999999", "²", "١")), short_nasty.filter(bool)),
    ),
)


# --------------------------------------------------------------------------- GET


@given(path=paths, fmt=st.sampled_from(("json", "xml")), query=queries())
def test_get_never_fails_and_never_writes(client, loop_world, path, fmt, query):
    before = counts(loop_world)
    resp = client.get(f"{PREFIX}/{path}.{fmt}" + ("?" + urlencode(query) if query else ""))
    event(f"status {resp.status_code}")
    check(resp, fmt)
    assert counts(loop_world) == before


@given(method=st.sampled_from(("PUT", "DELETE", "PATCH", "POST")), path=paths, fmt=st.sampled_from(("json", "xml")))
def test_other_methods_answer_in_open311_format(client, loop_world, method, path, fmt):
    before = counts(loop_world)
    resp = client.open(f"{PREFIX}/{path}.{fmt}", method=method, data={"api_key": "x"})
    check(resp, fmt)
    assert resp.status_code in (400, 403, 404, 405, 415)
    assert counts(loop_world) == before


# --------------------------------------------------------------------------- POST

FORM_VALUES = {
    "service_code": codes,
    "lat": st.one_of(st.floats(35.531, 35.549).map(repr), st.just(str(OUTSIDE[1])), numberish),
    "long": st.one_of(st.floats(106.651, 106.669).map(repr), st.just(str(OUTSIDE[0])), numberish),
    "description": st.one_of(nasty_text, st.sampled_from(INJECTIONS)),
    "address_string": nasty_text,
    "first_name": nasty_text,
    "last_name": nasty_text,
    "phone": hostile,
    "email": st.one_of(st.just("a@b.cn"), nasty_text),
    "device_id": nasty_text,
    "account_id": hostile,
    "media_url": st.one_of(st.sampled_from(("https://img.example.cn/1.jpg", "javascript:alert(1)", "http://")), nasty_text),
    "jurisdiction_id": st.sampled_from(("620802", "110101", "")) | nasty_text,
    "attribute[people_involved]": numberish,
    "attribute[duration_days]": numberish,
    "attribute[conflict_intensity]": st.sampled_from(("0", "1", "3", "9", "-1", "")) | hostile,
    "attribute[behaviour_risk]": st.sampled_from(("0", "2", "4")) | hostile,
}
BODIES = ("form", "form", "form", "multipart", "json", "text", "none", "oversize")


@st.composite
def forms(draw, key: str) -> dict:
    form = {"api_key": key, "service_code": "0301", "lat": str(IN_SW[1]), "long": str(IN_SW[0]), "description": "路灯不亮"}
    for name in draw(st.lists(st.sampled_from(sorted(FORM_VALUES) + ["api_key", "unknown"]), max_size=5, unique=True)):
        form[name] = draw(FORM_VALUES.get(name, hostile))
    for name in draw(st.lists(st.sampled_from(("api_key", "service_code", "lat", "long")), max_size=2, unique=True)):
        form.pop(name, None)
    return form


def _send(client, fmt, form, body):
    url = f"{PREFIX}/requests.{fmt}"
    if body == "form":
        return client.post(url, data=form)
    if body == "multipart":
        return client.post(url, data=form, content_type="multipart/form-data")
    if body == "json":
        return client.post(url, json=form)
    if body == "text":
        return client.post(url, data=urlencode(form), content_type="text/plain")
    if body == "none":
        return client.post(url)
    return client.post(url, data=dict(form, padding="x" * (open311.MAX_POST_BYTES + 1)))


def _valid_point(form) -> bool:
    try:
        lat, lon = float(form["lat"]), float(form["long"])
    except (KeyError, ValueError):
        return False
    return math.isfinite(lat) and math.isfinite(lon) and 106.649 <= lon <= 106.671 and 35.529 <= lat <= 35.551


@given(data=st.data(), fmt=st.sampled_from(("json", "xml")), body=st.sampled_from(BODIES))
def test_post_writes_only_valid_requests(client, key, loop_world, data, fmt, body):
    form = data.draw(forms(key))
    before = counts(loop_world)
    resp = _send(client, fmt, form, body)
    event(f"status {resp.status_code}")
    out = check(resp, fmt)
    after = counts(loop_world)
    if resp.status_code != 200:
        assert after == before
        expected = {"oversize": {413}, "json": {413, 415}, "text": {413, 415}}.get(body)  # 413 when also too big
        assert expected is None or resp.status_code in expected
        return
    # Written: exactly one incident with its first history row, from a request that was valid.
    assert after == (before[0] + 1, before[1] + 1, before[2])
    assert body in ("form", "multipart") and form.get("api_key") == key and _valid_point(form)
    assert all("\x00" not in v for v in form.values())
    for name, limit in open311.MAX_FIELD_CHARS.items():
        assert len(form.get(name, "")) <= limit
    rid = out[0]["service_request_id"] if fmt == "json" else out.find("request/service_request_id").text
    row = db.one(loop_world, "SELECT description, address, minor_code FROM incident WHERE id = %s", (int(rid),))
    assert row["minor_code"] == form["service_code"].strip()
    assert row["description"] == (form.get("description") or None)  # injection text stored verbatim, never run
    for f in ("json", "xml"):  # and served back as well-formed JSON and XML
        check(client.get(f"{PREFIX}/requests/{rid}.{f}"), f)


def test_known_findings_are_open311_errors(client, key, loop_world):
    """The inputs the first fuzz runs turned into 500s (docs/fuzzing.md), pinned."""
    before = counts(loop_world)
    for url, status in [
        ("/services.json?jurisdiction_id=%00", 400),
        ("/requests.json?service_code=%00", 400),
        ("/services/%00.json", 404),
        ("/requests.json?start_date=9999-12-31", 400),
        ("/requests.json?end_date=0001-01-01", 400),
        ("/requests.json?service_code=" + ",".join(["0301"] * 300), 400),
        ("/requests/%C2%B2.json", 404),
        ("/tokens/%C2%B2.json", 404),
        ("/requests.json?service_request_id=%C2%B2", 400),
        ("/requests.json?page_size=0", 400),
        ("/requests.json?page=" + "9" * 5000, 400),
        ("/requests.json?x=" + "a" * 9000, 414),
    ]:
        assert check(client.get(PREFIX + url), "json")[0]["code"] == status, url
    base = {"api_key": key, "service_code": "0301", "lat": str(IN_VILLAGE[1]), "long": str(IN_VILLAGE[0])}
    for form, status in [
        ({"description": "a\x00b"}, 400),
        ({"address_string": "\x01"}, 400),
        ({"service_code": "03\x00"}, 400),
        ({"lat": "nan"}, 400),
        ({"long": "inf"}, 400),
    ]:
        assert check(client.post(PREFIX + "/requests.json", data=dict(base, **form)), "json")[0]["code"] == status, form
    assert check(client.post(PREFIX + "/requests.json", json=base), "json")[0]["code"] == 415
    big = client.post(PREFIX + "/requests.json", data=dict(base, description="x" * (open311.MAX_POST_BYTES + 1)))
    assert check(big, "json")[0]["code"] == 413
    assert check(client.delete(PREFIX + "/requests.json"), "json")[0]["code"] == 405
    assert counts(loop_world) == before
    # A control character that came in by another route (an import, say) still gives well-formed XML.
    rid = check(client.post(PREFIX + "/requests.json", data=base), "json")[0]["service_request_id"]
    db.execute(loop_world, "UPDATE incident SET description = %s WHERE id = %s", ("门\x01牌", int(rid)))
    loop_world.commit()
    assert check(client.get(f"{PREFIX}/requests/{rid}.xml"), "xml").find("request/description").text == "门\ufffd牌"
