"""The menu: every registered page the signed-in role may open, from dash.page_registry.

Pages say themselves what the menu shows (`name` as the label, `order` as the place,
`menu=False` to stay out of it) when they call dash.register_page, so a new page appears in
every role's menu that may open it without a second list of paths to keep in step. Whether
a role may open a page is the guard's decision (geo.security.access on the page's path), so
the menu never offers what the router would refuse.
"""

from __future__ import annotations

import dash
from dash import dcc, html

from geo.security import access


def _may_open(entry: dict, sess) -> bool:
    if sess is None:  # outside a request (tests building a layout): every page
        return True
    return sess.scope.can(access.entry_permission(entry))


def entries(sess=None) -> list[dict]:
    """(path, label) of the menu for a session, in the pages' `order`."""
    out = []
    for entry in dash.page_registry.values():
        if entry.get("menu") is False or "<" in entry["path"]:
            continue
        if _may_open(entry, sess):
            out.append(dict(path=entry["path"], label=entry["name"], order=entry.get("order")))
    return sorted(out, key=lambda e: (e["order"] is None, e["order"] if isinstance(e["order"], int) else 0, e["path"]))


def current_entries() -> list[dict]:
    """entries() for the request's session."""
    from geo.web.auth import current_session

    return entries(current_session())


def desk_nav(active: str) -> html.Nav:
    """The desk pages' header menu, the current page highlighted."""
    return html.Nav(
        className="desk-nav",
        id="page-nav",
        children=[
            dcc.Link(e["label"], href=e["path"], className="active" if e["path"] == active else "") for e in current_entries()
        ],
    )


def screen_menu(active: str = "/") -> html.Details:
    """The big screen's menu: one small ☰ in the header that opens a list on click and
    otherwise stays out of the wall's sight."""
    return html.Details(
        className="screen-menu",
        id="screen-menu",
        children=[
            html.Summary("☰", title="页面导航", id="screen-menu-button"),
            html.Div(
                className="screen-menu-list",
                children=[
                    dcc.Link(e["label"], href=e["path"], className="active" if e["path"] == active else "")
                    for e in current_entries()
                ],
            ),
        ],
    )
