"""The frame of the desktop pages: a header with the jurisdiction's name and the navigation
(geo.web.nav: the pages the role may open, from dash.page_registry).

The big screen has its own full-screen header; every other page (drill-down, planning,
intake, administration) sits in this frame so that a user can always get back.
"""

from __future__ import annotations

from dash import dcc, html

from geo.labels import t
from geo.web import nav

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
                    nav.desk_nav(active),
                    html.Div(actions or [], className="desk-actions"),
                    account_box(),
                ],
            ),
            html.H2(title, className="desk-title"),
            html.Div(list(children), className="desk-body"),
        ],
    )
