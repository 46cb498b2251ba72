"""The frame of the desktop pages: a header with the jurisdiction's name and the navigation.

The big screen has its own full-screen header; every other page (drill-down, planning,
intake, administration) sits in this frame so that a user can always get back.
"""
from __future__ import annotations

from dash import dcc, html

from geo.labels import t

NAV = (("/", "nav.bigscreen"), ("/drill", "nav.drill"), ("/planner", "nav.planner"), ("/intake", "nav.intake"),
       ("/admin", "nav.admin"))


def frame(active: str, title: str, *children, actions=None) -> html.Div:
    """A desktop page: `active` is the nav path to highlight; children fill the page body."""
    return html.Div(className="desk", children=[
        html.Div(className="desk-hdr", children=[
            html.Div(t("app.title"), className="desk-brand"),
            html.Nav(className="desk-nav", children=[
                dcc.Link(t(label), href=path, className="active" if path == active else "") for path, label in NAV
            ]),
            html.Div(actions or [], className="desk-actions"),
        ]),
        html.H2(title, className="desk-title"),
        html.Div(list(children), className="desk-body"),
    ])
