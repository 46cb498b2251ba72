"""The frame of the desktop pages: a header with the jurisdiction's name and the navigation.

The big screen has its own full-screen header; every other page (drill-down, planning,
intake, administration) sits in this frame so that a user can always get back.
"""

from __future__ import annotations

from dash import dcc, html

from geo.labels import t
from geo.security import access

NAV = (
    ("/", "nav.bigscreen"),
    ("/drill", "nav.drill"),
    ("/planner", "nav.planner"),
    ("/intake", "nav.intake"),
    ("/audit", "nav.audit"),
    ("/users", "nav.users"),
)


# The desk pages' tables (dash_table.DataTable keyword arguments): dark, list-like, quiet.
TABLE_STYLE = dict(
    style_as_list_view=True,
    style_table={"overflowX": "auto"},
    style_header={"backgroundColor": "#0b2340", "color": "#8aa4c4", "fontWeight": "600", "border": "none"},
    style_cell={
        "backgroundColor": "transparent",
        "color": "#d7e8ff",
        "border": "none",
        "borderBottom": "1px solid rgba(95,211,255,0.12)",
        "fontFamily": "inherit",
        "fontSize": "0.85rem",
        "padding": "0.3rem 0.5rem",
        "textAlign": "left",
        "maxWidth": "22rem",
        "overflow": "hidden",
        "textOverflow": "ellipsis",
    },
)


def visible_nav() -> tuple:
    """The pages the signed-in account may open (all of them outside a request, for tests)."""
    from geo.web.auth import current_session

    sess = current_session()
    if sess is None:
        return NAV
    return tuple((path, label) for path, label in NAV if sess.scope.can(access.page_permission(path)))


def account_box() -> html.Div:
    """Who is signed in, as what, and the sign-out button (a POST form carrying the CSRF token)."""
    from geo.web.auth import current_session

    sess = current_session()
    if sess is None:
        return html.Div()
    return html.Div(
        className="account",
        children=[
            dcc.Link(
                f"{sess.display_name} · {t('auth.role.' + sess.scope.role)} · {sess.scope.admin_code}",
                href="/account",
                className="account-who",
            ),
            html.Form(
                method="post",
                action="/logout",
                className="account-out",
                children=[
                    dcc.Input(type="hidden", name="csrf_token", value=sess.csrf_token),
                    html.Button(t("auth.sign_out"), type="submit", id="sign-out"),
                ],
            ),
        ],
    )


def frame(active: str, title: str, *children, actions=None) -> html.Div:
    """A desktop page: `active` is the nav path to highlight; children fill the page body."""
    return html.Div(
        className="desk",
        children=[
            html.Div(
                className="desk-hdr",
                children=[
                    html.Div(t("app.title"), className="desk-brand"),
                    html.Nav(
                        className="desk-nav",
                        children=[
                            dcc.Link(t(label), href=path, className="active" if path == active else "")
                            for path, label in visible_nav()
                        ],
                    ),
                    html.Div(actions or [], className="desk-actions"),
                    account_box(),
                ],
            ),
            html.H2(title, className="desk-title"),
            html.Div(list(children), className="desk-body"),
        ],
    )
