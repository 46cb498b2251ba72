"""研判: drill from the city down to one grid and one incident; hotspots, trends and rankings.

A leader asks "where, why, is it getting worse, who is lagging?". Every level (city,
district, town/street, community/village, grid, incident) shows the same panels, so the
answers compare; a click on a child (map or table) goes one level down, the breadcrumb
goes back up.

The view (place, window, category, measure, map mode) lives in the URL, parsed by
geo.web.api.analysis.parse_view, so a shared or reloaded link shows the same page. The
page's own dcc.Location (refresh=False) writes the URL without waking Dash's page router:
a click re-sends the panels, not the whole page, and the map stays alive; the browser's
back button goes through the router and re-renders the view from the URL.
"""

from __future__ import annotations

import base64
import functools
from datetime import date
from urllib.parse import parse_qsl

import dash
import numpy as np
import plotly.graph_objects as go
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from geo import cache, db, labels
from geo.analysis import attribution, dashboard, drill, drill_geo, indicators, rankings
from geo.forecast import store as forecast_store
from geo.labels import t
from geo.security import access, accounts
from geo.security.masking import mask_phone
from geo.web import ui
from geo.web.api.analysis import MEASURES, parse_view, view_query
from geo.web.auth import permitted
from geo.web.frame import frame
from geo.web.home import home_code, unit_code
from geo.worktime import CST

PATH = "/drill"
# The page's panels: drill.css styles them, and the body sits in a div of its own (it scrolls).
drill_panel = functools.partial(ui.panel, kind="drill-panel", wrap=True)
INCIDENT_LIMIT = 50
RESULTS_KEPT = 24
MODES = ("measure", "gi", "moran", "emerging")
CLASSES = 5
RAMP = ("#fff3b0", "#fdc966", "#f98e3f", "#e8412c", "#a50f15")  # more incidents → darker red
RAMP_GOOD = ("#a50f15", "#e8412c", "#f9a24c", "#8fd19e", "#2e9e5b")  # a higher resolution rate is better
NO_DATA = "#4a5a6a"
GI_COLORS = {3: "#d62f27", 2: "#ed7551", 1: "#fab984", -1: "#c0ccbe", -2: "#849eba", -3: "#4575b5"}
GI_LABELS = {3: "热点 99%", 2: "热点 95%", 1: "热点 90%", -1: "冷点 90%", -2: "冷点 95%", -3: "冷点 99%"}
MORAN_COLORS = {"HH": "#d7191c", "HL": "#fdae61", "LH": "#abd9e9", "LL": "#2c7bb6"}
EMERGING_COLORS = {
    "new_hot": "#ff4fd8",
    "intensifying_hot": "#b2182b",
    "persistent_hot": "#e8412c",
    "diminishing_hot": "#f4a582",
    "sporadic_hot": "#ffd27f",
    "consecutive_hot": "#ff7f50",
    "oscillating_hot": "#c994ff",
    "historical_hot": "#9e9e9e",
    "new_cold": "#7fd3ff",
    "intensifying_cold": "#08519c",
    "persistent_cold": "#3182bd",
    "diminishing_cold": "#9ecae1",
    "sporadic_cold": "#c6dbef",
    "consecutive_cold": "#6baed6",
    "oscillating_cold": "#b3b3ff",
    "historical_cold": "#bdbdbd",
}
LISTED_PATTERNS = (
    "new_hot",
    "intensifying_hot",
    "persistent_hot",
    "diminishing_hot",
    "sporadic_hot",
    "consecutive_hot",
    "oscillating_hot",
)
POINT_COLORS = {"high": "#e8412c", "medium": "#f5b82e", "low": "#5fa8e8", "none": "#9fb3c8"}  # as assets/drill.js


# --------------------------------------------------------------------------- the view in the URL


def page_view(args: dict) -> dict:
    """The view of a query string: parse_view's keys plus the page's own (incident, map, fdr, kde)."""
    view = parse_view(args)
    incident = args.get("incident")
    if incident not in (None, "") and not str(incident).isdigit():
        raise ValueError(f"an incident id is a number, not {incident!r}")
    mode = args.get("map") or "measure"
    if mode not in MODES:
        raise ValueError(f"map must be one of {MODES}")
    quarter = args.get("quarter") or None
    if quarter is not None:
        rankings.quarter_window(str(quarter))  # refuses anything but 2026Q3
        quarter = str(quarter).upper()
    return dict(
        view,
        quarter=quarter,
        incident=int(incident) if incident else None,
        map=None if mode == "measure" else mode,
        fdr="1" if str(args.get("fdr", "")) in ("1", "true") else None,
        kde="1" if str(args.get("kde", "")) in ("1", "true") else None,
    )


def search_of(view: dict) -> str:
    return "?" + view_query(view)


def view_of_search(search: str | None) -> dict:
    return page_view(dict(parse_qsl((search or "").lstrip("?"))))


# --------------------------------------------------------------------------- classes and colours


