"""The big screen's alarm pieces: a banner of unacknowledged alarms with one card each
(what, where, why, which rule, linked incidents, 签收), a count among the KPIs with the
sound switch, pulsing markers on the map (assets/alerts.js) and the sound itself.

Kept out of pages/bigscreen.py so that the screen's other work (live feed, 4K scaling,
forecast layer) and this module change independently; bigscreen.py only places `kpi()`,
`overlay()` and `stores()`. A new alarm bumps the `alert` data version inside its
incident's transaction; the screen asks for that one counter every second
(QUANYU_ALERT_SECONDS) and re-reads the alarms only when it moved, so an alarm arrives
without a reload and without waiting for the other panels. A slower clock runs the time-based rules (geo.alerts.evaluation.tick_if_due).
"""

from __future__ import annotations

import os

from dash import ALL, ClientsideFunction, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from geo import db
from geo.alerts import evaluation, lifecycle
from geo.labels import t
from geo.security import access
from geo.worktime import CST

MAX_CARDS = 3
MAX_INCIDENTS = 4
CLOCK_MS = 60_000


def poll_ms() -> int:
    """How often the screen asks whether an alarm changed (QUANYU_ALERT_SECONDS, default 1):
    one indexed single-row read, so that an alarm is on the wall within the issue's 5 s
    even while the screen's heavier panels (QUANYU_LIVE_SECONDS) are still refreshing."""
    try:
        seconds = float(os.environ.get("QUANYU_ALERT_SECONDS", "1"))
    except ValueError:
        seconds = 1.0
    return int(max(seconds, 0.5) * 1000)


def kpi() -> html.Div:
    """The open-alarm count (filled by refresh) with the sound switch under it."""
    return html.Div(
        className="kpi alert-kpi",
        id="alert-kpi",
        children=[
            html.Div(t("alert.kpi"), className="kpi-label"),
            html.Div(
                className="alert-kpi-row",
                children=[
                    html.Span("—", id="alert-kpi-value", className="kpi-value"),
                    html.Span(t("unit.items"), className="kpi-unit"),
                    html.Button(t("alert.sound.off"), id="alert-sound", className="alert-sound", n_clicks=0),
                ],
            ),
        ],
    )


def overlay() -> html.Div:
    """The banner over the map's top edge; empty (hidden) when nothing waits."""
    return html.Div(id="alert-banner", className="alert-banner", children=[])


def stores() -> list:
    return [
        dcc.Store(id="alert-data"),
        dcc.Store(id="alert-act-result"),
        dcc.Store(id="alert-sound-on", storage_type="local", data=False),
        dcc.Store(id="alert-markers"),
        dcc.Store(id="alert-clock-done"),
        dcc.Store(id="alert-marker-state"),
        dcc.Store(id="alert-ring-state"),
        dcc.Store(id="alert-sound-labels", data={"on": t("alert.sound.on"), "off": t("alert.sound.off")}),
        dcc.Interval(id="alert-clock", interval=CLOCK_MS),
        dcc.Interval(id="alert-poll", interval=poll_ms()),
        dcc.Store(id="alert-version"),
        html.Audio(id="alert-audio", src="/assets/alert.wav", preload="auto"),
    ]


def _where(a: dict) -> str:
    return " · ".join(x for x in (a.get("town"), a.get("community"), a.get("grid_name")) if x)


def card(a: dict, can_ack: bool, compact: bool = False) -> html.Div:
    """One alarm; `compact`: its head line and 签收 only (the rule, place and reasons stay in
    the DOM, hidden), so that three waiting alarms do not cover a third of the map."""
    incidents = a.get("incident_ids") or []
    shown = "、".join(f"#{i}" for i in incidents[:MAX_INCIDENTS]) + (" …" if len(incidents) > MAX_INCIDENTS else "")
    return html.Div(
        className=f"alert-card level-{a['level']}" + (" compact" if compact else ""),
        id=f"alert-card-{a['id']}",
        children=[
            html.Div(
                className="alert-card-head",
                children=[
                    html.Span(f"{a['level_name']}预警", className=f"alert-level level-{a['level']}"),
                    html.Span(a["title"], className="alert-title"),
                    html.Span(a["raised_at"].astimezone(CST).strftime("%H:%M"), className="alert-time"),
                ],
            ),
            html.Table(
                className="alert-card-table",
                children=html.Tbody(
                    [
                        html.Tr([html.Th(t("alert.card.rule")), html.Td(t(f"alert.rule.{a['rule']}"))]),
                        html.Tr([html.Th(t("alert.card.where")), html.Td(_where(a))]),
                        html.Tr([html.Th(t("alert.card.why")), html.Td("；".join(a["reasons"][:3]))]),
                        html.Tr([html.Th(t("alert.card.incidents")), html.Td(shown or "—")]),
                    ]
                ),
            ),
            html.Div(
                className="alert-card-actions",
                children=[
                    html.Span(f"{t('alert.card.escalated')} ×{a['escalations']}", className="alert-escalated")
                    if a["escalations"]
                    else None,
                    html.Button(t("alert.ack"), id={"type": "alert-act-ack", "id": a["id"]}, className="alert-ack", n_clicks=0)
                    if can_ack
                    else None,
                ],
            ),
        ],
    )


