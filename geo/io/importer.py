"""Import a file into one layer (boundary, grids, households, incidents, places, staff) as one batch.

Why this shape: the files come from clerks, not GIS staff, so every row is checked first and
every problem is reported at once (file, row, what is wrong; an unknown value once, with the
nearest known one) to fix the file in one go; nothing is written unless everything is right,
or, with skip_invalid, the valid rows are written and the others go back to the user in
FILE.rejected.csv with a reason column. Each import is one transaction and one batch
(geo.io.batches) that can be listed and undone.

The pieces, one job each: geo.io.readers (formats, layers), geo.io.encodings (GBK or UTF-8),
geo.io.columns + geo.io.fields (which column is which attribute), geo.io.values (dates,
categories, statuses, place types), geo.io.geometry (checks, CRS), geo.io.staging (COPY
and where points lie), geo.io.writers (insert/update per table), geo.io.batches (history,
undo). `prepare` reads and checks without writing; `import_file(..., dry_run=True)` goes
through the whole write and rolls it back (geo.io.inspect uses both for the 数据导入 page).
"""

from __future__ import annotations

import inspect as _inspect
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from geo import crs as crs_mod
from geo import db
from geo.io import (
    batches,
    columns,
    crs_evidence,
    fields,
    geometry,
    readers,
    records,
    rejected,
    staging,
    units,
    upload_check,
    values,
    writers,
)
from geo.io import jurisdiction as jurisdiction_mod
from geo.io.geometry import crs_line
from geo.io.problems import ImportFailed, Problems
from geo.io.values import CONTROL, HOUSEHOLD_TAGS, MAX_TEXT_CHARS, MAX_TIME, MIN_TIME  # noqa: F401 (the importer's API)

LAYERS = ("boundary", "grids", "households", "incidents", "places", "staff")
MODES = ("append", "upsert", "replace")
POINT, POLYGON = geometry.POINT, geometry.POLYGON
TOLERANCE_M = staging.TOLERANCE_M


@dataclass
class ImportResult:
    layer: str
    path: Path
    rows: int
    crs: crs_mod.Crs
    crs_line: str
    repairs: list[str]
    notes: list[str]
    batch: int | None = None
    counts: dict = field(default_factory=dict)
    rejected: int = 0
    rejected_path: Path | None = None
    encoding: str | None = None
    dry_run: bool = False
    problems: Problems | None = None
    prepared: Any = None  # the Prepared behind it (mapping, sample geometries) for the inspection

    def summary(self) -> str:
        c = self.counts
        head = "试导入 dry run (nothing written)" if self.dry_run else f"导入完成 batch {self.batch}"
        lines = [
            f"{head}: {self.rows} {self.layer} from {self.path.name}: {c.get('inserted', 0)} new, {c.get('updated', 0)} updated, "
            f"{c.get('unchanged', 0)} unchanged, {c.get('removed', 0)} removed, {self.rejected} rejected",
            self.crs_line,
        ]
        if self.encoding:
            lines.append(f"编码 encoding: {self.encoding}")
        if self.rejected_path:
            lines.append(f"未导入 rejected rows with a reason column: {self.rejected_path}")
        if self.repairs:
            lines.append(f"修复 repaired {len(self.repairs)} invalid geometr{'y' if len(self.repairs) == 1 else 'ies'}:")
            lines += ["  " + r for r in self.repairs]
        lines += ["注意 note: " + n for n in self.notes]
        if self.batch and not self.dry_run:
            lines.append(f"撤销 undo with: python -m geo import undo {self.batch}")
        return "\n".join(lines)


@dataclass
class _Context:
    conn: Any
    path: Path
    source: readers.Source
    grid_layer: str
    say: Callable[..., None]
    categories: dict[str, dict] = field(default_factory=dict)
    mode: str = "upsert"
    keyed: bool = False  # the file maps external_id
    skip_invalid: bool = False
    batch: int | None = None
    user: str = "cli"
    jurisdiction: tuple | None = None
    derived_closed: bool = False
    history: bool = False  # incidents: closed months as new partitions (geo.io.history)
    mapping: columns.Mapping | None = None
    notes: list[str] = field(default_factory=list)  # what completing the records decided, for the output

    @property
    def actor(self) -> str:
        return f"import:{self.path.name}"


