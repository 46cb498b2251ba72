"""指挥大屏: the whole jurisdiction on one screen, live.

Data flows one way: PostGIS (geo.analysis.dashboard, vector tiles) → this page's figures. The page
is rendered complete on first load; afterwards a poll of the data versions every few
seconds is the only traffic until something changes, and then only what depends on the
changed tables is re-sent (the feed is patched, not replaced; map tiles are swapped in
behind the old ones, so nothing flickers).
"""

from __future__ import annotations

import json
import time

import dash
import plotly.graph_objects as go
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html, no_update

from geo import config, db, labels, read_routing
from geo.analysis import attribution, dashboard, indicators
from geo.cache import LRU
from geo.forecast import store as forecast_store
from geo.labels import t
from geo.security import access
from geo.security.masking import mask_phone
from geo.web import alerts_screen, nav, ui, welcome
from geo.web.auth import permitted
from geo.web.frame import account_box
from geo.web.home import home_code, home_unit
from geo.worktime import CST
from layers import LAYERS, map_config

# --------------------------------------------------------------------------- pieces


def kpi_cards(k: dict, forecast_hit: dict | None = None) -> list:
    """The KPI strip: each value with its window under it and its definition as a tooltip
    (geo.analysis.indicators), ratios over too few cases as "样本不足"; `forecast_hit` is
    last week's forecast against what happened (geo.forecast.store.last_week)."""
    year = indicators.window_caption(*indicators.last_days(dashboard.YEAR_DAYS))
    cards = [
        ("kpi-today", "today", t("kpi.today"), f"{k['today']:,}", t("unit.items"), "今日", ""),
        ("kpi-month", "month", t("kpi.month"), f"{k['month']:,}", t("unit.items"), "本月", ""),
        ("kpi-open", "open", t("kpi.open"), f"{k['open']:,}", t("unit.items"), "当前", ""),
        (
            "kpi-overdue",
            "overdue",
            t("kpi.overdue"),
            f"{k['overdue']:,}",
            t("unit.items"),
            "当前",
            "alert" if k["overdue"] else "",
        ),
        (
            "kpi-resolution",
            "resolution_rate",
            t("kpi.resolution"),
            indicators.pct(k["resolution_rate"]),
            "",
            f"{year} · {t('kpi.resolution.hint')}",
            "",
        ),
        (
            "kpi-village",
            "village_share",
            t("kpi.village_share"),
            indicators.pct(k["village_share"]),
            "",
            f"{year} · {t('kpi.village_share.hint')}",
            "",
        ),
        (
            "kpi-high",
            None,
            t("kpi.high_grids"),
            f"{k['high_risk_grids']:,}",
            t("unit.grids"),
            "当前",
            "alert" if k["high_risk_grids"] else "",
        ),
        ("kpi-coverage", None, t("kpi.coverage"), ui.pct(k["coverage"]), "", t("kpi.coverage.hint"), ""),
        ("kpi-fulltime", None, t("kpi.fulltime"), ui.pct(k["fulltime_urban"]), "", t("kpi.fulltime.hint"), ""),
        forecast_kpi(forecast_hit),
    ]
    return [
        html.Div(
            className=f"kpi {alert}",
            id=cid,
            title=indicator_tooltip(key, k),
            children=[
                html.Div(label, className="kpi-label"),
                html.Div([html.Span(value, className="kpi-value"), html.Span(unit, className="kpi-unit")]),
                html.Div(hint, className="kpi-hint"),
            ],
        )
        for cid, key, label, value, unit, hint, alert in cards
    ]


def indicator_tooltip(key: str | None, k: dict) -> str:
    """The definition of an indicator in words, and the size of its sample."""
    ind = indicators.INDICATORS.get(key) if key else None
    if ind is None:
        return ""
    if not ind.is_ratio:
        return ind.numerator
    base = k.get({"resolution_rate": "resolution_base", "village_share": "village_base"}[key])
    return f"{ind.name} = {ind.numerator} ÷ {ind.denominator}（{base:,} 件；少于 {ind.min_sample} 件为{indicators.INSUFFICIENT}）"


