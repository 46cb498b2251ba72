"""The whole app behind its guard, on the demo: anonymous requests get only the sign-in page,
each role reaches what it may, a town leader's every page and API holds only the town, and
caches never hand one account's results to another."""

from __future__ import annotations

import json
import re

import pytest

from geo import db
from tests.support.webapp import TEST_PASSWORD, ensure_account, signed_in_client


@pytest.fixture(scope="module")
def server(demo_url):
    import os

    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = demo_url
    import app  # the one Dash app of the process: pages registered their callbacks with it

    yield app.server
    if old is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = old


@pytest.fixture(scope="module")
def town(demo_conn):
    """The demo town with the most incidents, and its share of the district's incidents."""
    row = db.one(
        demo_conn,
        """SELECT left(admin_code, 9) AS code, count(*) AS n FROM incident
                                GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1""",
    )
    demo_conn.commit()
    return row["code"]


def client(server, demo_url, role, unit=None):
    return signed_in_client(server, demo_url, role, unit)


def concrete(rule: str) -> str:
    """A URL for a route pattern, with harmless values in its variables."""
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", lambda m: {"z": "10", "x": "1", "y": "1"}.get(m.group(1), "x"), rule)


# --------------------------------------------------------------------------- anonymous


def test_anonymous_requests_get_nothing_but_the_sign_in_page(server, demo_url):
    ensure_account(demo_url, "leader")  # with no account at all every page would lead to /welcome (tests/test_firstrun.py)
    anon = server.test_client()
    public = {"/login", "/welcome", "/assets/login.css", "/_favicon.ico", "/favicon.ico"}
    checked = 0
    for rule in server.url_map.iter_rules():
        url = concrete(rule.rule)
        if url in public or url.startswith("/open311/") or rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            resp = anon.open(url, method=method)
            checked += 1
            if resp.status_code == 302:
                assert resp.headers["Location"].startswith("/login"), url
            else:
                assert resp.status_code == 401, (method, url, resp.status_code)
                assert b"sign-in required" in resp.data
    assert checked >= 15
    for page in ("/", "/drill", "/planner", "/intake", "/audit", "/nowhere"):
        resp = anon.get(page)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")
    assert anon.get("/welcome").headers["Location"] == "/"  # accounts exist: no first-run page
    login = anon.get("/login")
    assert login.status_code == 200 and "用户登录" in login.get_data(as_text=True)
    # Open311's reads are public by the standard, its writes need a key
    assert anon.get("/open311/v2/services.json").status_code == 200
    assert anon.post("/open311/v2/requests.json", data={"service_code": "0101"}).status_code in (400, 403)