def stepped_scale(values: list, measure: str) -> tuple[list[str], list[dict]]:
    """Colours of `values` on a quantile scale of up to five steps, and the legend.

    Quantile breaks (as mapclassify's Quantiles) because incident counts are skewed: equal
    intervals would paint one busy town red and everything else the same pale yellow.
    """
    ramp = RAMP_GOOD if measure == "resolution_rate" else RAMP
    present = np.array([v for v in values if v is not None], dtype=float)
    if not present.size:
        return [NO_DATA] * len(values), [dict(color=NO_DATA, label=t("drill.legend.none"))]
    breaks = np.unique(np.quantile(present, np.linspace(0, 1, CLASSES + 1)[1:]))
    colors_used = [ramp[round(k * (CLASSES - 1) / max(len(breaks) - 1, 1))] for k in range(len(breaks))]
    colors = [NO_DATA if v is None else colors_used[int(np.searchsorted(breaks, v))] for v in values]
    legend = [dict(color=colors_used[k], label=f"≤ {fmt_measure(upper, measure)}") for k, upper in enumerate(breaks)]
    if any(v is None for v in values):
        legend.append(dict(color=NO_DATA, label=t("drill.legend.none")))
    return colors, legend


def fmt_measure(value, measure: str) -> str:
    if value is None:
        return indicators.INSUFFICIENT if measure == "resolution_rate" else "—"
    if measure == "resolution_rate":
        return ui.pct(value)
    if measure == "per_1000_households":
        return f"{value:.1f}"
    return f"{value:,.0f}"


# --------------------------------------------------------------------------- data of one view


def view_data(conn, view: dict) -> dict:
    """Everything the page shows for `view` (one consistent snapshot)."""
    code = view["code"]
    window = (view["start"], view["end"], view["major"])
    detail = drill_geo.incident_detail(conn, view["incident"]) if view["incident"] else None
    if detail is not None and code != detail["grid_code"] and detail["grid_code"]:
        code = view["code"] = detail["grid_code"]
    level = drill.level_of(code)
    data = dict(
        view=view,
        level=level,
        breadcrumb=drill.breadcrumb(conn, code),
        summary=drill.summary(conn, code, *window),
        current=indicators.current_open(conn, code),
        trend=drill.trend(conn, code, *window, view["bucket"]),
        top=drill.top_categories(conn, code, view["start"], view["end"]),
        incidents=drill.incidents(conn, code, *window, limit=INCIDENT_LIMIT),
        detail=detail,
        children=[] if level == "grid" else drill.children(conn, code, *window),
        shapes=drill_geo.child_shapes(conn, code),
        bounds=drill_geo.bounds(conn, code),
        attribution=attribution.caption(conn),
    )
    data.update(hotspot_data(conn, view, code, level))
    return data


_results = cache.LRU(RESULTS_KEPT)


def jurisdiction_wide(conn, fn, *args, **kwargs):
    """fn(conn, *args) remembered until the incidents or grids change.

    Gi*, Local Moran and the emerging patterns are computed over every grid of the
    jurisdiction, whatever unit is shown: while a leader clicks down with the same window,
    they are the same numbers, so each click reuses them instead of recomputing.
    """
    versions = dashboard.versions(conn)
    info = conn.get_dsn_parameters()
    key = (
        info.get("port"),
        info.get("dbname"),
        versions.get("incident"),
        versions.get("grid"),
        fn.__module__,
        fn.__name__,
        args,
        tuple(sorted(kwargs.items())),
        db.scope_key(),
    )
    return _results.get(key, lambda: fn(conn, *args, **kwargs))


def hotspot_data(conn, view: dict, code: str, level: str) -> dict:
    """Gi*, Local Moran and emerging patterns of the grids; the listed ones inside the unit."""
    from geo.analysis import emerging, hotspots
    from geo.risk import tiers as risk

    window = (view["start"], view["end"], view["major"])
    gi = jurisdiction_wide(conn, hotspots.gi_star, *window, fdr=bool(view["fdr"]))
    moran = jurisdiction_wide(conn, hotspots.local_moran, *window) if view["map"] == "moran" else None
    trend = jurisdiction_wide(conn, emerging.emerging, view["end"], 26, view["major"])
    prefix = drill_geo.grid_prefix(code)
    names = drill_geo.grid_names(conn, prefix)
    mine = trend[trend["code"].str.startswith(prefix) & trend["pattern"].isin(LISTED_PATTERNS)].merge(
        gi[["code", "z"]], on="code"
    )  # z over the window; last_z is the latest week's
    mine["order"] = mine["pattern"].map({p: k for k, p in enumerate(LISTED_PATTERNS)})
    listed = [
        dict(r, name=names.get(r["code"], r["code"]))
        for r in mine.sort_values(["order", "last_z"], ascending=[True, False]).to_dict(orient="records")
    ]
    why = None
    if level == "grid":
        row = gi[gi["code"] == code].to_dict(orient="records")
        pattern = trend[trend["code"] == code].to_dict(orient="records")
        why = dict(
            gi=row[0] if row else None,
            emerging=pattern[0] if pattern else None,
            risk=risk.grid_risk(conn, code),
            forecast=forecast_store.grid_forecast(conn, code),
            staff=dashboard.grid_staff(conn, code),
        )
    return dict(gi=gi, moran=moran, emerging=trend, listed=listed, why=why)


