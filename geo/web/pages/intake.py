"""事件受理: the operators' desk for the closed loop (受理、立案、派遣、督办).

Four panes on one page, so the operator never loses the incident at hand: the intake form
(map click or typed coordinates, routing preview, duplicates, photo), batch import, the
work queue with one incident's detail and its allowed transitions, and supervision (督办).
Everything goes through geo.incidents.intake / geo.incidents.lifecycle / geo.incidents.supervision: the page holds no
SQL and no workflow rule of its own; the buttons shown are exactly the edges of
lifecycle.TRANSITIONS for the incident's status, and a refused move shows the refusal.
`/intake?incident=<id>` opens the queue with that incident.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import dash
import flask
from dash import (
    ALL,
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    dash_table,
    dcc,
    html,
    no_update,
)

from geo import db, labels
from geo.analysis import dashboard, indicators
from geo.config import settings
from geo.incidents import intake, lifecycle, supervision
from geo.incidents import media as intake_media
from geo.incidents.dispatch import RoutingError
from geo.io import upload_check
from geo.io.importer import ImportFailed, import_file
from geo.labels import t
from geo.security import access, personal
from geo.web import ui
from geo.web.auth import actor_name, jurisdiction_wide, permitted
from geo.web.frame import frame
from geo.worktime import CST
from layers import LAYERS, map_config

TABS = ("form", "import", "queue", "supervision")
MAP_LAYERS = ("grid_risk", "admin_boundaries")


def _when(value) -> str:
    return value.astimezone(CST).strftime("%Y-%m-%d %H:%M") if value else "—"


def _field(label: str, *control, cls: str = "") -> html.Label:
    return html.Label(className=f"in-field {cls}", children=[html.Span(label, className="in-label"), *control])


def _tier(tier: str | None, wide: bool = True) -> html.Span:
    return html.Span(
        t(f"tier.{tier}") if tier else t("tier.none"), className=f"badge {'wide ' if wide else ''}{ui.TIER_CLASS.get(tier, '')}"
    )


# --------------------------------------------------------------------------- intake form


def routing_view(r, with_category: bool) -> list:
    staff = [html.Li(f"{t('role.' + s['role'])} {s['name']} {s['phone'] or ''}") for s in r.staff]
    rows = [
        (t("intake.grid"), f"{r.grid_name} {r.grid_code}" if r.grid_code else html.Span(t("intake.no_grid"), className="alert")),
        (t("intake.community"), f"{r.community_name} {r.community}"),
        (t("intake.town"), f"{r.town_name or '—'} {r.town or ''}"),
        (t("intake.staff"), html.Ul(staff, className="in-staff") if staff else html.Span(t("card.no_staff"), className="alert")),
    ]
    if with_category:
        rows += [
            (t("intake.department"), r.department),
            (t("intake.time_limit"), f"{r.time_limit} {t('intake.unit.' + r.time_unit)}"),
            (t("intake.deadline"), _when(r.deadline)),
        ]
    return [html.Table(className="in-kv", children=[html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in rows])])]


def duplicate_options(dups: list[dict]) -> list[dict]:
    options = [{"label": t("intake.dups.new"), "value": 0}]
    for d in dups:
        options.append(
            {
                "label": f"{t('intake.dups.merge', id=d['id'])} {d['title']} · {t('status.' + d['status'])} · "
                f"{d['distance_m']:.0f} 米 · {d['hours_apart']:.1f} 小时",
                "value": d["id"],
            }
        )
    return options


def saved_view(row: dict) -> html.Div:
    return html.Div(
        className="in-saved",
        children=[
            html.Div(
                [
                    html.Span(f"{t('intake.saved')} #{row['id']} ", className="in-saved-title"),
                    _tier(row["risk_tier"]),
                    dcc.Link(t("intake.queue.open") + " →", href=f"/intake?incident={row['id']}", className="in-open-link"),
                ]
            ),
            html.Div(
                f"{row['minor_name']} · {row['department']} · {t('intake.deadline')} {_when(row['deadline'])} · "
                f"{row['grid_name'] or t('intake.no_grid')} · {row['community_name']} · {row['town_name']}"
            ),
            html.Ul([html.Li(r) for r in (row["risk_reasons"] or [])], className="in-reasons"),
        ],
    )


def form_pane(cats: list[dict]) -> html.Div:
    majors = sorted({(c["major_code"], c["major_name"]) for c in cats})
    factor = {"type": "number", "min": 0, "step": 1, "className": "in-num", "debounce": True}
    return html.Div(
        className="in-form-pane",
        children=[
            html.Div(
                className="in-mapwrap",
                children=[
                    html.Div(id="in-map", className="in-map"),
                    html.Div(t("intake.map.hint"), className="in-map-hint"),
                ],
            ),
            html.Div(
                className="in-form",
                children=[
                    html.Div(t("intake.location"), className="in-sub"),
                    _field(
                        t("intake.crs"),
                        dcc.RadioItems(
                            id="in-crs",
                            value="wgs84",
                            inline=True,
                            className="in-radio",
                            options=[{"label": t(f"intake.crs.{c}"), "value": c} for c in intake.COORDINATE_SYSTEMS],
                        ),
                    ),
                    html.Div(
                        className="in-row",
                        children=[
                            _field(
                                t("intake.lon"),
                                dcc.Input(id="in-lon", type="text", inputMode="decimal", debounce=True, className="in-coord"),
                            ),
                            _field(
                                t("intake.lat"),
                                dcc.Input(id="in-lat", type="text", inputMode="decimal", debounce=True, className="in-coord"),
                            ),
                        ],
                    ),
                    _field(t("intake.address"), dcc.Input(id="in-address", type="text", maxLength=200, className="in-wide")),
                    html.Div(
                        className="in-row",
                        children=[
                            _field(
                                t("intake.major"),
                                dcc.Dropdown(
                                    labels=labels.DROPDOWN_LABELS,
                                    id="in-major",
                                    options=[{"label": n, "value": c} for c, n in majors],
                                    className="in-dd",
                                    clearable=False,
                                ),
                            ),
                            _field(
                                t("intake.minor"),
                                dcc.Dropdown(
                                    labels=labels.DROPDOWN_LABELS, id="in-minor", options=[], className="in-dd in-dd-wide"
                                ),
                            ),
                        ],
                    ),
                    _field(
                        t("intake.description"), dcc.Textarea(id="in-description", maxLength=4000, className="in-wide in-text")
                    ),
                    html.Div(t("intake.factors"), className="in-sub"),
                    html.Div(
                        className="in-row",
                        children=[
                            _field(t("intake.people"), dcc.Input(id="in-people", value=1, max=100000, **factor)),
                            _field(t("intake.duration"), dcc.Input(id="in-duration", value=0, max=36500, **factor)),
                            _field(
                                t("intake.intensity"),
                                dcc.Dropdown(
                                    labels=labels.DROPDOWN_LABELS,
                                    id="in-intensity",
                                    value=0,
                                    clearable=False,
                                    className="in-dd-s",
                                    options=[{"label": f"{i} {t(f'intake.intensity.{i}')}", "value": i} for i in range(4)],
                                ),
                            ),
                            _field(
                                t("intake.behaviour"),
                                dcc.Dropdown(
                                    labels=labels.DROPDOWN_LABELS,
                                    id="in-behaviour",
                                    value=0,
                                    clearable=False,
                                    className="in-dd-s",
                                    options=[{"label": f"{i} {t(f'intake.behaviour.{i}')}", "value": i} for i in range(4)],
                                ),
                            ),
                        ],
                    ),
                    _field(
                        t("intake.photo"),
                        dcc.Upload(
                            id="in-photo",
                            accept="image/jpeg,image/png",
                            max_size=intake_media.MAX_BYTES,
                            className="in-upload",
                            children=html.Div(t("intake.photo.drop")),
                        ),
                        html.Div(id="in-photo-msg", className="in-photo-msg"),
                    ),
                    html.Div(t("intake.preview"), className="in-sub"),
                    html.Div(id="in-preview", className="in-preview", children=t("intake.preview.empty")),
                    html.Div(t("intake.dups"), className="in-sub"),
                    dcc.RadioItems(id="in-merge", value=0, options=duplicate_options([]), className="in-dups"),
                    # the button stays at the foot of the form's column however far it scrolls
                    # (at 1920x1080 the form is taller than the screen, and it sat half below it)
                    html.Div(
                        className="in-row in-save-row",
                        children=[html.Button(t("intake.save"), id="in-save", className="in-primary")],
                    ),
                    html.Div(id="in-msg", className="in-msg"),
                    html.Div(id="in-result"),
                    # what the save did, fixed in the viewport, and the form is emptied for the next call
                    html.Div(id="in-toast", className="in-toast", role="status"),
                ],
            ),
        ],
    )


# --------------------------------------------------------------------------- import


def import_pane() -> html.Div:
    return html.Div(
        className="in-import",
        children=[
            html.Div(t("intake.import.title"), className="in-sub"),
            html.P(t("intake.import.hint"), className="in-muted"),
            dcc.Upload(
                id="in-import",
                className="in-upload in-upload-big",
                accept=".csv,.xlsx",
                max_size=IMPORT_MAX_BYTES,
                children=html.Div(t("intake.import.drop")),
            ),
            html.Pre(id="in-import-result", className="in-pre"),
        ],
    )


# --------------------------------------------------------------------------- work queue and detail

QUEUE_COLUMNS = (
    ("id", "intake.col.id"),
    ("title", "intake.col.title"),
    ("status", "intake.col.status"),
    ("town_name", "intake.col.town"),
    ("department", "intake.col.department"),
    ("assigned_to", "intake.col.assigned_to"),
    ("reported_at", "intake.col.reported_at"),
    ("deadline", "intake.col.deadline"),
    ("risk_tier", "intake.col.risk"),
    ("overdue", "intake.col.overdue"),
)


def queue_records(rows: list[dict]) -> list[dict]:
    return [
        dict(
            r,
            status=t(f"status.{r['status']}"),
            reported_at=_when(r["reported_at"]),
            deadline=_when(r["deadline"]),
            risk_tier=t(f"tier.{r['risk_tier']}") if r["risk_tier"] else "",
            overdue=t("intake.overdue") if r["overdue"] else "",
            source=None,
        )
        for r in rows
    ]


QUEUE_PAGE = 20  # rows per page of the work queue


def queue_count_text(total: int, page: int) -> str:
    pages = max(1, -(-total // QUEUE_PAGE))
    return t("intake.queue.count", n=total, page=min(page, pages - 1) + 1, pages=pages)


def queue_pane(rows: list[dict], town_rows: list[dict], selected: int | None, detail, total: int | None = None) -> html.Div:
    total = len(rows) if total is None else total
    return html.Div(
        className="in-queue-pane",
        children=[
            html.Div(
                className="in-queue",
                children=[
                    html.Div(
                        className="in-row in-filters",
                        children=[
                            _field(
                                t("intake.queue.status"),
                                dcc.Dropdown(
                                    labels=labels.DROPDOWN_LABELS,
                                    id="in-q-status",
                                    multi=True,
                                    className="in-dd-status",
                                    options=[{"label": t(f"status.{s}"), "value": s} for s in lifecycle.STATUSES],
                                ),
                            ),
                            _field(
                                t("intake.queue.town"),
                                dcc.Dropdown(
                                    labels=labels.DROPDOWN_LABELS,
                                    id="in-q-town",
                                    className="in-dd",
                                    options=[{"label": r["name"], "value": r["code"]} for r in town_rows],
                                ),
                            ),
                            _field(
                                t("intake.queue.due"),
                                dcc.RadioItems(
                                    id="in-q-due",
                                    value="",
                                    inline=True,
                                    className="in-radio",
                                    options=[
                                        {"label": t(f"intake.queue.due.{k or 'all'}"), "value": k}
                                        for k in ("", "overdue", "due_soon")
                                    ],
                                ),
                            ),
                            _field(
                                t("intake.queue.id"),
                                dcc.Input(id="in-q-id", type="text", className="in-coord"),
                                html.Button(t("intake.queue.open"), id="in-q-open"),
                            ),
                        ],
                    ),
                    html.Div(queue_count_text(total, 0), id="in-q-count", className="in-muted"),
                    dash_table.DataTable(
                        id="in-queue",
                        data=queue_records(rows),
                        # every case reachable: pages are read from the database one at a time
                        page_action="custom",
                        page_current=0,
                        page_size=QUEUE_PAGE,
                        page_count=max(1, -(-total // QUEUE_PAGE)),
                        sort_action="custom",
                        sort_mode="single",
                        sort_by=[],
                        columns=[{"id": c, "name": t(label)} for c, label in QUEUE_COLUMNS],
                        cell_selectable=True,
                        style_as_list_view=True,
                        style_table={"overflowX": "auto"},
                        style_header={"backgroundColor": "#0b2340", "color": "#8aa4c4", "fontWeight": "600", "border": "none"},
                        style_cell={
                            "backgroundColor": "transparent",
                            "color": "#d7e8ff",
                            "border": "none",
                            "borderBottom": "1px solid rgba(95,211,255,0.12)",
                            "fontFamily": "inherit",
                            "fontSize": "0.9rem",
                            "padding": "0.3rem 0.4rem",
                            "textAlign": "left",
                            "maxWidth": "16rem",
                            "overflow": "hidden",
                            "textOverflow": "ellipsis",
                        },
                        # long names end in "…" (the detail has them whole), so that the row fits
                        # its pane at 1920 and the last column, 督办's red 超期, is never scrolled away
                        style_cell_conditional=[
                            {"if": {"column_id": c}, "maxWidth": "7rem"} for c in ("title", "department", "assigned_to")
                        ],
                        style_data_conditional=[
                            {
                                "if": {"filter_query": "{overdue} != ''", "column_id": "overdue"},
                                "color": "#e8412c",
                                "fontWeight": "700",
                            },
                            {"if": {"filter_query": f"{{id}} = {selected or -1}"}, "backgroundColor": "rgba(95,211,255,0.16)"},
                            {
                                "if": {"state": "active"},
                                "backgroundColor": "rgba(95,211,255,0.28)",
                                "color": "#ffffff",
                                "border": "none",
                            },
                            {
                                "if": {"state": "selected"},
                                "backgroundColor": "rgba(95,211,255,0.28)",
                                "color": "#ffffff",
                                "border": "none",
                            },
                        ],
                    ),
                ],
            ),
            html.Div(
                className="in-detail",
                children=[
                    html.Div(html.Div(id="in-detail-map", className="in-detail-map"), className="in-detail-mapbox"),
                    html.Div(id="in-detail", children=detail),
                ],
            ),
        ],
    )


def photo_view(incident_id: int, media_url: str):
    """Our own stored photo as an image; a reporter's external URL only as a link, with its
    host shown, that the operator decides to open (no fetch, no referrer)."""
    own = intake_media.shown_path(incident_id, media_url)
    if own:
        return html.A(html.Img(src=own, className="in-photo"), href=own, target="_blank")
    host = urlsplit(media_url).hostname or "?"
    return html.A(
        t("intake.detail.external_photo", host=host),
        href=media_url if media_url.lower().startswith(("http://", "https://")) else None,
        target="_blank",
        rel="noopener noreferrer nofollow",
        referrerPolicy="no-referrer",
        className="in-photo-link",
    )


def assignees(conn, row: dict) -> list[str]:
    """Whom a case can be sent to: the department routing chose, then the grid's own people
    (网格长, 专职 ...), as the dispatch choice offers them."""
    staff = (
        [f"{t('role.' + s['role'])} {s['name']}" for s in dashboard.grid_staff(conn, row["grid_code"])]
        if row.get("grid_code")
        else []
    )
    return [x for x in [row.get("department"), *staff] if x]


def detail_view(row: dict | None, history: list[dict], reminders: list[dict], message=None, sendable=()) -> list:
    if row is None:
        return [html.Div(t("intake.detail.empty"), className="in-muted"), actions_view(None)]
    facts = [
        (t("intake.detail.category"), f"{row['major_name']} / {row['minor_name']} ({row['minor_code']})"),
        (t("intake.department"), row["department"]),
        (t("intake.assignee"), row.get("assigned_to") or "—"),
        (t("intake.detail.source"), t(f"source.{row['source']}")),
        (t("intake.detail.reported_at"), _when(row["reported_at"])),
        (
            t("intake.deadline"),
            html.Span(
                [_when(row["deadline"]), " ", html.Span(t("intake.overdue"), className="alert") if row["overdue"] else None]
            ),
        ),
        (t("intake.detail.level"), lifecycle.LEVEL_LABELS.get(row["level_handled"], "—")),
        (t("intake.grid"), f"{row['grid_name'] or t('intake.no_grid')} {row['grid_code'] or ''}"),
        (t("intake.community"), f"{row['community_name']} · {row['town_name']}"),
        (t("intake.detail.position"), f"{row['lon']:.6f}, {row['lat']:.6f} (WGS84) {row['address'] or ''}"),
        (
            t("intake.detail.factors"),
            " · ".join(
                f"{t('intake.' + name)} {t('intake.unknown') if v is None else (t(f'intake.{name}.{v}') if labelled else v)}"
                for name, v, labelled in (
                    ("people", row["people_involved"], False),
                    ("duration", row["duration_days"], False),
                    ("intensity", row["conflict_intensity"], True),
                    ("behaviour", row["behaviour_risk"], True),
                )
            ),
        ),
        (t("intake.description"), row["description"] or "—"),
        (
            t("intake.detail.reporter"),
            html.Span(
                [
                    html.Span(
                        " ".join(x for x in (row["reporter_name_masked"], row["reporter_phone_masked"]) if x) or "—",
                        id="in-reporter",
                    ),
                    html.Button(
                        t("unmask.button"),
                        id="in-unmask",
                        className="in-unmask",
                        style=None
                        if (row["reporter_name_masked"] or row["reporter_phone_masked"]) and permitted(access.UNMASK)
                        else {"display": "none"},
                    ),
                ]
            ),
        ),
    ]
    facts.append(
        (
            t("intake.reasons"),
            html.Ul([html.Li(r) for r in (row["risk_reasons"] or [])] or [html.Li(t("empty"))], className="in-reasons"),
        )
    )
    if row["satisfaction"]:
        facts.append((t("intake.detail.satisfaction"), f"{row['satisfaction']} / 5"))
    if row["media_url"]:
        facts.append((t("intake.detail.photo"), photo_view(row["id"], row["media_url"])))
    if row["merged_into"]:
        facts.append(
            (t("intake.detail.merged"), dcc.Link(f"#{row['merged_into']}", href=f"/intake?incident={row['merged_into']}"))
        )
    return [
        html.Div(
            className="in-detail-head",
            children=[
                html.Span(f"#{row['id']} {row['title']}", className="in-detail-title"),
                html.Span(
                    t(f"status.{row['status']}"), id="in-detail-status", className="in-status", **{"data-status": row["status"]}
                ),
                _tier(row["risk_tier"]),
            ],
        ),
        html.Table(className="in-kv in-facts", children=[html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts])]),
        html.Div(t("intake.actions"), className="in-sub"),
        actions_view(row["status"], sendable),
        html.Div(message, id="in-tr-msg", className="in-msg"),
        html.Div(t("intake.history"), className="in-sub"),
        history_table(history),
        html.Div(t("intake.reminders"), className="in-sub"),
        html.Ul(
            [html.Li(f"{_when(r['sent_at'])} · {r['channel']} · {r['to_whom']} · {r['note'] or ''}") for r in reminders]
            or [html.Li(t("intake.reminders.none"), className="in-muted")],
            className="in-reminders",
        ),
    ]


def actions_view(status: str | None, sendable=()) -> html.Div:
    """The allowed moves as buttons; the inputs are always rendered (hidden when useless) so
    the transition callback always finds its States."""
    targets = lifecycle.allowed(status) if status else []
    hidden = {"display": "none"}
    buttons = [
        html.Button(
            t("action.rework" if (status, to) == ("verified", "in_progress") else f"action.{to}"),
            id={"type": "in-tr", "to": to},
            className=f"in-tr in-tr-{to}",
        )
        for to in targets
    ]
    return html.Div(
        className="in-actions",
        style=None if status else hidden,
        children=[
            html.Div(t("intake.actions.final"), className="in-muted", style=None if not targets else hidden),
            html.Div(
                className="in-row",
                style=None if targets else hidden,
                children=[
                    _field(
                        t("intake.actor"),
                        dcc.Input(
                            id="in-tr-actor",
                            value=actor_name("operator"),
                            type="text",
                            maxLength=80,
                            className="in-coord",
                            readOnly=bool(actor_name()),
                        ),
                    ),
                    _field(
                        t("intake.assignee"),
                        dcc.Dropdown(
                            labels=labels.DROPDOWN_LABELS,
                            id="in-tr-to",
                            className="in-dd",
                            value=sendable[0] if sendable else None,
                            options=[{"label": x, "value": x} for x in sendable],
                        ),
                        cls="" if "dispatched" in targets else "in-hidden",
                    ),
                    _field(t("intake.note"), dcc.Input(id="in-tr-note", type="text", maxLength=500, className="in-note")),
                    _field(
                        t("intake.level"),
                        dcc.Dropdown(
                            labels=labels.DROPDOWN_LABELS,
                            id="in-tr-level",
                            className="in-dd-s",
                            options=[{"label": lifecycle.LEVEL_LABELS[lv], "value": lv} for lv in lifecycle.LEVELS],
                        ),
                        cls="" if "escalated" in targets else "in-hidden",
                    ),
                    _field(
                        t("intake.satisfaction"),
                        dcc.Dropdown(
                            labels=labels.DROPDOWN_LABELS,
                            id="in-tr-satisfaction",
                            className="in-dd-s",
                            value=5,
                            clearable=False,
                            options=[{"label": str(i), "value": i} for i in range(5, 0, -1)],
                        ),
                        cls="" if "followed_up" in targets else "in-hidden",
                    ),
                ],
            ),
            html.Div(buttons, className="in-row in-buttons"),
        ],
    )


def history_table(history: list[dict]) -> html.Table:
    head = html.Tr([html.Th(t(f"intake.history.{k}")) for k in ("at", "from", "to", "actor", "assignee", "note")])
    body = [
        html.Tr(
            [
                html.Td(_when(h["at"])),
                html.Td(t(f"status.{h['from_status']}") if h["from_status"] else "—"),
                html.Td(t(f"status.{h['to_status']}")),
                html.Td(h["actor"], className="in-h-actor"),
                html.Td(h.get("assigned_to") or "", className="in-h-assignee"),
                html.Td(h["note"] or "", className="in-h-note"),
            ]
        )
        for h in history
    ]
    return html.Table(id="in-history", className="in-history", children=[html.Thead(head), html.Tbody(body)])


def load_detail(conn, incident_id: int | None, message=None) -> tuple[list, dict | None]:
    """The detail pane's children and the point for its map."""
    row = intake.incident(conn, incident_id) if incident_id else None
    if row is None:
        return detail_view(None, [], []), None
    view = detail_view(
        row, lifecycle.history(conn, row["id"]), supervision.reminders(conn, row["id"]), message, assignees(conn, row)
    )
    return view, {"lon": row["lon"], "lat": row["lat"], "tier": row["risk_tier"]}


