"""Export a layer to GeoJSON, GeoPackage, Shapefile (.zip/.shp), CSV or Excel, in a chosen CRS.

Why: data leaves the centre for departments' own GIS, for Excel reports and for web maps in
GCJ-02. A GCJ-02 file taken for WGS84 is off by hundreds of metres, so every output says
which system it is in (a CRS where the format has one, otherwise a `coord_system` column or
top-level member), and personal data (姓名、电话、证件号) is masked unless asked for.
"""

from __future__ import annotations

import csv
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import shapely

from geo import crs as crs_mod
from geo.io import readers
from geo.io.cells import safe_row
from geo.io.importer import LAYERS
from geo.security.masking import mask_id, mask_name, mask_phone
from geo.worktime import CST

EXCEL_CELL_LIMIT = 32_767
WKT_DECIMALS = 9  # 0.1 mm in degrees: exact enough for any round trip
POINT_LAYERS = ("households", "incidents", "places")
LEVELS = ("city", "district", "town", "community")

_QUERIES = {
    "boundary": """SELECT code, name, level, kind, urban, parent_code, source, ST_AsBinary(geom) AS geom
                     FROM admin_unit WHERE geom IS NOT NULL AND (%(level)s::text IS NULL OR level = %(level)s)
                    ORDER BY code""",
    "grids": """SELECT code, name, kind, dedicated_type, layer, household_standard, admin_code, version,
                       valid_from, valid_to, ST_AsBinary(geom) AS geom
                  FROM grid WHERE layer = %(layer)s AND (%(all)s OR valid_to IS NULL) ORDER BY code, version""",
    "households": """SELECT id, address, head_name, phone, persons, tags, grid_code, admin_code, ST_AsBinary(geom) AS geom
                       FROM household ORDER BY id""",
    "incidents": """SELECT i.id, i.title, i.description, i.minor_code, c.minor_name AS category, i.source, i.reported_at,
                           i.people_involved, i.duration_days, i.conflict_intensity, i.behaviour_risk, i.status,
                           i.level_handled, i.deadline, i.closed_at, i.satisfaction, i.address, i.reporter_name,
                           i.reporter_phone, i.grid_code, i.admin_code, ST_AsBinary(i.geom) AS geom
                      FROM incident i JOIN category c USING (minor_code) ORDER BY i.id""",
    "places": """SELECT id, kind, category, name, tier, danger_grade, id_number, phone, address, grid_code, admin_code,
                        ST_AsBinary(geom) AS geom
                   FROM place ORDER BY id""",
}
_MASKS: dict[str, Callable[[Any], Any]] = {
    "head_name": mask_name,
    "phone": mask_phone,
    "id_number": mask_id,
    "reporter_name": mask_name,
    "reporter_phone": mask_phone,
}


class ExportFailed(Exception):
    """The export cannot be written as asked; the message says what to do instead."""


@dataclass
class ExportResult:
    layer: str
    path: Path
    rows: int
    crs: crs_mod.Crs
    crs_line: str
    warnings: list[str]

    def summary(self) -> str:
        lines = [f"导出完成 exported {self.rows} {self.layer} → {self.path}", self.crs_line]
        return "\n".join(lines + ["警告 warning: " + w for w in self.warnings])


@dataclass
class _Table:
    """What a writer gets: the rows (plain values), WGS84-or-target geometries, the CRS."""

    layer: str
    columns: list[str]
    rows: list[list]
    geoms: Any
    crs: crs_mod.Crs

    @property
    def points(self) -> bool:
        return self.layer in POINT_LAYERS


def crs_name(crs: crs_mod.Crs) -> str:
    """Short name written into files (`coord_system`); geo.io.readers reads it back."""
    return {"wgs84": "WGS84", "gcj02": "GCJ-02", "bd09": "BD-09"}.get(crs.key, crs.key)


