"""One authorisation point for pages (issue #18, finding 2): the permission of a page is
decided on the page Dash will render, for every registered page, every spelling of its
path and every role, through the page-router callback exactly as the browser calls it.

Expected pages are worked out here from the spelling alone (Dash strips leading and
trailing slashes and compares case-sensitively), not by asking the guard, so a guard that
normalises differently from Dash fails."""

from __future__ import annotations

import dash
import pytest

from geo.security import access
from tests.support.webapp import signed_in_client

ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


def route(client, pathname, search=""):
    body = {
        "output": ROUTER_OUTPUT,
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    return client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": client.csrf})


def spellings(path: str) -> dict[str, str | None]:
    """Spellings of a registered path -> the registered path Dash renders for it (None: not that page)."""
    bare = path.strip("/")
    same = {path, "/" + path, path + "/", path + "//", "//" + bare + "/", "///" + bare}
    other = {"/./" + bare, "/%2F" + bare, "/" + bare.upper() + ("x" if not bare else ""), "/" + bare + "/..", "/" + bare + "%2F"}
    out = {s: path for s in same}
    out.update({s: None for s in other - same if s.strip("/") != bare})
    out["%2F" + bare] = "400"  # not a path at all
    return out


def test_every_registered_page_has_a_policy():
    for page in dash.page_registry.values():
        assert access.entry_permission(page) != access.UNLISTED, f"{page['module']} registers {page['path']} with no permission"


@pytest.mark.parametrize("role", access.ROLES)
def test_the_page_router_guards_every_spelling_of_every_page(server, demo_url, role):
    c = signed_in_client(server, demo_url, role)
    pages = {p["path"]: p for p in dash.page_registry.values()}
    assert {"/users", "/audit", "/intake", "/planner"} <= set(pages)
    for path, page in pages.items():
        may = access.allowed(role, access.entry_permission(page))
        for spelling, renders in spellings(path).items():
            resp = route(c, spelling)
            assert resp.status_code != 500, (role, spelling)
            if renders == "400":
                assert resp.status_code == 400, (role, spelling, resp.status_code)
            elif renders == path and not may:
                assert resp.status_code == 403, (role, spelling, resp.status_code)
            elif resp.status_code == 200:
                title = resp.get_json()["response"]["_pages_store"]["data"]["title"]
                if renders == path:
                    assert title == page["title"], (role, spelling)
                elif path != "/":  # Dash's 404 page has the app's title, like the big screen
                    assert title != page["title"], (role, spelling)
            else:
                assert resp.status_code in (400, 403), (role, spelling, resp.status_code)


def test_the_page_load_and_the_router_agree(server, demo_url):
    """GET of a page and its router callback are refused alike, however the path is spelt."""
    leader = signed_in_client(server, demo_url, "leader")
    for spelling in ("/users", "//users", "/users/", "/users//", "//users//"):
        assert route(leader, spelling).status_code == 403, spelling
    for spelling in ("/users", "/users/"):
        assert leader.get(spelling).status_code == 403, spelling


def test_an_unknown_callback_is_a_400_not_a_500(server, demo_url):
    c = signed_in_client(server, demo_url, "admin")
    body = {"output": "nothing.children", "outputs": {"id": "nothing", "property": "children"}, "inputs": [], "state": []}
    resp = c.post("/_dash-update-component", json=body, headers={"X-CSRFToken": c.csrf})
    assert resp.status_code == 400 and "no such callback" in resp.get_json()["message"]
    for raw in (b"[]", b"not json", b'{"output": 5}'):
        resp = c.post("/_dash-update-component", data=raw, headers={"X-CSRFToken": c.csrf, "Content-Type": "application/json"})
        assert resp.status_code == 400, raw


def test_the_quarterly_export_needs_the_report_permission(server, demo_url):
    """The drill page's 季通报 Excel is the data of /api/rankings: refused to roles without REPORT."""
    body = {
        "output": "drill-download.data",
        "outputs": {"id": "drill-download", "property": "data"},
        "inputs": [{"id": "drill-export", "property": "n_clicks", "value": 1}],
        "state": [{"id": "drill-url", "property": "search", "value": "?code=620802"}],
        "changedPropIds": ["drill-export.n_clicks"],
    }
    for role in access.ROLES:
        c = signed_in_client(server, demo_url, role)
        resp = c.post("/_dash-update-component", json=body, headers={"X-CSRFToken": c.csrf})
        api = c.get("/api/rankings?quarter=2026Q3").status_code
        if access.allowed(role, access.REPORT):
            assert resp.status_code == 200 and api == 200, role
        else:
            assert resp.status_code == 403 and api == 403, role