# --------------------------------------------------------------------------- supervision


def summary_table(rows: list[dict], tid: str) -> html.Table:
    head = html.Tr([html.Th(t(k)) for k in ("sup.name", "sup.overdue", "sup.due_soon", "sup.worst")])
    body = [
        html.Tr(
            [
                html.Td(r["name"] or "—"),
                html.Td(r["overdue"], className="alert" if r["overdue"] else ""),
                html.Td(r["due_soon"]),
                html.Td(indicators.duration_text(r["worst_hours_past"])),
            ]
        )
        for r in rows
    ]
    return html.Table(id=tid, className="in-sup-table", children=[html.Thead(head), html.Tbody(body)])


def supervision_view(conn) -> list:
    return [
        html.Div(
            className="in-sup-col",
            children=[
                html.Div(t("sup.by_town"), className="in-sub"),
                summary_table(supervision.summary(conn, "town"), "in-sup-town"),
            ],
        ),
        html.Div(
            className="in-sup-col",
            children=[
                html.Div(t("sup.by_department"), className="in-sub"),
                summary_table(supervision.summary(conn, "department"), "in-sup-dept"),
            ],
        ),
    ]


def supervision_pane(conn) -> html.Div:
    return html.Div(
        className="in-sup",
        children=[
            html.Div(
                className="in-row",
                children=[
                    html.Button(t("sup.send"), id="in-sup-send", className="in-primary"),
                    html.Span(t("sup.hint", h=supervision.SOON_WORKING_HOURS), className="in-muted"),
                    html.Span(id="in-sup-msg", className="in-msg"),
                ],
            ),
            html.Div(id="in-sup-body", className="in-sup-body", children=supervision_view(conn)),
        ],
    )


