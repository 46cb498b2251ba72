"""Fuzzing every registered Dash callback through /_dash-update-component (issue #18, 8).

An attacker reported 186 of 528 fuzzed callback calls answering 500: wrongly typed values,
unknown outputs, deep nesting, drill codes out of scope. Here every server-side callback of
the app is called, signed in as an administrator (who may call them all) and as a grid
worker, with plausible values, mistyped ones and nested junk in every input and state, and
with broken request bodies; no answer may be a 500 or show a trace. The app runs over the
tiny loop world (tests/support/loop.py), which each test empties and rebuilds.
"""

from __future__ import annotations

import json

import dash
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from geo import pgserver as cluster
from tests.fuzz.hostile import INJECTIONS, short_nasty
from tests.support.webapp import signed_in_client

TRACE_MARKERS = ("Traceback", 'File "/', "psycopg", "Werkzeug Debugger")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    short_nasty,
    st.sampled_from(INJECTIONS),
    st.sampled_from(("?code=999999999999", "?code=620802", "?code=", "?code=x&start=9999-99-99", "/", "//users", "%2F")),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
deep = st.integers(min_value=50, max_value=3000).map(lambda n: json.loads("[" * n + "]" * n) if n < 900 else "[" * n)
values = st.one_of(json_values, json_values, deep)


@pytest.fixture(scope="module")
def app_module():
    import app

    return app


@pytest.fixture
def clients(loop_world, app_module, monkeypatch):
    url = cluster.database_url(test=True)
    monkeypatch.setenv("DATABASE_URL", url)
    return {role: signed_in_client(app_module.server, url, role) for role in ("admin", "grid_worker")}


def callbacks() -> list[str]:
    """Every callback the server runs (clientside ones never reach it)."""
    import app

    app.server.test_client().get("/login")  # Dash fills its callback map on the first request
    return sorted(k for k, v in dash.get_app().callback_map.items() if v.get("callback") is not None)


def _outputs(key: str) -> list[dict]:
    from geo.web.callback_guard import declared_outputs

    return [{"id": json.loads(i) if i.startswith("{") else i, "property": p} for i, p in declared_outputs(key)]


def _item(spec: dict, value, draw) -> dict | list:
    ident = spec["id"]
    if isinstance(ident, str) and ident.startswith("{"):
        pattern = json.loads(ident)
        concrete = [
            {k: (draw(scalars) if isinstance(v, list) else v) for k, v in pattern.items()} for _ in range(draw(st.integers(0, 2)))
        ]
        return [{"id": c, "property": spec["property"], "value": value} for c in concrete]
    return {"id": ident, "property": spec["property"], "value": value}


@st.composite
def bodies(draw, key: str):
    entry = dash.get_app().callback_map[key]
    inputs = [_item(s, draw(values), draw) for s in entry["inputs"]]
    state = [_item(s, draw(values), draw) for s in entry["state"]]
    outputs = _outputs(key)
    first = entry["inputs"][0] if entry["inputs"] else None
    return {
        "output": key,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "state": state,
        "changedPropIds": [f"{first['id']}.{first['property']}"] if first and isinstance(first["id"], str) else [],
    }


def check(resp):
    text = resp.get_data(as_text=True)
    assert resp.status_code < 500, (resp.status_code, text[:500])
    assert not any(m in text for m in TRACE_MARKERS), text[:500]
    event(f"status {resp.status_code}")


@pytest.mark.parametrize("key", callbacks())
@pytest.mark.parametrize("role", ["admin", "grid_worker"])
def test_every_callback_answers_hostile_inputs_without_a_500(clients, key, role):
    c = clients[role]

    @settings(max_examples=max(5, settings.default.max_examples // 4))  # 85 callbacks x roles: a quarter each
    @given(body=bodies(key))
    def run(body):
        check(c.post("/_dash-update-component", json=body, headers={"X-CSRFToken": c.csrf}))

    run()


@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries({"output": json_values, "outputs": json_values, "inputs": json_values, "state": json_values}),
        st.fixed_dictionaries(
            {"output": st.sampled_from(callbacks()), "outputs": json_values, "inputs": json_values, "state": json_values}
        ),
    )
)
def test_broken_callback_requests_are_400s(clients, body):
    c = clients["admin"]
    check(c.post("/_dash-update-component", json=body, headers={"X-CSRFToken": c.csrf}))