def forecast_kpi(hit: dict | None) -> tuple:
    if not hit or hit.get("hit_rate") is None:
        return ("kpi-forecast", None, t("kpi.forecast_hit"), "—", "", t("kpi.forecast_hit.none"), "")
    hint = f"{t('kpi.forecast_hit.hint')} {hit['hits']:,}/{hit['incidents']:,}"
    return ("kpi-forecast", None, t("kpi.forecast_hit"), ui.pct(hit["hit_rate"]), "", hint, "")


def category_figure(rows: list[dict]) -> go.Figure:
    """The eight largest major categories of the window."""
    rows = rows[:8]
    return ui.category_figure([r["major_name"] for r in rows], [r["n"] for r in rows])


def trend_figure(rows: list[dict]) -> go.Figure:
    """The events other than disputes per day as bars, the disputes as the line over them."""
    return ui.trend_figure(
        [r["day"] for r in rows],
        [r["events"] for r in rows],
        [r["disputes"] for r in rows],
        (t("bigscreen.trend.events"), t("bigscreen.trend.disputes")),
        markers=True,
        daily=True,
    )


def level_figure(shares: dict) -> go.Figure:
    order = ["community", "town", "district"]
    fig = go.Figure(
        go.Pie(
            labels=[t(f"level.{k}") for k in order],
            values=[shares.get(k, 0) for k in order],
            hole=0.62,
            marker=dict(colors=["#38d39f", "#f5b82e", "#e8412c"]),
            sort=False,
            textinfo="label+percent",
            textposition="outside",
            texttemplate="%{label}<br>%{percent:.1%}",
        )
    )
    return ui.chart(fig)


def ranking_table(rows: list[dict]) -> html.Table:
    head = html.Tr(
        [
            html.Th("#"),
            html.Th(t("ranking.town")),
            html.Th(t("ranking.found")),
            html.Th(t("ranking.rate")),
            html.Th(t("ranking.overdue")),
        ]
    )
    last = len(rows) - 3
    body = [
        html.Tr(
            className="last" if i >= last else "",
            children=[
                html.Td(i + 1),
                html.Td(r["name"]),
                html.Td(f"{r['found']:,}"),
                html.Td(indicators.pct(r["rate"])),
                html.Td(r["overdue"], className="alert" if r["overdue"] else ""),
            ],
        )
        for i, r in enumerate(rows)
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="ranking")


def feed_item(r: dict) -> html.Div:
    tier = r.get("risk_tier")
    at = r["reported_at"].astimezone(CST)
    return html.Div(
        className="feed-item",
        id=f"feed-{r['id']}",
        children=[
            html.Span(t(f"tier.{tier}")[0] if tier else "·", className=f"badge {ui.TIER_CLASS.get(tier, '')}"),
            html.Div(
                className="feed-body",
                children=[
                    html.Div(
                        [
                            html.Span(r["title"], className="feed-title"),
                            html.Span(dashboard.feed_time(at), className="feed-time", title=f"{at:%Y-%m-%d %H:%M}"),
                        ]
                    ),
                    html.Div(
                        f"{r['town']} · {r['community']} · {t('source.' + r['source'])} · {t('status.' + r['status'])}",
                        className="feed-meta",
                    ),
                ],
            ),
        ],
    )