# --------------------------------------------------------------------------- layout


def _map_config(j: dict) -> dict:
    s = settings()
    mc = map_config({k: LAYERS[k] for k in MAP_LAYERS if k in LAYERS}, s.basemap_url, s.basemap_attribution)
    if j.get("xmin") is not None:
        mc["bounds"] = [[j["xmin"], j["ymin"]], [j["xmax"], j["ymax"]]]
    return mc


def _incident_id(value) -> int | None:
    try:
        return int(value) if value not in (None, "") and int(value) > 0 else None
    except (TypeError, ValueError):
        return None


def layout(incident=None, tab=None, **_query):
    selected = _incident_id(incident)
    tab = tab if tab in TABS else ("queue" if selected else "form")
    with db.pooled() as conn:
        j = dashboard.jurisdiction(conn)
        cats = intake.categories(conn)
        rows = intake.queue(conn, limit=QUEUE_PAGE)
        total = intake.queue_count(conn)
        town_rows = intake.towns(conn)
        detail, point = load_detail(conn, selected)
        sup = supervision_pane(conn)
    panes = {
        "form": form_pane(cats),
        "import": import_pane(),
        "queue": queue_pane(rows, town_rows, selected, detail, total),
        "supervision": sup,
    }
    return frame(
        "/intake",
        t("intake.title"),
        *[
            dcc.RadioItems(
                id="in-tab",
                value=tab,
                inline=True,
                className="in-tabs",
                options=[{"label": t(f"intake.tab.{k}"), "value": k} for k in TABS],
            ),
            *[
                html.Div(panes[k], id=f"in-pane-{k}", className="in-pane", style=None if k == tab else {"display": "none"})
                for k in TABS
            ],
            dcc.Store(id="in-map-config", data=_map_config(j)),
            dcc.Store(id="in-click"),
            dcc.Store(id="in-point"),
            dcc.Store(id="in-detail-point", data=point),
            dcc.Store(id="in-selected", data=selected),
            dcc.Store(id="in-version", data=0),
            dcc.Store(id="in-map-state"),
            dcc.Store(id="in-detail-map-state"),
        ],
    )