def ranking_key(view: dict) -> str:
    """Quarter, month and district of the rankings a view shows: '2026Q4 2026-11 620802'."""
    end = view["end"]
    scope = drill_geo.grid_prefix(view["code"])[:6]
    if view.get("quarter"):  # chosen in the panel: its 月调度 is its last month, or this month while it runs
        first, last = rankings.quarter_window(view["quarter"])
        month = min(last, max(first, end))
        return f"{view['quarter']} {month:%Y-%m} {scope}"
    return f"{end.year}Q{(end.month - 1) // 3 + 1} {end:%Y-%m} {scope}"


def recent_quarters(today: date | None = None, n: int = 8) -> list[str]:
    """The quarter of today and the n - 1 before it, newest first: the 季通报 one can pick."""
    today = today or date.today()
    year, q = today.year, (today.month - 1) // 3 + 1
    out = []
    for _ in range(n):
        out.append(f"{year}Q{q}")
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    return out


def ranking_data(conn, view: dict) -> dict:
    """The 季通报 of the quarter and the 月调度 of the month the view ends in, over the district."""
    quarter, month, scope = ranking_key(view).split()
    return dict(report=rankings.quarterly(conn, quarter, scope=scope), month=rankings.monthly(conn, month, scope=scope))


def density_overlay(conn, view: dict, bounds) -> dict | None:
    """The KDE of the window/category over the unit, as a PNG data URL and its corners."""
    from geo.analysis import density

    if not bounds:
        return None
    (west, south), (east, north) = bounds
    pad = max(east - west, north - south) * 0.05
    surface = density.kde(
        conn, view["start"], view["end"], view["major"], bbox=(west - pad, south - pad, east + pad, north + pad)
    )
    w, s, e, n = surface["bounds_lonlat"]
    url = "data:image/png;base64," + base64.b64encode(drill_geo.density_png(surface["density"])).decode()
    return dict(url=url, coordinates=[[w, n], [e, n], [e, s], [w, s]], bandwidth_m=surface["bandwidth_m"])


# --------------------------------------------------------------------------- map data


def map_data(data: dict, density: dict | None) -> dict:
    """What assets/drill.js draws: children coloured by the measure, points, hotspot colours."""
    view, level = data["view"], data["level"]
    measure = view["measure"]
    by_code = {c["code"]: c for c in data["children"] if c["code"]}
    values = [by_code.get(f["properties"]["code"], {}).get(measure) for f in data["shapes"]["features"]]
    colors, legend = stepped_scale(values, measure)
    features = []
    for f, value, color in zip(data["shapes"]["features"], values, colors):
        props = dict(f["properties"], value=fmt_measure(value, measure), color=color if level != "grid" else NO_DATA)
        features.append(dict(f, properties=props))
    points = (
        [
            dict(
                type="Feature",
                geometry=dict(type="Point", coordinates=[r["lon"], r["lat"]]),
                properties=dict(
                    id=r["id"],
                    name=r["title"],
                    tier=r["risk_tier"] or "none",
                    status=r["status"],
                    selected=bool(view["incident"] == r["id"]),
                ),
            )
            for r in data["incidents"]
        ]
        if level == "grid"
        else []
    )
    mode = view["map"] or "measure"
    hot, hot_legend = hot_colors(data, mode)
    if level == "grid":
        legend = [dict(color=c, label=t(f"tier.{k}")) for k, c in POINT_COLORS.items()]
    return dict(
        level=level,
        bounds=data["bounds"],
        attribution=data.get("attribution", ""),
        mode=mode,
        drillable=level != "grid",
        children=dict(type="FeatureCollection", features=features),
        points=dict(type="FeatureCollection", features=points),
        hot=hot,
        density=density,
        selected=view["code"] if level == "grid" else None,
        # names the page draws itself (the units shown and the trail above them): the basemap's
        # place names skip them, or 崆峒区 stood inside 崆峒区 as if it were one of its parts
        named=sorted({n for _, n, _ in data["breadcrumb"]} | {f["properties"].get("name") for f in features} - {None}),
        legend=hot_legend if mode != "measure" else legend,
        legend_title=(
            t(f"drill.mode.{mode}")
            if mode != "measure"
            else t("drill.legend.points")
            if level == "grid"
            else t(f"drill.measure.{measure}")
        ),
    )


def hot_colors(data: dict, mode: str) -> tuple[dict, list]:
    """{grid code: colour} of the significant grids for the hotspot modes, and the legend."""
    if mode == "gi":
        gi = data["gi"][data["gi"]["bin"] != 0]
        return (
            {c: GI_COLORS[b] for c, b in zip(gi["code"], gi["bin"])},
            [dict(color=GI_COLORS[b], label=GI_LABELS[b]) for b in (3, 2, 1, -1, -2, -3)],
        )
    if mode == "moran" and data["moran"] is not None:
        from geo.analysis.hotspots import MORAN_LABELS

        m = data["moran"][data["moran"]["quadrant"] != "ns"]
        return (
            {c: MORAN_COLORS[q] for c, q in zip(m["code"], m["quadrant"])},
            [dict(color=MORAN_COLORS[q], label=MORAN_LABELS[q]) for q in MORAN_COLORS],
        )
    if mode == "emerging":
        from geo.analysis.emerging import LABELS as PATTERN_LABELS

        e = data["emerging"][data["emerging"]["pattern"] != "none"]
        shown = [p for p in EMERGING_COLORS if p in set(e["pattern"])]
        return (
            {c: EMERGING_COLORS[p] for c, p in zip(e["code"], e["pattern"])},
            [dict(color=EMERGING_COLORS[p], label=PATTERN_LABELS[p]) for p in shown],
        )
    return {}, []


