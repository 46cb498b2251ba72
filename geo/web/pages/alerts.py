"""预警处置台 (/alerts): open alarms by severity and age, filters, each alarm's reasons,
incidents and history, 签收 / 处置 / 关闭, and the list as Excel.

Rows come through the account's own scoped connection (a town sees its own alarms); the
steps go through geo.alerts.lifecycle, and only accounts with alert.handle see the buttons
(the callback that performs them needs it too: its output id starts with "alert-act").
"""

from __future__ import annotations

from datetime import datetime

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from geo import db
from geo.alerts import export, lifecycle, rules
from geo.labels import t
from geo.security import access
from geo.web.frame import frame
from geo.worktime import CST

PATH = "/alerts"
STATUS_CHOICES = ("open", "new", "acknowledged", "handling", "closed", "all")


def _when(ts) -> str:
    return ts.astimezone(CST).strftime("%m-%d %H:%M") if ts else ""


def _age(ts, now: datetime) -> str:
    minutes = int((now - ts).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} 分钟"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时 {minutes % 60} 分"
    return f"{minutes // 1440} 天"


def _where(a: dict) -> str:
    return " · ".join(x for x in (a.get("town"), a.get("community"), a.get("grid_name")) if x)


def load(status: str | None, rule: str | None, level) -> list[dict]:
    status = None if status in (None, "all") else status
    with db.pooled() as conn:
        return lifecycle.list_alerts(conn, status=status, rule=rule or None, level=int(level) if level else None)


def alarm_table(alarms: list[dict]) -> html.Div:
    if not alarms:
        return html.Div(t("alert.desk.none"), className="in-muted", id="alerts-empty")
    now = datetime.now(CST)
    head = html.Tr(
        [
            html.Th(h)
            for h in (
                "#",
                t("alert.desk.filter.level"),
                t("alert.desk.alarm"),
                t("alert.card.where"),
                t("alert.desk.raised"),
                t("alert.desk.age"),
                t("alert.desk.filter.status"),
                t("alert.desk.acked"),
            )
        ]
    )
    body = [
        html.Tr(
            id=f"alerts-row-{a['id']}",
            className=f"alerts-row status-{a['status']}",
            children=[
                html.Td(
                    html.Button(f"#{a['id']}", id={"type": "alerts-pick", "id": a["id"]}, className="alerts-pick", n_clicks=0)
                ),
                html.Td(html.Span(a["level_name"], className=f"alert-level level-{a['level']}")),
                html.Td(
                    [html.Div(a["title"], className="alerts-title"), html.Div(t(f"alert.rule.{a['rule']}"), className="in-muted")]
                ),
                html.Td(_where(a)),
                html.Td(_when(a["raised_at"])),
                html.Td(_age(a["raised_at"], now) if a["status"] != "closed" else ""),
                html.Td(t(f"alert.status.{a['status']}"), className="alerts-status"),
                html.Td(f"{a['acked_by']} {_when(a['acked_at'])}" if a["acked_by"] else "—", className="alerts-acked"),
            ],
        )
        for a in alarms
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="alerts-table")


def detail(alert_id: int | None, can_act: bool) -> list:
    if not alert_id:
        return [html.Div(t("alert.desk.pick"), className="in-muted")]
    with db.pooled() as conn:
        try:
            a = lifecycle.get(conn, alert_id)
        except lifecycle.AlertError as exc:
            return [html.Div(str(exc), className="alert")]
        steps = lifecycle.history(conn, alert_id)
    actions = []
    if can_act and a["status"] != "closed":
        nxt = lifecycle.NEXT[a["status"]]
        actions = [
            html.Button(t("alert.ack"), id="alert-act-ack-btn", className="in-primary", disabled="acknowledged" not in nxt),
            html.Button(t("alert.handle"), id="alert-act-handle-btn", disabled="handling" not in nxt),
            dcc.Input(
                id="alert-act-note", type="text", maxLength=500, placeholder=t("alert.close.note"), className="alerts-note"
            ),
            html.Button(t("alert.close"), id="alert-act-close-btn"),
        ]
    return [
        html.H3([html.Span(a["level_name"], className=f"alert-level level-{a['level']}"), " ", a["title"]], className="alerts-h"),
        html.Div(f"{t('alert.card.rule')}：{t('alert.rule.' + a['rule'])} · {t('alert.card.where')}：{_where(a)}"),
        html.Ul([html.Li(r) for r in a["reasons"]], className="card-reasons"),
        html.Div(t("alert.card.incidents"), className="card-sub"),
        html.Ul(
            [
                html.Li(
                    f"#{i['id']} {_when(i['reported_at'])} {t('source.' + i['source'])} · {t('status.' + i['status'])} · {i['title']}"
                )
                for i in a["incidents"]
            ]
            or [html.Li("—")]
        ),
        html.Div(className="alerts-actions", children=actions),
        html.Div(id="alert-act-msg", className="in-msg"),
        html.Div(t("alert.desk.history"), className="card-sub"),
        html.Table(
            className="alerts-history",
            id="alerts-history",
            children=html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(_when(h["at"])),
                            html.Td(t(f"alert.action.{h['action']}"), className="alerts-h-action"),
                            html.Td(h["actor"], className="alerts-h-actor"),
                            html.Td(h["note"] or ""),
                        ]
                    )
                    for h in steps
                ]
            ),
        ),
    ]