def banner(waiting: list[dict], can_ack: bool) -> list:
    if not waiting:
        return []
    more = len(waiting) - MAX_CARDS
    # the newest alarm in full, the next ones a line each: the wall's map stays visible
    return [card(a, can_ack, compact=k > 0) for k, a in enumerate(waiting[:MAX_CARDS])] + (
        [dcc.Link(t("alert.banner.more", n=more), href="/alerts", className="alert-more")] if more > 0 else []
    )


def marker_data(alarms: list[dict]) -> list[dict]:
    return [
        {"id": a["id"], "lon": a["lon"], "lat": a["lat"], "level": a["level"], "new": a["status"] == "new", "title": a["title"]}
        for a in alarms
        if a["lon"] is not None
    ]


@callback(
    Output("alert-banner", "children"),
    Output("alert-kpi-value", "children"),
    Output("alert-kpi", "className"),
    Output("alert-markers", "data"),
    Input("alert-version", "data"),
    Input("alert-act-result", "data"),
)
def refresh(_versions, _acted):
    scope = db.current_scope()
    with db.pooled() as conn:
        alarms = lifecycle.list_alerts(conn, status="open", limit=300)
    leader = scope is not None and scope.role == "leader"
    # Newest first: the banner is there to say what just happened; the desk keeps the backlog.
    waiting = sorted(
        (a for a in alarms if a["status"] == "new" and (a["escalations"] or not leader)),
        key=lambda a: (a["raised_at"], a["id"]),
        reverse=True,
    )
    can_ack = scope is None or scope.can(access.ALERT_HANDLE)
    cls = "kpi alert-kpi" + (" alert" if alarms else "")
    return banner(waiting, can_ack), f"{len(alarms):,}", cls, marker_data(alarms)


@callback(Output("alert-version", "data"), Input("alert-poll", "n_intervals"), State("alert-version", "data"))
def poll(_n, known):
    with db.pooled() as conn:
        current = lifecycle.version(conn)
    return no_update if current == known else current


@callback(
    Output("alert-act-result", "data"),
    Input({"type": "alert-act-ack", "id": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
@access.requires(access.ALERT_HANDLE)
def acknowledge(clicks):
    trigger = ctx.triggered_id
    if not trigger or not any(clicks or []):
        return no_update
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        return no_update  # a button mounting, not a click
    scope = db.current_scope()
    actor = scope.username if scope is not None else "screen"
    with db.pooled() as conn:
        try:
            lifecycle.acknowledge(conn, trigger["id"], actor)
        except lifecycle.AlertError as exc:
            return {"id": trigger["id"], "error": str(exc)}
    return {"id": trigger["id"], "ok": True}


@callback(Output("alert-clock-done", "data"), Input("alert-clock", "n_intervals"))
def clock(_n):
    """Deadlines and escalation, at most once a minute per worker (as the owner)."""
    result = evaluation.tick_if_due()
    return no_update if result is None else result


# With push on (assets/live.js), `versions` arrive the moment a writer commits: the alarms'
# counter is taken from them in the browser, so the alarms are asked for at once, before the
# map's tile requests the same write sets off fill the browser's few connections.
clientside_callback(
    ClientsideFunction(namespace="alerts", function_name="fromVersions"),
    Output("alert-version", "data", allow_duplicate=True),
    Input("versions", "data"),
    State("alert-version", "data"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction(namespace="alerts", function_name="markers"),
    Output("alert-marker-state", "data"),
    Input("alert-markers", "data"),
    Input("map-state", "data"),
)

clientside_callback(
    ClientsideFunction(namespace="alerts", function_name="toggle"),
    Output("alert-sound-on", "data"),
    Output("alert-sound", "children"),
    Input("alert-sound", "n_clicks"),
    State("alert-sound-on", "data"),
    State("alert-sound-labels", "data"),
)

clientside_callback(
    ClientsideFunction(namespace="alerts", function_name="ring"),
    Output("alert-ring-state", "data"),
    Input("alert-markers", "data"),
    State("alert-sound-on", "data"),
)