# --------------------------------------------------------------------------- pieces


def go_link(view: dict, label, cls: str = "drill-go", code: str | None = None, incident: int | None = None) -> html.A:
    """A real link to the view one click away (opens in a new tab too); assets/drill.js turns a
    plain click into a "drill-click" so that the page is updated in place, not reloaded.

    Plain links with data attributes instead of pattern-matching buttons: a district's page
    holds a few hundred of them, and Dash's renderer slows down by seconds with that many
    pattern-matching inputs.
    """
    target = dict(view, code=code or view["code"], incident=incident)
    attrs = {"data-code": code} if incident is None else {"data-incident": str(incident)}
    return html.A(label, href=PATH + search_of(target), className=cls, **attrs)


def breadcrumb(data: dict) -> list:
    items = []
    for code, name, level in data["breadcrumb"]:
        items.append(html.Span(t(f"drill.level.{level}"), className="crumb-level"))
        current = code == data["view"]["code"] and not data["detail"]
        items.append(go_link(data["view"], name, "crumb current" if current else "crumb", code=code))
        items.append(html.Span("›", className="crumb-sep"))
    if data["detail"]:
        items += [
            html.Span(t("drill.level.incident"), className="crumb-level"),
            html.Span(f"#{data['detail']['id']} {data['detail']['title']}", className="crumb current", id="crumb-incident"),
        ]
    else:
        items.pop()
    return items


KPI_KEYS = ("incidents", "per_1000_households", "resolution_rate", "open", "overdue", "high_risk", "households")


def kpi_value(summary: dict, key: str) -> str:
    return fmt_measure(summary[key], key) if key in MEASURES else f"{summary[key]:,}"


def kpi_caption(key: str, view: dict) -> str:
    """The window a KPI is read over, as on the big screen: 在办/超期 are as of now (the same
    numbers as the big screen's), the others over the chosen days."""
    if key in ("open", "overdue"):
        return indicators.caption(key)
    if key == "households":
        return "当前"
    return indicators.window_caption(view["start"], view["end"])


def kpis(summary: dict, current: dict | None = None, view: dict | None = None) -> list:
    """The unit's KPIs; 在办 and 超期 are the current ones (indicators.current_open) when given."""
    values = dict(summary, **(current or {}))
    return [
        html.Div(
            className="drill-kpi" + (" alert" if key in ("overdue", "high_risk") and values[key] else ""),
            title=(indicators.INDICATORS[key].numerator if key in indicators.INDICATORS else "")
            + (
                f"（{indicators.INDICATORS[key].denominator}：{summary.get('disputes', 0):,} 件）"
                if key == "resolution_rate"
                else ""
            ),
            children=[
                html.Div(t(f"drill.kpi.{key}"), className="kpi-label"),
                html.Div(kpi_value(values, key), className="kpi-value", id=f"drill-kpi-{key}"),
                html.Div(kpi_caption(key, view) if view else "", className="kpi-window", id=f"drill-kpi-window-{key}"),
            ],
        )
        for key in KPI_KEYS
    ]


TREND_TICKS = {"day": "%m-%d", "week": "%m-%d", "month": "%Y-%m"}  # numbers, not "Nov 15"


def trend_figure(rows: list[dict], bucket: str = "day") -> go.Figure:
    """Incidents per period, the open ones as the line over them; dates in numbers."""
    return ui.trend_figure(
        [r["period"] for r in rows],
        [r["incidents"] for r in rows],
        [r["open"] for r in rows],
        (t("drill.kpi.incidents"), t("drill.kpi.open")),
        font_size=12,
        margin=6,
        tickformat=TREND_TICKS.get(bucket, "%m-%d"),
    )


def category_figure(rows: list[dict]) -> go.Figure:
    """The top minor categories, each with the department it goes to."""
    return ui.category_figure(
        [r["minor_name"] for r in rows],
        [r["incidents"] for r in rows],
        notes=[r["department"] for r in rows],
        outside=True,
        font_size=12,
        margin=6,
    )


def children_table(data: dict) -> html.Table:
    head = html.Tr([html.Th(t(f"drill.col.{k}")) for k in ("name", "incidents", "per_1000", "rate", "overdue", "high")])
    body = []
    for c in data["children"]:
        name = go_link(data["view"], c["name"], code=c["code"]) if c["code"] else html.Span(c["name"], className="muted")
        body.append(
            html.Tr(
                [
                    html.Td(name),
                    html.Td(f"{c['incidents']:,}"),
                    html.Td(fmt_measure(c["per_1000_households"], "per_1000_households")),
                    html.Td(indicators.pct(c["resolution_rate"])),
                    html.Td(c["overdue"], className="alert" if c["overdue"] else ""),
                    html.Td(c["high_risk"]),
                ]
            )
        )
    return html.Table([html.Thead(head), html.Tbody(body)], className="drill-table", id="drill-children-table")