dash.register_page(__name__, path="/intake", title=t("intake.title"), name=t("nav.intake"), order=30, layout=layout)


# --------------------------------------------------------------------------- callbacks: intake form


@callback([Output(f"in-pane-{k}", "style") for k in TABS], Input("in-tab", "value"), prevent_initial_call=True)
def show_tab(tab):
    return [None if k == tab else {"display": "none"} for k in TABS]


@callback(
    Output("in-minor", "options"),
    Output("in-minor", "value", allow_duplicate=True),
    Input("in-major", "value"),
    prevent_initial_call=True,
)
def minor_options(major):
    with db.pooled() as conn:
        cats = intake.categories(conn)
    return [
        {"label": f"{c['minor_name']}（{c['department']}）", "value": c["minor_code"]} for c in cats if c["major_code"] == major
    ], None


@callback(
    Output("in-lon", "value", allow_duplicate=True),
    Output("in-lat", "value", allow_duplicate=True),
    Output("in-crs", "value"),
    Input("in-click", "data"),
    prevent_initial_call=True,
)
def map_clicked(click):
    if not click:
        return no_update, no_update, no_update
    return round(click["lon"], 6), round(click["lat"], 6), "wgs84"


@callback(
    Output("in-preview", "children"),
    Output("in-merge", "options"),
    Output("in-merge", "value"),
    Output("in-point", "data"),
    Input("in-lon", "value"),
    Input("in-lat", "value"),
    Input("in-crs", "value"),
    Input("in-minor", "value"),
    prevent_initial_call=True,
)
def preview(lon, lat, system, minor):
    if lon is None or lat is None:
        return t("intake.preview.empty"), duplicate_options([]), 0, None
    try:
        x, y = intake.to_wgs84(lon, lat, system)
        with db.pooled() as conn:
            routing, dups = intake.preview(conn, x, y, minor)
    except (intake.IntakeError, RoutingError) as exc:
        return html.Div(str(exc), className="in-error"), duplicate_options([]), 0, None
    return routing_view(routing, bool(minor)), duplicate_options(dups), 0, {"lon": x, "lat": y}