def test_sign_in_redirects_only_within_the_site(server, demo_url):
    username = ensure_account(demo_url, "leader")
    anon = server.test_client()
    form = anon.get("/login?next=//evil.example/x").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    next_path = re.search(r'name="next" value="([^"]+)"', form).group(1)
    assert next_path == "/"
    resp = anon.post(
        "/login", data={"username": username, "password": TEST_PASSWORD, "csrf_token": token, "next": "https://evil.example/"}
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_sign_in_form_needs_its_csrf_token_and_sign_out_ends_the_session(server, demo_url):
    username = ensure_account(demo_url, "leader")
    anon = server.test_client()
    anon.get("/login")
    refused = anon.post("/login", data={"username": username, "password": TEST_PASSWORD, "csrf_token": "forged"})
    assert refused.status_code == 403
    c = client(server, demo_url, "leader")
    assert c.get("/api/versions").status_code == 200
    assert c.post("/logout").status_code == 403  # no CSRF token
    assert c.post("/logout", data={"csrf_token": c.csrf}).status_code == 302
    assert c.get("/api/versions").status_code == 401


def test_state_changing_requests_need_the_csrf_token(server, demo_url):
    c = client(server, demo_url, "admin")
    body = {"output": "kpis.children", "outputs": {"id": "kpis", "property": "children"}, "inputs": [], "state": []}
    assert c.post("/_dash-update-component", json=body).status_code == 403
    assert c.post("/_dash-update-component", json=body, headers={"X-CSRFToken": "forged"}).status_code == 403
    assert c.post("/_dash-update-component", json=body, headers={"X-CSRFToken": c.csrf}).status_code != 403


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize(
    "role, allowed, forbidden",
    [
        (
            "leader",
            ["/", "/drill", "/api/drill/620802", "/api/rankings?quarter=2026Q3"],
            ["/planner", "/intake", "/audit", "/api/partition?community=1"],
        ),
        ("planner", ["/", "/planner", "/drill"], ["/intake", "/audit"]),
        ("operator", ["/", "/intake", "/drill"], ["/planner", "/audit", "/api/partition?community=1"]),
        ("grid_worker", ["/", "/intake"], ["/planner", "/audit", "/api/rankings?quarter=2026Q3"]),
        ("auditor", ["/", "/audit"], ["/planner", "/intake", "/api/rankings?quarter=2026Q3"]),
        ("admin", ["/", "/planner", "/intake", "/audit", "/drill"], []),
    ],
)
def test_each_role_reaches_its_pages_and_no_others(server, demo_url, demo_conn, role, allowed, forbidden):
    mark = db.scalar(demo_conn, "SELECT coalesce(max(id), 0) FROM audit_log")
    demo_conn.commit()
    c = client(server, demo_url, role)
    for url in allowed:
        assert c.get(url).status_code == 200, (role, url)
    for url in forbidden:
        assert c.get(url).status_code == 403, (role, url)
    denied = db.rows(
        demo_conn, "SELECT target FROM audit_log WHERE id > %s AND action = 'access.denied' AND username = %s", (mark, c.username)
    )
    demo_conn.commit()
    assert sorted(d["target"] for d in denied) == sorted(u.split("?")[0] for u in forbidden)


def test_a_dash_callback_of_another_roles_page_is_refused(server, demo_url):
    import dash

    c = client(server, demo_url, "leader")
    c.get("/")  # Dash fills its callback map on the first request
    output = next(k for k in dash.get_app().callback_map if "pl-grids.children" in k)
    body = {"output": output, "outputs": {"id": "pl-grids", "property": "children"}, "inputs": [], "state": []}
    assert c.post("/_dash-update-component", json=body, headers={"X-CSRFToken": c.csrf}).status_code == 403
    # client-side navigation renders a page through Dash's router callback: guarded by the page's permission
    route = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/planner"}],
        "state": [],
    }
    assert c.post("/_dash-update-component", json=route, headers={"X-CSRFToken": c.csrf}).status_code == 403


# --------------------------------------------------------------------------- a town leader sees only the town


def test_a_town_leader_sees_only_the_town_on_every_api(server, demo_url, demo_conn, town):
    c = client(server, demo_url, "leader", town)
    district = c.get("/api/drill/620802").get_json()
    own = c.get(f"/api/drill/{town}").get_json()
    assert district["summary"]["incidents"] == own["summary"]["incidents"] > 0
    assert [ch["code"] for ch in district["children"] if ch["code"]] == [town]
    spots = c.get("/api/hotspots").get_json()
    codes = [g["code"] for g in spots.get("grids", spots if isinstance(spots, list) else [])]
    assert codes and all(code.startswith(town) for code in codes)
    versions = c.get("/api/versions")
    assert versions.status_code == 200
    other = db.scalar(demo_conn, "SELECT min(id) FROM incident WHERE left(admin_code, 9) <> %s", (town,))
    demo_conn.commit()
    assert c.get(f"/uploads/{other}/x.jpg").status_code == 404
    page = c.get("/").get_data(as_text=True)
    assert "_dash-config" in page


def test_tiles_are_cached_per_account_scope(server, demo_url, town):
    admin = client(server, demo_url, "admin")
    leader = client(server, demo_url, "leader", town)
    url = "/tiles/grid_risk/9/407/201.pbf"  # Pingliang's urban core at z9
    whole = admin.get(url, headers={"Accept-Encoding": ""}).data
    mine = leader.get(url, headers={"Accept-Encoding": ""}).data
    again = admin.get(url, headers={"Accept-Encoding": ""}).data
    assert whole == again and len(mine) < len(whole)
    assert admin.get(url).headers["ETag"] != leader.get(url).headers["ETag"]