@dataclass(frozen=True)
class _Layer:
    geometry: str | None
    fields: Callable[[_Context], tuple]
    columns: tuple[tuple[str, str], ...]  # staged (name, SQL type), copied from the records
    write: Callable[..., tuple[dict, list[str]]]
    complete: Callable[[_Context, list[dict], Problems], None] | None = None
    derived: tuple[tuple[str, str], ...] = (("admin_code", "varchar(12)"),)  # staged, filled in SQL
    prefer: str | None = None  # layer or sheet name looked for in a multi-layer file


SPECS: dict[str, _Layer] = {
    "boundary": _Layer(
        POLYGON,
        lambda ctx: fields.BOUNDARY,
        (
            ("code", "varchar(12)"),
            ("level", "text"),
            ("name", "text"),
            ("kind", "text"),
            ("urban", "boolean"),
            ("parent", "varchar(12)"),
            ("parent_name", "text"),
            ("source", "text"),
        ),
        writers.write_boundary,
        records.boundary,
        derived=(),
    ),
    "grids": _Layer(
        POLYGON,
        lambda ctx: fields.GRIDS,
        (
            ("code", "varchar(15)"),
            ("name", "text"),
            ("kind", "text"),
            ("dedicated_type", "text"),
            ("household_standard", "integer"),
        ),
        writers.write_grids,
        partial(records.duplicates, "code"),
    ),
    "households": _Layer(
        POINT,
        lambda ctx: fields.HOUSEHOLDS,
        (
            ("external_id", "text"),
            ("address", "text"),
            ("head_name", "text"),
            ("phone", "text"),
            ("persons", "smallint"),
            ("tags", "text[]"),
        ),
        partial(writers.write_points, "household"),
        records.households,
    ),
    "incidents": _Layer(
        POINT,
        lambda ctx: fields.incidents(values.Categories(ctx.categories, _category_aliases(ctx.conn))),
        (
            ("external_id", "text"),
            ("title", "text"),
            ("description", "text"),
            ("minor_code", "varchar(4)"),
            ("source", "text"),
            ("reported_at", "timestamptz"),
            ("people_involved", "integer"),
            ("duration_days", "integer"),
            ("conflict_intensity", "smallint"),
            ("behaviour_risk", "smallint"),
            ("status", "text"),
            ("deadline", "timestamptz"),
            ("closed_at", "timestamptz"),
            ("address", "text"),
        ),
        partial(writers.write_points, "incident"),
        records.incidents,
    ),
    "places": _Layer(
        POINT,
        lambda ctx: fields.PLACES,
        (
            ("external_id", "text"),
            ("kind", "text"),
            ("category", "text"),
            ("name", "text"),
            ("tier", "smallint"),
            ("danger_grade", "smallint"),
            ("id_number", "text"),
            ("phone", "text"),
            ("address", "text"),
        ),
        partial(writers.write_points, "place"),
        records.places,
    ),
    "staff": _Layer(
        None,
        lambda ctx: fields.STAFF,
        (("grid_code", "varchar(15)"), ("role", "text"), ("name", "text"), ("phone", "text")),
        writers.write_staff,
        records.staff,
    ),
}


def _category_aliases(conn) -> dict[str, str]:
    aliases = values.shipped_category_aliases()
    aliases.update({r["alias"]: r["minor_code"] for r in db.rows(conn, "SELECT alias, minor_code FROM category_alias")})
    return aliases


# --------------------------------------------------------------------------- reading and checking


@dataclass
class Prepared:
    """A file read and checked, nothing written: what the inspection shows and the import writes."""

    layer: str
    path: Path
    ctx: _Context | None = None
    spec: _Layer | None = None
    source: readers.Source | None = None
    crs: crs_mod.Crs | None = None
    crs_reason: str = ""
    crs_line: str | None = None
    layer_fields: tuple = ()
    mapping: columns.Mapping | None = None
    records: list | None = None
    geoms: Any = None
    repairs: list[str] = field(default_factory=list)
    problems: Problems | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def header_words(layer: str, columns_map: dict | str | None = None) -> frozenset[str]:
    """The column names a table of `layer` may have (every field's name and usual headers,
    the coordinate columns, and those the user maps), folded: they find the header row under
    an office's title lines (readers.find_header)."""
    layer_fields = fields.incidents(None) if layer == "incidents" else SPECS[layer].fields(None)
    names = [a for f in layer_fields for a in (f.name, *f.aliases)]
    names += [*readers.LON_COLUMNS, *readers.LAT_COLUMNS, *readers.WKT_COLUMNS, *readers.CRS_COLUMNS]
    try:
        overrides = columns.parse_option(columns_map) if isinstance(columns_map, str) else dict(columns_map or {})
    except ValueError:
        overrides = {}  # said later, where the mapping is applied
    return frozenset({columns.header_key(n) for n in [*names, *overrides]} - {""})


