"""The menu by role: built from dash.page_registry, every page a role may open reachable from
every other, nothing offered that the guard would refuse."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from geo.security import access


@pytest.fixture(scope="module")
def registry():
    """The pages registered with the process's one Dash app."""
    import dash

    import app  # noqa: F401  (registers every page)

    return dash.page_registry


def session(role: str):
    return SimpleNamespace(scope=access.Scope(username="t", role=role, admin_code="620802"))


def test_each_role_sees_exactly_the_pages_it_may_open(registry):
    from geo.web import nav

    menu_pages = {e["path"] for e in registry.values() if e.get("menu") is not False}
    assert {"/", "/drill", "/planner", "/intake", "/audit", "/users"} <= menu_pages
    for role in access.ROLES:
        shown = [e["path"] for e in nav.entries(session(role))]
        may = {p for p in menu_pages if session(role).scope.can(access.page_permission(p))}
        assert set(shown) == may, role
        assert len(shown) == len(set(shown))
    assert [e["path"] for e in nav.entries(session("planner"))][:3] == ["/", "/drill", "/planner"]
    assert "/planner" not in [e["path"] for e in nav.entries(session("leader"))]
    assert "/intake" in [e["path"] for e in nav.entries(session("operator"))]


def test_a_page_registered_later_joins_the_menu_without_a_list_to_edit(registry):
    import dash

    from geo.security import access
    from geo.web import nav

    dash.register_page("geo.web.pages.probe_page", path="/probe", name="探针", order=50, layout=lambda: None)
    dash.register_page("geo.web.pages.probe_open", path="/probe-open", name="开放", permission=access.VIEW, layout=lambda: None)
    try:
        shown = [(e["path"], e["label"]) for e in nav.entries(session("admin"))]
        assert ("/probe-open", "开放") in shown  # a page that says who may open it joins the menu
        assert "/probe" not in [p for p, _ in shown]  # one that does not is closed to everybody (fail closed)
    finally:
        registry.pop("geo.web.pages.probe_page", None)
        registry.pop("geo.web.pages.probe_open", None)


def test_desk_pages_and_the_big_screen_carry_the_menu(registry):
    from geo.web import frame, nav

    desk = frame.frame("/drill", "研判")
    labels = [link.children for link in desk.children[0].children[1].children]
    assert labels[:2] == [registry["geo.web.pages.bigscreen"]["name"], registry["geo.web.pages.drill"]["name"]]
    menu = nav.screen_menu("/")
    assert menu.id == "screen-menu" and menu.children[0].children == "☰"
