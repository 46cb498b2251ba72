"""网格规划 workbench: a community's grids on a map, edited as a draft plan, checked at every step.

The page is rendered complete for one community on first load: its latest draft, or, when
it has none, the grids in force. Looking creates nothing; the first edit gesture (merge,
split, vertex drag, households moved, a proposal or a fix adopted, a name saved) starts the
draft, so drafts hold work and not visits. The address names the community (?community=),
on load and after a change. The browser draws and drags (assets/planner.js); every edit goes to the
server, which snaps it onto the neighbours (geo.planning.snapping), checks it (gaps, overlaps,
crossings, household loads, coverage score before and after) and either saves it on the
plan's undo stack or explains why not. Every defect of the community is listed, and a
click flies the map to it; gaps and overlaps carry one-click fixes (give the gap to a
bordering grid, give the overlap to one of the pair). Publishing switches versions in one
transaction; the old version stays viewable as a difference overlay.
"""

from __future__ import annotations

import json
from datetime import datetime

import dash
import shapely
from dash import ALL, ClientsideFunction, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from geo import db, labels
from geo.coverage import report as coverage
from geo.io.geometry import MAX_VERTICES_PER_FEATURE
from geo.labels import t
from geo.planning import drafts as planning
from geo.planning import partition
from geo.planning.households import households as plan_households
from geo.planning.households import move as move_households
from geo.planning.households import moved_counts
from geo.planning.merge import accept as accept_piece
from geo.planning.merge import departmental, pieces
from geo.planning.merge import reject as reject_piece
from geo.planning.publish import diff, draft_diff, plan_moment, publish
from geo.planning.snapping import tolerance_from_pixels
from geo.web import ui
from geo.web.frame import frame

SNAP_PIXELS = 10


# --------------------------------------------------------------------------- data for the map and lists


def _fc(features) -> dict:
    return dict(type="FeatureCollection", features=list(features))


def view_data(conn, plan_id: int | None, code: str | None = None) -> dict:
    """Everything the page shows for a plan (or, plan_id None, for the community's grids in
    force before any draft exists): map GeoJSON, the check, issues, 多网合一."""
    plan = planning.get(conn, plan_id) if plan_id else None
    code = plan["admin_code"] if plan else code
    pctx = planning.community_context(conn, code)
    grids = planning.grids(conn, plan_id) if plan else planning.current_grids(conn, code)
    check = planning.check(pctx, grids)
    loads = {r["code"]: r for r in check.loads}
    report = coverage.analyse(conn, code)  # the staffing and household findings of the current grids
    minx, miny, maxx, maxy = pctx.area.bounds
    features = [
        dict(
            type="Feature",
            id=i,
            geometry=shapely.geometry.mapping(g["geom"]),
            properties=dict(
                code=c,
                name=g["name"],
                action=g["action"],
                **{k: loads[c][k] for k in ("households", "persons", "deviation", "off")},
            ),
        )
        for i, (c, g) in enumerate(sorted(grids.items()))
    ]
    defects = [
        dict(type="Feature", geometry=shapely.geometry.mapping(d.geom), properties=dict(kind=d.kind, id=i))
        for i, d in enumerate(check.defects)
    ]
    neighbours = [
        dict(type="Feature", geometry=shapely.geometry.mapping(g), properties=dict(code=c))
        for c, g in sorted(pctx.neighbours.items())
    ]
    found = pieces(conn, plan_id, pctx, grids)
    layers = [
        dict(
            type="Feature",
            geometry=shapely.geometry.mapping(shapely.intersection(d["geom"], pctx.area)),
            properties=dict(layer=d["layer"], code=d["code"]),
        )
        for d in departmental(conn, code)
    ]
    homes = plan_households(conn, plan_id, pctx, grids)
    return dict(
        plan=plan,
        check=check,
        report=report,
        pieces=[p.to_dict() for p in found],
        history=planning.history(conn, plan_id) if plan else dict(undo=0, redo=0, edits=[]),
        map=dict(
            key=f"{code}",
            bounds=[[minx, miny], [maxx, maxy]],
            community=shapely.geometry.mapping(pctx.area),
            grids=_fc(features),
            defects=_fc(defects),
            neighbours=_fc(neighbours),
            layers=_fc(layers),
            pieces=_fc(
                dict(
                    type="Feature",
                    geometry=shapely.geometry.mapping(p.geom),
                    properties=dict(key=p.key, grid=p.grid, proposed=p.proposed, change=p.change),
                )
                for p in found
            ),
            households=_fc(
                dict(
                    type="Feature",
                    id=h["id"],
                    geometry=dict(type="Point", coordinates=[h["lon"], h["lat"]]),
                    properties=dict(id=h["id"], grid=h["grid"], label=h["label"]),
                )
                for h in homes
            ),
        ),
    )