def incident_table(data: dict) -> html.Div:
    head = html.Tr([html.Th(t(f"drill.col.{k}")) for k in ("time", "title", "category", "status")])
    body = [
        html.Tr(
            className="selected" if data["view"]["incident"] == r["id"] else "",
            children=[
                html.Td(r["reported_at"].astimezone(CST).strftime("%m-%d %H:%M")),
                html.Td(go_link(data["view"], r["title"], incident=r["id"])),
                html.Td(r["minor_name"]),
                html.Td(
                    html.Span(t(f"status.{r['status']}"), className=f"status {'st-' + r['risk_tier'] if r['risk_tier'] else ''}")
                ),
            ],
        )
        for r in data["incidents"]
    ]
    note = (
        html.Div(t("drill.more", n=INCIDENT_LIMIT), className="muted small") if len(data["incidents"]) >= INCIDENT_LIMIT else None
    )
    return html.Div([html.Table([html.Thead(head), html.Tbody(body)], className="drill-table", id="drill-incident-table"), note])


def incident_detail(d: dict | None) -> list:
    if d is None:
        return []
    when = lambda v: v.astimezone(CST).strftime("%Y-%m-%d %H:%M") if v else "—"  # noqa: E731
    rows = [
        ("reported", when(d["reported_at"])),
        ("category", f"{d['major_name']} / {d['minor_name']}"),
        ("department", d["department"]),
        ("source", t(f"source.{d['source']}")),
        ("people", "—" if d["people_involved"] is None else d["people_involved"]),
        ("status", t(f"status.{d['status']}")),
        ("deadline", when(d["deadline"])),
        ("closed", when(d["closed_at"])),
        ("level", t(f"level.{d['level_handled']}") if d["level_handled"] else "—"),
        ("address", d["address"] or "—"),
        ("grid", f"{d['grid_name'] or '—'} {d['grid_code'] or ''}"),
        ("risk", t(f"tier.{d['risk_tier']}") if d["risk_tier"] else t("tier.none")),
        ("satisfaction", d["satisfaction"] if d["satisfaction"] is not None else "—"),
    ]
    history = [
        html.Tr([html.Td(when(h["at"])), html.Td(t(f"status.{h['to_status']}")), html.Td(h["actor"]), html.Td(h["note"] or "")])
        for h in d["history"]
    ]
    return [
        html.Div(f"{t('drill.detail.title')} #{d['id']}", className="card-title"),
        html.Div(d["title"], className="detail-title"),
        html.Table(
            html.Tbody([html.Tr([html.Th(t(f"drill.detail.{k}")), html.Td(v)]) for k, v in rows]), className="detail-table"
        ),
        html.Div(", ".join(d["risk_reasons"] or []), className="muted small") if d["risk_reasons"] else None,
        html.Div(t("drill.detail.history"), className="card-sub"),
        html.Table(html.Tbody(history), className="detail-table history", id="drill-history"),
    ]


def emerging_list(data: dict) -> list:
    from geo.analysis.emerging import LABELS as PATTERN_LABELS

    if not data["listed"]:
        return [html.Div(t("drill.empty"), className="muted")]
    out = []
    for pattern in LISTED_PATTERNS:
        items = [r for r in data["listed"] if r["pattern"] == pattern]
        if not items:
            continue
        out.append(
            html.Div(
                [
                    html.Span(className="swatch", style={"background": EMERGING_COLORS[pattern]}),
                    f"{PATTERN_LABELS[pattern]}（{len(items)}）",
                ],
                className="pattern-head",
            )
        )
        out += [
            go_link(
                data["view"],
                [html.Span(r["name"]), html.Span(f"z {r['last_z']:.2f}", className="muted")],
                "drill-go hot-item",
                code=r["code"],
            )
            for r in items[:8]
        ]
    return out


def why_hot(why: dict | None) -> list:
    """The grid level's answer to "why is it hot, is it getting worse"."""
    if why is None:
        return []
    from geo.analysis.emerging import LABELS as PATTERN_LABELS
    from geo.analysis.hotspots import BIN_LABELS

    gi, em, rk = why["gi"] or {}, why["emerging"] or {}, why["risk"] or {}
    trend_word = (
        "drill.trend.up"
        if em.get("trend_p", 1) < 0.05 and em.get("trend_z", 0) > 0
        else "drill.trend.down"
        if em.get("trend_p", 1) < 0.05
        else "drill.trend.flat"
    )
    rows = [
        ("gi.z", f"{gi['z']:.2f}" if gi else "—"),
        ("gi.p", f"{gi['p']:.4f}" if gi else "—"),
        ("gi.bin", BIN_LABELS.get(gi.get("bin"), "—")),
        ("emerging.pattern", PATTERN_LABELS.get(em.get("pattern"), "—")),
        ("emerging.weeks", em.get("hot_weeks", "—")),
        ("emerging.trend", f"{t(trend_word)}（z {em['trend_z']:.2f}, p {em['trend_p']:.3f}）" if em else "—"),
        (
            "risk.tier",
            html.Span(
                t(f"tier.{rk['tier']}") if rk.get("tier") else t("tier.none"),
                className=f"badge {ui.TIER_CLASS.get(rk.get('tier'), '')}",
            ),
        ),
    ]
    return [
        html.Table(
            html.Tbody([html.Tr([html.Th(t(f"drill.{k}")), html.Td(v, id=f"drill-why-{k.replace('.', '-')}")]) for k, v in rows]),
            className="detail-table",
        ),
        html.Div(t("drill.risk.reasons"), className="card-sub"),
        html.Ul([html.Li(r) for r in (rk.get("reasons") or [])] or [html.Li(t("drill.empty"))], className="why-reasons"),
        # who answers for the grid: the leader's next call after "why is it hot"
        html.Div(t("card.staff"), className="card-sub"),
        html.Ul(
            [html.Li(f"{t('role.' + s['role'])} {s['name']} {mask_phone(s['phone'] or '')}") for s in why.get("staff") or []]
            or [html.Li(t("card.no_staff"), className="alert")],
            className="why-staff",
            id="drill-staff",
        ),
        *ui.forecast_rows(why.get("forecast")),
    ]


