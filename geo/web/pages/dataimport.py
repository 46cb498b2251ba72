"""数据导入: a county's own files into Quanyu without the command line (issue #14, item 7).

For administrators and planners (permission data.import). Upload a file (a shapefile as its
.shp/.dbf/.shx/.prj parts or a ZIP, a GeoPackage, GeoJSON, CSV or Excel); the page shows
what the importer would read, from the importer itself run as a dry run
(geo.io.inspect.inspect_file): the detected layer(s), encoding and coordinate system with
the reason for each, the column mapping (editable: a changed field re-inspects with it),
a map preview of the geometries, the problems once per distinct value and per row, and the
counts an import would give. 导入 runs the import in the background (geo.io.jobs) with a
progress bar; the batch history lists every import with undo; the category table is shown.

Writes go through the owner's connection (as the intake page's batch import does): a file
may hold rows anywhere in the jurisdiction, so only a jurisdiction-wide account imports,
and the batch records who did.
"""

from __future__ import annotations

import base64
import re
import secrets
import shutil
import time
from pathlib import Path

import dash
import flask
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, ctx, dash_table, dcc, html, no_update

from geo import config, db
from geo.analysis import dashboard, drill_geo
from geo.io import batches, jobs, upload_check
from geo.io.importer import import_file
from geo.io.inspect import inspect_file
from geo.io.problems import ImportFailed
from geo.labels import t
from geo.security import access, accounts
from geo.web.auth import actor_name, jurisdiction_wide, permitted
from geo.web.frame import TABLE_STYLE, frame
from geo.worktime import CST

PATH = "/import"
LAYERS = ("boundary", "grids", "households", "incidents", "places", "staff")
UPLOAD_DIR = config.VAR_DIR / "uploads" / "import"
MAX_BYTES = 50 * 1024 * 1024  # per upload through the browser; larger files go through the CLI
KEEP_SECONDS = 24 * 3600  # uploads not imported within a day are removed
SUFFIXES = (".zip", ".shp", ".dbf", ".shx", ".prj", ".cpg", ".gpkg", ".geojson", ".json", ".csv", ".xlsx", ".xls")
MAIN_SUFFIXES = (".zip", ".shp", ".gpkg", ".geojson", ".json", ".csv", ".xlsx", ".xls")
IGNORE = "__ignore__"
REJECTED_URL = "/import/rejected"
bp = flask.Blueprint("dataimport", __name__)


CRS_CHOICES = ("wgs84", "cgcs2000", "gcj02", "bd09")
ENCODINGS = ("utf-8", "gbk", "gb18030")


# --------------------------------------------------------------------------- uploads


def _safe_name(filename: str | None) -> str:
    return upload_check.safe_name(filename, "upload")


def _upload_dir(token: str | None) -> Path | None:
    """The folder of an upload token (32 hex digits), or None for anything else."""
    if not token or not re.fullmatch(r"[0-9a-f]{32}", token):
        return None
    folder = UPLOAD_DIR / token
    return folder if folder.is_dir() else None


def upload_files(file) -> tuple[Path, list[Path]] | None:
    """The file to read and every file of the upload that the page's store (`imp-file`) names,
    or None unless each is a plain name of a file we wrote into that upload's folder.

    Why: the store lives in the browser, so a script sends whatever names it likes. A name
    of '../../x' or '/etc/x' was read by the importer (its header shown in the report) and,
    after an import, deleted with the upload: any file the server may delete. Only the
    names save_upload itself would have written are accepted."""
    if not isinstance(file, dict):
        return None
    folder = _upload_dir(file.get("token"))
    names, name = file.get("files"), file.get("name")
    if folder is None or not isinstance(names, list) or not names or name not in names:
        return None
    paths = []
    for n in names:
        if not isinstance(n, str) or n != _safe_name(n) or Path(n).suffix.lower() not in SUFFIXES:
            return None
        path = folder / n
        if path.is_symlink() or not path.is_file():
            return None
        paths.append(path)
    return folder / name, paths