def deviation_text(deviation: float) -> str:
    """A load's deviation from its standard in whole percent, as a person reads it: never
    "-100%" for a grid that still has households (1 of 300 rounds to it) nor "-0%" for 299."""
    pct = round(deviation * 100)
    if abs(pct) >= 100 and abs(deviation) < 1:
        pct = 99 if pct > 0 else -99
    return "0%" if pct == 0 else f"{pct:+d}%"


def grid_table(check) -> html.Table:
    head = html.Tr([html.Th(t(f"planner.col.{k}")) for k in ("code", "name", "households", "persons", "deviation")])
    body = [
        html.Tr(
            className="off" if r["off"] else "",
            children=[
                html.Td(r["code"][-3:]),
                html.Td(r["name"]),
                html.Td(f"{r['households']:,}"),
                html.Td(f"{r['persons']:,}"),
                html.Td(deviation_text(r["deviation"])),
            ],
            **{"data-code": r["code"]},
        )
        for r in check.loads
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="pl-table")


def _fly(lon, lat, label, extra=None, cls="pl-item"):
    return html.Div(
        className=cls, children=[html.Span(label, className="pl-fly", **{"data-lon": lon, "data-lat": lat})] + (extra or [])
    )


def _grid_item(label: str, code: str, cls: str):
    """A finding about one grid: a click flies to the grid (the map knows its extent)."""
    return html.Div(html.Span(label, className="pl-fly", **{"data-code": code}), className=f"pl-item {cls}")


def load_issues(load: dict) -> list[str]:
    """A draft grid's load findings by the coverage report's rules (geo/coverage/households.py):
    the household standard applies to grids with their own and to urban grids."""
    issues = []
    if (load.get("own_standard") or load.get("kind", "urban") == "urban") and load["off"]:
        issues.append("above_standard" if load["deviation"] > 0 else "below_standard")
    if load.get("over_persons"):
        issues.append("over_persons_limit")
    return issues


def defect_list(check, report, own: set[str]) -> list:
    """Every defect of the community: the draft's spatial defects (with fixes) first, then
    the draft grids' load and the staffing findings of the grids still in the draft."""
    items = []
    for i, d in enumerate(check.defects):
        label = f"{t('planner.defect.' + d.kind)} {d.area_m2:,.0f} m² · {' / '.join(c[-3:] for c in d.grid_codes)}"
        fixes = []
        if d.kind in ("gap", "sliver"):
            fixes = [
                html.Button(
                    t("planner.fix.fill", code=c[-3:]), id={"type": "pl-fix", "op": "fill", "code": c, "i": i}, className="pl-fix"
                )
                for c in d.grid_codes
                if c in own
            ][:3]
        elif d.kind == "overlap":  # giving it to one grid = trimming it from the other
            a, b = d.grid_codes
            fixes = [
                html.Button(
                    t("planner.fix.give", code=keep[-3:]),
                    id={"type": "pl-fix", "op": "trim", "code": other, "i": i},
                    className="pl-fix",
                )
                for keep, other in ((a, b), (b, a))
                if other in own
            ]
        elif d.kind == "crossing":
            fixes = [
                html.Button(
                    t("planner.op.trim"),
                    id={"type": "pl-fix", "op": "trim_out", "code": d.grid_codes[0], "i": i},
                    className="pl-fix",
                )
            ]
        items.append(_fly(d.lon, d.lat, label, fixes, cls=f"pl-item pl-{d.kind}"))
    # load and staffing follow the draft: a merged-away grid is gone from the list at once,
    # and the merged one is listed with its new count (the stored coverage report is of the
    # published grids until publish)
    for load in check.loads:
        for issue in load_issues(load):
            items.append(
                _grid_item(
                    f"{t('planner.defect.' + issue)} · {load['code'][-3:]} ({load['households']} 户)", load["code"], "pl-load"
                )
            )
    in_draft = {load["code"] for load in check.loads}
    for s in (s for s in report.staffing if s["grid_code"] in in_draft):
        for issue in s["issues"]:
            items.append(_grid_item(f"{t('planner.defect.' + issue)} · {s['grid_code'][-3:]}", s["grid_code"], "pl-staff"))
    outside = report.households["outside_grids"]
    if outside["count"]:
        first = outside["items"][0]
        items.append(
            _fly(first["lon"], first["lat"], f"{t('planner.defect.outside')} {outside['count']} 户", cls="pl-item pl-load")
        )
    return items or [html.Div(t("planner.defects.none"), className="pl-item")]