def _sayer(progress) -> Callable[..., None]:
    """progress(message) or progress(message, fraction 0..1), whichever the caller takes."""
    if progress is None:
        return lambda message, fraction=None: None
    try:
        params = list(_inspect.signature(progress).parameters.values())
        two = len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)
    except (TypeError, ValueError):
        two = False
    return (lambda m, f=None: progress(m, f)) if two else (lambda m, f=None: progress(m))


def prepare(
    conn,
    layer: str,
    path,
    *,
    crs=None,
    encoding: str | None = None,
    source_layer: str | None = None,
    columns_map: dict | str | None = None,
    grid_layer: str | None = None,
    progress=None,
) -> Prepared:
    """Read and check `path` for `layer` without writing. Raises ImportFailed (with the
    partial Prepared as `.prepared`) when no row can be read; row problems are collected."""
    if layer not in SPECS:
        raise ValueError(f"unknown layer {layer!r}; one of {', '.join(LAYERS)}")
    path, say = Path(path), _sayer(progress)
    prep = Prepared(layer, path)
    spec = prep.spec = SPECS[layer]
    say(f"读取 reading {path.name} …", 0.02)
    try:
        source = prep.source = readers.read_source(
            path,
            prefer_layer=layer,
            layer=source_layer,
            encoding=encoding,
            geometry=spec.geometry,
            all_polygon_layers=layer == "boundary",
            header_words=header_words(layer, columns_map),
        )
    except upload_check.FileRejected as exc:  # too large, or not what its extension says
        raise _failed(prep, path, [str(exc)]) from exc
    except Exception as exc:  # any reader error means the same thing to the user
        raise _failed(prep, path, [f"cannot read the file: {exc}"]) from exc
    if source.encoding is not None:
        say(f"编码 encoding: {source.encoding.label} ({source.encoding.reason})")
    if spec.geometry is not None:
        try:
            prep.crs, prep.crs_reason = readers.resolve_crs(source, crs)
        except ValueError as exc:
            raise _failed(prep, path, [str(exc)]) from exc
        prep.crs_line = crs_line(prep.crs, prep.crs_reason)
        say(prep.crs_line)
    problems = prep.problems = Problems(source, path, prep.crs_line)
    ctx = prep.ctx = _Context(conn, path, source, grid_layer or "official", say)
    if layer == "incidents":
        ctx.categories = {
            r["minor_code"]: r
            for r in db.rows(conn, "SELECT minor_code, major_name, minor_name, time_limit, time_unit FROM category")
        }
        if not ctx.categories:
            problems.add(None, "the category table is empty: load them with python -m geo import categories data/categories.csv")
            raise _failed(prep, path, problems.lines())
    prep.layer_fields = spec.fields(ctx)
    try:
        overrides = columns.parse_option(columns_map) if isinstance(columns_map, str) else columns_map
        if source.layer_columns:
            _unify_layers(source, prep.layer_fields, overrides, prep.notes)
            overrides = None
        mapping = prep.mapping = ctx.mapping = columns.match(
            list(source.frame.columns),
            prep.layer_fields,
            overrides,
            shapefile=source.format == "shapefile",
            cells=lambda column: source.frame[column].tolist(),
        )
    except ValueError as exc:
        raise _failed(prep, path, [str(exc)]) from exc
    _missing_columns(prep)
    if len(source) == 0:
        problems.add(None, "the file has no data rows")
    if problems.file:
        raise _failed(prep, path, problems.lines())
    say(f"校验 validating {len(source)} rows …", 0.1)
    if spec.geometry is not None:
        prep.geoms, prep.repairs = geometry.prepare(source, spec.geometry, prep.crs, problems)
        if crs is None:
            crs_evidence.check_metres(prep)
        if layer == "grids" and crs is None:
            crs_evidence.check_grids(prep)
        elif spec.geometry == POINT and crs is None:
            crs_evidence.check_points(prep)
        problems = prep.problems  # a corrected CRS re-reads the geometries into new problems
    prep.records = _parse_fields(source, prep.layer_fields, mapping, problems, say)
    if spec.complete:
        spec.complete(ctx, prep.records, problems)
    prep.notes += ctx.notes
    ignored = [CONTROL.sub("?", str(c))[:60] for c in source.frame.columns if c not in mapping.fields.values()]
    if ignored:
        prep.notes.append(f"ignored column(s): {', '.join(ignored)}")
    for name in fields.NOT_STORED.get(layer, ()):
        if name in mapping.fields:
            prep.notes.append(f"column {mapping.fields[name]} recognised as {name} and not stored (only what is needed: PIPL)")
    return prep