def grid_card(card: dict | None) -> list:
    if card is None:
        return [html.Div(t("empty"))]
    staff = [html.Li(f"{t('role.' + s['role'])} {s['name']} {mask_phone(s['phone'] or '')}") for s in card["staff"]]
    tier = card.get("tier")
    return [
        html.Div(
            className="card-head",
            children=[
                html.Div(card["name"], className="card-title"),
                html.Button("×", id="card-close", className="card-close", title=t("card.close")),
            ],
        ),
        html.Table(
            className="card-table",
            children=[
                html.Tbody(
                    [
                        html.Tr([html.Th(t("card.code")), html.Td(card["code"])]),
                        html.Tr([html.Th(t("card.community")), html.Td(f"{card['town']} {card['community']}")]),
                        html.Tr([html.Th(t("card.kind")), html.Td(t(f"kind.{card['kind']}"))]),
                        html.Tr(
                            [
                                html.Th(t("card.households")),
                                html.Td(
                                    f"{card['households']:,} {t('unit.households')} · {card['persons']:,} {t('unit.persons')}"
                                ),
                            ]
                        ),
                        html.Tr(
                            [
                                html.Th(t("card.open")),
                                html.Td(
                                    f"{card['open']} {t('unit.items')}"
                                    + (f"（{t('kpi.overdue')} {card['overdue']}）" if card["overdue"] else "")
                                ),
                            ]
                        ),
                        html.Tr(
                            [
                                html.Th(t("card.risk")),
                                html.Td(
                                    html.Span(
                                        t(f"tier.{tier}") if tier else t("tier.none"),
                                        className=f"badge wide {ui.TIER_CLASS.get(tier, '')}",
                                    )
                                ),
                            ]
                        ),
                    ]
                )
            ],
        ),
        html.Div(t("card.reasons"), className="card-sub"),
        html.Ul([html.Li(r) for r in (card.get("reasons") or [])] or [html.Li(t("empty"))], className="card-reasons"),
        *ui.forecast_rows(card.get("forecast")),
        html.Div(t("card.staff"), className="card-sub"),
        html.Ul(staff or [html.Li(t("card.no_staff"), className="alert")], className="card-staff"),
        dcc.Link(t("card.drill"), href=f"/drill?code={card['code']}", className="card-link"),
    ]


# --------------------------------------------------------------------------- layout