@callback(
    Output("in-photo-msg", "children"), Input("in-photo", "contents"), State("in-photo", "filename"), prevent_initial_call=True
)
def photo_checked(contents, filename):
    try:
        photo = intake_media.from_upload(contents, filename)
    except intake_media.PhotoRejected as exc:
        return html.Span(str(exc), className="in-error")
    return f"{t('intake.photo.ok')}: {filename} ({len(photo.data) // 1024} KB)" if photo else ""


FORM_FIELDS = (  # (component, value of an empty form): emptied after a save
    ("in-lon", None),
    ("in-lat", None),
    ("in-address", ""),
    ("in-minor", None),
    ("in-description", ""),
    ("in-people", 1),
    ("in-duration", 0),
    ("in-intensity", 0),
    ("in-behaviour", 0),
)


def toast(row: dict) -> html.Div:
    """The short confirmation shown in the viewport after a save."""
    return html.Div(
        [
            html.Span(f"✓ {t('intake.saved')} #{row['id']}", className="in-saved-title"),
            html.Span(f"{row['minor_name']} · {row['department']} · {row['community_name']}"),
            dcc.Link(t("intake.queue.open") + " →", href=f"/intake?incident={row['id']}", className="in-open-link"),
        ],
        className="in-toast-ok",
        id="in-toast-saved",
    )