def _unify_layers(source: readers.Source, layer_fields, overrides: dict | None, notes: list[str]) -> None:
    """Several layers read together (towns and communities): each layer's own headers are
    recognised on their own (乡镇名称 in one, 社区名称 in the other), then the rows are put
    into one table named by field, which the rest of the import reads as any file."""
    import pandas as pd

    layers = np.array(source.row_layers, dtype=object)
    unified = {f.name: [None] * len(source) for f in layer_fields}
    said = []
    for name, own in source.layer_columns.items():
        mine = {c: v for c, v in (overrides or {}).items() if c in map(str, own)}
        rows = np.flatnonzero(layers == name)
        m = columns.match(
            own,
            layer_fields,
            mine,
            shapefile=source.format == "shapefile",
            cells=lambda column, rows=rows: [source.frame[column].iat[i] for i in rows],
        )
        for field_name, column in m.fields.items():
            cells = source.frame[column].tolist()
            for i in rows:
                unified[field_name][i] = cells[i]
        said.append(f"{name}: " + ", ".join(f"{c}→{f}" for f, c in m.fields.items()))
    source.frame = pd.DataFrame({k: v for k, v in unified.items() if any(x is not None for x in v)}, dtype=object)
    notes.append("columns per layer: " + "; ".join(said))


def _failed(prep: Prepared, path: Path, lines: list[str]) -> ImportFailed:
    exc = ImportFailed(path, lines, prep.crs_line)
    exc.prepared = prep
    return exc


def _missing_columns(prep: Prepared) -> None:
    source, mapping, problems = prep.source, prep.mapping, prep.problems
    missing = [f.name + (f" (or {'/'.join(f.aliases[:6])})" if f.aliases else "") for f in mapping.missing]
    if source.missing_geometry and prep.spec.geometry is not None:
        missing.append(source.missing_geometry)
    if not missing:
        return
    names = [CONTROL.sub("?", str(c))[:40] for c in source.frame.columns]
    found = ", ".join(names[:30]) + (f" … ({len(names)} columns)" if len(names) > 30 else "") or "(none)"
    hint = ' Map a column with --columns "COLUMN=FIELD".'
    from geo.io import encodings

    if encodings.looks_garbled(names):
        hint += " The column names look garbled (GBK text read as Latin-1?): pass --encoding gbk."
    problems.add(
        None, f"missing required column{'s' if len(missing) > 1 else ''}: {'; '.join(missing)}. Columns found: {found}.{hint}"
    )


def _parse_fields(source: readers.Source, layer_fields, mapping: columns.Mapping, problems: Problems, say) -> list[dict]:
    if source.format == "csv":
        return _parse_columns(source, layer_fields, mapping, problems, say)
    return _parse_cells(source, layer_fields, mapping, problems, say)


def _parse_cells(source: readers.Source, layer_fields, mapping: columns.Mapping, problems: Problems, say) -> list[dict]:
    """Cell by cell (any format: Excel and vector files mix numbers, dates and text)."""
    records = [{} for _ in range(len(source))]
    for k, f in enumerate(layer_fields):
        column = mapping.fields.get(f.name)
        column_values = source.frame[column].tolist() if column else [None] * len(source)
        parsed: dict[tuple, tuple[bool, Any]] = {}  # columns repeat values (kinds, tags...): parse each once
        for i, v in enumerate(column_values):
            if v is None:
                if f.required:
                    problems.add(i, f"{column} is empty ({f.name} is required)")
                records[i][f.name] = f.default
                continue
            key = (type(v), v)
            try:
                ok, value = parsed[key]
            except KeyError:
                ok, value = parsed[key] = _parse_one(f, v)
            except TypeError:  # an unhashable cell
                ok, value = _parse_one(f, v)
            if ok:
                records[i][f.name] = value
            else:
                message, suggestion = value
                problems.add_value(i, str(column), v, message, suggestion)
        say(f"校验 {f.name}", 0.1 + 0.4 * (k + 1) / len(layer_fields))
    return records