def layout(**_query):
    s = config.settings()
    with db.pooled() as conn:
        pending = welcome.not_ready(conn)
    if pending is not None:  # a new installation: what to do first, not an empty screen
        return html.Div(
            className="setup-screen",
            children=[
                html.Div(className="hdr", children=[html.H1(t("app.title")), nav.screen_menu("/"), account_box()]),
                welcome.setup_panel(pending, permitted(access.DATA_IMPORT)),
            ],
        )
    with db.reading() as conn:  # one connection, one snapshot: the versions tag what the panels show
        home = home_code(conn)
        j = home_unit(conn, dashboard.jurisdiction(conn), home)
        versions = dashboard.versions(conn)
        k = dashboard.kpis(conn, home)
        hit = forecast_store.last_week(conn)
        cats = dashboard.by_category(conn, home)
        tr = dashboard.trend(conn, home)
        levels = dashboard.level_shares(conn, home)
        ranking = dashboard.town_ranking(conn, home)
        items = dashboard.feed(conn, home)
        majors = db.rows(conn, "SELECT DISTINCT major_code, major_name FROM category ORDER BY major_code")
        caption = attribution.caption(conn)
    mc = map_config(LAYERS, s.basemap_url, s.basemap_attribution, caption)
    if j.get("xmin") is not None:
        mc["bounds"] = [[j["xmin"], j["ymin"]], [j["xmax"], j["ymax"]]]
    return html.Div(
        className="screen",
        children=[
            html.Div(
                className="hdr",
                children=[
                    html.Div(
                        className="hdr-side",
                        children=[
                            html.Span(t("bigscreen.subtitle")),
                            html.Span(t("synthetic"), className="tag") if j.get("synthetic") else None,
                        ],
                    ),
                    html.H1(t("bigscreen.title", name=j.get("name") or "")),
                    html.Div(
                        className="hdr-side right",
                        children=[
                            html.Span(id="clock", className="clock"),
                            html.Span(id="replica-lag", className="tag replica-lag"),
                            nav.screen_menu("/"),
                            account_box(),
                        ],
                    ),
                ],
            ),
            html.Div(
                className="kpis",
                children=[html.Div(id="kpis", className="kpis-cards", children=kpi_cards(k, hit)), alerts_screen.kpi()],
            ),
            html.Div(
                className="body",
                children=[
                    html.Div(
                        className="side",
                        children=[
                            ui.panel(
                                t("panel.category"),
                                dcc.Graph(id="fig-category", figure=category_figure(cats), config=ui.GRAPH_CONFIG),
                            ),
                            ui.panel(
                                t("panel.trend"), dcc.Graph(id="fig-trend", figure=trend_figure(tr), config=ui.GRAPH_CONFIG)
                            ),
                            ui.panel(
                                t("panel.level"), dcc.Graph(id="fig-level", figure=level_figure(levels), config=ui.GRAPH_CONFIG)
                            ),
                        ],
                    ),
                    html.Div(
                        className="mapwrap",
                        children=[
                            html.Div(id="map", className="map"),
                            html.Div(
                                className="map-controls",
                                children=[
                                    dcc.RadioItems(
                                        id="window",
                                        value="30",
                                        inline=True,
                                        className="seg",
                                        options=[
                                            {"label": t(f"window.{w}"), "value": w} for w in ("1", "7", "30", "90", "custom")
                                        ],
                                    ),
                                    dcc.DatePickerRange(
                                        id="custom-dates",
                                        display_format="YYYY-MM-DD",
                                        className="dates",
                                        start_date=None,
                                        end_date=None,
                                        style={"display": "none"},
                                    ),
                                    dcc.Dropdown(
                                        labels=labels.DROPDOWN_LABELS,
                                        id="major",
                                        placeholder=t("map.category.all"),
                                        className="major",
                                        clearable=True,
                                        options=[{"label": m["major_name"], "value": m["major_code"]} for m in majors],
                                    ),
                                ],
                            ),
                            html.Div(
                                className="map-layers",
                                children=[
                                    html.Div(t("map.layers"), className="panel-title"),
                                    dcc.Checklist(
                                        id="visible-layers",
                                        className="layer-list",
                                        options=[{"label": layer["label"], "value": layer["id"]} for layer in mc["layers"]],
                                        value=[layer["id"] for layer in mc["layers"] if layer["visible"]],
                                    ),
                                    html.Div(id="legend", className="legend"),
                                ],
                            ),
                            html.Div(id="grid-card", className="grid-card", style={"display": "none"}),
                            alerts_screen.overlay(),
                        ],
                    ),
                    html.Div(
                        className="side",
                        children=[
                            ui.panel(
                                t("panel.ranking"), html.Div(id="ranking", children=ranking_table(ranking)), "ranking-panel"
                            ),
                            ui.panel(
                                t("panel.feed"),
                                html.Div(id="feed", className="feed", children=[feed_item(r) for r in items]),
                                "feed-panel",
                            ),
                        ],
                    ),
                ],
            ),
            dcc.Interval(id="tick", interval=int(s.live_seconds * 1000)),
            dcc.Store(id="versions", data=versions),
            dcc.Store(id="map-config", data=mc),
            dcc.Store(id="feed-last", data=feed_signature(items)),
            dcc.Store(id="grid-click"),
            dcc.Store(id="map-state"),
            *alerts_screen.stores(),
        ],
    )


dash.register_page(__name__, path="/", title=t("app.title"), name=t("nav.bigscreen"), order=0, layout=layout)


# --------------------------------------------------------------------------- callbacks