def test_the_audit_page_lists_who_unmasked_what(server, demo_url, demo_conn, town):
    from geo.security import access, personal

    incident = db.scalar(demo_conn, "SELECT min(id) FROM incident WHERE left(admin_code, 9) = %s", (town,))
    db.execute(demo_conn, "UPDATE incident SET reporter_name = '赵六', reporter_phone = '13955556666' WHERE id = %s", (incident,))
    demo_conn.commit()
    operator = ensure_account(demo_url, "operator", town)
    with db.scoped(access.Scope(username=operator, role="operator", admin_code=town)), db.pooled(demo_url) as conn:
        personal.reveal(conn, "incident", incident)
    auditor = client(server, demo_url, "auditor")
    body = {
        "output": "audit-body.children",
        "outputs": {"id": "audit-body", "property": "children"},
        "inputs": [
            {"id": "audit-go", "property": "n_clicks", "value": 1},
            {"id": "audit-action", "property": "value", "value": "unmask"},
        ],
        "state": [{"id": "audit-user", "property": "value", "value": operator}],
        "changedPropIds": ["audit-go.n_clicks"],
    }
    resp = auditor.post("/_dash-update-component", json=body, headers={"X-CSRFToken": auditor.csrf})
    assert resp.status_code == 200, resp.data[:300]
    text = json.dumps(resp.get_json(), ensure_ascii=False)
    assert f"incident:{incident}" in text and operator in text


def test_an_oversized_request_is_refused_before_it_is_read(server, demo_url):
    c = client(server, demo_url, "operator")
    body = b"x" * (server.config["MAX_CONTENT_LENGTH"] + 1)
    resp = c.post("/_dash-update-component", data=body, headers={"X-CSRFToken": c.csrf, "Content-Type": "application/json"})
    assert resp.status_code == 413


def test_an_administrator_manages_accounts_inside_their_unit_only(server, demo_url, town):
    from geo.security import accounts
    from geo.web.pages import users as users_page

    admin = client(server, demo_url, "admin", town)  # a town's administrator
    assert admin.get("/users").status_code == 200
    assert client(server, demo_url, "operator").get("/users").status_code == 403

    def post(outputs, inputs, state):
        body = {
            "output": ".." + "...".join(f"{o}.children" for o in outputs) + "..",
            "outputs": [{"id": o, "property": "children"} for o in outputs],
            "inputs": inputs,
            "state": state,
            "changedPropIds": [inputs[0]["id"] + ".n_clicks"],
        }
        resp = admin.post("/_dash-update-component", json=body, headers={"X-CSRFToken": admin.csrf})
        assert resp.status_code == 200, resp.data[:300]
        return json.dumps(resp.get_json(), ensure_ascii=False)

    def state(unit):
        return [
            {"id": "users-name", "property": "value", "value": "clerk-" + unit},
            {"id": "users-role", "property": "value", "value": "grid_worker"},
            {"id": "users-unit", "property": "value", "value": unit},
            {"id": "users-display", "property": "value", "value": "网格员"},
        ]

    outside = post(["users-msg", "users-body"], [{"id": "users-create", "property": "n_clicks", "value": 1}], state("620802999"))
    assert "只能在本账号辖区内建账号" in outside
    with db.system(demo_url) as conn:
        db.execute(conn, "DELETE FROM app_user WHERE username = %s", ("clerk-" + town + "001",))
    made = post(["users-msg", "users-body"], [{"id": "users-create", "property": "n_clicks", "value": 1}], state(town + "001"))
    password = re.search(r"初始密码 (\S+)（", made).group(1)
    with db.system(demo_url) as conn:
        assert accounts.sign_in(conn, "clerk-" + town + "001", password).scope.role == "grid_worker"
    assert users_page.COLUMNS[0] == "username"


@pytest.mark.parametrize("url", ["/api/coverage/defects?community=%00", "/api/coverage?community=6208';--"])
def test_bad_parameters_are_refused_with_400(server, demo_url, url):
    assert client(server, demo_url, "planner").get(url).status_code == 400


def test_a_web_import_refuses_broken_or_hostile_uploads(server, demo_url):
    import app  # noqa: F401
    from geo.web.pages import intake as intake_page

    assert intake_page._safe_name("../../etc/pass\x00wd.csv") == "pass_wd.csv"
    assert "base64" in intake_page.import_upload("data:text/csv;base64,@@not-base64@@", "a.csv", 0)[0]
    assert "only .csv, .xlsx" in intake_page.import_upload("data:x;base64,AAAA", "a.xls", 0)[0]