def _parse_columns(source: readers.Source, layer_fields, mapping: columns.Mapping, problems: Problems, say) -> list[dict]:
    """_parse_fields by column, for a CSV (every cell a string or None): each distinct value of
    a column is parsed once (pandas.factorize numbers them), the parsed values are spread back
    by index, and the records are made at the end, one dict per row. Row by row, a 2-million-
    row history file spent most of its validation in the loop itself. The same parser, the
    same records (a value that failed leaves its field out of the row's record, as there), and
    the same problems in the same order: per field, by row (tests/test_import_columns_fast.py
    holds it equal to the loop)."""
    import pandas as pd

    n = len(source)
    factorized = {}
    for f in layer_fields:
        column = mapping.fields.get(f.name)
        if not column and f.required:
            return _parse_cells(source, layer_fields, mapping, problems, say)
        if column:
            codes, uniques = pd.factorize(source.frame[column].to_numpy(dtype=object))  # None: -1
            factorized[f.name] = codes, list(uniques)
            if not all(type(v) is str for v in factorized[f.name][1]):  # not what a CSV gives
                return _parse_cells(source, layer_fields, mapping, problems, say)
    names, arrays = [], []
    failed: list[tuple[int, str]] = []  # (row, field) of values that did not parse
    for k, f in enumerate(layer_fields):
        column = mapping.fields.get(f.name)
        names.append(f.name)
        if not column:
            arrays.append([f.default] * n)
            continue
        codes, uniques = factorized[f.name]
        results = [_parse_one(f, v) for v in uniques]
        parsed = [value if ok else None for ok, value in results] + [f.default]  # [-1]: an empty cell
        arrays.append([parsed[c] for c in codes.tolist()])
        bad_value = np.array([not ok for ok, _ in results] + [f.required], dtype=bool)
        for i in np.flatnonzero(bad_value[codes]).tolist():
            c = codes[i]
            if c < 0:
                problems.add(i, f"{column} is empty ({f.name} is required)")
                continue
            message, suggestion = results[c][1]
            problems.add_value(i, str(column), uniques[c], message, suggestion)
            failed.append((i, f.name))
        say(f"校验 {f.name}", 0.1 + 0.4 * (k + 1) / len(layer_fields))
    records = [dict(zip(names, row)) for row in zip(*arrays)] if names else [{} for _ in range(n)]
    for i, name in failed:
        del records[i][name]
    return records


def _parse_one(f: columns.Field, v: Any) -> tuple[bool, Any]:
    try:
        return True, f.parse(v)
    except ValueError as exc:
        return False, (str(exc), getattr(exc, "suggestion", None))


# --------------------------------------------------------------------------- importing


class _DryRun(Exception):
    """Raised inside the import transaction to roll a dry run back."""