def _layer_name(layer: str) -> str:
    key = "planner.layer." + layer
    return t(key) if key in labels.ZH_CN else layer


def piece_list(found: list[dict]) -> list:
    """多网合一: each disagreement piece with the layers' votes, the proposal, and a button per
    grid it could go to (the proposal first) plus 驳回."""
    items = []
    for p in found:
        votes = "；".join(f"{_layer_name(layer)}→{code[-3:]}" for layer, code in sorted(p["votes"].items()))
        head = t("planner.piece", area=f"{p['area_m2']:,.0f} m²", households=p["households"], grid=p["grid"][-3:])
        verdict = t("planner.piece.proposed" if p["change"] else "planner.piece.keep", code=p["proposed"][-3:])
        buttons = [
            html.Button(
                t("planner.piece.accept", code=c[-3:]),
                className="pl-fix" + (" pl-primary" if c == p["proposed"] else ""),
                id={"type": "pl-piece", "key": p["key"], "to": c},
            )
            for c in p["candidates"]
            if c != p["grid"]
        ]
        buttons.append(
            html.Button(t("planner.piece.reject"), className="pl-fix", id={"type": "pl-piece", "key": p["key"], "to": ""})
        )
        items.append(
            _fly(
                p["lon"],
                p["lat"],
                f"{head} · {verdict}（{votes}）",
                buttons,
                cls="pl-item pl-piece" + (" pl-piece-change" if p["change"] else ""),
            )
        )
    return items or [html.Div(t("planner.merge_layers.none"), className="pl-item")]


def target_options(check) -> list[dict]:
    return [{"label": f"{r['code'][-3:]} {r['name']}（{r['households']} 户）", "value": r["code"]} for r in check.loads]


def diff_options(conn, admin_code: str) -> list[dict]:
    published = [p for p in planning.plans(conn, admin_code) if p["status"] == "published"]
    return (
        [{"label": t("planner.diff.none"), "value": ""}, {"label": t("planner.diff.draft"), "value": "draft"}]
        + [{"label": t("planner.diff.plan", id=p["id"]), "value": f"plan:{p['id']}"} for p in published]
        + [{"label": t("planner.diff.date"), "value": "date"}]
    )


def score_box(check, last: dict | None = None) -> list:
    out = [
        html.Div(t("planner.score"), className="pl-sub"),
        html.Div(ui.pct(check.score, 2), className="pl-score", id="pl-score-value"),
    ]
    if last:
        out.append(
            html.Div(
                t("planner.score.change", before=ui.pct(last["before"], 2), after=ui.pct(last["after"], 2)), className="pl-delta"
            )
        )
    return out


def metrics_table(m: dict) -> html.Table:
    rows = [
        ("spread", lambda s: f"{s['min']}–{s['max']}"),
        ("dev", lambda s: f"{s['max_dev_target'] * 100:.1f}%"),
        ("pp", lambda s: f"{s['polsby_popper_mean']:.3f}"),
    ]
    return html.Table(
        className="pl-table",
        children=[
            html.Thead(
                html.Tr(
                    [html.Th(t("planner.metric")), html.Th(t("planner.metric.current")), html.Th(t("planner.metric.proposal"))]
                )
            ),
            html.Tbody(
                [
                    html.Tr([html.Td(t(f"planner.metric.{k}")), html.Td(f(m["current"])), html.Td(f(m["proposal"]))])
                    for k, f in rows
                ]
            ),
        ],
    )