def _status_label(status: str) -> str:
    return {"open": t("alert.desk.open"), "all": t("alert.desk.all")}.get(status) or t(f"alert.status.{status}")


def _filter(label_key: str, component_id: str, options: list[dict], **kw) -> html.Label:
    """One of the desk's filters: a label over a dropdown."""
    kw.setdefault("clearable", True)
    return html.Label([t(label_key), dcc.Dropdown(id=component_id, className="audit-dd", options=options, **kw)])


def layout(status: str = "open", **_query):
    status = status if status in STATUS_CHOICES else "open"
    return frame(
        PATH,
        t("alerts.title"),
        html.Div(
            className="audit-filters",
            children=[
                _filter(
                    "alert.desk.filter.status",
                    "alerts-status",
                    [{"label": _status_label(s), "value": s} for s in STATUS_CHOICES],
                    value=status,
                    clearable=False,
                ),
                _filter(
                    "alert.desk.filter.rule", "alerts-rule", [{"label": t(f"alert.rule.{r}"), "value": r} for r in rules.RULES]
                ),
                _filter(
                    "alert.desk.filter.level", "alerts-level", [{"label": rules.level_name(v), "value": v} for v in rules.LEVELS]
                ),
                html.Button(t("alert.desk.export"), id="alerts-export", className="audit-go"),
                dcc.Download(id="alerts-download"),
            ],
        ),
        html.Div(
            className="alerts-body",
            children=[
                html.Div(id="alerts-list", className="alerts-list", children=alarm_table(load(status, None, None))),
                html.Div(id="alerts-detail", className="alerts-detail", children=detail(None, False)),
            ],
        ),
        dcc.Store(id="alerts-picked"),
        dcc.Store(id="alert-act-desk"),
    )


dash.register_page(__name__, path=PATH, title=t("alerts.title"), name=t("nav.alerts"), order=35, layout=layout)


def _can_act() -> bool:
    scope = db.current_scope()
    return scope is None or scope.can(access.ALERT_HANDLE)


@callback(
    Output("alerts-list", "children"),
    Input("alerts-status", "value"),
    Input("alerts-rule", "value"),
    Input("alerts-level", "value"),
    Input("alert-act-desk", "data"),
    prevent_initial_call=True,
)
def refresh(status, rule, level, _acted):
    if status not in STATUS_CHOICES or (rule and rule not in rules.RULES) or (level and level not in rules.LEVELS):
        return no_update
    return alarm_table(load(status, rule, level))


@callback(Output("alerts-picked", "data"), Input({"type": "alerts-pick", "id": ALL}, "n_clicks"), prevent_initial_call=True)
def pick(_clicks):
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        return no_update
    return ctx.triggered_id["id"]


@callback(
    Output("alerts-detail", "children"),
    Input("alerts-picked", "data"),
    Input("alert-act-desk", "data"),
    prevent_initial_call=True,
)
def show(alert_id, _acted):
    return detail(alert_id, _can_act())


@callback(
    Output("alert-act-desk", "data"),
    Input("alert-act-ack-btn", "n_clicks"),
    Input("alert-act-handle-btn", "n_clicks"),
    Input("alert-act-close-btn", "n_clicks"),
    State("alerts-picked", "data"),
    State("alert-act-note", "value"),
    prevent_initial_call=True,
)
@access.requires(access.ALERT_HANDLE)
def act(ack, handle, close, alert_id, note):
    if not alert_id or not ctx.triggered or not ctx.triggered[0].get("value"):
        return no_update
    step = {"alert-act-ack-btn": "ack", "alert-act-handle-btn": "handle", "alert-act-close-btn": "close"}[ctx.triggered_id]
    scope = db.current_scope()
    actor = scope.username if scope is not None else "desk"
    with db.pooled() as conn:
        try:
            if step == "ack":
                lifecycle.acknowledge(conn, alert_id, actor, note or None)
            elif step == "handle":
                lifecycle.handle(conn, alert_id, actor, note or None)
            else:
                lifecycle.close(conn, alert_id, actor, note or "")
        except (lifecycle.AlertError, ValueError) as exc:
            return {"id": alert_id, "error": str(exc), "at": datetime.now(CST).isoformat()}
    return {"id": alert_id, "step": step, "at": datetime.now(CST).isoformat()}


@callback(Output("alert-act-msg", "children"), Input("alert-act-desk", "data"), prevent_initial_call=True)
def act_message(result):
    return (result or {}).get("error", "")


@callback(
    Output("alerts-download", "data"),
    Input("alerts-export", "n_clicks"),
    State("alerts-status", "value"),
    State("alerts-rule", "value"),
    State("alerts-level", "value"),
    prevent_initial_call=True,
)
def download(_n, status, rule, level):
    from geo.security import accounts

    alarms = load(
        status if status in STATUS_CHOICES else "open",
        rule if rule in rules.RULES else None,
        level if level in rules.LEVELS else None,
    )
    with db.pooled() as conn:
        accounts.audit(conn, "export", "alerts", {"rows": len(alarms), "status": status, "rule": rule, "level": level})
    stamp = datetime.now(CST).strftime("%Y%m%d-%H%M")
    return dcc.send_bytes(export.workbook_bytes(alarms), f"预警台账-{stamp}.xlsx")
