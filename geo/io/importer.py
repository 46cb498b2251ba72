"""Import a file into one layer (boundary, grids, households, incidents, places), all or nothing.

Why this shape: the files come from clerks, not GIS staff, so every row is checked first and
up to MAX_SHOWN problems are reported at once (file, row, what is wrong) to fix the file in
one go; nothing is written unless everything is right (one transaction, `import_log` only on
success). Rows then go through a TEMP staging table loaded with COPY, and the spatial work
(community, grid, jurisdiction) is one set-based SQL statement each, so that 100k rows take
seconds, not the minutes that row-by-row INSERTs would.
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
import shapely

from geo import assign, db
from geo import crs as crs_mod
from geo.incidents.dispatch import work_calendar
from geo.io import readers, upload_check
from geo.worktime import CST, add_working_time

LAYERS = ("boundary", "grids", "households", "incidents", "places")
MAX_SHOWN = 20
TOLERANCE_M = 50  # points this close outside the jurisdiction are accepted (GPS noise)
_TOLERANCE_DEG = 0.001  # index pre-filter for TOLERANCE_M (50 m < 0.001 deg of lon below 60 N)
CHUNK = 20_000
MAX_TEXT_CHARS = 4000  # the longest text cell (an incident description, as routing.MAX_DESCRIPTION)
# C0 control characters but tab, LF and CR, and DEL: PostgreSQL refuses NUL in text, XML and
# Excel (openpyxl) refuse the others, so a cell holding one would break every later export.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MIN_TIME, MAX_TIME = datetime(1970, 1, 1, tzinfo=CST), datetime(2100, 1, 1, tzinfo=CST)
POINT, POLYGON = "point", "polygon"


class ImportFailed(Exception):
    """The file cannot be imported; nothing was written. The message names the file, the
    rows and the problems."""

    def __init__(self, path, problems: list[str], crs_line: str | None = None, total: int | None = None):
        self.path, self.problems, self.crs_line = Path(path), problems, crs_line
        total = len(problems) if total is None else total
        lines = [f"{path}: {total} problem{'s' if total != 1 else ''}; nothing was imported (未导入任何数据):"]
        lines += ["  " + p for p in problems[:MAX_SHOWN]]
        if total > MAX_SHOWN:
            lines.append(f"  … and {total - MAX_SHOWN} more")
        if crs_line:
            lines.append(crs_line)
        super().__init__("\n".join(lines))


@dataclass
class ImportResult:
    layer: str
    path: Path
    rows: int
    crs: crs_mod.Crs
    crs_line: str
    repairs: list[str]
    notes: list[str]

    def summary(self) -> str:
        lines = [f"导入完成 imported {self.rows} {self.layer} from {self.path.name}", self.crs_line]
        if self.repairs:
            lines.append(f"修复 repaired {len(self.repairs)} invalid geometr{'y' if len(self.repairs) == 1 else 'ies'}:")
            lines += ["  " + r for r in self.repairs]
        lines += ["注意 note: " + n for n in self.notes]
        return "\n".join(lines)


# --------------------------------------------------------------------------- value parsers
# Each takes a non-empty cell and returns the stored value, or raises ValueError saying why.


def _text(v: Any) -> str | None:
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # Excel and shapefiles store codes and phone numbers as numbers
    if isinstance(v, datetime):
        return v.isoformat()
    text = str(v).strip()
    if CONTROL.search(text):
        raise ValueError("contains control characters (such as NUL): remove them")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"longer than {MAX_TEXT_CHARS} characters ({len(text)})")
    return text or None


def _integer(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(v):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        text = str(v).strip()
        if isinstance(v, bool) or not re.fullmatch(r"[+-]?\d+(\.0*)?", text):
            raise ValueError("not a whole number")
        n = int(text.split(".")[0])
        if not lo <= n <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return n

    return parse


def _choice(choices: dict[Any, tuple[str, ...]]) -> Callable[[Any], Any]:
    lookup = {readers.column_key(a): value for value, aliases in choices.items() for a in (str(value), *aliases)}
    accepted = ", ".join(f"{v}" + (f" ({'/'.join(a)})" if a else "") for v, a in choices.items())

    def parse(v):
        key = readers.column_key(_text(v))
        if key not in lookup:
            raise ValueError(f"unknown value; accepted: {accepted}")
        return lookup[key]

    return parse


def _tags(choices: dict[str, tuple[str, ...]]) -> Callable[[Any], list[str]]:
    one = _choice(choices)

    def parse(v):
        tags = [one(t) for t in re.split(r"[;；,，、|\s]+", str(v)) if t]
        return list(dict.fromkeys(tags))

    return parse


def _timestamp(v: Any) -> datetime:
    """ISO 8601; a time without offset is China Standard Time (UTC+8), as clerks write it."""
    if not isinstance(v, datetime):
        text = _text(v).replace("/", "-")
        try:
            v = datetime.fromisoformat(text)
        except ValueError:
            for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
                try:
                    v = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
            else:
                raise ValueError("not an ISO 8601 time (e.g. 2024-03-01 09:30 or 2024-03-01T09:30:00+08:00)") from None
    v = v if v.tzinfo else v.replace(tzinfo=CST)
    try:  # deadlines are computed from it: year 1 or 9999 would overflow, and is a typo anyway
        inside = MIN_TIME <= v < MAX_TIME
    except OverflowError:
        inside = False
    if not inside:
        raise ValueError(f"must lie between {MIN_TIME:%Y-%m-%d} and {MAX_TIME:%Y-%m-%d}")
    return v


def _boolean(v: Any) -> bool:
    return _choice({True: ("true", "t", "yes", "y", "是", "城镇"), False: ("false", "f", "no", "n", "否", "农村")})(v)


def _code(*lengths: int) -> Callable[[Any], str]:
    def parse(v):
        text = _text(v)
        if not text.isdigit() or len(text) not in lengths:
            raise ValueError(f"must be {' or '.join(map(str, lengths))} digits")
        return text

    return parse


@dataclass(frozen=True)
class Field:
    """One attribute a layer reads: its name, how a cell is parsed, and the column names
    (English and the Chinese headers clerks use) it is found under."""

    name: str
    parse: Callable[[Any], Any] = _text
    required: bool = False
    default: Any = None
    aliases: tuple[str, ...] = ()


# --------------------------------------------------------------------------- vocabularies

GRID_KINDS = {"urban": ("城市", "城市网格", "城镇", "综合"), "rural": ("农村", "农村网格"), "dedicated": ("专属", "专属网格")}
DEDICATED_TYPES = {
    "school": ("学校",),
    "hospital": ("医院",),
    "park": ("园区", "公园"),
    "enterprise": ("企业",),
    "government": ("机关", "政府"),
    "market": ("市场",),
    "other": ("其他",),
}
HOUSEHOLD_TAGS = {
    "new_arrival": ("新迁入", "新入住"),
    "left_behind": ("留守",),
    "major_change": ("重大变故",),
    "hardship": ("特困", "困难"),
    "unemployed": ("失业",),
}
SOURCES = {
    "patrol": ("巡查", "网格员巡查"),
    "resident": ("群众", "居民", "群众上报", "随手拍"),
    "hotline": ("热线", "12345"),
    "police": ("公安", "110", "警情"),
    "open311": (),
    "operator": ("坐席", "值班员"),
    "import": ("导入",),
}
STATUSES = {
    "received": ("接收", "待受理"),
    "registered": ("立案", "受理"),
    "dispatched": ("派遣", "已派遣"),
    "in_progress": ("处置中", "办理中"),
    "verified": ("核查", "已核查"),
    "closed": ("结案", "办结", "已办结"),
    "followed_up": ("回访", "已回访"),
    "returned": ("退回",),
    "escalated": ("升级", "上报上级"),
    "cancelled": ("作废", "撤销", "取消"),
}
INTENSITY = {0: ("无",), 1: ("轻微",), 2: ("较激烈",), 3: ("激烈",)}
PLACE_KINDS = {
    "key_person": ("重点人员", "重点人"),
    "dangerous_thing": ("危险物品", "危险物"),
    "sensitive_place": ("敏感场所", "敏感地"),
    "service_center": ("服务中心", "服务站"),
}
URBAN_KINDS = {"社区", "街道", "区", "市"}
_KIND_SUFFIXES = ("社区", "街道", "村", "镇", "乡", "区", "县", "市")

BOUNDARY_FIELDS = (
    Field("code", _code(6, 9, 12), required=True, aliases=("adcode", "区划代码", "行政区划代码", "统计用区划代码")),
    Field("name", required=True, aliases=("名称", "区划名称")),
    Field("kind", aliases=("类型",)),
    Field("urban", _boolean, aliases=("城镇",)),
    Field("source", aliases=("来源",)),
)
GRID_FIELDS = (
    Field("code", _code(15), aliases=("网格编码", "编码")),
    Field("name", aliases=("网格名称", "名称")),
    Field("kind", _choice(GRID_KINDS), aliases=("网格类型", "类型")),
    Field("dedicated_type", _choice(DEDICATED_TYPES), aliases=("专属类型",)),
    Field("household_standard", _integer(1, 100_000), aliases=("户数标准",)),
)
HOUSEHOLD_FIELDS = (
    Field("address", required=True, aliases=("地址", "住址")),
    Field("head_name", aliases=("户主", "户主姓名", "姓名")),
    Field("phone", aliases=("电话", "联系电话", "手机")),
    Field("persons", _integer(0, 100), default=1, aliases=("人数", "家庭人数")),
    Field("tags", _tags(HOUSEHOLD_TAGS), default=(), aliases=("标签",)),
)
PLACE_FIELDS = (
    Field("kind", _choice(PLACE_KINDS), required=True, aliases=("类型",)),
    Field("category", required=True, aliases=("类别", "分类")),
    Field("name", required=True, aliases=("名称", "姓名")),
    Field("tier", _integer(1, 3), aliases=("管理等级",)),
    Field("danger_grade", _integer(0, 5), aliases=("危险等级",)),
    Field("id_number", aliases=("身份证号", "证件号码")),
    Field("phone", aliases=("电话", "联系电话")),
    Field("address", aliases=("地址",)),
)


def _incident_fields(categories: dict[str, dict]) -> tuple[Field, ...]:
    by_name = {readers.column_key(c["minor_name"]): code for code, c in categories.items()}

    def category(v):
        text = _text(v)
        code = text.zfill(4) if text.isdigit() else by_name.get(readers.column_key(text))
        if code not in categories:
            raise ValueError("unknown incident category; use a minor_code (e.g. 0101) or minor_name (e.g. 婚姻家庭纠纷)")
        return code

    return (
        Field("category", category, required=True, aliases=("minor_code", "minor_name", "类别", "事件类别", "小类")),
        Field("reported_at", _timestamp, required=True, aliases=("上报时间", "时间", "发生时间")),
        Field("title", aliases=("标题", "事件名称")),
        Field("description", aliases=("描述", "简述", "内容")),
        Field("source", _choice(SOURCES), default="import", aliases=("来源",)),
        Field("people_involved", _integer(0, 1_000_000), default=1, aliases=("涉事人数", "涉及人数")),
        Field("duration_days", _integer(0, 36_500), default=0, aliases=("持续天数",)),
        Field("conflict_intensity", _choice(INTENSITY), default=0, aliases=("冲突程度",)),
        Field("behaviour_risk", _integer(0, 3), default=0, aliases=("behavior_risk", "行为风险")),
        Field("status", _choice(STATUSES), default="received", aliases=("状态", "处理状态")),
        Field("address", aliases=("地址", "地点")),
    )


# --------------------------------------------------------------------------- problems


class _Problems:
    """Problems found so far, by row; `fail()` raises them sorted by row."""

    def __init__(self, source: readers.Source, path: Path, crs_line: str | None):
        self.source, self.path, self.crs_line = source, path, crs_line
        self.items: list[tuple[int, int, str]] = []
        self.rows: set[int] = set()

    def add(self, i: int | None, text: str) -> None:
        self.items.append((-1 if i is None else i, len(self.items), text))
        if i is not None:
            self.rows.add(i)

    def fail(self) -> None:
        if self.items:
            shown = sorted(self.items)[:MAX_SHOWN]
            texts = [t if i < 0 else f"{self.source.label(i)}: {t}" for i, _, t in shown]
            raise ImportFailed(self.path, texts, self.crs_line, total=len(self.items))


@dataclass
class _Context:
    conn: Any
    path: Path
    source: readers.Source
    grid_layer: str
    say: Callable[[str], None]
    categories: dict[str, dict] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return f"import:{self.path.name}"


# --------------------------------------------------------------------------- geometry


def _prepare_geometry(source: readers.Source, kind: str, crs: crs_mod.Crs, problems: _Problems):
    """Checked WGS84 geometries (None where a row has a problem) and the repairs made."""
    geoms = np.empty(len(source), dtype=object)
    geoms[:] = source.geometry
    types = shapely.get_type_id(geoms)  # -1 None, 0 Point, 3 Polygon, 4 MultiPoint, 6 MultiPolygon
    if kind == POINT:
        single = (types == 4) & (shapely.get_num_geometries(geoms) == 1)
        geoms[single] = shapely.get_geometry(geoms[single], 0)
        good = (types == 0) | single
    else:
        good = (types == 3) | (types == 6)
    good &= ~shapely.is_empty(geoms)
    wanted = "points" if kind == POINT else "polygons"
    for i in np.flatnonzero(~good):
        g = geoms[i]
        if i in source.geometry_errors:
            problems.add(i, source.geometry_errors[i])
        elif g is None or g.is_empty:
            problems.add(i, "empty geometry (NULL or no coordinates)")
        else:
            problems.add(i, f"wrong geometry type {g.geom_type}: this layer needs {wanted}")
        geoms[i] = None
    idx = np.flatnonzero(good)
    if len(idx):
        geoms[idx] = crs_mod.geometry_to_wgs84(shapely.force_2d(geoms[idx]), crs)
        _check_in_china(geoms, idx, kind, crs, problems)
    repairs = _repair_polygons(source, geoms, problems) if kind == POLYGON else []
    return geoms, repairs


def _check_in_china(geoms, idx, kind: str, crs: crs_mod.Crs, problems: _Problems) -> None:
    bounds = shapely.bounds(geoms[idx])
    inside = crs_mod.in_china(bounds[:, 0], bounds[:, 1]) & crs_mod.in_china(bounds[:, 2], bounds[:, 3])
    for j in np.flatnonzero(~inside):
        i, (x0, y0, x1, y1) = idx[j], bounds[j]
        where = f"({x0:.6f}, {y0:.6f})" if kind == POINT else f"bbox ({x0:.6f}, {y0:.6f}, {x1:.6f}, {y1:.6f})"
        hint = ""
        if crs_mod.in_china(y0, x0):
            hint = "; lon and lat look swapped"
        elif max(abs(x0), abs(x1)) > 180 or max(abs(y0), abs(y1)) > 90:
            hint = "; projected metres? pass --crs EPSG:<code>"
        problems.add(i, f"coordinates outside China {where} read as {crs.label}{hint}")
        geoms[i] = None


def _repair_polygons(source: readers.Source, geoms, problems: _Problems) -> list[str]:
    """MultiPolygons everywhere; invalid ones repaired with make_valid (polygonal part kept)."""
    repairs = []
    for i, g in enumerate(geoms):
        if g is None:
            continue
        if g.is_valid:
            geoms[i] = _multi([g])
            continue
        reason = shapely.is_valid_reason(g)
        fixed = _multi(_polygons(shapely.make_valid(g)))
        if fixed is None:
            problems.add(i, f"invalid geometry ({reason}) and make_valid left no polygon")
            geoms[i] = None
            continue
        geoms[i] = fixed
        repairs.append(
            f"{source.label(i)}: invalid geometry ({reason}) repaired with make_valid into {len(fixed.geoms)} polygon(s)"
        )
    return repairs


def _polygons(g) -> list:
    if g.geom_type == "Polygon":
        return [g] if not g.is_empty else []
    return [p for part in getattr(g, "geoms", []) for p in _polygons(part)]


def _multi(parts: list):
    polys = [p for part in parts for p in _polygons(part)]
    if not polys:
        return None
    multi = shapely.MultiPolygon(polys)
    if not multi.is_valid:  # repaired parts may share an edge: dissolve them
        multi = _multi([shapely.union_all(polys)]) if len(polys) > 1 else None
    return multi


# --------------------------------------------------------------------------- attributes


def _match_columns(source: readers.Source, fields, problems: _Problems) -> dict[str, str]:
    """Field name -> the file's column. Missing required columns fail at once: no row
    could be read without them."""
    keys = {readers.column_key(c): c for c in source.frame.columns}
    cut = 10 if source.format == "shapefile" else None  # GDAL cuts shapefile field names to 10
    matched, missing = {}, []
    for f in fields:
        candidates = [k for a in (f.name, *f.aliases) for k in (readers.column_key(a), readers.column_key(a)[:cut])]
        column = next((keys[k] for k in candidates if k in keys and keys[k] not in matched.values()), None)
        if column is not None:
            matched[f.name] = column
        elif f.required:
            missing.append(f.name + (f" (or {'/'.join(f.aliases)})" if f.aliases else ""))
    if source.missing_geometry:
        missing.append(source.missing_geometry)
    if missing:
        names = [CONTROL.sub("?", str(c))[:40] for c in source.frame.columns]
        found = ", ".join(names[:30]) + (f" … ({len(names)} columns)" if len(names) > 30 else "") or "(none)"
        problems.add(
            None, f"missing required column{'s' if len(missing) > 1 else ''}: {'; '.join(missing)}. Columns found: {found}"
        )
        problems.fail()
    return matched


def _parse_fields(source: readers.Source, fields, columns: dict[str, str], problems: _Problems) -> list[dict]:
    records = [{} for _ in range(len(source))]
    for f in fields:
        column = columns.get(f.name)
        values = source.frame[column].tolist() if column else [None] * len(source)
        parsed: dict[tuple, tuple[bool, Any]] = {}  # columns repeat values (kinds, tags...): parse each once
        for i, v in enumerate(values):
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
                problems.add(i, f"{column}={readers.shown(v)}: {value}")
    return records


def _parse_one(f: Field, v: Any) -> tuple[bool, Any]:
    try:
        return True, f.parse(v)
    except ValueError as exc:
        return False, str(exc)


def _duplicate_codes(ctx: _Context, records: list[dict], problems: _Problems) -> None:
    first: dict[str, int] = {}
    for i, rec in enumerate(records):
        code = rec.get("code")
        if code is not None and first.setdefault(code, i) != i:
            problems.add(i, f"code {code} repeats {ctx.source.label(first[code])}")


def _complete_boundary(ctx: _Context, records: list[dict], problems: _Problems) -> None:
    _duplicate_codes(ctx, records, problems)
    for rec in records:
        code, name = rec.get("code"), rec.get("name") or ""
        if code is None:
            continue
        rec["level"] = (
            "community" if len(code) == 12 else "town" if len(code) == 9 else "city" if code.endswith("00") else "district"
        )
        rec["parent"] = {12: code[:9], 9: code[:6]}.get(len(code), None if rec["level"] == "city" else code[:4] + "00")
        rec["kind"] = rec.get("kind") or next((s for s in _KIND_SUFFIXES if name.endswith(s)), None)
        rec["urban"] = rec["kind"] in URBAN_KINDS if rec.get("urban") is None else rec["urban"]
        rec["source"] = rec.get("source") or ctx.actor


def _complete_incidents(ctx: _Context, records: list[dict], problems: _Problems) -> None:
    """Category, title and deadline of each incident. Deadlines count on the same office
    calendar (holidays, make-up days) as incidents entered by hand (routing.work_calendar);
    a limit in working days depends only on the local day, so it is computed once per day."""
    calendar = work_calendar(ctx.conn)
    by_day: dict[tuple, datetime] = {}
    for i, rec in enumerate(records):
        if i in problems.rows:
            continue
        category = ctx.categories[rec.pop("category")]
        rec["minor_code"] = category["minor_code"]
        rec["title"] = rec["title"] or category["minor_name"]
        limit, unit = category["time_limit"], category["time_unit"]
        if unit == "working_days":
            key = (rec["reported_at"].astimezone(CST).date(), limit)
            if key not in by_day:
                by_day[key] = add_working_time(rec["reported_at"], limit, unit, **calendar)
            rec["deadline"] = by_day[key]
        else:
            rec["deadline"] = add_working_time(rec["reported_at"], limit, unit, **calendar)


# --------------------------------------------------------------------------- database


def _stage(cur, ctx: _Context, spec: "_Layer", records: list[dict], geoms, located=None) -> None:
    """TEMP table import_stage(n, columns..., derived..., geom), the columns filled by one COPY.

    The rows are written by the csv module's C writer straight from column lists (about 3x
    faster than a pandas frame's to_csv); `located` adds the grid_code/admin_code columns
    found in memory (see _locate)."""

    ctx.say(f"写入 writing {len(records)} rows to the staging table …")
    derived = spec.derived + ((("grid_code", "varchar(15)"),) if located is not None else ())
    defs = ", ".join(f"{name} {sqltype}" for name, sqltype in spec.columns + derived)
    geom_type = "Point" if spec.geometry == POINT else "MultiPolygon"
    cur.execute(
        f"CREATE TEMP TABLE import_stage (n integer PRIMARY KEY, {defs}, geom geometry({geom_type}, 4326)) ON COMMIT DROP"
    )
    names = ["n"] + [name for name, _ in spec.columns]
    columns = [range(len(records))]
    for name, sqltype in spec.columns:
        values = [rec[name] for rec in records]
        if sqltype.endswith("[]"):
            values = [db._copy_value(v) for v in values]  # arrays as PostgreSQL literals
        elif any(isinstance(v, datetime) for v in values[:1000]):
            values = [v.isoformat() if isinstance(v, datetime) else v for v in values]
        columns.append(values)
    if located is not None:
        names += ["grid_code", "admin_code"]
        columns += [located[0].tolist(), located[1].tolist()]
    names.append("geom")
    columns.append(shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True).tolist())
    # NULL is the unquoted empty field (CSV COPY's default): never a value, since parsed text is
    # None when empty (the writer writes None as an empty field). A NULL marker such as \N would
    # also turn a cell holding "\N" into NULL.
    rows = zip(*columns)
    for start in range(0, len(records), CHUNK * 10):
        buf = io.StringIO()
        db.csv_writer(buf).writerows(itertools.islice(rows, CHUNK * 10))
        buf.seek(0)
        cur.copy_expert(f"COPY import_stage ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)", buf)
    if located is None:
        cur.execute("CREATE INDEX ON import_stage USING gist (geom)")
    cur.execute("ANALYZE import_stage")


def _locate(conn, geoms) -> tuple[np.ndarray, np.ndarray]:
    """Grid and community of every point, in memory (geo.assign: one bulk STRtree query, on
    every core) instead of one index probe per point in SQL. Same rules as locate_points()
    (0002): the smallest grid code on shared edges and overlaps, the grid's community; for a
    point in no grid, the most specific unit containing it. Points in no unit get admin_code
    None (checked in SQL with the tolerance, see _assign_admin)."""
    n = len(geoms)
    grid_code = np.full(n, None, dtype=object)
    admin_code = np.full(n, None, dtype=object)
    grids = db.rows(
        conn,
        """SELECT code, admin_code, ST_AsBinary(geom) AS wkb FROM grid
                              WHERE valid_to IS NULL AND layer = 'official' ORDER BY code""",
    )
    if grids:
        won = assign.assign(geoms, shapely.from_wkb([bytes(r["wkb"]) for r in grids]))
        hit = won >= 0
        grid_code[hit] = np.array([r["code"] for r in grids], dtype=object)[won[hit]]
        admin_code[hit] = np.array([r["admin_code"] for r in grids], dtype=object)[won[hit]]
    rest = np.flatnonzero(grid_code == None)  # noqa: E711 (elementwise)
    if len(rest):  # only these need the units: few polygons, but large (real boundaries)
        units = db.rows(
            conn,
            """SELECT code, ST_AsBinary(geom) AS wkb FROM admin_unit
                                  WHERE geom IS NOT NULL ORDER BY length(code) DESC, code""",
        )
        if units:
            won = assign.assign(geoms[rest], shapely.from_wkb([bytes(r["wkb"]) for r in units]))
            hit = won >= 0
            admin_code[rest[hit]] = np.array([r["code"] for r in units], dtype=object)[won[hit]]
    return grid_code, admin_code


def _assign_admin(cur, ctx: _Context, problems: _Problems) -> None:
    """admin_code of each point: the most specific unit containing it, else the nearest
    within TOLERANCE_M; a point near none is outside the jurisdiction."""
    ctx.say("空间关联 matching points outside every unit (50 m tolerance) …")
    cur.execute(
        """UPDATE import_stage s SET admin_code = COALESCE(
               (SELECT a.code FROM admin_unit a WHERE ST_Intersects(a.geom, s.geom)
                 ORDER BY length(a.code) DESC, a.code LIMIT 1),
               (SELECT a.code FROM admin_unit a
                 WHERE ST_DWithin(a.geom, s.geom, %(deg)s) AND ST_DWithin(a.geom::geography, s.geom::geography, %(m)s)
                 ORDER BY length(a.code) DESC, ST_Distance(a.geom::geography, s.geom::geography), a.code LIMIT 1))
            WHERE s.admin_code IS NULL""",
        {"deg": _TOLERANCE_DEG, "m": TOLERANCE_M},
    )
    cur.execute("SELECT n, ST_X(geom), ST_Y(geom) FROM import_stage WHERE admin_code IS NULL ORDER BY n")
    outside = cur.fetchall()
    if not outside:
        return
    if not db.scalar(ctx.conn, "SELECT EXISTS (SELECT 1 FROM admin_unit WHERE geom IS NOT NULL)"):
        problems.add(
            None,
            "no administrative boundaries in the database yet: import the boundary first (python -m geo import boundary FILE)",
        )
    else:
        name = db.scalar(ctx.conn, "SELECT string_agg(name, '、') FROM jurisdiction") or "the jurisdiction"
        for n, x, y in outside:
            problems.add(n, f"point ({x:.6f}, {y:.6f}) is outside {name} (more than {TOLERANCE_M} m from its boundary)")
    problems.fail()


def _write_points(table: str, cur, ctx: _Context, problems: _Problems, columns, history: bool = False) -> list[str]:
    """Insert the staged points (grid and community already found by _locate) in one
    statement. Incidents get their risk tier in the same statement, set-based, from the
    same function as the row trigger (risk_assess_incident, 0004), which is switched off for
    it (quanyu.risk_bulk, 0019); the grids they touch are recomputed once at the end."""
    _assign_admin(cur, ctx, problems)
    names = [c for c, _ in columns]
    ctx.say(f"写入 inserting into {table} …")
    if table == "incident":
        cur.execute("SET LOCAL quanyu.risk_bulk = 'on'")
        cur.execute("SET LOCAL quanyu.risk_defer = 'on'")
        cur.execute(
            f"""WITH ins AS (
                    INSERT INTO incident ({", ".join(names)}, grid_code, admin_code, geom, risk_score, risk_tier, risk_reasons)
                    SELECT {", ".join("s." + c for c in names)}, s.grid_code, s.admin_code, s.geom,
                           (s.a).score, (s.a).tier, (s.a).reasons
                      FROM (SELECT s.*, CASE WHEN r.incident_params IS NOT NULL THEN
                                   risk_assess_incident(r.incident_params, c.severity, s.people_involved, s.duration_days,
                                                        s.conflict_intensity, s.behaviour_risk, s.status, 0) END AS a
                              FROM import_stage s JOIN category c ON c.minor_code = s.minor_code
                              LEFT JOIN risk_config r ON r.id = 1 OFFSET 0) s
                     ORDER BY s.n RETURNING id, status, admin_code, grid_code),
                 hist AS (INSERT INTO incident_history (incident_id, to_status, actor, note, admin_code)
                          SELECT id, status, %(actor)s, 'imported', admin_code FROM ins ORDER BY id)
            SELECT count(*) - count(grid_code), array_agg(DISTINCT grid_code) FILTER (WHERE grid_code IS NOT NULL) FROM ins""",
            {"actor": ctx.actor},
        )
        gridless, touched = cur.fetchone()
        cur.execute("SET LOCAL quanyu.risk_bulk = 'off'")
        cur.execute("SET LOCAL quanyu.risk_defer = 'off'")
        if touched:
            ctx.say(f"风险 recomputing {len(touched)} grid(s) …")
            cur.execute("SELECT risk_recompute_grids(%s)", (touched,))
    else:
        cur.execute(
            f"""INSERT INTO {table} ({", ".join(names)}, grid_code, admin_code, geom)
                SELECT {", ".join("s." + c for c in names)}, s.grid_code, s.admin_code, s.geom FROM import_stage s ORDER BY s.n"""
        )
        cur.execute("SELECT count(*) FROM import_stage WHERE grid_code IS NULL")
        gridless = cur.fetchone()[0]
    return [f"{gridless} row(s) lie in no official grid (grid_code left empty)"] if gridless else []


def _write_boundary(cur, ctx: _Context, problems: _Problems, columns) -> list[str]:
    ctx.say("写入 upserting administrative units …")
    cur.execute(
        """INSERT INTO admin_unit AS u (code, level, name, kind, urban, parent_code, geom, source)
           SELECT s.code, s.level, s.name, s.kind, s.urban,
                  CASE WHEN EXISTS (SELECT 1 FROM admin_unit p WHERE p.code = s.parent)
                         OR EXISTS (SELECT 1 FROM import_stage p WHERE p.code = s.parent) THEN s.parent END,
                  s.geom, s.source
             FROM import_stage s ORDER BY length(s.code), s.n
           ON CONFLICT (code) DO UPDATE SET level = EXCLUDED.level, name = EXCLUDED.name, kind = EXCLUDED.kind,
                  urban = EXCLUDED.urban, parent_code = COALESCE(EXCLUDED.parent_code, u.parent_code),
                  geom = EXCLUDED.geom, source = EXCLUDED.source
           RETURNING xmax = 0"""
    )
    inserted = sum(1 for (new,) in cur.fetchall() if new)
    notes = [f"{inserted} new and {cur.rowcount - inserted} updated administrative unit(s)"]
    if not db.scalar(ctx.conn, "SELECT EXISTS (SELECT 1 FROM jurisdiction)"):
        cur.execute(
            """SELECT code, name, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM import_stage
                WHERE level IN ('city', 'district') ORDER BY level = 'city' DESC, n LIMIT 1"""
        )
        top = cur.fetchone()
        if top:
            code, name, x, y = top
            srid = crs_mod.metric_crs_for(x, y)
            cur.execute(
                "INSERT INTO jurisdiction (code, name, metric_srid, source) VALUES (%s, %s, %s, %s)",
                (code, name, srid, ctx.actor),
            )
            notes.append(f"jurisdiction set to {name} ({code}), metric CRS EPSG:{srid}")
    return notes


def _write_grids(cur, ctx: _Context, problems: _Problems, columns) -> list[str]:
    ctx.say("空间关联 matching grids to communities …")
    cur.execute(
        """UPDATE import_stage s SET admin_code = (
               SELECT code FROM (SELECT a.code, ST_Area(ST_Intersection(a.geom, s.geom)) AS overlap
                                   FROM admin_unit a WHERE a.level = 'community' AND ST_Intersects(a.geom, s.geom)) o
                WHERE overlap > 0 ORDER BY overlap DESC, code LIMIT 1)"""
    )
    cur.execute("SELECT n FROM import_stage WHERE admin_code IS NULL ORDER BY n")
    for (n,) in cur.fetchall():
        problems.add(
            n, "overlaps no community: every grid belongs to one village/community (import the community boundaries first)"
        )
    problems.fail()
    notes = [
        f"{ctx.source.label(n)}: code {code} is under community {code[:12]} but the grid lies mostly in {admin}; admin_code follows the map"
        for n, code, admin in _fetch(
            cur, "SELECT n, code, admin_code FROM import_stage WHERE left(code, 12) <> admin_code ORDER BY n"
        )
    ]
    # Missing codes: the community code + the next free 3-digit sequence, numbered
    # west -> east within rows taken north -> south (GB/T 30428 practice).
    cur.execute(
        """WITH used AS (SELECT left(code, 12) AS prefix, max(right(code, 3)::int) AS top
                           FROM (SELECT code FROM grid UNION ALL SELECT code FROM import_stage WHERE code IS NOT NULL) c
                          GROUP BY 1),
                todo AS (SELECT n, admin_code, row_number() OVER (PARTITION BY admin_code
                                ORDER BY round(ST_Y(ST_Centroid(geom))::numeric, 3) DESC, ST_X(ST_Centroid(geom)), n) AS k
                           FROM import_stage WHERE code IS NULL)
           UPDATE import_stage s SET code = CASE WHEN COALESCE(u.top, 0) + t.k <= 999
                                                 THEN t.admin_code || lpad((COALESCE(u.top, 0) + t.k)::text, 3, '0') END
             FROM todo t LEFT JOIN used u ON u.prefix = t.admin_code WHERE s.n = t.n"""
    )
    generated = cur.rowcount
    for n, admin in _fetch(cur, "SELECT n, admin_code FROM import_stage WHERE code IS NULL ORDER BY n"):
        problems.add(n, f"no free grid number left under community {admin} (001-999 are taken)")
    problems.fail()
    cur.execute(
        """UPDATE import_stage s SET name = COALESCE(s.name, a.name || '第' || right(s.code, 3)::int || '网格'),
                                     kind = COALESCE(s.kind, CASE WHEN a.urban THEN 'urban' ELSE 'rural' END)
             FROM admin_unit a WHERE a.code = s.admin_code"""
    )
    # A boundary is never edited in place: close the current version, add the next one.
    cur.execute(
        """UPDATE grid g SET valid_to = now() FROM import_stage s
            WHERE g.layer = %(layer)s AND g.code = s.code AND g.valid_to IS NULL""",
        {"layer": ctx.grid_layer},
    )
    replaced = cur.rowcount
    cur.execute(
        """INSERT INTO grid (code, name, kind, dedicated_type, layer, household_standard, admin_code, version,
                             edited_by, edit_note, geom)
           SELECT s.code, s.name, s.kind, s.dedicated_type, %(layer)s, s.household_standard, s.admin_code,
                  COALESCE((SELECT max(g.version) FROM grid g WHERE g.layer = %(layer)s AND g.code = s.code), 0) + 1,
                  %(actor)s, 'imported', s.geom
             FROM import_stage s ORDER BY s.n""",
        {"layer": ctx.grid_layer, "actor": ctx.actor},
    )
    if generated:
        notes.append(f"generated codes for {generated} grid(s) (community code + sequence, west→east, north→south)")
    if replaced:
        notes.append(f"{replaced} grid(s) already existed: old version closed (valid_to), new version added")
    return notes


def _fetch(cur, sql: str) -> list[tuple]:
    cur.execute(sql)
    return cur.fetchall()


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class _Layer:
    geometry: str
    fields: Callable[[_Context], tuple[Field, ...]]
    columns: tuple[tuple[str, str], ...]  # staged (name, SQL type), copied from the records
    write: Callable[..., list[str]]
    complete: Callable[[_Context, list[dict], _Problems], None] | None = None
    derived: tuple[tuple[str, str], ...] = (("admin_code", "varchar(12)"),)  # staged, filled in SQL


SPECS: dict[str, _Layer] = {
    "boundary": _Layer(
        POLYGON,
        lambda ctx: BOUNDARY_FIELDS,
        (
            ("code", "varchar(12)"),
            ("level", "text"),
            ("name", "text"),
            ("kind", "text"),
            ("urban", "boolean"),
            ("parent", "varchar(12)"),
            ("source", "text"),
        ),
        _write_boundary,
        _complete_boundary,
        derived=(),
    ),
    "grids": _Layer(
        POLYGON,
        lambda ctx: GRID_FIELDS,
        (
            ("code", "varchar(15)"),
            ("name", "text"),
            ("kind", "text"),
            ("dedicated_type", "text"),
            ("household_standard", "integer"),
        ),
        _write_grids,
        _duplicate_codes,
    ),
    "households": _Layer(
        POINT,
        lambda ctx: HOUSEHOLD_FIELDS,
        (("address", "text"), ("head_name", "text"), ("phone", "text"), ("persons", "smallint"), ("tags", "text[]")),
        partial(_write_points, "household"),
    ),
    "incidents": _Layer(
        POINT,
        lambda ctx: _incident_fields(ctx.categories),
        (
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
            ("address", "text"),
        ),
        partial(_write_points, "incident", history=True),
        _complete_incidents,
    ),
    "places": _Layer(
        POINT,
        lambda ctx: PLACE_FIELDS,
        (
            ("kind", "text"),
            ("category", "text"),
            ("name", "text"),
            ("tier", "smallint"),
            ("danger_grade", "smallint"),
            ("id_number", "text"),
            ("phone", "text"),
            ("address", "text"),
        ),
        partial(_write_points, "place"),
    ),
}


def crs_line(crs: crs_mod.Crs, reason: str) -> str:
    """The sentence every import prints: which system the coordinates were read in, and why."""
    if crs.key == crs_mod.WGS84.key:
        tail = "stored as is"
    elif crs.key == crs_mod.CGCS2000.key:
        tail = "stored as WGS84 (CGCS2000 and WGS84 differ by centimetres)"
    else:
        tail = "→ converted to WGS84"
    return f"坐标系 CRS: {crs.label} ({reason}) {tail}"


def import_file(
    conn, layer: str, path, *, crs=None, grid_layer: str | None = None, progress: Callable[[str], None] | None = None
) -> ImportResult:
    """Validate `path` completely, then load it into `layer` in one transaction.

    crs: overrides what the file says (a name or Crs, see geo.crs.parse_crs);
    grid_layer: departmental grid layer (police, urban management...), grids only;
    progress: called with short progress lines (the CLI prints them to stderr).
    Raises ImportFailed (nothing written) when any row is wrong.
    """
    if layer not in SPECS:
        raise ValueError(f"unknown layer {layer!r}; one of {', '.join(LAYERS)}")
    path, say = Path(path), progress or (lambda _msg: None)
    if grid_layer and layer != "grids":
        raise ImportFailed(path, ["--layer (a departmental grid layer) applies to grids only"])
    say(f"读取 reading {path.name} …")
    try:
        source = readers.read_source(path, prefer_layer=layer)
    except upload_check.FileRejected as exc:  # too large, or not what its extension says
        raise ImportFailed(path, [str(exc)]) from exc
    except Exception as exc:  # any reader error means the same thing to the user
        raise ImportFailed(path, [f"cannot read the file: {exc}"]) from exc
    try:
        used_crs, reason = readers.resolve_crs(source, crs)
    except ValueError as exc:
        raise ImportFailed(path, [str(exc)]) from exc
    line = crs_line(used_crs, reason)
    say(line)
    spec, problems = SPECS[layer], _Problems(source, path, line)
    ctx = _Context(conn, path, source, grid_layer or "official", say)
    if layer == "incidents":
        ctx.categories = {
            r["minor_code"]: r for r in db.rows(conn, "SELECT minor_code, minor_name, time_limit, time_unit FROM category")
        }
        if not ctx.categories:
            problems.add(None, "the category table is empty: load the incident categories first (data/categories.csv)")
            problems.fail()
    fields = spec.fields(ctx)
    columns = _match_columns(source, fields, problems)
    if len(source) == 0:
        problems.add(None, "the file has no data rows")
        problems.fail()
    say(f"校验 validating {len(source)} rows …")
    geoms, repairs = _prepare_geometry(source, spec.geometry, used_crs, problems)
    records = _parse_fields(source, fields, columns, problems)
    if spec.complete:
        spec.complete(ctx, records, problems)
    problems.fail()
    ignored = [CONTROL.sub("?", str(c))[:60] for c in source.frame.columns if c not in columns.values()]
    notes = [f"ignored column(s): {', '.join(ignored)}"] if ignored else []
    located = None
    if spec.geometry == POINT:
        say("空间关联 locating points in grids and communities …")
        located = _locate(conn, geoms)
    with db.transaction(conn) as cur:
        _stage(cur, ctx, spec, records, geoms, located)
        notes += spec.write(cur, ctx, problems, spec.columns)
        log_layer = layer if ctx.grid_layer == "official" else f"{layer}:{ctx.grid_layer}"
        cur.execute(
            "INSERT INTO import_log (layer, file_name, source_crs, rows, repaired, note) VALUES (%s, %s, %s, %s, %s, %s)",
            (log_layer, path.name, used_crs.key, len(records), len(repairs), "; ".join([reason, *notes])),
        )
    return ImportResult(layer, path, len(records), used_crs, line, repairs, notes + source.notes)