def ranking_panel(r: dict) -> list:
    report, month = r["report"], r["month"]

    def table(rows, key):
        head = html.Tr(
            [
                html.Th(t("drill.col.rank")),
                html.Th(t(f"drill.col.{key}")),
                html.Th(t("drill.col.found")),
                html.Th(t("drill.col.rate")),
                html.Th(t("drill.col.rate_rank")),
            ]
        )
        body = [
            html.Tr(
                className="last" if x["last_found"] or x["last_rate"] else "",
                children=[
                    html.Td(x["rank_found"]),
                    html.Td(x["name"]),
                    html.Td([f"{x['found']:,}", html.Span(t("drill.last"), className="flag") if x["last_found"] else None]),
                    html.Td(
                        [
                            indicators.pct(x["resolution_rate"]),
                            html.Span(t("drill.last"), className="flag") if x["last_rate"] else None,
                        ]
                    ),
                    html.Td(x["rank_rate"] or "—"),
                ],
            )
            for x in rows
        ]
        return html.Div(
            html.Table([html.Thead(head), html.Tbody(body)], className="drill-table ranking", id=f"drill-rank-{key}"),
            className="rank-scroll",
        )

    change = month["change_found"]
    figures = [
        ("found", f"{month['found']:,}"),
        ("change", "—" if change is None else f"{change * 100:+.1f}%"),
        ("rate", indicators.pct(month["resolution_rate"])),
        ("open", f"{month['open']:,}"),
        ("overdue", f"{month['overdue']:,}"),
        ("escalated", f"{month['escalated']:,}"),
        ("community_share", indicators.pct(month["share_at_community"])),
    ]
    return [
        html.Div(
            className="rank-head",
            children=[
                html.Div(t("drill.rankings.quarter", quarter=report["quarter"]), className="panel-title"),
                dcc.Dropdown(
                    labels=labels.DROPDOWN_LABELS,
                    id="drill-quarter",
                    value=report["quarter"],
                    clearable=False,
                    searchable=False,
                    className="drill-quarter",
                    options=[
                        {"label": q, "value": q} for q in sorted(set(recent_quarters()) | {report["quarter"]}, reverse=True)
                    ],
                ),
                html.Button(t("drill.export"), id="drill-export", n_clicks=0, className="btn"),
            ],
        ),
        html.Div(
            className="rank-tables",
            children=[
                table(report["towns"], "towns"),
                table(report["departments"], "departments"),
                html.Div(
                    className="monthly",
                    id="drill-monthly",
                    children=[
                        html.Div(t("drill.monthly.title", month=month["month"]), className="panel-title"),
                        html.Div(
                            [
                                html.Div(
                                    [
                                        html.Div(t(f"drill.monthly.{k}"), className="kpi-label"),
                                        html.Div(v, className="kpi-value"),
                                    ],
                                    className="drill-kpi",
                                )
                                for k, v in figures
                            ],
                            className="monthly-figures",
                        ),
                        html.Ul(
                            [
                                html.Li(f"{x['name']}：{t('drill.monthly.overdue')} {x['overdue']}")
                                for x in month["overdue_by_town"][:5]
                            ],
                            className="why-reasons",
                        ),
                    ],
                ),
            ],
        ),
    ]


def legend(md: dict) -> list:
    return [html.Div(md["legend_title"], className="legend-title")] + [
        html.Div([html.Span(className="swatch", style={"background": i["color"]}), html.Span(i["label"])], className="legend-row")
        for i in md["legend"]
    ]


# --------------------------------------------------------------------------- layout


def rankings_or_note(conn, view: dict):
    """The 季通报 for roles that may read reports (like /api/rankings), a note for the others."""
    if not permitted(access.REPORT):
        return html.P(t("drill.rankings.denied"), className="muted")
    return ranking_panel(ranking_data(conn, view))


