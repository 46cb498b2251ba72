"""Import the county's own reference layers (底图): roads, water, residential blocks, place names.

Surveying offices hand these over as Shapefiles (GBK DBF, often no .cpg, a Gauss-Kruger zone)
or GeoPackages. They go through the same reader as every other import (encodings, several
layers, the coordinate system said and why: geo.io.readers) and land in `basemap_feature` as
one batch that `python -m geo import history` lists and `import undo` removes. A re-import of
a kind replaces that kind by default (--mode replace; undo brings the old one back): an office
sends a whole road layer, not an increment.

A feature keeps its name and class (the office's words: 国道, 主干路, 支路, 河流 ...), and gets a
rank (1 major ... 4 minor) from the class, which decides from which zoom it is drawn
(layers/basemap.py) and so keeps a county's tiles small at low zoom. Lines are stored one part
per row, so a road's name follows each of its pieces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from geo import crs as crs_mod
from geo import db
from geo.io import batches, importer, readers
from geo.io.problems import ImportFailed

KINDS = {  # kind -> geometry types it takes
    "roads": ("LineString",),
    "water": ("LineString", "Polygon"),
    "blocks": ("Polygon",),
    "places": ("Point",),
}
NAME_COLUMNS = (
    "name",
    "名称",
    "道路名称",
    "路名",
    "河流名称",
    "水系名称",
    "地名",
    "标准名称",
    "小区名称",
    "mc",
    "dmmc",
    "roadname",
)
CLASS_COLUMNS = ("class", "fclass", "等级", "道路等级", "类型", "类别", "分类", "地名类别", "dj", "lx", "type", "kind")
# Rank from the office's class words: what a county map shows first. A one-character word
# matches only the whole class (区 is a district, not the 区 of 社区); longer words match inside
# it (城市主干路). Unknown words rank 4 for roads (drawn only close in), 2 for water, 3 for places.
RANK_WORDS = (
    (1, ("高速", "国道", "快速路", "motorway", "trunk", "一级公路", "县", "区", "市", "江", "湖泊", "水库")),
    (2, ("省道", "主干", "primary", "二级公路", "街道", "镇", "乡", "河流", "河")),
    (3, ("县道", "次干", "secondary", "tertiary", "三级公路", "社区", "村", "居委会", "渠", "沟")),
)
DEFAULT_RANK = {"roads": 4, "water": 2, "blocks": 4, "places": 3}
MAX_PROBLEMS = 200  # listed in the error; the count says how many more
TABLE = "basemap_feature"


@dataclass
class BasemapResult:
    kind: str
    path: Path
    batch: int
    features: int
    removed: int
    crs_line: str
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"底图导入 {self.kind}: {self.features} feature(s) from {self.path.name} as batch {self.batch}"]
        if self.removed:
            lines.append(
                f"  replaced {self.removed} earlier {self.kind} feature(s) (python -m geo import undo {self.batch} brings them back)"
            )
        lines += ["  " + n for n in self.notes]
        lines.append(self.crs_line)
        return "\n".join(lines)


def rank_of(kind: str, klass: str | None) -> int:
    text = (klass or "").lower()
    if kind in ("roads", "water", "places"):
        for rank, words in RANK_WORDS:
            if any(text == w or (len(w) > 1 and w in text) for w in words):
                return rank
    return DEFAULT_RANK[kind]


def _column(source: readers.Source, wanted: str | None, known: tuple[str, ...], what: str) -> str | None:
    columns = [c for c in source.frame.columns if c != "geometry"]
    if wanted:
        for c in columns:
            if c == wanted or readers.column_key(c) == readers.column_key(wanted):
                return c
        raise ImportFailed(source.path, [f"no column {wanted!r} for the {what}; columns found: {', '.join(map(str, columns))}"])
    keys = {readers.column_key(c): c for c in columns}
    return next((keys[k] for k in known if k in keys), None)


def _features(source: readers.Source, kind: str, crs: crs_mod.Crs, name_col, class_col) -> tuple[list, list[str]]:
    """(rows of name, class, rank, geometry) and the problems, row by row."""
    problems = [f"{source.label(i)}: {msg}" for i, msg in sorted(source.geometry_errors.items())]
    geoms = np.empty(len(source), dtype=object)
    geoms[:] = source.geometry
    ok = np.array([g is not None and not g.is_empty for g in geoms], bool)
    idx = np.flatnonzero(ok)
    if len(idx):
        geoms[idx] = crs_mod.geometry_to_wgs84(shapely.force_2d(geoms[idx]), crs)
    names = source.frame[name_col].tolist() if name_col else [None] * len(source)
    classes = source.frame[class_col].tolist() if class_col else [None] * len(source)
    rows = []
    for i, g in enumerate(geoms):
        if i in source.geometry_errors:
            continue
        if not ok[i]:
            problems.append(f"{source.label(i)}: empty geometry")
            continue
        lon0, lat0, lon1, lat1 = g.bounds
        if not (crs_mod.in_china(lon0, lat0) and crs_mod.in_china(lon1, lat1)):
            problems.append(f"{source.label(i)}: lies outside China read as {crs.label} ({lon0:.4f}, {lat0:.4f}): wrong --crs?")
            continue
        parts = [p for p in shapely.get_parts(g) if p.geom_type in KINDS[kind]]
        if not parts:
            wanted = " or ".join(KINDS[kind])
            problems.append(f"{source.label(i)}: a {g.geom_type} in a {kind} layer, which takes {wanted}")
            continue
        name = _text(names[i])
        klass = _text(classes[i])
        for p in parts:
            if p.geom_type == "Polygon" and not p.is_valid:
                p = shapely.make_valid(p)
            rows.append((name, klass, rank_of(kind, klass), p))
    return rows, problems


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = re.sub(r"\s+", " ", str(value)).strip()
    return text or None


def import_basemap(
    conn,
    path: str | Path,
    kind: str,
    *,
    name_column: str | None = None,
    class_column: str | None = None,
    crs=None,
    encoding: str | None = None,
    source_layer: str | None = None,
    mode: str | None = None,
    skip_invalid: bool = False,
    user: str = "system",
    progress=None,
) -> BasemapResult:
    """Read a reference layer and store it as one batch (all or nothing unless skip_invalid)."""
    say = progress or (lambda *_: None)
    if kind not in KINDS:
        raise ValueError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    mode = mode or "replace"
    if mode not in ("append", "replace"):
        raise ValueError("a reference layer is imported with --mode replace (default) or append")
    path = Path(path)
    say(f"读取 reading {path.name} …")
    source = readers.read_source(
        path, layer=source_layer, encoding=encoding, geometry={"places": "point", "blocks": "polygon"}.get(kind)
    )
    source_crs, reason = readers.resolve_crs(source, crs)
    crs_line = importer.crs_line(source_crs, reason)
    name_col = _column(source, name_column, NAME_COLUMNS, "names")
    class_col = _column(source, class_column, CLASS_COLUMNS, "classes")
    rows, problems = _features(source, kind, source_crs, name_col, class_col)
    if problems and not skip_invalid:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"… and {len(problems) - MAX_PROBLEMS} more")
        raise ImportFailed(path, shown + ["fix these rows, or pass --skip-invalid to import the others"], crs_line, len(problems))
    if not rows:
        raise ImportFailed(path, [f"no {kind} features in the file (layers: {', '.join(source.layers) or 'one'})"], crs_line)
    notes = [f"names from column {name_col!r}" if name_col else "no name column found (pass --name-column): no labels"]
    notes.append(
        f"classes from column {class_col!r}" if class_col else "no class column (pass --class-column): every feature one rank"
    )
    if problems:
        notes.append(f"skipped {len(problems)} invalid row(s): {problems[0]}{' …' if len(problems) > 1 else ''}")
    if getattr(source, "encoding", None) is not None and hasattr(source.encoding, "label"):
        notes.append(f"文本编码 text encoding {source.encoding.label}")
    say(f"写入 writing {len(rows)} {kind} features …")
    with db.transaction(conn) as cur:
        enc = source.encoding.label if getattr(source.encoding, "label", None) else None
        batch = batches.create(cur, f"reference:{kind}", path.name, user, mode, source_crs.key, enc)
        removed = 0
        if mode == "replace":
            batches.keep_old(cur, batch, TABLE, "delete", "t.kind = %(kind)s", {"kind": kind})
            cur.execute(f"DELETE FROM {TABLE} WHERE kind = %s", (kind,))
            removed = cur.rowcount
        db.copy_rows(
            cur,
            TABLE,
            ("kind", "name", "class", "rank", "geom", "import_batch"),
            ((kind, n, c, r, shapely.to_wkb(g, hex=True, include_srid=True), batch) for n, c, r, g in _with_srid(rows)),
        )
        batches.finish(
            cur,
            batch,
            dict(rows_read=len(source), inserted=len(rows), removed=removed, rejected=len(problems)),
            "; ".join(notes),
        )
    return BasemapResult(kind, path, batch, len(rows), removed, crs_line, notes)


def _with_srid(rows):
    for name, klass, rank, geom in rows:
        yield name, klass, rank, shapely.set_srid(geom, 4326)
