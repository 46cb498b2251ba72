"""账号管理: an administrator creates accounts, disables them, unlocks them and resets
passwords, without a shell on the server (the first administrator comes from the CLI).

Accounts are not data of any unit, so this page works through the owner's connection
(geo.db.system) after the guard has checked `user.manage`; what it may do is limited here
instead: an administrator binds accounts only to units inside their own.
"""

from __future__ import annotations

import secrets

import dash
from dash import Input, Output, State, callback, dash_table, dcc, html, no_update

from geo import db, labels
from geo.labels import t
from geo.security import access, accounts
from geo.web.auth import actor_name, permitted
from geo.web.frame import TABLE_STYLE, frame
from geo.worktime import CST

PATH = "/users"
COLUMNS = ("username", "display_name", "role", "admin_code", "state", "last_sign_in")


def records() -> list[dict]:
    scope = db.current_scope()
    with db.system() as conn:
        rows = accounts.users(conn)
    prefix = scope.prefix if scope else ""
    return [
        {
            "username": u["username"],
            "display_name": u["display_name"],
            "role": t(f"auth.role.{u['role']}"),
            "admin_code": u["admin_code"],
            "state": t("users.active")
            if u["active"] and not accounts.throttled(u)
            else (t("users.locked") if u["active"] else t("users.disabled")),
            "last_sign_in": u["last_sign_in"].astimezone(CST).strftime("%Y-%m-%d %H:%M") if u["last_sign_in"] else "—",
        }
        for u in rows
        if u["admin_code"].startswith(prefix)
    ]


def create(username: str, role: str, unit: str, name: str) -> str:
    """Make an account inside the administrator's unit; returns its one-time password."""
    scope = db.current_scope()
    unit = (unit or "").strip()
    if scope is not None and not unit.startswith(scope.prefix):
        raise accounts.AccountError(t("users.outside", unit=unit))
    password = secrets.token_urlsafe(12)
    with db.system() as conn:
        accounts.create_user(
            conn, (username or "").strip(), password, role, unit, (name or "").strip(), actor=actor_name("admin")
        )
    return password


def change(username: str, action: str) -> str | None:
    """disable / enable (also unlocks) / reset; a reset returns the new one-time password."""
    scope = db.current_scope()
    with db.system() as conn:
        target = db.one(conn, "SELECT admin_code FROM app_user WHERE username = %s", ((username or "").strip(),))
        if target is None or (scope is not None and not target["admin_code"].startswith(scope.prefix)):
            raise accounts.AccountError(t("users.unknown", username=username))
        if scope is not None and username == scope.username and action == "disable":
            raise accounts.AccountError(t("users.self"))
        if action == "reset":
            password = secrets.token_urlsafe(12)
            accounts.set_password(conn, username, password, actor=actor_name("admin"))
            return password
        accounts.set_active(conn, username, action == "enable", actor=actor_name("admin"))
    return None


def table() -> dash_table.DataTable:
    return dash_table.DataTable(
        id="users-table",
        data=records(),
        page_size=25,
        columns=[{"id": c, "name": t(f"users.col.{c}")} for c in COLUMNS],
        **TABLE_STYLE,
    )


def layout(**_query):
    roles = [{"label": t(f"auth.role.{r}"), "value": r} for r in access.ROLES]
    return frame(
        PATH,
        t("users.title"),
        html.Div(
            className="audit-filters",
            children=[
                html.Label(
                    [t("users.col.username"), dcc.Input(id="users-name", type="text", maxLength=64, className="audit-user")]
                ),
                html.Label(
                    [
                        t("users.col.display_name"),
                        dcc.Input(id="users-display", type="text", maxLength=40, className="audit-user"),
                    ]
                ),
                html.Label(
                    [
                        t("users.col.role"),
                        dcc.Dropdown(labels=labels.DROPDOWN_LABELS, id="users-role", options=roles, className="audit-dd"),
                    ]
                ),
                html.Label(
                    [t("users.col.admin_code"), dcc.Input(id="users-unit", type="text", maxLength=12, className="audit-user")]
                ),
                html.Button(t("users.create"), id="users-create", className="audit-go"),
            ],
        ),
        html.Div(
            className="audit-filters",
            children=[
                html.Label(
                    [t("users.col.username"), dcc.Input(id="users-target", type="text", maxLength=64, className="audit-user")]
                ),
                html.Button(t("users.disable"), id="users-disable", className="audit-go"),
                html.Button(t("users.enable"), id="users-enable", className="audit-go"),
                html.Button(t("users.reset"), id="users-reset", className="audit-go"),
            ],
        ),
        html.Div(id="users-msg", className="users-msg"),
        html.Div(id="users-body", children=table()),
    )


dash.register_page(__name__, path=PATH, title=t("users.title"), name=t("nav.users"), order=90, layout=layout)


@callback(
    Output("users-msg", "children"),
    Output("users-body", "children"),
    Input("users-create", "n_clicks"),
    State("users-name", "value"),
    State("users-role", "value"),
    State("users-unit", "value"),
    State("users-display", "value"),
    prevent_initial_call=True,
)
def on_create(_n, username, role, unit, name):
    if not permitted(access.USER_MANAGE):
        return t("auth.forbidden"), no_update
    try:
        password = create(username or "", role or "", unit or "", name or "")
    except accounts.AccountError as exc:
        return html.Div(str(exc), className="in-error"), no_update
    return t("users.created", username=username, password=password), table()


@callback(
    Output("users-msg", "children", allow_duplicate=True),
    Output("users-body", "children", allow_duplicate=True),
    Input("users-disable", "n_clicks"),
    Input("users-enable", "n_clicks"),
    Input("users-reset", "n_clicks"),
    State("users-target", "value"),
    prevent_initial_call=True,
)
def on_change(_d, _e, _r, username):
    if not permitted(access.USER_MANAGE):
        return t("auth.forbidden"), no_update
    action = {"users-disable": "disable", "users-enable": "enable", "users-reset": "reset"}[dash.ctx.triggered_id]
    try:
        password = change(username or "", action)
    except accounts.AccountError as exc:
        return html.Div(str(exc), className="in-error"), no_update
    message = (
        t("users.reset.done", username=username, password=password) if password else t(f"users.{action}.done", username=username)
    )
    return message, table()