@callback(
    Output("in-msg", "children"),
    Output("in-result", "children"),
    Output("in-version", "data", allow_duplicate=True),
    Output("in-toast", "children"),
    *[Output(cid, "value", allow_duplicate=True) for cid, _ in FORM_FIELDS],
    Output("in-photo", "contents", allow_duplicate=True),
    Input("in-save", "n_clicks"),
    State("in-lon", "value"),
    State("in-lat", "value"),
    State("in-crs", "value"),
    State("in-minor", "value"),
    State("in-description", "value"),
    State("in-address", "value"),
    State("in-people", "value"),
    State("in-duration", "value"),
    State("in-intensity", "value"),
    State("in-behaviour", "value"),
    State("in-photo", "contents"),
    State("in-photo", "filename"),
    State("in-merge", "value"),
    State("in-version", "data"),
    prevent_initial_call=True,
)
def save(
    _n,
    lon,
    lat,
    system,
    minor,
    description,
    address,
    people,
    duration,
    intensity,
    behaviour,
    photo_contents,
    photo_name,
    merge_into,
    version,
):
    """Save the form; every check runs before anything is written. Saved: a confirmation in
    the viewport and an empty form (a filled form invites saving the same call twice);
    refused: the reason, in the viewport too, and the form kept for correcting."""
    keep = (no_update,) * (len(FORM_FIELDS) + 1)

    def refused(text: str) -> tuple:
        error = html.Div(text, className="in-error")
        return (error, None, no_update, html.Div(text, className="in-toast-error"), *keep)

    if not permitted(access.INCIDENT_CREATE):
        return refused(t("auth.forbidden"))
    try:
        x, y = intake.to_wgs84(lon, lat, system) if lon is not None and lat is not None else (None, None)
        photo = intake_media.from_upload(photo_contents, photo_name)
        report = intake.Report(
            lon=x,
            lat=y,
            minor_code=minor,
            description=description,
            address=address,
            people_involved=people,
            duration_days=duration,
            conflict_intensity=intensity,
            behaviour_risk=behaviour,
            merge_into=merge_into or None,
            actor=actor_name("operator"),  # the history's first row names the account, as every later one
        )
        with db.pooled() as conn:
            new_id = intake.submit(conn, report, photo, base_url=_base_url())
            row = intake.incident(conn, new_id)
    except (intake.IntakeError, RoutingError, intake_media.PhotoRejected, lifecycle.TransitionRefused) as exc:
        return refused(str(exc))
    return ("", saved_view(row), (version or 0) + 1, toast(row), *(empty for _, empty in FORM_FIELDS), None)