def plan_label(plan: dict | None) -> str:
    """Which draft is open, or that none is (the grids in force are shown, and the first edit starts one)."""
    if not plan:
        return t("planner.nodraft")
    return f"#{plan['id']} {plan['name']} · {t('planner.status.' + plan['status'])}"


def panels(conn, plan_id: int | None, code: str | None = None, last: dict | None = None) -> tuple:
    """(map data, grid table, defects, 多网合一 pieces, score, undo disabled, redo disabled, plan label,
    move-target options, publish disabled: nothing to publish before a draft exists)."""
    v = view_data(conn, plan_id, code)
    own = set(v["map"]["grids"] and [f["properties"]["code"] for f in v["map"]["grids"]["features"]])
    plan = v["plan"]
    return (
        v["map"],
        grid_table(v["check"]),
        defect_list(v["check"], v["report"], own),
        piece_list(v["pieces"]),
        score_box(v["check"], last),
        v["history"]["undo"] == 0,
        v["history"]["redo"] == 0,
        plan_label(plan),
        target_options(v["check"]),
        plan is None or plan["status"] != "draft",
    )


# --------------------------------------------------------------------------- layout


def published_message(result: dict) -> str:
    """What a publish did, including the grids it retired (a merge retires all but one)."""
    retired = result.get("retired", [])
    return t(
        "planner.msg.published",
        changed=len(result.get("changed", [])),
        new=len(result.get("new", [])),
        retired=len(retired),
        retired_codes=f"（{'、'.join(retired)}）" if retired else "",
        score=ui.pct(result.get("community_score"), 2),
    )


def _default_community(conn, communities: list[dict]) -> str:
    """The community with the worst stored coverage score (the one needing a planner most)."""
    run = db.one(conn, "SELECT scores FROM coverage_run ORDER BY id DESC LIMIT 1")
    scores = (run or {}).get("scores") or {}
    known = [c["code"] for c in communities if scores.get(c["code"]) is not None]
    return min(known, key=lambda c: scores[c]) if known else communities[0]["code"]