def contents(conn, view: dict, shown_rankings: str | None = None) -> dict:
    """The children of every view-dependent component, by id (the layout and the callback share it).

    The rankings depend only on the quarter and the district: while a leader clicks down they
    stay as they are (no_update) instead of being recomputed and re-sent.
    """
    data = view_data(conn, view)
    same = shown_rankings == ranking_key(data["view"])
    density = density_overlay(conn, view, data["bounds"]) if view["kde"] else None
    md = map_data(data, density)
    return {
        "drill-breadcrumb": breadcrumb(data),
        "drill-kpis": kpis(data["summary"], data["current"], data["view"]),
        "drill-trend": trend_figure(data["trend"], data["view"]["bucket"]),
        "drill-categories": category_figure(data["top"]),
        "drill-children": children_table(data) if data["level"] != "grid" else why_hot(data["why"]),
        "drill-incidents": incident_table(data),
        "drill-detail-body": incident_detail(data["detail"]),
        "drill-emerging": emerging_list(data),
        "drill-rankings": no_update if same else rankings_or_note(conn, data["view"]),
        "drill-rank-key": ranking_key(data["view"]),
        "drill-legend": legend(md),
        "drill-map-data": md,
        "drill-search": search_of(data["view"]),
        "drill-children-title": t("drill.panel.why") if data["level"] == "grid" else t("drill.panel.children"),
    }


def layout(**query):
    try:
        with db.reading() as conn:
            if not query.get("code"):
                query["code"] = unit_code(home_code(conn)) or drill_geo.default_code(conn)  # a town account opens on its town
            view = page_view(query)
            c = contents(conn, view)
            majors = drill_geo.major_categories(conn)
    except (ValueError, LookupError) as exc:
        return frame(PATH, t("drill.title"), html.Div(t("drill.error", error=exc), className="drill-error", id="drill-error"))
    filters = html.Div(
        className="drill-filters",
        children=[
            dcc.DatePickerRange(
                id="drill-dates",
                display_format="YYYY-MM-DD",
                start_date=view["start"],
                end_date=view["end"],
                className="dates",
                max_date_allowed=date(2100, 1, 1),
            ),
            dcc.Dropdown(
                labels=labels.DROPDOWN_LABELS,
                id="drill-major",
                value=view["major"],
                placeholder=t("drill.category.all"),
                clearable=True,
                className="drill-major",
                options=[{"label": m["major_name"], "value": m["major_code"]} for m in majors],
            ),
            dcc.RadioItems(
                id="drill-measure",
                value=view["measure"],
                inline=True,
                className="seg",
                options=[{"label": t(f"drill.measure.{m}"), "value": m} for m in MEASURES],
            ),
            dcc.RadioItems(
                id="drill-bucket",
                value=view["bucket"],
                inline=True,
                className="seg",
                options=[{"label": t(f"drill.bucket.{b}"), "value": b} for b in drill.BUCKETS],
            ),
        ],
    )
    map_controls = html.Div(
        className="drill-map-controls",
        children=[
            dcc.RadioItems(
                id="drill-mode",
                value=view["map"] or "measure",
                inline=True,
                className="seg",
                options=[{"label": t(f"drill.mode.{m}"), "value": m} for m in MODES],
            ),
            dcc.Checklist(
                id="drill-options",
                inline=True,
                className="seg",
                value=[k for k in ("fdr", "kde") if view[k]],
                options=[{"label": t(f"drill.option.{k}"), "value": k} for k in ("fdr", "kde")],
            ),
            # 下周预警 (issue #16): the weekly forecast's top grids over whatever the map shows;
            # drawn by the browser from the forecast layer's tiles, no round trip.
            dcc.Checklist(
                id="drill-forecast",
                inline=True,
                className="seg",
                value=[],
                options=[{"label": t("drill.forecast.layer"), "value": "forecast"}],
            ),
        ],
    )
    return frame(
        PATH,
        t("drill.title"),
        dcc.Location(id="drill-url", refresh=False, pathname=PATH, search=c["drill-search"]),
        html.Div(
            className="drill-bar",
            children=[html.Div(c["drill-breadcrumb"], id="drill-breadcrumb", className="drill-crumbs"), filters],
        ),
        html.Div(c["drill-kpis"], id="drill-kpis", className="drill-kpis"),
        html.Div(
            className="drill-main",
            children=[
                html.Div(
                    className="drill-col",
                    children=[
                        html.Div(
                            className="drill-panel grow",
                            children=[
                                html.Div(c["drill-children-title"], className="panel-title", id="drill-children-title"),
                                html.Div(c["drill-children"], id="drill-children", className="panel-body scroll"),
                            ],
                        ),
                        drill_panel(t("drill.panel.emerging"), c["drill-emerging"], "grow", "drill-emerging"),
                    ],
                ),
                html.Div(
                    className="drill-mapwrap",
                    children=[
                        html.Div(id="drill-map", className="drill-map"),
                        map_controls,
                        html.Div(c["drill-legend"], id="drill-legend", className="drill-legend"),
                        html.Div(id="drill-tip", className="drill-tip"),
                        html.Div(
                            id="drill-detail",
                            className="drill-detail",
                            style={"display": "block" if c["drill-detail-body"] else "none"},
                            children=[
                                html.Button(
                                    "×",
                                    id="drill-detail-close",
                                    className="card-close",
                                    title=t("drill.detail.close"),
                                    n_clicks=0,
                                ),
                                html.Div(c["drill-detail-body"], id="drill-detail-body"),
                            ],
                        ),
                    ],
                ),
                html.Div(
                    className="drill-col",
                    children=[
                        drill_panel(
                            t("drill.panel.trend"),
                            dcc.Graph(id="drill-trend", figure=c["drill-trend"], config=ui.GRAPH_CONFIG),
                            "chart",
                        ),
                        drill_panel(
                            t("drill.panel.categories"),
                            dcc.Graph(id="drill-categories", figure=c["drill-categories"], config=ui.GRAPH_CONFIG),
                            "chart tall",
                        ),
                        drill_panel(t("drill.panel.incidents"), c["drill-incidents"], "grow scroll-body", "drill-incidents"),
                    ],
                ),
            ],
        ),
        html.Div(c["drill-rankings"], id="drill-rankings", className="drill-panel drill-rankings"),
        dcc.Download(id="drill-download"),
        dcc.Store(id="drill-map-data", data=c["drill-map-data"]),
        dcc.Store(id="drill-rank-key", data=c["drill-rank-key"]),
        dcc.Store(id="drill-click"),
        dcc.Store(id="drill-map-state"),
    )