def _base_url() -> str:
    try:
        return flask.request.host_url
    except RuntimeError:  # outside a request (tests calling the callback)
        return "http://localhost/"


# --------------------------------------------------------------------------- callbacks: import

IMPORT_MAX_BYTES = 20 * 1024 * 1024  # the web's limit; larger files go through the CLI


def _safe_name(filename: str | None) -> str:
    return upload_check.safe_name(filename, "upload.csv")


@callback(
    Output("in-import-result", "children"),
    Output("in-version", "data", allow_duplicate=True),
    Input("in-import", "contents"),
    State("in-import", "filename"),
    State("in-version", "data"),
    prevent_initial_call=True,
)
def import_upload(contents, filename, version):
    if not contents:
        return no_update, no_update
    if not permitted(access.INCIDENT_IMPORT) or not jurisdiction_wide():
        # A bulk file may hold incidents anywhere: only a district-wide account imports one.
        return t("intake.import.forbidden"), no_update
    name = _safe_name(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        return f"只接受 CSV / Excel 文件 (only .csv, .xlsx): {name}", no_update
    try:
        data = base64.b64decode(contents.partition(",")[2], validate=True)
    except (ValueError, TypeError):
        return f"{name}: 上传内容损坏 (the upload is not valid base64)", no_update
    if len(data) > IMPORT_MAX_BYTES:
        return (
            f"{name}: 超过 {IMPORT_MAX_BYTES // 1024 // 1024} MB (file too large for the web; use python -m geo import)",
            no_update,
        )
    with tempfile.TemporaryDirectory(prefix="quanyu-import-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            with db.system() as conn:  # a bulk load is a system job (COPY; RLS checked above by the account's unit)
                result = import_file(conn, "incidents", path, user=actor_name())
                from geo.security import accounts

                accounts.audit(
                    conn,
                    "import",
                    f"incidents:{Path(filename).name}",
                    {"rows": getattr(result, "rows", None), "by": actor_name()},
                )
        except ImportFailed as exc:  # name the user's file, not our temporary copy
            return str(exc).replace(str(path), path.name), no_update
    return result.summary(), (version or 0) + 1


# --------------------------------------------------------------------------- callbacks: queue, detail, transitions


@callback(
    Output("in-queue", "data"),
    Output("in-q-count", "children"),
    Output("in-queue", "page_count"),
    Output("in-queue", "page_current"),
    Input("in-q-status", "value"),
    Input("in-q-town", "value"),
    Input("in-q-due", "value"),
    Input("in-queue", "sort_by"),
    Input("in-version", "data"),
    Input("in-queue", "page_current"),
    prevent_initial_call=True,
)
def refresh_queue(statuses, town, due, sort_by, _version, page):
    """One page of the queue; a new filter or sort starts again at the first page."""
    keep = {"in-queue.page_current", "in-version.data"} & set(ctx.triggered_prop_ids or {})
    page = (page or 0) if keep else 0
    with db.pooled() as conn:
        total = intake.queue_count(conn, statuses, town, due)
        pages = max(1, -(-total // QUEUE_PAGE))
        page = min(page, pages - 1)
        rows = intake.queue(conn, statuses, town, due, sort_by, limit=QUEUE_PAGE, offset=page * QUEUE_PAGE)
    return queue_records(rows), queue_count_text(total, page), pages, page


@callback(
    Output("in-selected", "data"),
    Input("in-queue", "active_cell"),
    Input("in-q-open", "n_clicks"),
    State("in-q-id", "value"),
    prevent_initial_call=True,
)
def select(cell, _n, typed):
    if ctx.triggered_id == "in-q-open":  # our id, or the 12345 工单编号 an import kept
        with db.pooled() as conn:
            return intake.find_incident(conn, typed) or no_update
    return (cell or {}).get("row_id") or no_update


@callback(
    Output("in-detail", "children"), Output("in-detail-point", "data"), Input("in-selected", "data"), prevent_initial_call=True
)
def show_detail(incident_id):
    with db.pooled() as conn:
        return load_detail(conn, incident_id)


@callback(
    Output("in-detail", "children", allow_duplicate=True),
    Output("in-version", "data", allow_duplicate=True),
    Input({"type": "in-tr", "to": ALL}, "n_clicks"),
    State("in-selected", "data"),
    State("in-tr-actor", "value"),
    State("in-tr-note", "value"),
    State("in-tr-level", "value"),
    State("in-tr-satisfaction", "value"),
    State("in-version", "data"),
    State("in-tr-to", "value"),
    prevent_initial_call=True,
)
def move(clicks, incident_id, actor, note, level, satisfaction, version, send_to=None):
    """Apply the clicked transition; a refusal is shown above the buttons, nothing changes."""
    if not ctx.triggered_id or not any(clicks) or not incident_id:
        return no_update, no_update
    to = ctx.triggered_id["to"]
    # whom a dispatch sends the case to is stored on the case and its history row (its own column)
    assignee = str(send_to)[:80] if send_to and to == "dispatched" else None
    error = apply_move(incident_id, to, actor, note, level, satisfaction, assignee)
    with db.pooled() as conn:
        if error:
            view, _ = load_detail(conn, incident_id, html.Div([html.B(t("intake.refused") + "："), error], className="in-error"))
            return view, no_update
        view, _ = load_detail(conn, incident_id, t("intake.moved", id=incident_id, status=t(f"status.{to}")))
    return view, (version or 0) + 1


def apply_move(
    incident_id: int,
    to: str,
    actor: str | None = None,
    note: str | None = None,
    level: str | None = None,
    satisfaction: int | None = None,
    assignee: str | None = None,
) -> str | None:
    """Move an incident for the signed-in account; the refusal's text, or None when done.

    A grid worker may take a case on (处置) or send it back (退回); everything else is the
    command centre's (access.transition_permission). The history names the account."""
    if not permitted(access.transition_permission(to)):
        return f"{t('auth.forbidden')}：{t('status.' + to)}"
    try:
        with db.pooled() as conn:
            lifecycle.transition(
                conn,
                incident_id,
                to,
                actor_name(actor or ""),
                (note or "").strip() or None,
                level=level if to == "escalated" else None,
                satisfaction=satisfaction if to == "followed_up" else None,
                assignee=assignee if to == "dispatched" else None,
            )
    except lifecycle.TransitionRefused as exc:
        return str(exc)
    return None


@callback(
    Output("in-reporter", "children"),
    Output("in-unmask", "style"),
    Input("in-unmask", "n_clicks"),
    State("in-selected", "data"),
    prevent_initial_call=True,
)
def unmask(n_clicks, incident_id):
    """Show the reporter in full: allowed to few roles, logged by the database either way."""
    if not n_clicks or not incident_id:
        return no_update, no_update
    try:
        with db.pooled() as conn:
            full = personal.reveal(conn, "incident", incident_id)
    except personal.UnmaskRefused:
        return t("unmask.refused"), {"display": "none"}
    text = " ".join(v for v in (full.get("reporter_name"), full.get("reporter_phone"), full.get("reporter_email")) if v)
    return [text, " · ", html.Span(t("unmask.done"), className="in-muted")], {"display": "none"}


# --------------------------------------------------------------------------- callbacks: supervision


@callback(
    Output("in-sup-msg", "children"),
    Output("in-sup-body", "children"),
    Input("in-sup-send", "n_clicks"),
    prevent_initial_call=True,
)
def send(_n):
    if not permitted(access.INCIDENT_DISPATCH):
        return t("auth.forbidden"), no_update
    with db.pooled() as conn:
        n = supervision.send_reminders(conn)
        return t("sup.sent", n=n), supervision_view(conn)


# --------------------------------------------------------------------------- maps (assets/intake.js)

clientside_callback(
    ClientsideFunction(namespace="intake", function_name="formMap"),
    Output("in-map-state", "data"),
    Input("in-map-config", "data"),
    Input("in-point", "data"),
    Input("in-tab", "value"),
)
clientside_callback(
    ClientsideFunction(namespace="intake", function_name="detailMap"),
    Output("in-detail-map-state", "data"),
    Input("in-map-config", "data"),
    Input("in-detail-point", "data"),
    Input("in-tab", "value"),
)


# --------------------------------------------------------------------------- photos

bp = flask.Blueprint("intake_uploads", __name__)


@bp.route(intake_media.URL_PREFIX + "/<incident_id>/<name>")
def uploaded(incident_id: str, name: str):
    # The file system knows no jurisdiction: the incident must be visible to the account.
    with db.pooled() as conn:
        if not incident_id.isdigit() or not db.scalar(conn, "SELECT 1 FROM incident WHERE id = %s", (int(incident_id),)):
            flask.abort(404)
    found = intake_media.stored_file(incident_id, name)
    if found is None:
        flask.abort(404)
    response = flask.send_file(found[0], mimetype=found[1], max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