def layout(community: str | None = None, **_query):
    with db.pooled() as conn:
        communities = planning.communities(conn)
        if not communities:
            return frame("/planner", t("planner.title"), html.Div(t("empty")))
        codes = {c["code"] for c in communities}
        code = community if community in codes else _default_community(conn, communities)
        plan_id = planning.latest_draft(conn, code)
        mapdata, table, defects, layers, score, no_undo, no_redo, label, targets, no_publish = panels(conn, plan_id, code)
        options = diff_options(conn, code)
        plan_name = planning.get(conn, plan_id)["name"] if plan_id else planning.default_name(conn, code)
    modes = [{"label": t(f"planner.mode.{m}"), "value": m} for m in ("select", "draw", "edit", "split", "move")]
    tools = html.Div(
        className="pl-col pl-tools",
        children=[
            html.Div(t("planner.community"), className="pl-sub"),
            dcc.Dropdown(
                labels=labels.DROPDOWN_LABELS,
                id="pl-community",
                value=code,
                clearable=False,
                className="pl-dd",
                options=[{"label": f"{c['town']} · {c['name']}", "value": c["code"]} for c in communities],
            ),
            html.Div(t("planner.plan"), className="pl-sub"),
            html.Div(label, id="pl-plan-label", className="pl-plan"),
            html.Div(
                className="pl-row",
                children=[
                    dcc.Input(id="pl-name", value=plan_name, debounce=True, className="pl-name"),
                    html.Button(t("planner.save"), id="pl-save"),
                ],
            ),
            html.Div(t("planner.tools"), className="pl-sub"),
            dcc.RadioItems(id="pl-mode", value="select", options=modes, className="pl-modes", inline=True),
            html.Div(
                className="pl-row",
                children=[html.Button(t("planner.apply"), id="pl-apply"), html.Button(t("planner.merge"), id="pl-merge")],
            ),
            html.Div(selection_text([]), id="pl-sel-info", className="pl-hh-info"),
            html.Div(
                id="pl-move-box",
                className="pl-movebox",
                children=[
                    html.Div(t("planner.move.hint"), className="pl-sub"),
                    html.Div(t("planner.move.selected", n=0), id="pl-hh-info", className="pl-hh-info"),
                    dcc.Dropdown(
                        labels=labels.DROPDOWN_LABELS,
                        id="pl-move-target",
                        options=targets,
                        placeholder=t("planner.move.target"),
                        className="pl-dd",
                    ),
                    html.Button(t("planner.move"), id="pl-move"),
                ],
            ),
            html.Div(
                className="pl-row",
                children=[
                    html.Button(t("planner.undo"), id="pl-undo", disabled=no_undo),
                    html.Button(t("planner.redo"), id="pl-redo", disabled=no_redo),
                    html.Button(t("planner.publish"), id="pl-publish", className="pl-primary", disabled=no_publish),
                ],
            ),
            html.Div(id="pl-score", className="pl-scorebox", children=score),
            html.Div(id="pl-msg", className="pl-msg"),
            html.Button(t("planner.force"), id="pl-force", style={"display": "none"}),
            html.Div(
                className="pl-row",
                children=[
                    html.Button(t("planner.partition"), id="pl-partition"),
                    html.Button(t("planner.accept"), id="pl-accept", disabled=True),
                ],
            ),
            html.Div(id="pl-proposal"),
            html.Div(t("planner.diff"), className="pl-sub"),
            dcc.Dropdown(
                labels=labels.DROPDOWN_LABELS, id="pl-diff", value="", options=options, clearable=False, className="pl-dd"
            ),
            dcc.Input(
                id="pl-diff-date",
                type="text",
                placeholder="YYYY-MM-DD",
                debounce=True,
                className="pl-name",
                style={"display": "none"},
            ),
            html.Div(id="pl-diff-summary", className="pl-msg"),
        ],
    )
    side = html.Div(
        className="pl-col pl-side",
        children=[
            html.Div(t("planner.grids", standard=300, tol=30), className="pl-sub"),
            html.Div(id="pl-grids", className="pl-scroll pl-grids", children=table),
            html.Div(t("planner.defects"), className="pl-sub"),
            html.Div(id="pl-defects", className="pl-scroll pl-defects", children=defects),
            html.Div(t("planner.merge_layers"), className="pl-sub"),
            html.Div(id="pl-layers", className="pl-scroll pl-layers", children=layers),
        ],
    )
    return frame(
        "/planner",
        t("planner.title"),
        html.Div(
            className="pl-body",
            children=[
                tools,
                html.Div(id="planner-map", className="pl-map"),
                side,
                dcc.Store(id="pl-plan", data=dict(plan=plan_id, community=code)),
                dcc.Store(id="pl-version", data=0),
                dcc.Store(id="pl-map-data", data=mapdata),
                dcc.Store(id="pl-geom"),
                dcc.Store(id="pl-selected", data=[]),
                dcc.Store(id="pl-hh", data=[]),
                dcc.Store(id="pl-pending"),
                dcc.Store(id="pl-proposal-data"),
                dcc.Store(id="pl-diff-data"),
                dcc.Store(id="pl-last"),
                dcc.Store(id="pl-map-state"),
            ],
        ),
    )


dash.register_page(__name__, path="/planner", title=t("planner.title"), name=t("nav.planner"), order=20, layout=layout)


# --------------------------------------------------------------------------- callbacks


@callback(
    Output("pl-plan", "data"),
    Output("pl-name", "value"),
    Output("pl-diff", "options"),
    Output("pl-diff", "value"),
    Output("pl-proposal-data", "data", allow_duplicate=True),
    Input("pl-community", "value"),
    prevent_initial_call=True,
)
def choose_community(code):
    """Another community: its latest draft if it has one, else its grids in force (no draft made)."""
    with db.pooled() as conn:
        plan_id = planning.latest_draft(conn, code)
        name = planning.get(conn, plan_id)["name"] if plan_id else planning.default_name(conn, code)
        return dict(plan=plan_id, community=code), name, diff_options(conn, code), "", None