dash.register_page(__name__, path=PATH, title=t("drill.title"), name=t("nav.drill"), order=10, layout=layout)


# --------------------------------------------------------------------------- callbacks


@callback(
    Output("drill-url", "search"),
    Input("drill-click", "data"),
    Input("drill-detail-close", "n_clicks"),
    Input("drill-dates", "start_date"),
    Input("drill-dates", "end_date"),
    Input("drill-major", "value"),
    Input("drill-measure", "value"),
    Input("drill-bucket", "value"),
    Input("drill-mode", "value"),
    Input("drill-options", "value"),
    State("drill-url", "search"),
    prevent_initial_call=True,
)
def navigate(click, closed, start, end, major, measure, bucket, mode, options, search):
    """Every user action becomes a new URL; `render` draws whatever the URL says.

    Clicks on the map, on the breadcrumb and on any list arrive as "drill-click" data:
    {code} goes to that unit or grid, {incident} opens that incident.
    """
    trigger = ctx.triggered_id
    view = view_of_search(search)
    if trigger == "drill-click":
        if not click:
            return no_update
        if click.get("incident"):
            view.update(incident=int(click["incident"]))
        elif click.get("code"):
            view.update(code=click["code"], incident=None)
    elif trigger == "drill-detail-close":
        if not closed:
            return no_update
        view.update(incident=None)
    elif trigger is not None:
        options = options or []
        view.update(
            start=date.fromisoformat(start[:10]) if start else view["start"],
            end=date.fromisoformat(end[:10]) if end else view["end"],
            major=major or None,
            measure=measure,
            bucket=bucket,
            map=None if mode == "measure" else mode,
            fdr="1" if "fdr" in options else None,
            kde="1" if "kde" in options else None,
        )
    new = search_of(view)
    return no_update if new == search else new


@callback(
    Output("drill-url", "search", allow_duplicate=True),
    Input("drill-quarter", "value"),
    State("drill-url", "search"),
    prevent_initial_call=True,
)
def choose_quarter(quarter, search):
    """The 季通报's own quarter, chosen in its panel (not the date picker's end)."""
    view = view_of_search(search)
    if not quarter or ranking_key(view).split()[0] == quarter:
        return no_update
    view.update(quarter=quarter)
    return search_of(view)


RENDERED = (
    "drill-breadcrumb",
    "drill-kpis",
    "drill-children-title",
    "drill-children",
    "drill-emerging",
    "drill-incidents",
    "drill-detail-body",
    "drill-rankings",
    "drill-legend",
)


@callback(
    *[Output(i, "children") for i in RENDERED],
    Output("drill-detail", "style"),
    Output("drill-trend", "figure"),
    Output("drill-categories", "figure"),
    Output("drill-map-data", "data"),
    Output("drill-rank-key", "data"),
    Input("drill-url", "search"),
    State("drill-rank-key", "data"),
    prevent_initial_call=True,
)
def render(search, shown_rankings=None):
    with db.reading() as conn:
        c = contents(conn, view_of_search(search), shown_rankings)
    return (
        *[c[i] for i in RENDERED],
        {"display": "block" if c["drill-detail-body"] else "none"},
        c["drill-trend"],
        c["drill-categories"],
        c["drill-map-data"],
        c["drill-rank-key"],
    )


@callback(
    Output("drill-download", "data"), Input("drill-export", "n_clicks"), State("drill-url", "search"), prevent_initial_call=True
)
@access.requires(access.REPORT)  # the same data as /api/rankings, the same permission
def export(n, search):
    if not n:
        return no_update
    view = view_of_search(search)
    with db.pooled() as conn:
        r = ranking_data(conn, view)
        accounts.audit(conn, "export", f"rankings:{r['report']['quarter']}", {"format": "xlsx"})
    return dcc.send_bytes(
        lambda buffer: rankings.to_excel(buffer, r["report"], r["month"]), f"季通报_{r['report']['quarter']}.xlsx"
    )


clientside_callback(
    ClientsideFunction(namespace="drill", function_name="render"),
    Output("drill-map-state", "data"),
    Input("drill-map-data", "data"),
)

clientside_callback(
    ClientsideFunction(namespace="drill", function_name="forecast"),
    Output("drill-forecast", "className"),
    Input("drill-forecast", "value"),
)