def _clean_old() -> None:
    if not UPLOAD_DIR.is_dir():
        return
    cutoff = time.time() - KEEP_SECONDS
    for folder in UPLOAD_DIR.iterdir():
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


def save_upload(contents: list[str], filenames: list[str]) -> dict:
    """Write uploaded files into a new folder; {token, name (the file to read), files} or {error}."""
    names = [_safe_name(n) for n in filenames]
    for name in names:
        if Path(name).suffix.lower() not in SUFFIXES:
            return {"error": t("imp.bad_type", name=name, types=" ".join(MAIN_SUFFIXES))}
    blobs = []
    for name, content in zip(names, contents):
        try:
            blob = base64.b64decode((content or "").partition(",")[2], validate=True)
        except (ValueError, TypeError):
            return {"error": f"{name}: {t('imp.bad_upload')}"}
        if len(blob) > MAX_BYTES:
            return {"error": t("imp.too_large", name=name, mb=MAX_BYTES // 1024 // 1024)}
        blobs.append(blob)
    main = [n for n in names if Path(n).suffix.lower() in MAIN_SUFFIXES]
    if not main:
        return {"error": t("imp.no_main")}
    _clean_old()
    token = secrets.token_hex(16)
    folder = UPLOAD_DIR / token
    folder.mkdir(parents=True)
    for name, blob in zip(names, blobs):
        (folder / name).write_bytes(blob)
    return {"token": token, "name": main[0], "files": names}


# --------------------------------------------------------------------------- pieces


def _mapping_columns(report: dict) -> list[dict]:
    return [
        {"id": "column", "name": t("imp.col.column"), "editable": False},
        {"id": "field", "name": t("imp.col.field"), "presentation": "dropdown", "editable": True},
        {"id": "how", "name": t("imp.col.how"), "editable": False},
    ]


def _field_options(report: dict) -> list[dict]:
    fields = report.get("fields") or []
    return [{"label": t("imp.ignore"), "value": IGNORE}] + [
        {"label": f"{f['label'] or f['name']}（{f['name']}）{' *' if f['required'] else ''}", "value": f["name"]} for f in fields
    ]


def _mapping_rows(report: dict) -> list[dict]:
    return [{"column": c["column"], "field": c["field"] or IGNORE, "how": c["how"]} for c in report.get("columns") or []]


def summary(report: dict) -> html.Div:
    """The detected layer, encoding, coordinate system, rows and the counts an import would give."""
    if not report:
        return html.Div(t("imp.first"), className="imp-muted")
    enc, crs = report.get("encoding"), report.get("crs")
    items = [
        (t("imp.file"), report.get("file")),
        (t("imp.format"), report.get("format") or "—"),
        (t("imp.read_layers"), "、".join(report.get("read_layers") or []) or "—"),
        (t("imp.encoding"), f"{enc['name']} — {enc['reason']}" if enc else "—"),
        (t("imp.crs"), f"{crs['label']} — {crs['reason']}" if crs else "—"),
        (t("imp.rows"), f"{report.get('rows', 0):,}"),
    ]
    counts = report.get("counts")
    if counts:
        items.append(
            (
                t("imp.would"),
                " · ".join(
                    f"{t('imp.count.' + k)} {counts.get(k, 0):,}"
                    for k in ("inserted", "updated", "unchanged", "removed", "rejected")
                ),
            )
        )
    notes = list(report.get("warnings") or []) + list(report.get("notes") or [])
    return html.Div(
        [
            html.Dl([child for k, v in items for child in (html.Dt(k), html.Dd(v))], className="imp-facts", id="imp-facts"),
            html.Ul([html.Li(n) for n in notes], className="imp-notes") if notes else None,
        ]
    )


def problems_view(report: dict) -> list:
    p = report.get("problems") or {}
    out = []
    if p.get("file"):
        out += [html.H4(t("imp.problems.file")), html.Ul([html.Li(x) for x in p["file"]], className="imp-file-problems")]
    values = p.get("values") or []
    rows = p.get("rows") or []
    if values:
        out += [
            html.H4(f"{t('imp.problems.values')}（{len(values)}）"),
            dash_table.DataTable(
                id="imp-values",
                columns=[{"id": k, "name": t("imp.col." + k)} for k in ("column", "value", "count", "problem", "suggestion")],
                data=[{k: v.get(k) for k in ("column", "value", "count", "problem", "suggestion")} for v in values],
                page_size=10,
                **TABLE_STYLE,
            ),
        ]
    if rows:
        out += [
            html.H4(f"{t('imp.problems.rows')}（{p.get('rows_with_problems', len(rows)):,}）"),
            dash_table.DataTable(
                id="imp-rows",
                columns=[{"id": "label", "name": t("imp.col.row")}, {"id": "problems", "name": t("imp.col.problem")}],
                data=[{"label": r["label"], "problems": "；".join(r["problems"])} for r in rows],
                page_size=10,
                **TABLE_STYLE,
            ),
        ]
    if not out and report:
        out = [html.P(t("imp.none"), className="imp-ok", id="imp-no-problems")]
    return out


def history_rows() -> list[dict]:
    """The jurisdiction's import batches (read as the owner: batches belong to no unit), for
    the accounts that may import and undo; a town account (which may open the page) sees none:
    the files, who imported them and when are the whole jurisdiction's."""
    if not _may_write():
        return []
    with db.system() as conn:
        rows = batches.history(conn, 30)
    return [
        {
            "id": r["id"],
            "layer": t("imp.layer." + r["layer"].split(":")[0]) if r["layer"].split(":")[0] in LAYERS else r["layer"],
            "file": r["file_name"],
            "by": r["imported_by"],
            "at": r["imported_at"].astimezone(CST).strftime("%Y-%m-%d %H:%M"),
            "rows": f"{r['rows_read']}/{r['inserted']}/{r['updated']}/{r['unchanged']}/{r['rejected']}",
            "state": t("imp.undone") if r["undone_at"] else "",
        }
        for r in rows
    ]


def categories_table() -> dash_table.DataTable:
    with db.system() as conn:
        rows = db.rows(
            conn,
            """SELECT major_code, major_name, minor_code, minor_name, department, time_limit || ' ' ||
                      CASE time_unit WHEN 'working_days' THEN '工作日' ELSE '工作小时' END AS time_limit, severity
                 FROM category ORDER BY minor_code""",
        )
    names = {
        "major_code": "大类代码",
        "major_name": "大类",
        "minor_code": "小类代码",
        "minor_name": "小类",
        "department": "责任部门",
        "time_limit": "时限",
        "severity": "严重程度",
    }
    return dash_table.DataTable(
        id="imp-categories-table",
        columns=[{"id": k, "name": v} for k, v in names.items()],
        data=rows,
        page_size=15,
        filter_action="native",
        **TABLE_STYLE,
    )


# --------------------------------------------------------------------------- layout


def layout(**_query):
    opt = lambda values, prefix: [{"label": t(prefix + v), "value": v} for v in values]  # noqa: E731
    return frame(
        PATH,
        t("imp.title"),
        html.Div(
            className="imp",
            children=[
                html.Div(
                    className="imp-left",
                    children=[
                        html.Label(
                            [
                                t("imp.layer"),
                                dcc.Dropdown(
                                    id="imp-layer",
                                    options=opt(LAYERS, "imp.layer."),
                                    value="incidents",
                                    clearable=False,
                                    className="imp-dd",
                                ),
                            ]
                        ),
                        dcc.Upload(
                            id="imp-upload",
                            multiple=True,
                            className="imp-upload",
                            max_size=MAX_BYTES,
                            children=html.Div(t("imp.upload")),
                        ),
                        html.Div(id="imp-upload-msg", className="imp-msg"),
                        html.Label(
                            [
                                t("imp.encoding"),
                                dcc.Dropdown(
                                    id="imp-encoding",
                                    options=[{"label": t("imp.auto"), "value": ""}]
                                    + [{"label": e.upper(), "value": e} for e in ENCODINGS],
                                    value="",
                                    clearable=False,
                                    className="imp-dd",
                                ),
                            ]
                        ),
                        html.Label(
                            [
                                t("imp.crs"),
                                dcc.Dropdown(
                                    id="imp-crs",
                                    options=[{"label": t("imp.auto"), "value": ""}]
                                    + [{"label": c.upper(), "value": c} for c in CRS_CHOICES],
                                    value="",
                                    clearable=False,
                                    className="imp-dd",
                                ),
                            ]
                        ),
                        html.Label(
                            [
                                t("imp.source_layer"),
                                dcc.Dropdown(
                                    id="imp-source-layer",
                                    options=[],
                                    value=None,
                                    placeholder=t("imp.all_layers"),
                                    className="imp-dd",
                                ),
                            ]
                        ),
                        html.Label(
                            [
                                t("imp.mode"),
                                dcc.RadioItems(
                                    id="imp-mode",
                                    options=opt(("upsert", "append", "replace"), "imp.mode."),
                                    value="upsert",
                                    className="imp-radio",
                                ),
                            ]
                        ),
                        dcc.Checklist(
                            id="imp-skip", options=[{"label": t("imp.skip"), "value": "skip"}], value=[], className="imp-check"
                        ),
                        html.Button(t("imp.run"), id="imp-run", className="audit-go imp-run", disabled=True),
                        html.Div(
                            id="imp-progress",
                            className="imp-progress",
                            children=[html.Div(id="imp-bar", className="imp-bar"), html.Span(id="imp-progress-text")],
                        ),
                        html.Pre(id="imp-result", className="imp-result"),
                    ],
                ),
                html.Div(
                    className="imp-right",
                    children=[
                        html.H3(t("imp.detected")),
                        dcc.Loading(html.Div(id="imp-summary", children=summary({}))),
                        html.H3(t("imp.mapping")),
                        dash_table.DataTable(
                            id="imp-mapping",
                            columns=_mapping_columns({}),
                            data=[],
                            editable=True,
                            dropdown={"field": {"options": []}},
                            **TABLE_STYLE,
                        ),
                        html.H3(t("imp.preview")),
                        html.Div(id="imp-map", className="imp-map"),
                        html.H3(t("imp.problems")),
                        html.Div(id="imp-problems"),
                    ],
                ),
            ],
        ),
        html.H3(t("imp.history")),
        html.Div(
            className="audit-filters",
            children=[
                html.Button(t("imp.undo"), id="imp-undo", className="audit-go"),
                html.Span(id="imp-undo-msg", className="imp-msg"),
            ],
        ),
        dash_table.DataTable(
            id="imp-history",
            columns=[{"id": k, "name": t("imp.col." + k)} for k in ("id", "layer", "file", "by", "at", "rows", "state")],
            data=history_rows(),
            row_selectable="single",
            page_size=10,
            **TABLE_STYLE,
        ),
        html.Details([html.Summary(t("imp.categories"), id="imp-categories"), categories_table()], className="imp-cats"),
        dcc.Store(id="imp-file"),
        dcc.Store(id="imp-report"),
        dcc.Store(id="imp-map-data"),
        dcc.Store(id="imp-map-state"),
        dcc.Store(id="imp-job"),
        dcc.Interval(id="imp-poll", interval=500, disabled=True),
    )


# --------------------------------------------------------------------------- callbacks


def _may_write() -> bool:
    return permitted(access.DATA_IMPORT) and jurisdiction_wide()


@callback(
    Output("imp-file", "data"),
    Output("imp-upload-msg", "children"),
    Input("imp-upload", "contents"),
    State("imp-upload", "filename"),
    prevent_initial_call=True,
)
def upload(contents, filenames):
    if not contents:
        return no_update, no_update
    if not _may_write():
        return None, t("imp.forbidden")
    saved = save_upload(list(contents), list(filenames))
    if "error" in saved:
        return None, saved["error"]
    return saved, "、".join(saved["files"])


def _options(encoding, crs, source_layer, columns):
    return dict(encoding=encoding or None, crs=crs or None, source_layer=source_layer or None, columns=columns or None)


def _edited_columns(rows: list[dict] | None, report: dict | None) -> dict | None:
    """The mapping the user changed, as `columns` for the importer: the earlier changes plus
    every row whose field now differs from what the last inspection read ("-" ignores a
    column), so the columns left alone keep being recognised by their headers."""
    report = report or {}
    before = {c["column"]: c["field"] or IGNORE for c in report.get("columns") or []}
    out = dict((report.get("options") or {}).get("columns") or {})
    for r in rows or []:
        if r.get("field") and before.get(r["column"]) != r["field"]:
            out[r["column"]] = "-" if r["field"] == IGNORE else r["field"]
    return out or None


@callback(
    Output("imp-report", "data"),
    Output("imp-summary", "children"),
    Output("imp-mapping", "data"),
    Output("imp-mapping", "dropdown"),
    Output("imp-problems", "children"),
    Output("imp-source-layer", "options"),
    Output("imp-map-data", "data"),
    Output("imp-run", "disabled"),
    Input("imp-file", "data"),
    Input("imp-layer", "value"),
    Input("imp-encoding", "value"),
    Input("imp-crs", "value"),
    Input("imp-source-layer", "value"),
    Input("imp-mapping", "data_timestamp"),
    State("imp-mapping", "data"),
    State("imp-report", "data"),
    prevent_initial_call=True,
)
def inspect(file, layer, encoding, crs, source_layer, _edited, mapping, last):
    """Re-read the file as the importer would, nothing written, with the page's options."""
    found = upload_files(file) if _may_write() else None
    if found is None:
        return None, summary({}), [], no_update, [], [], None, True
    # A mapping edit keeps the earlier ones; another file, layer or sheet starts afresh.
    same_file = last and (last.get("options") or {}).get("layer") == layer and last.get("file") == file.get("name")
    if ctx.triggered_id == "imp-mapping":
        columns = _edited_columns(mapping, last)
    elif same_file and ctx.triggered_id in ("imp-encoding", "imp-crs"):
        columns = (last.get("options") or {}).get("columns")
    else:
        columns = None
    with db.system() as conn:
        report = inspect_file(conn, layer, found[0], **_options(encoding, crs, source_layer, columns))
        home = dashboard.jurisdiction(conn)["code"]  # its outline under the preview, and the view to fit
        outline = drill_geo.child_shapes(conn, home) if home else None
        fit = drill_geo.bounds(conn, home) if home else None
    report["options"] = dict(layer=layer, encoding=encoding, crs=crs, source_layer=source_layer, columns=columns)
    layers = [{"label": name, "value": name} for name in report.get("layers") or []]
    return (
        report,
        summary(report),
        _mapping_rows(report),
        {"field": {"options": _field_options(report), "clearable": False}},
        problems_view(report),
        layers,
        {"sample": report.get("sample"), "layer": layer, "outline": outline, "bounds": fit},
        not (report.get("ok") and report.get("rows")),
    )


clientside_callback(
    ClientsideFunction(namespace="quanyuImport", function_name="render"),
    Output("imp-map-state", "data"),
    Input("imp-map-data", "data"),
)


@callback(
    Output("imp-job", "data"),
    Output("imp-poll", "disabled"),
    Output("imp-result", "children"),
    Input("imp-run", "n_clicks"),
    State("imp-file", "data"),
    State("imp-report", "data"),
    State("imp-mode", "value"),
    State("imp-skip", "value"),
    prevent_initial_call=True,
)
def run(_clicks, file, report, mode, skip):
    if not _may_write():
        return no_update, True, t("imp.forbidden")
    found = upload_files(file)
    if found is None or not isinstance(report, dict) or not isinstance(report.get("options"), dict):
        return no_update, True, t("imp.first")
    o = report["options"]
    user = actor_name()
    path, parts = found
    folder = path.parent

    def work(progress):
        try:
            with db.system() as conn:
                result = import_file(
                    conn,
                    o["layer"],
                    path,
                    mode=mode,
                    skip_invalid="skip" in (skip or []),
                    user=user,
                    progress=progress,
                    **_options(o["encoding"], o["crs"], o["source_layer"], o["columns"]),
                )
                accounts.audit(conn, "import", f"{o['layer']}:{file['name']}", {"rows": result.rows, "by": user})
        except ImportFailed as exc:  # name the user's file, not our copy of it
            raise ImportFailed(file["name"], [str(exc).replace(str(folder) + "/", "")]) from None
        for part in parts:  # imported: the upload goes, the rejected rows stay for download
            part.unlink(missing_ok=True)
        rejected = Path(result.rejected_path).name if result.rejected_path else None
        return {"summary": result.summary().replace(str(folder) + "/", ""), "rejected": rejected, "token": file["token"]}

    job = jobs.start(user, o["layer"], file["name"], work)
    return {"id": job}, False, t("imp.running")


@callback(
    Output("imp-bar", "style"),
    Output("imp-progress-text", "children"),
    Output("imp-result", "children", allow_duplicate=True),
    Output("imp-poll", "disabled", allow_duplicate=True),
    Output("imp-history", "data", allow_duplicate=True),
    Output("imp-file", "data", allow_duplicate=True),
    Input("imp-poll", "n_intervals"),
    State("imp-job", "data"),
    prevent_initial_call=True,
)
def poll(_n, job):
    if not job:
        return no_update, no_update, no_update, True, no_update, no_update
    row = jobs.get(job["id"], actor_name())
    if row is None:
        return no_update, no_update, no_update, True, no_update, no_update
    bar = {"width": f"{round(row['fraction'] * 100)}%"}
    text = f"{round(row['fraction'] * 100)}% {row['message']}"
    if row["finished_at"] is None:
        return bar, text, no_update, False, no_update, no_update
    result = row["result"] or {}
    if row["ok"]:
        done = [f"{t('imp.done')}\n{result.get('summary', '')}"]
        if result.get("rejected"):
            href = f"{REJECTED_URL}/{result['token']}/{result['rejected']}"
            done += ["\n", html.A(t("imp.rejected"), href=href, id="imp-rejected")]
        return bar, text, done, True, history_rows(), None
    return bar, text, f"{t('imp.failed')}\n{result.get('error', '')}", True, no_update, no_update


@callback(
    Output("imp-undo-msg", "children"),
    Output("imp-history", "data", allow_duplicate=True),
    Input("imp-undo", "n_clicks"),
    State("imp-history", "selected_rows"),
    State("imp-history", "data"),
    prevent_initial_call=True,
)
def undo(_clicks, selected, rows):
    if not _may_write():
        return t("imp.forbidden"), no_update
    if not selected:
        return t("imp.undo.pick"), no_update
    batch = rows[selected[0]]["id"]
    try:
        with db.system() as conn:
            done = batches.undo(conn, batch, actor_name())
            accounts.audit(conn, "import.undo", f"batch:{batch}", {"by": actor_name()})
    except (batches.UndoRefused, ImportFailed) as exc:
        return str(exc), history_rows()
    return t("imp.undo.ok", **{k: done[k] for k in ("batch", "removed", "restored")}, file=done["file_name"]), history_rows()


@bp.route(f"{REJECTED_URL}/<token>/<name>")
def rejected_file(token: str, name: str):
    """The rows an import set aside (FILE.rejected.csv/.xlsx with a reason column), for download:
    to the accounts that may import, as the file itself was (the rows are people's records;
    a link passed on is not a permission)."""
    folder = _upload_dir(token)
    if (
        not _may_write()
        or folder is None
        or name != _safe_name(name)
        or ".rejected." not in name
        or not (folder / name).is_file()
    ):
        flask.abort(404)
    return flask.send_file(folder / name, as_attachment=True, download_name=name)


dash.register_page(__name__, path=PATH, title=t("imp.title"), name=t("imp.title"), order=80, layout=layout)