class _Draft:
    """The plan an edit writes to, started on first use: the draft is created by the edit
    gesture itself, never by looking (a refused selection or an empty sketch creates none)."""

    def __init__(self, conn, subject: dict, name: str | None = None):
        self.conn, self.id, self.community, self.name = conn, subject.get("plan"), subject["community"], name
        self.created = False

    def __call__(self) -> int:
        if not self.id:
            by = getattr(db.current_scope(), "username", None)
            self.id = planning.open_draft(self.conn, self.community, created_by=by, name=self.name)
            self.created = True
        return self.id


def selection_text(codes: list[str] | None) -> str:
    """The grids chosen on the map, by short code as on the map's labels: the white outline
    alone is easy to miss, and merge works on exactly these."""
    if not codes:
        return t("planner.selected.none")
    return t("planner.selected", codes="、".join(c[-3:] for c in codes))


@callback(Output("pl-sel-info", "children"), Input("pl-selected", "data"))
def show_selection(codes):
    return selection_text(codes)


def _geometry(payload: dict):
    """The drawn geometry, refused past the import's vertex cap (a request body may hold millions)."""
    coords = payload.get("coords") or []
    if payload["op"] == "split":
        geom = shapely.LineString(coords)
    elif payload["op"] == "draw":
        geom = shapely.Polygon(coords)
    else:
        geom = shapely.MultiPolygon([shapely.Polygon(rings[0], rings[1:]) for rings in coords])
    if shapely.get_num_coordinates(geom) > MAX_VERTICES_PER_FEATURE:
        raise ValueError(f"图形顶点过多 (more than {MAX_VERTICES_PER_FEATURE:,} vertices): 请简化后再画 (draw it simpler)")
    return geom


def _run_edit(conn, draft: _Draft, trigger, payload, selected, force: bool, hh=None, target=None):
    """The edit a trigger asks for; returns an EditResult or a message. `draft()` gives the
    plan, starting it, and is called only once the edit is about to be made."""
    if trigger == "pl-geom":
        tol = tolerance_from_pixels(SNAP_PIXELS, float(payload.get("zoom", 16)), float(payload.get("lat", 35.5)))
        geom = _geometry(payload)
        if payload["op"] == "draw":
            return planning.draw(conn, draft(), geom, tolerance=tol, force=force)
        if not payload.get("code"):
            return t("planner.msg.select")
        if payload["op"] == "split":
            return planning.split(conn, draft(), payload["code"], geom, tolerance=tol, force=force)
        return planning.reshape(conn, draft(), payload["code"], geom, tolerance=tol, force=force)
    if trigger == "pl-merge":
        if len(selected or []) < 2:
            return t("planner.msg.select")
        return planning.merge(conn, draft(), selected, force=force)
    if isinstance(trigger, dict) and trigger.get("type") == "pl-fix":
        plan_id = draft()
        defect = planning.evaluate(conn, plan_id).defects[trigger["i"]]
        if trigger["op"] == "fill":
            return planning.fill(conn, plan_id, trigger["code"], defect.geom, force=force)
        return planning.trim(conn, plan_id, trigger["code"], defect.geom, force=force)
    if isinstance(trigger, dict) and trigger.get("type") == "pl-piece":
        if not trigger["to"]:
            return reject_piece(conn, draft(), trigger["key"])
        return accept_piece(conn, draft(), trigger["key"], trigger["to"], force=force)
    if trigger == "pl-move":
        if not target:
            return t("planner.move.target")
        if not hh:
            return t("planner.move.none")
        return move_households(conn, draft(), hh, target, force=force)
    return None