def import_file(
    conn,
    layer: str,
    path,
    *,
    crs=None,
    grid_layer: str | None = None,
    progress: Callable | None = None,
    encoding: str | None = None,
    source_layer: str | None = None,
    columns: dict | str | None = None,
    mode: str | None = None,
    skip_invalid: bool = False,
    user: str | None = None,
    jurisdiction: str | None = None,
    dry_run: bool = False,
    rejected_to: str | Path | None = None,
    history: bool = False,
) -> ImportResult:
    """Check `path` completely, then load it into `layer` in one transaction, as one batch.

    crs: overrides what the file says (a name or Crs, see geo.crs.parse_crs);
    encoding: forces the text encoding (utf-8, gbk ...); source_layer: the file's layer or
    sheet (--layer); columns: {column: field} or "列=field,..." over the recognised headers;
    grid_layer: departmental grid layer (police, urban management...), grids only;
    mode: append | upsert (default: rows with an external id are updated in place) |
    replace (rows of earlier imports of this layer are removed first);
    skip_invalid: import the valid rows and write the others, with a reason column, to
    `rejected_to` (default FILE.rejected.csv / .xlsx); user: who imports (the batch says);
    jurisdiction: "CODE [NAME]" of the unit this database serves (boundaries);
    dry_run: do everything, then roll back (counts and problems without writing);
    history: incidents only: the rows of closed months without a partition yet are loaded as
    new partitions, indexes built afterwards (geo.io.history); the rest goes the normal way;
    progress: called with progress(message) or progress(message, fraction).
    Raises ImportFailed (nothing written) when any row is wrong and skip_invalid is off.
    """
    path = Path(path)
    if history and layer != "incidents":
        raise ImportFailed(path, [f"--history loads incidents by month; {layer} has no history partitions"])
    if grid_layer and layer != "grids":
        raise ImportFailed(path, ["--grid-layer (a departmental grid layer) applies to grids only"])
    mode = mode or "upsert"
    if mode not in MODES:
        raise ImportFailed(path, [f"--mode {mode!r}: one of {', '.join(MODES)}"])
    try:
        forced = jurisdiction_mod.parse(jurisdiction)
    except ValueError as exc:
        raise ImportFailed(path, [str(exc)]) from None
    prep = prepare(
        conn,
        layer,
        path,
        crs=crs,
        encoding=encoding,
        source_layer=source_layer,
        columns_map=columns,
        grid_layer=grid_layer,
        progress=progress,
    )
    ctx, problems, source = prep.ctx, prep.problems, prep.source
    # Rows with problems are always set aside, so that the checks made in SQL (points outside
    # the jurisdiction, grids in no community) run on the rest and the user sees the WHOLE
    # list; without skip_invalid the transaction is then rolled back (nothing written).
    ctx.mode, ctx.skip_invalid, ctx.user, ctx.jurisdiction = mode, True, user or "cli", forced
    ctx.keyed = "external_id" in prep.mapping.fields
    ctx.history = history
    problems.fail_file()
    records = [None if i in problems.rows else rec for i, rec in enumerate(prep.records)]
    located = None
    if prep.spec.geometry == POINT:
        ctx.say("空间关联 locating points in grids and communities …", 0.6)
        geoms = prep.geoms.copy()
        geoms[[i for i, r in enumerate(records) if r is None]] = None
        located = staging.locate(conn, geoms)
    result = None
    try:
        with db.transaction(conn) as cur:
            if dry_run:  # rolled back at the end: no data version to bump, so no lock for others to wait on (0102)
                cur.execute("SET LOCAL quanyu.dry_run = 'on'")
            log_layer = layer if ctx.grid_layer == "official" else f"{layer}:{ctx.grid_layer}"
            ctx.batch = batches.create(
                cur,
                log_layer,
                path.name,
                ctx.user,
                mode,
                prep.crs.key if prep.crs else None,
                source.encoding.label if source.encoding else None,
            )
            staging.stage(cur, ctx, prep.spec, records, prep.geoms if prep.geoms is not None else np.empty(0), located)
            if layer == "boundary":
                units.codes_for_named(cur, ctx, problems, prep.notes)
            counts, notes = prep.spec.write(cur, ctx, problems, prep.spec.columns)
            if not skip_invalid:
                problems.fail()
            counts["rows_read"], counts["rejected"] = len(source), len(problems.rows)
            all_notes = prep.warnings + prep.notes + notes + source.notes
            batches.finish(cur, ctx.batch, counts, "; ".join([prep.crs_reason, *all_notes]))
            cur.execute(
                "INSERT INTO import_log (layer, file_name, source_crs, rows, repaired, note) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    log_layer,
                    path.name,
                    prep.crs.key if prep.crs else "none",
                    counts["inserted"] + counts["updated"],
                    len(prep.repairs),
                    f"batch {ctx.batch}",
                ),
            )
            result = ImportResult(
                layer,
                path,
                len(source),
                prep.crs or crs_mod.WGS84,
                prep.crs_line or "坐标系 CRS: none (a table without coordinates)",
                prep.repairs,
                all_notes,
                batch=ctx.batch,
                counts=counts,
                rejected=len(problems.rows),
                encoding=f"{source.encoding.label} ({source.encoding.reason})" if source.encoding else None,
                dry_run=dry_run,
            )
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    except ImportFailed as exc:  # a check made in SQL: the inspection still shows what was read
        exc.prepared = prep
        raise
    if problems.rows and not dry_run:
        result.rejected_path = rejected.write(source, problems, rejected_to)
    result.problems, result.prepared = problems, prep
    ctx.say("完成 done", 1.0)
    return result


__all__ = ["ImportFailed", "ImportResult", "LAYERS", "MODES", "SPECS", "import_file", "prepare", "crs_line"]