def export_layer(
    conn,
    layer: str,
    path,
    *,
    crs: Any = "wgs84",
    level: str | None = None,
    grid_layer: str | None = None,
    all_versions: bool = False,
    unmasked: bool = False,
) -> ExportResult:
    """Write `layer` to `path` (format by extension) in `crs` (stored WGS84 converted).

    level: boundary only (city/district/town/community); grid_layer / all_versions: grids
    only (default: the current official grids); unmasked: personal columns in full.
    """
    if layer not in _QUERIES:
        raise ExportFailed(f"unknown layer {layer!r}; one of {', '.join(LAYERS)}")
    if level is not None and (layer != "boundary" or level not in LEVELS):
        raise ExportFailed(f"--level applies to boundary only, one of {', '.join(LEVELS)}")
    if (grid_layer or all_versions) and layer != "grids":
        raise ExportFailed("--layer and --all-versions apply to grids only")
    path = Path(path)
    try:
        fmt = readers.file_format(path)
        target = crs_mod.parse_crs(crs)
    except ValueError as exc:
        raise ExportFailed(str(exc)) from None
    params = {"level": level, "layer": grid_layer or "official", "all": all_versions}
    with conn.cursor() as cur:
        cur.execute(_QUERIES[layer], params)
        columns = [d.name for d in cur.description]
        fetched = cur.fetchall()
    geoms = shapely.from_wkb([bytes(r[-1]) for r in fetched]) if fetched else shapely.from_wkb([])
    records = [dict(zip(columns[:-1], r[:-1])) for r in fetched]
    if not unmasked:
        _mask(records)
    if target.key != crs_mod.WGS84.key:
        geoms = crs_mod.transform_geometries(geoms, crs_mod.WGS84, target)
    table = _Table(layer, columns[:-1], [[_plain(r[c]) for c in columns[:-1]] for r in records], geoms, target)
    path.parent.mkdir(parents=True, exist_ok=True)
    warnings = _WRITERS[fmt](path, table)
    personal = bool(unmasked) and any(c in columns for c in PERSONAL_COLUMNS)
    if personal:
        warnings.append(mark_personal(path, fmt, len(records)))
    from geo.security import accounts

    accounts.audit(
        conn,
        "export.personal" if personal else "export",
        f"{layer}:{path.name}",
        {"rows": len(records), "format": fmt, "crs": target.key, "unmasked": bool(unmasked)},
    )
    conn.commit()
    if target.key == crs_mod.WGS84.key:
        line = f"坐标系 CRS: {target.label} (as stored)"
    else:
        line = f"坐标系 CRS: {target.label} (from --crs) ← converted from WGS84"
    return ExportResult(layer, path, len(records), target, line, warnings)


PERSONAL_COLUMNS = ("head_name", "phone", "id_number", "reporter_name", "reporter_phone")
PERSONAL_NOTICE = (
    "本文件含未脱敏个人信息，受《中华人民共和国个人信息保护法》保护；仅限授权人员在履职范围内使用，"
    "不得转发、复制或公开，用毕销毁。导出行为已记录审计日志。"
)


def mark_personal(path: Path, fmt: str, rows: int) -> str:
    """Mark a file holding personal data in full, where its reader will see it: inside the
    file when the format has room (a GeoJSON member, a workbook sheet and properties),
    beside it otherwise (a .个人信息.txt note next to CSV, GeoPackage and Shapefile)."""
    stamp = datetime.now(CST).isoformat(timespec="seconds")
    if fmt == "geojson":
        text = path.read_text(encoding="utf-8")
        text = text.replace(
            '{"type": "FeatureCollection", ',
            '{"type": "FeatureCollection", "personal_data": '
            + json.dumps(PERSONAL_NOTICE + f" ({stamp})", ensure_ascii=False)
            + ", ",
            1,
        )
        path.write_text(text, encoding="utf-8")
        return "个人信息 personal data in full: marked in the file's personal_data member"
    if fmt == "xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path)
        sheet = book.create_sheet("个人信息声明", 0)
        sheet.append([PERSONAL_NOTICE])
        sheet.append([f"导出时间 {stamp}，{rows} 行"])
        book.properties.subject = "含个人信息 (personal data)"
        book.properties.keywords = "个人信息;PIPL;未脱敏"
        book.save(path)
        return "个人信息 personal data in full: marked by the workbook's first sheet"
    note = path.with_name(path.name + ".个人信息.txt")
    note.write_text(f"{PERSONAL_NOTICE}\n文件 {path.name}，{rows} 行，导出时间 {stamp}\n", encoding="utf-8")
    return f"个人信息 personal data in full: marked by {note.name} beside the file"


def _mask(records: list[dict]) -> None:
    for r in records:
        for column, mask in _MASKS.items():
            if column in r:
                r[column] = mask(r[column])
        if r.get("kind") == "key_person":  # a key person's place name is a person's name
            r["name"] = mask_name(r["name"])


def _plain(v: Any) -> Any:
    """Values every format can hold: times as ISO 8601 in CST, lists ;-separated."""
    if isinstance(v, datetime):
        return v.astimezone(CST).isoformat(timespec="seconds")
    if isinstance(v, (list, tuple)):
        return ";".join(map(str, v))
    return v


# --------------------------------------------------------------------------- writers