@callback(
    Output("pl-version", "data"),
    Output("pl-msg", "children"),
    Output("pl-pending", "data"),
    Output("pl-force", "style"),
    Output("pl-last", "data"),
    Output("pl-plan", "data", allow_duplicate=True),
    Input("pl-geom", "data"),
    Input("pl-merge", "n_clicks"),
    Input("pl-undo", "n_clicks"),
    Input("pl-redo", "n_clicks"),
    Input("pl-save", "n_clicks"),
    Input("pl-publish", "n_clicks"),
    Input("pl-accept", "n_clicks"),
    Input("pl-force", "n_clicks"),
    Input({"type": "pl-fix", "op": ALL, "code": ALL, "i": ALL}, "n_clicks"),
    Input({"type": "pl-piece", "key": ALL, "to": ALL}, "n_clicks"),
    Input("pl-move", "n_clicks"),
    State("pl-plan", "data"),
    State("pl-version", "data"),
    State("pl-selected", "data"),
    State("pl-pending", "data"),
    State("pl-proposal-data", "data"),
    State("pl-name", "value"),
    State("pl-hh", "data"),
    State("pl-move-target", "value"),
    prevent_initial_call=True,
)
def act(
    geom, _m, _u, _r, _s, _p, _a, _f, fixes, piece_clicks, _mv, subject, version, selected, pending, proposal, name, hh, target
):
    trigger = ctx.triggered_id
    plan_id, code = subject.get("plan"), subject["community"]
    draft = None
    if isinstance(trigger, dict) and not ctx.triggered[0]["value"]:
        return (no_update,) * 6  # fix buttons re-rendered, none clicked
    hidden, shown = {"display": "none"}, {"display": "inline-block"}
    force = False
    if trigger == "pl-force" and pending:
        trigger, force = pending["trigger"], True
        geom, hh, target = pending.get("geom"), pending.get("hh"), pending.get("target")
    try:
        with db.pooled() as conn:
            draft = _Draft(conn, subject, name)
            if trigger in ("pl-undo", "pl-redo"):
                if not plan_id:
                    return no_update, t("planner.msg.nothing"), None, hidden, None, no_update
                done = (planning.undo if trigger == "pl-undo" else planning.redo)(conn, plan_id)
                msg = t("planner.msg.applied", op=t(f"planner.op.{trigger[3:]}")) if done else t("planner.msg.nothing")
                return version + 1, msg, None, hidden, None, no_update
            if trigger == "pl-save":  # saving a name is asking for the draft
                planning.rename(conn, draft(), name)
                return version + 1, t("planner.saved", name=name), None, hidden, None, _started(draft)
            if trigger == "pl-publish":
                if not plan_id:
                    return no_update, t("planner.msg.nodraft"), None, hidden, None, no_update
                # The jurisdiction's stored coverage refreshes after the commit, in the background.
                by = getattr(db.current_scope(), "username", None) or "planner"
                result = publish(conn, plan_id, by=by, refresh_coverage="later")
                msg = published_message(result)
                # what is shown next is the grids now in force; the next edit starts the next draft
                return version + 1, msg, None, hidden, None, dict(plan=None, community=code)
            if trigger == "pl-accept":
                if not proposal:
                    return no_update, t("planner.msg.select"), None, hidden, None, no_update
                geoms = [shapely.geometry.shape(f["geometry"]) for f in proposal["geojson"]["features"]]
                result = planning.replace_all(conn, draft(), geoms, force=True)
            else:
                result = _run_edit(conn, draft, trigger, geom, selected, force, hh, target)
    except (planning.PlanError, ValueError) as exc:
        return no_update, str(exc), None, hidden, None, _unstarted(draft)
    if result is None:
        return no_update, no_update, None, hidden, None, no_update
    if isinstance(result, str):
        return no_update, result, None, hidden, None, _unstarted(draft)
    last = dict(before=result.before.score, after=result.after.score)
    if not result.applied:
        what = "、".join(t(f"planner.what.{w}") for w in result.worse)
        return (
            no_update,
            t("planner.msg.refused", what=what)
            + " "
            + t("planner.score.change", before=ui.pct(last["before"], 2), after=ui.pct(last["after"], 2)),
            dict(trigger=trigger, geom=geom, hh=hh, target=target),
            shown,
            None,
            _unstarted(draft),
        )
    msg = t("planner.msg.applied", op=t(f"planner.op.{result.op}"))
    if result.op == "move":  # both grids' counts against their standard, at once
        msg += "。" + "；".join(
            t(
                "planner.move.counts",
                code=c["code"][-3:],
                before=c["before"],
                after=c["after"],
                standard=c["standard"],
                dev=deviation_text(c["deviation"]),
            )
            for c in moved_counts(result)
        )
    return version + 1, msg, None, hidden, last, _started(draft)