@callback(Output("versions", "data"), Input("tick", "n_intervals"), State("versions", "data"), prevent_initial_call=True)
def poll(_n, known):
    """The data versions, the same for every screen that polls within one VERSIONS_EPOCH_S of
    the clock (issue #17): read once per worker and epoch. Without it, a burst of writes
    gives each of fifty polling screens slightly different versions, and so fifty panel
    computations and fifty renderings of every tile that moved; with it, they ask for the
    same keys, which the caches compute once. The price: a change reaches a polling screen
    up to VERSIONS_EPOCH_S later (pushed screens do not poll). Never older than what the page
    shows, name by name (a tile keyed by an older version could be an older tile)."""
    epoch = int(time.time() // VERSIONS_EPOCH_S)
    published = _published.get((db.pool().url, epoch), lambda: _versions_now(known))
    current = dashboard.newest_versions(published, known)
    return no_update if current == known else current


VERSIONS_EPOCH_S = 2
_published = LRU(8)


def _versions_now(known):
    # a replica behind the page's versions is passed over
    with db.reading(at_least=known) as conn:
        return dashboard.versions(conn)


@callback(Output("replica-lag", "children"), Input("tick", "n_intervals"), prevent_initial_call=True)
def replica_lag(_n):
    """The replicas' lag, shown only when it passes a few seconds (what this worker last saw; no query)."""
    lag = read_routing.lag_to_show()
    return "" if lag is None else t("replica.lag", seconds=round(lag))


@callback(
    Output("kpis", "children"),
    Output("fig-category", "figure"),
    Output("fig-trend", "figure"),
    Output("fig-level", "figure"),
    Output("ranking", "children"),
    Input("versions", "data"),
    prevent_initial_call=True,
)
def refresh_panels(versions):
    """The panels at `versions`, computed once per worker for every screen of the same scope
    that asks within the same PANELS_CLOCK_S (issue #17): after a write fifty screens ask at
    once, and the single flight of geo.cache.LRU makes the other forty-nine wait for the first
    one's answer instead of repeating it. Exact for the data (every screen asking with these
    versions asks after they were committed, so the answer is at least that new); the clock's
    figures (overdue, today) are at most PANELS_CLOCK_S old."""
    key = (db.pool().url, db.scope_key(), json.dumps(versions, sort_keys=True, default=str), int(time.time() // PANELS_CLOCK_S))
    return _panels.get(key, lambda: _panels_now(versions))


PANELS_CLOCK_S = 5
_panels = LRU(64)


def _panels_now(versions=None):
    # at_least: the entry is kept under `versions`, so it must not be read where they have not arrived yet
    with db.reading(at_least=versions) as conn:
        home = home_code(conn)
        return (
            kpi_cards(dashboard.kpis(conn, home), forecast_store.last_week(conn)),
            category_figure(dashboard.by_category(conn, home)),
            trend_figure(dashboard.trend(conn, home)),
            level_figure(dashboard.level_shares(conn, home)),
            ranking_table(dashboard.town_ranking(conn, home)),
        )


def feed_signature(items: list[dict]) -> list:
    """What the feed shows that can change: which incidents, in which status."""
    return [[r["id"], r["status"], r.get("risk_tier")] for r in items]


@callback(
    Output("feed", "children"),
    Output("feed-last", "data"),
    Input("versions", "data"),
    State("feed-last", "data"),
    prevent_initial_call=True,
)
def refresh_feed(versions, shown):
    """Re-read the feed when data changed and replace it if any item or status differs; read
    once per worker for every screen of the same scope at the same versions (as the panels)."""
    key = (db.pool().url, db.scope_key(), json.dumps(versions, sort_keys=True, default=str), int(time.time() // PANELS_CLOCK_S))
    items = _feeds.get(key, lambda: _feed_now(versions))
    signature = feed_signature(items)
    if signature == shown:
        return no_update, no_update
    return [feed_item(r) for r in items], signature


_feeds = LRU(64)


def _feed_now(versions):
    with db.reading(at_least=versions) as conn:
        return dashboard.feed(conn, home_code(conn))


@callback(Output("grid-card", "children"), Output("grid-card", "style"), Input("grid-click", "data"), prevent_initial_call=True)
def show_grid(click):
    if not click or not click.get("code"):
        return no_update, {"display": "none"}
    with db.reading() as conn:
        card = dashboard.grid_card(conn, click["code"])
        if card is not None:
            card = dict(card, forecast=forecast_store.grid_forecast(conn, click["code"]))
    return grid_card(card), {"display": "block"}


@callback(Output("grid-card", "style", allow_duplicate=True), Input("card-close", "n_clicks"), prevent_initial_call=True)
def close_card(n_clicks):
    # The button is created with the card; Dash may call this as it mounts (n_clicks None).
    return {"display": "none"} if n_clicks else no_update


@callback(Output("custom-dates", "style"), Input("window", "value"))
def toggle_dates(window):
    return {"display": "inline-block"} if window == "custom" else {"display": "none"}


clientside_callback(
    ClientsideFunction(namespace="quanyu", function_name="render"),
    Output("map-state", "data"),
    Input("map-config", "data"),
    Input("window", "value"),
    Input("custom-dates", "start_date"),
    Input("custom-dates", "end_date"),
    Input("major", "value"),
    Input("visible-layers", "value"),
    Input("versions", "data"),
)