def _write_geojson(path: Path, table: _Table) -> list[str]:
    """RFC 7946 GeoJSON; for any other system a top-level coord_system member says so
    (and the legacy "crs" member for EPSG systems, which GDAL still reads)."""
    head: dict[str, Any] = {"type": "FeatureCollection", "name": table.layer}
    warnings = []
    if table.crs.key != crs_mod.WGS84.key:
        head["coord_system"] = crs_name(table.crs)
        head["crs_note"] = f"coordinates are {table.crs.label}, not WGS84"
        if table.crs.epsg:
            head["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{table.crs.epsg}"}}
        warnings.append(
            f"GeoJSON is WGS84 by RFC 7946; this file is {crs_name(table.crs)} and says so in its top-level coord_system member"
        )
    geometries = shapely.to_geojson(table.geoms) if len(table.rows) else []
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n')
        for k, (row, geometry) in enumerate(zip(table.rows, geometries)):
            properties = json.dumps(dict(zip(table.columns, row)), ensure_ascii=False, default=str)
            fh.write(("," if k else "") + f'{{"type": "Feature", "properties": {properties}, "geometry": {geometry}}}\n')
        fh.write("]}\n")
    return warnings


def _write_vector(path: Path, table: _Table) -> list[str]:
    """GeoPackage or Shapefile through pyogrio, with the CRS declared; GCJ-02/BD-09 have no
    EPSG code, so they go out labelled EPSG:4326 plus a coord_system column, and a warning."""
    import geopandas
    import pandas as pd
    import pyogrio

    frame = pd.DataFrame(table.rows, columns=table.columns, dtype=object)
    warnings = []
    if table.crs.epsg is None:
        frame["coord_system"] = crs_name(table.crs)
        warnings.append(
            f"{path.suffix} has no code for {crs_name(table.crs)}: the file says EPSG:4326 but holds "
            f"{crs_name(table.crs)} numbers (see its coord_system column); do not overlay it on WGS84 data"
        )
    fmt = readers.file_format(path)
    if fmt == "shapefile":
        frame = frame.rename(columns=readers.SHAPEFILE_FIELD_NAMES)
    gdf = geopandas.GeoDataFrame(frame.infer_objects(), geometry=list(table.geoms), crs=f"EPSG:{table.crs.epsg or 4326}")
    options = {"geometry_type": "Point" if table.points else "MultiPolygon"}
    if fmt == "gpkg":
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(gdf, path, layer=table.layer, driver="GPKG", **options)
    elif path.suffix.lower() == ".shp":
        pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", encoding="UTF-8", **options)
    else:  # zipped shapefile: the usual way to send one as a single file
        with tempfile.TemporaryDirectory() as tmp:
            shp = Path(tmp) / f"{table.layer}.shp"
            pyogrio.write_dataframe(gdf, shp, driver="ESRI Shapefile", encoding="UTF-8", **options)
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(Path(tmp).iterdir()):
                    zf.write(part, part.name)
    return warnings


def _tabular(table: _Table) -> tuple[list[str], list[list]]:
    """Header and rows for CSV/Excel: lon/lat (x/y when projected) for points, WKT for
    polygons, and a coord_system column on every row."""
    name = crs_name(table.crs)
    if table.points:
        xy = shapely.get_coordinates(table.geoms).round(WKT_DECIMALS).tolist() if len(table.rows) else []
        axes = ["x", "y"] if table.crs.epsg and not _geographic(table.crs) else ["lon", "lat"]
        return table.columns + axes + ["coord_system"], [row + list(p) + [name] for row, p in zip(table.rows, xy)]
    wkt = shapely.to_wkt(table.geoms, rounding_precision=WKT_DECIMALS, trim=True).tolist() if len(table.rows) else []
    return table.columns + ["wkt", "coord_system"], [row + [w, name] for row, w in zip(table.rows, wkt)]


def _geographic(crs: crs_mod.Crs) -> bool:
    import pyproj

    return pyproj.CRS.from_epsg(crs.epsg).is_geographic


def _write_csv(path: Path, table: _Table) -> list[str]:
    header, rows = _tabular(table)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel then reads UTF-8
        writer = csv.writer(fh)
        writer.writerow(safe_row(header))
        writer.writerows(safe_row(row) for row in rows)
    return []


def _write_xlsx(path: Path, table: _Table) -> list[str]:
    import openpyxl

    header, rows = _tabular(table)
    for k, row in enumerate(rows, start=1):  # check first: a half-written workbook is useless
        too_long = next((v for v in row if isinstance(v, str) and len(v) > EXCEL_CELL_LIMIT), None)
        if too_long is not None:
            raise ExportFailed(
                f"row {k}: a value of {len(too_long):,} characters exceeds Excel's {EXCEL_CELL_LIMIT:,}-character cell "
                "limit (a detailed polygon as WKT); export this layer to .gpkg, .geojson or .csv instead"
            )
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(table.layer)
    sheet.append(safe_row(header))
    for row in rows:
        sheet.append(safe_row(row))
    book.save(path)
    return []


_WRITERS: dict[str, Callable[[Path, _Table], list[str]]] = {
    "geojson": _write_geojson,
    "gpkg": _write_vector,
    "shapefile": _write_vector,
    "csv": _write_csv,
    "xlsx": _write_xlsx,
}
