"""审计日志: who signed in, failed to, unmasked what, exported what, edited which grid and
moved which incident, newest first, for auditors (and administrators).

The rows come through the auditor's own scoped connection, so row-level security keeps a
town auditor to the actions of accounts in the town. The page reads; nothing here writes
the log except the database and the actions themselves.
"""

from __future__ import annotations

import json

import dash
from dash import Input, Output, State, callback, dash_table, dcc, html

from geo import db, labels
from geo.labels import t
from geo.security import accounts
from geo.web.frame import TABLE_STYLE, frame
from geo.worktime import CST

PATH = "/audit"
COLUMNS = ("at", "username", "role", "admin_code", "action", "target", "detail", "ok", "ip")
ACTIONS = (
    "sign_in",
    "sign_in.failed",
    "sign_out",
    "access.denied",
    "unmask",
    "unmask.refused",
    "export",
    "grid.",
    "plan.",
    "incident.transition",
    "user.",
)


def records(entries: list[dict]) -> list[dict]:
    return [
        {
            "at": e["at"].astimezone(CST).strftime("%Y-%m-%d %H:%M:%S"),
            "username": e["username"] or "",
            "role": t(f"auth.role.{e['role']}") if e["role"] else "",
            "admin_code": e["admin_code"] or "",
            "action": e["action"],
            "target": e["target"] or "",
            "detail": json.dumps(e["detail"], ensure_ascii=False) if e["detail"] else "",
            "ok": t("audit.ok") if e["ok"] else t("audit.failed"),
            "ip": e["ip"] or "",
        }
        for e in entries
    ]


def load(action: str | None, username: str | None) -> list[dict]:
    with db.pooled() as conn:
        return accounts.audit_entries(conn, action=action or None, username=(username or "").strip() or None)


def table(rows: list[dict]) -> list:
    return [
        html.Div(t("audit.count", n=len(rows)), id="audit-count", className="in-muted"),
        dash_table.DataTable(
            id="audit-table",
            data=records(rows),
            page_size=25,
            columns=[{"id": c, "name": t(f"audit.col.{c}")} for c in COLUMNS],
            **TABLE_STYLE,
            style_data_conditional=[{"if": {"filter_query": f"{{ok}} = '{t('audit.failed')}'"}, "color": "#ff8a7a"}],
            tooltip_data=[{"detail": r["detail"]} for r in records(rows)],
            tooltip_duration=None,
        ),
    ]


def layout(**_query):
    rows = load(None, None)
    return frame(
        PATH,
        t("audit.title"),
        html.Div(
            className="audit-filters",
            children=[
                html.Label(
                    [
                        t("audit.action"),
                        dcc.Dropdown(
                            labels=labels.DROPDOWN_LABELS,
                            id="audit-action",
                            clearable=True,
                            className="audit-dd",
                            options=[{"label": a, "value": a} for a in ACTIONS],
                        ),
                    ]
                ),
                html.Label(
                    [
                        t("audit.user"),
                        dcc.Input(id="audit-user", type="text", debounce=True, maxLength=64, className="audit-user"),
                    ]
                ),
                html.Button(t("audit.filter"), id="audit-go", className="audit-go"),
            ],
        ),
        html.Div(id="audit-body", children=table(rows)),
    )


dash.register_page(__name__, path=PATH, title=t("audit.title"), name=t("nav.audit"), order=80, layout=layout)


@callback(
    Output("audit-body", "children"),
    Input("audit-go", "n_clicks"),
    Input("audit-action", "value"),
    State("audit-user", "value"),
    prevent_initial_call=True,
)
def refresh(_n, action, username):
    if action is not None and action not in ACTIONS:
        action = None
    return table(load(action, username))