def _started(draft: _Draft | None):
    """The page's plan after an edit: the new draft when this gesture started it."""
    return dict(plan=draft.id, community=draft.community) if draft is not None and draft.created else no_update


def _unstarted(draft: _Draft | None):
    """A gesture that was refused (or failed) leaves no draft behind: the one it started holds
    nothing and is abandoned, so the page stays on the grids in force (an empty draft named
    on the page and offered for publishing said work was there). 仍然应用 starts it again."""
    if draft is not None and draft.created:
        with db.pooled() as conn:
            planning.abandon(conn, draft.id)
    return no_update


@callback(
    Output("pl-map-data", "data"),
    Output("pl-grids", "children"),
    Output("pl-defects", "children"),
    Output("pl-layers", "children"),
    Output("pl-score", "children"),
    Output("pl-undo", "disabled"),
    Output("pl-redo", "disabled"),
    Output("pl-plan-label", "children"),
    Output("pl-move-target", "options"),
    Output("pl-publish", "disabled"),
    Output("pl-diff", "options", allow_duplicate=True),
    Input("pl-version", "data"),
    Input("pl-plan", "data"),
    State("pl-last", "data"),
    prevent_initial_call=True,
)
def refresh(_version, subject, last):
    code = subject["community"]
    with db.pooled() as conn:
        return panels(conn, subject.get("plan"), code, last) + (diff_options(conn, code),)


@callback(
    Output("pl-proposal-data", "data"),
    Output("pl-proposal", "children"),
    Output("pl-accept", "disabled"),
    Input("pl-partition", "n_clicks"),
    State("pl-community", "value"),
    prevent_initial_call=True,
)
def propose(_n, code):
    with db.pooled() as conn:
        proposal = partition.partition(conn, code, 300).to_dict()
    return (
        proposal,
        [html.Div(t("planner.proposal", n=proposal["grids"]), className="pl-sub"), metrics_table(proposal["metrics"])],
        False,
    )


@callback(
    Output("pl-diff-data", "data"),
    Output("pl-diff-summary", "children"),
    Output("pl-diff-date", "style"),
    Input("pl-diff", "value"),
    Input("pl-diff-date", "value"),
    Input("pl-version", "data"),
    State("pl-plan", "data"),
    prevent_initial_call=True,
)
def show_diff(choice, date, _version, subject):
    plan_id, code = subject.get("plan"), subject["community"]
    date_style = {"display": "block"} if choice == "date" else {"display": "none"}
    if not choice or (choice == "date" and not date):
        return None, "", date_style
    try:
        with db.pooled() as conn:
            if choice == "draft":
                if not plan_id:
                    return None, t("planner.diff.nodraft"), date_style
                d = draft_diff(conn, plan_id)
            elif choice.startswith("plan:"):
                community, moment = plan_moment(conn, int(choice[5:]))
                d = diff(conn, community, moment)
            else:
                d = diff(conn, code, datetime.fromisoformat(date))
    except (ValueError, planning.PlanError) as exc:
        return None, str(exc), date_style
    summary = t("planner.diff.summary", codes="、".join(c[-3:] for c in d["changed_grids"]) or "—", **d["counts"], **d["grids"])
    return json.loads(json.dumps(d)), summary, date_style


clientside_callback(
    ClientsideFunction(namespace="planner", function_name="render"),
    Output("pl-map-state", "data"),
    Input("pl-map-data", "data"),
    Input("pl-proposal-data", "data"),
    Input("pl-diff-data", "data"),
    Input("pl-mode", "value"),
)

clientside_callback(
    ClientsideFunction(namespace="planner", function_name="finish"),
    Output("pl-geom", "data"),
    Input("pl-apply", "n_clicks"),
    prevent_initial_call=True,
)