def test_report_downloads_are_logged(server, demo_url, demo_conn, town):
    mark = db.scalar(demo_conn, "SELECT coalesce(max(id), 0) FROM audit_log")
    demo_conn.commit()
    c = client(server, demo_url, "leader", town)
    assert c.get(f"/reports/risk-list/{town}?format=xlsx").status_code == 200
    entries = db.rows(demo_conn, "SELECT username, action, target FROM audit_log WHERE id > %s AND action = 'export'", (mark,))
    demo_conn.commit()
    assert entries == [{"username": c.username, "action": "export", "target": f"report:risk-list:{town}"}]


def test_coverage_defects_hold_only_the_accounts_unit(server, demo_url, town):
    whole = client(server, demo_url, "planner").get("/api/coverage/defects").get_json()
    mine = client(server, demo_url, "leader", town).get("/api/coverage/defects").get_json()
    assert whole["run"]["score"] is not None and mine["run"]["score"] is None
    assert mine["run"]["scores"] and all(code.startswith(town) for code in mine["run"]["scores"])
    assert {f["properties"]["admin_code"][:9] for f in mine["features"]} <= {town}
    assert len(mine["features"]) < len(whole["features"])


def test_an_account_changes_its_own_password_and_other_sessions_end(server, demo_url):
    from geo.security import accounts

    with db.system(demo_url) as conn:
        db.execute(conn, "DELETE FROM app_user WHERE username = 'self-service'")
        conn.commit()
        accounts.create_user(conn, "self-service", "Handed-over-pw-1", "leader", "620802")
        other = accounts.sign_in(conn, "self-service", "Handed-over-pw-1")  # e.g. a forgotten screen elsewhere
    c = server.test_client()
    form = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert (
        c.post("/login", data={"username": "self-service", "password": "Handed-over-pw-1", "csrf_token": token}).status_code
        == 302
    )
    csrf = c.get_cookie("_csrf_token").value
    assert c.get("/account").status_code == 200

    def change(current, new, again):
        body = {
            "output": "account-msg.children",
            "outputs": {"id": "account-msg", "property": "children"},
            "inputs": [{"id": "account-change", "property": "n_clicks", "value": 1}],
            "state": [
                {"id": "account-current", "property": "value", "value": current},
                {"id": "account-new", "property": "value", "value": new},
                {"id": "account-again", "property": "value", "value": again},
            ],
            "changedPropIds": ["account-change.n_clicks"],
        }
        resp = c.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf})
        assert resp.status_code == 200
        return json.dumps(resp.get_json(), ensure_ascii=False)

    assert "用户名或密码错误" in change("wrong-current-1", "Brand-new-pw-2", "Brand-new-pw-2")
    assert "不一致" in change("Handed-over-pw-1", "Brand-new-pw-2", "Brand-new-pw-3")
    assert "密码已修改" in change("Handed-over-pw-1", "Brand-new-pw-2", "Brand-new-pw-2")
    assert c.get("/api/versions").status_code == 200  # this screen stays signed in
    with db.system(demo_url) as conn:
        assert accounts.session(conn, other.token) is None  # the other one does not
        assert accounts.sign_in(conn, "self-service", "Brand-new-pw-2").scope.username == "self-service"


def test_a_leader_reads_the_alarm_desk_but_only_operators_acknowledge(server, demo_url):
    import dash

    leader, operator = client(server, demo_url, "leader"), client(server, demo_url, "operator")
    assert leader.get("/alerts").status_code == 200 and operator.get("/alerts").status_code == 200
    leader.get("/")
    for output_id in ("alert-act-result", "alert-act-desk"):
        output = next(k for k in dash.get_app().callback_map if f"{output_id}.data" in k)
        body = {"output": output, "outputs": {"id": output_id, "property": "data"}, "inputs": [], "state": []}
        assert leader.post("/_dash-update-component", json=body, headers={"X-CSRFToken": leader.csrf}).status_code == 403
        assert operator.post("/_dash-update-component", json=body, headers={"X-CSRFToken": operator.csrf}).status_code != 403
