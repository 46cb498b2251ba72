"""Read a user's file into rows, geometries and what the file says about its CRS.

Why: imports take whatever a 综治中心 has at hand (shapefiles from the natural-resources
bureau, GeoJSON picked on AMap, Excel sheets and GBK-encoded CSV from 12345 systems). This
module hides the formats, so the importer validates one shape of data, and it labels every
row the way the user will find it again in *their* file (CSV line, sheet row, feature).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import shapely

from geo import crs as crs_mod
from geo.io import upload_check

FORMATS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shapefile",
    ".shp": "shapefile",
    ".csv": "csv",
    ".xlsx": "xlsx",
}
TABLE_FORMATS = ("csv", "xlsx")

# Shapefile field names are limited to 10 characters: the exporter writes these short
# names and the reader turns them back, so a shapefile round-trips without loss.
SHAPEFILE_FIELD_NAMES = {
    "household_standard": "hh_std",
    "dedicated_type": "ded_type",
    "people_involved": "people",
    "duration_days": "dur_days",
    "conflict_intensity": "conflict",
    "behaviour_risk": "behav_risk",
    "description": "descr",
    "reported_at": "reported",
    "level_handled": "lvl_handle",
    "satisfaction": "satisfied",
    "reporter_name": "rep_name",
    "reporter_phone": "rep_phone",
    "danger_grade": "danger",
    "coord_system": "coord_sys",
    "parent_code": "parent",
}

LON_COLUMNS = ("lon", "lng", "longitude", "经度", "x")
LAT_COLUMNS = ("lat", "latitude", "纬度", "y")
WKT_COLUMNS = ("wkt", "geometry", "geom", "几何", "shape")
CRS_COLUMNS = ("coord_system", "坐标系")
GEOMETRY_COLUMNS_HELP = "lon + lat (also lng/longitude/经度, latitude/纬度) for points, or wkt (WKT geometry)"


# What to do with the files offices also have, which are not read here.
CONVERT = {
    ".xls": "an Excel 97-2003 workbook: open it in Excel or WPS and save it as .xlsx (另存为 → Excel 工作簿 *.xlsx)",
    ".et": "a WPS workbook: save it as .xlsx (另存为 → Excel 工作簿 *.xlsx)",
    ".kml": "a KML file (Google Earth, 奥维): save it as GeoJSON or a shapefile (ogr2ogr -f GeoJSON out.geojson in.kml)",
    ".kmz": "a zipped KML file (Google Earth, 奥维): save it as GeoJSON or a shapefile (ogr2ogr -f GeoJSON out.geojson in.kmz)",
    ".dbf": "only the attribute table of a shapefile: import the .shp (with its .dbf, .shx and .prj beside it) or a ZIP of them",
    ".mdb": "a Personal Geodatabase: export its layers to a GeoPackage or shapefiles (ArcGIS: 要素类至要素类)",
    ".gdb": "a File Geodatabase folder: export its layers to a GeoPackage or shapefiles (ArcGIS: 要素类至要素类)",
    ".dwg": "a CAD drawing: export the polygons to a shapefile in its coordinate system (ArcGIS: CAD 至地理数据库)",
    ".dxf": "a CAD drawing: export the polygons to a shapefile in its coordinate system (ArcGIS: CAD 至地理数据库)",
}


def file_format(path: str | Path, reading: bool = False) -> str:
    """The format name for a path, from its extension (ValueError if unsupported; when
    reading, saying how to convert the kinds of files offices also keep)."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        hint = f"; this is {CONVERT[ext]}" if reading and ext in CONVERT else ""
        raise ValueError(
            f"unsupported file type {ext or '(none)'!r}: use .geojson/.json, .gpkg, .zip or .shp (Shapefile), .csv or .xlsx{hint}"
        )
    return FORMATS[ext]


def column_key(name: Any) -> str:
    """Normalised column name for matching: 'Head Name' and 'head-name' -> 'head_name'."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


@dataclass
class Source:
    """One file, read: attribute rows, one geometry (or None) per row, and CRS evidence."""

    path: Path
    format: str
    frame: pd.DataFrame  # attributes as Python objects, None where empty
    geometry: list  # shapely geometry or None per row
    geometry_errors: dict[int, str] = field(default_factory=dict)
    missing_geometry: str | None = None  # set when a table has no coordinate columns
    declared_crs: crs_mod.Crs | None = None
    declared_reason: str = ""
    coord_system: set[str] = field(default_factory=set)  # values of a coord_system column
    top_note: tuple[str, str] | None = None  # GeoJSON top-level (member, text): coord_system or crs_note
    lines: list[int] | None = None  # file line (CSV) or sheet row (Excel) of each row
    notes: list[str] = field(default_factory=list)
    encoding: Any = None  # geo.io.encodings.Encoding of the text, where the format has one
    layers: list[str] = field(default_factory=list)  # every layer (or sheet) of the file
    read_layers: list[str] = field(default_factory=list)  # those read
    row_layers: list[str] | None = None  # layer of each row, when several were read
    layer_columns: dict[str, list] | None = None  # each layer's own columns, when several were read
    raw: pd.DataFrame | None = None  # the table as read, coordinate columns included (rejected rows go back in it)

    def __len__(self) -> int:
        return len(self.geometry)

    def label(self, i: int) -> str:
        """How the user finds row i (0-based) in their file."""
        if self.format == "csv":
            return f"row {i + 1} (line {self.lines[i]})"
        if self.format == "xlsx":
            return f"row {i + 1} (sheet row {self.lines[i]})"
        if self.row_layers is not None:
            layer = self.row_layers[i]
            return f"layer {layer} feature {i + 1 - self.row_layers.index(layer)}"
        return f"feature {i + 1}"


def read_source(
    path: str | Path,
    prefer_layer: str | None = None,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    geometry: str | None = None,
    all_polygon_layers: bool = False,
    header_words: frozenset[str] | set[str] | None = None,
) -> Source:
    """Read any supported file.

    layer: the file's layer (GeoPackage, several shapefiles in a ZIP) or Excel sheet the user
    named (--layer); it must exist. Without it a multi-layer file gives the layer called
    `prefer_layer`, else the first whose geometry is `geometry` ("point"/"polygon"), or, with
    `all_polygon_layers` (boundaries: towns and communities side by side), every polygon
    layer. encoding: forces the text encoding of a DBF or CSV (see geo.io.encodings).
    header_words: the layer's known column names (folded by column_key): a table's header is
    the row that names most of them, under any title, 填报单位 line or group header (see
    find_header).
    """
    path = Path(path)
    fmt = file_format(path, reading=True)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    upload_check.check(path, fmt)  # size limit and content type before any reader sees the file
    if fmt == "csv":
        header, rows, lines, found = _read_csv(path, encoding)
        header, notes = find_header(header, rows, lines, header_words)
        source = _table_source(path, fmt, header, rows, lines)
        source.encoding = found
        source.notes += notes
    elif fmt == "xlsx":
        header, rows, lines, sheet, sheets = _read_xlsx(path, layer, prefer_layer)
        header, notes = find_header(header, rows, lines, header_words)
        source = _table_source(path, fmt, header, rows, lines)
        source.notes += notes
        source.layers, source.read_layers = sheets, [sheet]
        if len(sheets) > 1:
            source.notes.append(f"read sheet {sheet!r} of {sheets} (--layer names another)")
    else:
        source = _read_vector(path, fmt, layer, prefer_layer, encoding, geometry, all_polygon_layers)
    _pop_crs_column(source)
    return source


# --------------------------------------------------------------------------- vector files

_POLYGON_TYPES = ("Polygon", "MultiPolygon", "Polygon Z", "MultiPolygon Z", "3D Polygon", "3D MultiPolygon")


def list_layers(path: Path) -> list[tuple[str, str]]:
    """(name, geometry type) of every layer of a vector file."""
    import pyogrio

    return [(str(n), str(t)) for n, t in pyogrio.list_layers(path)]


def _choose_layers(path, layers, layer, prefer_layer, geometry, all_polygon_layers) -> list[str]:
    names = [n for n, _ in layers]
    if layer is not None:
        if layer not in names:
            raise ValueError(f"the file has no layer {layer!r}; its layers: {', '.join(names)}")
        return [layer]
    if len(names) <= 1:
        return names[:1] or [None]
    if prefer_layer in names:
        return [prefer_layer]
    polygons = [n for n, t in layers if t in _POLYGON_TYPES or "Polygon" in t]
    if all_polygon_layers and polygons:
        return polygons
    if geometry == "polygon" and polygons:
        return polygons[:1]
    if geometry == "point":
        points = [n for n, t in layers if "Point" in t]
        if points:
            return points[:1]
    return names[:1]


def _read_vector(path, fmt, layer, prefer_layer, encoding, geometry, all_polygon_layers) -> Source:
    from geo.io import encodings

    if fmt == "geojson":
        _refuse_escaped_nul(path)
        layers = [(None, "")]
    else:
        layers = list_layers(path)
    chosen = _choose_layers(path, layers, layer, prefer_layer, geometry, all_polygon_layers)
    frames, geometry_parts, row_layers, declared, layer_columns = [], [], [], None, {}
    found_encoding = None
    for name in chosen:
        enc = None
        if fmt == "shapefile":
            enc = encodings.shapefile_encoding(path, encoding, name)
        elif encoding and fmt != "gpkg":
            enc = encodings.Encoding(encodings.codec_for(encoding), "from --encoding")
        found_encoding = found_encoding or enc
        try:
            gdf = _read_gdal(path, fmt, name, enc)
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"the text is not valid {enc.label if enc else 'UTF-8'} ({exc.reason} at byte {exc.start} of {exc.object[:40]!r}; "
                "a field name cut at 10 bytes in the middle of a character?): pass --encoding gbk or utf-8"
            ) from None
        frames.append(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)))
        layer_columns[name] = [c for c in frames[-1].columns]
        geometry_parts += list(gdf.geometry.array)
        row_layers += [name] * len(gdf)
        crs = _declared_crs(gdf.crs, fmt)
        if declared is None:
            declared = crs
        elif crs[0] != declared[0]:
            raise ValueError(
                f"layers {chosen[0]!r} and {name!r} are in different coordinate systems: import them one by one (--layer)"
            )
    frame = _objects(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])
    if fmt == "shapefile":
        back = {short: long for long, short in SHAPEFILE_FIELD_NAMES.items()}
        frame = frame.rename(columns=lambda c: back.get(str(c).lower(), c))
    source = Source(path, fmt, frame, geometry_parts, declared_crs=declared[0], declared_reason=declared[1])
    source.encoding = found_encoding
    source.layers = [n for n, _ in layers if n is not None]
    source.read_layers = [n for n in chosen if n is not None]
    if len(chosen) > 1:
        source.row_layers = row_layers
        source.layer_columns = layer_columns
    if len(source.layers) > 1:
        source.notes.append(f"read layer(s) {', '.join(map(repr, source.read_layers))} of {source.layers}")
    if fmt == "geojson":
        source.top_note = _geojson_top_note(path)
    return source


def _read_gdal(path: Path, fmt: str, layer: str | None, enc):
    import geopandas

    # GeoJSON text that looks like a date or time ("00:00", "2024-03-01 09:30") is kept as
    # written: GDAL would otherwise turn it into a date/time field and reformat it.
    options = {"DATE_AS_STRING": True} if fmt == "geojson" else {}
    if enc is not None:
        options["encoding"] = enc.gdal
    return geopandas.read_file(path, engine="pyogrio", layer=layer, datetime_as_string=True, on_invalid="ignore", **options)


def _refuse_escaped_nul(path: Path) -> None:
    """GDAL cuts a GeoJSON string at an escaped NUL (\\u0000) without a word, so "a\\u0000b"
    would be stored as "a": refuse the file instead (no feature number: GDAL does not say)."""
    import mmap

    if path.stat().st_size == 0:
        return
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        at = mm.find(b"\\u0000")
    if at >= 0:
        raise ValueError(f"the GeoJSON holds a NUL character (\\u0000, at byte {at}): remove it")


def _declared_crs(crs: pyproj.CRS | None, fmt: str) -> tuple[crs_mod.Crs | None, str]:
    if fmt == "geojson" and (crs is None or crs.equals("EPSG:4326", ignore_axis_order=True)):
        return crs_mod.WGS84, "GeoJSON is WGS84 by RFC 7946"
    if crs is None:
        return None, "the file declares no CRS (no .prj)" if fmt == "shapefile" else "the file declares no CRS"
    where = {"shapefile": "the .prj file", "gpkg": "the GeoPackage's srs", "geojson": "the GeoJSON crs member"}[fmt]
    if crs.is_geographic and crs.equals("EPSG:4326", ignore_axis_order=True):
        return crs_mod.WGS84, f"declared by {where}"
    try:
        return crs_mod.parse_crs(crs), f"declared by {where}"
    except ValueError:
        code = crs.to_epsg(min_confidence=70)
        if code is None:
            raise ValueError(f"{where} names {crs.name!r}, which has no EPSG code: pass --crs") from None
        return crs_mod.parse_crs(code), f"declared by {where}"


def _geojson_top_note(path: Path, window: int = 65536) -> tuple[str, str] | None:
    """A top-level "coord_system" or "crs_note" member, found without parsing the whole
    file: top-level members sit before "features" or after the features array."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(window).decode("utf-8", "replace")
        fh.seek(max(0, size - window))
        tail = fh.read().decode("utf-8", "replace")
    head = head.split('"features"', 1)[0]
    tail = tail.rsplit("]", 1)[-1]
    found = {}
    for text in (head, tail):
        for key, value in re.findall(r'"(coord_system|crs_note)"\s*:\s*"((?:[^"\\]|\\.)*)"', text):
            found.setdefault(key, value)
    key = next((k for k in ("coord_system", "crs_note") if k in found), None)
    return (key, found[key]) if key else None


# --------------------------------------------------------------------------- tables


def _read_csv(path: Path, forced: str | None = None):
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK, as Excel writes), or --encoding."""
    from geo.io import encodings

    text, encoding = encodings.decode_text(path.read_bytes(), forced)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows, lines, line = [], [], 1
    for record in _records(reader):
        start, line = line, reader.line_num + 1
        if not "".join(record).strip():  # every cell blank (one join, not a strip per cell)
            continue
        if header is None:
            header = record
            continue
        rows.append(record)
        lines.append(start)
    if header is None:
        raise ValueError("the CSV is empty (no header row)")
    return header, rows, lines, encoding


def _records(reader):
    """The csv reader's records; its errors (a cell over csv.field_size_limit, say) name the line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValueError(f"CSV line {reader.line_num}: {exc}") from None


def shown(value: Any, limit: int = 60) -> str:
    """repr() of a cell for a message, cut to `limit` characters: a 1 MB cell must not make a 1 MB error."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…({len(str(value))} chars)"


def _read_xlsx(path: Path, layer: str | None, prefer_sheet: str | None):
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if layer is not None and layer not in book.sheetnames:
            raise ValueError(f"the workbook has no sheet {layer!r}; its sheets: {', '.join(book.sheetnames)}")
        name = layer or (prefer_sheet if prefer_sheet in book.sheetnames else _first_table(book))
        sheets, sheet = list(book.sheetnames), book[name]
        header, rows, lines = None, [], []
        for number, record in enumerate(sheet.iter_rows(values_only=True), start=1):
            if not any(v is not None and str(v).strip() for v in record):
                continue
            if header is None:
                header = [("" if v is None else str(v)) for v in record]
                continue
            rows.append(list(record))
            lines.append(number)
    finally:
        book.close()
    if header is None:
        raise ValueError(f"the sheet {name!r} is empty (no header row)")
    return header, rows, lines, name, sheets


def _first_table(book) -> str:
    """The first sheet that holds a table (a header of several cells and a row under it): a
    workbook often opens with a 填表说明 sheet of one column of notes."""
    for sheet in book.worksheets:
        filled = [n for n in (_filled(r) for r in sheet.iter_rows(max_row=12, values_only=True)) if n]
        if len(filled) >= 2 and max(filled) >= 2 and filled[-1] >= 2:
            return sheet.title
    return book.sheetnames[0]


def _filled(record) -> int:
    return sum(1 for v in record if v is not None and str(v).strip())


def skip_title_rows(header: list, rows: list, lines: list, most: int = 5) -> list:
    """The real header of a ledger that opens with a title (「2025年12345工单台账」, one merged
    cell) or a note line: while the header has one filled cell and the next row has several,
    the next row is the header. `rows` and `lines` lose what was skipped (in place)."""
    skipped = 0
    while skipped < most and rows and _filled(header) <= 1 and _filled(rows[0]) >= 2:
        header = ["" if v is None else str(v) for v in rows.pop(0)]
        lines.pop(0)
        skipped += 1
    return header


HEADER_SEARCH = 10  # rows looked at for the header: a title, a 填报单位 line and a two-row header fit
# A row that sums the others (合计: 80件, 总计, 小计) or signs the form (填表人：张三): not data.
_SUMMARY = re.compile(r"^(合\s*计|总\s*计|小\s*计|共\s*计|总\s*数)")
_FOOTER = re.compile(
    r"^(填表人|填报人|制表人|审核人|负责人|单位负责人|统计人|经办人|制表日期|填报日期|填表日期|备注|注|说明)\s*[:：]"
)


def find_header(header: list, rows: list, lines: list, words=None) -> tuple[list, list[str]]:
    """The header of a table as offices lay it out, and notes on what was skipped.

    Offices' sheets open with a title (one merged cell), a 填报单位/填报日期 line, and often a
    header of two rows (户主信息 merged over 姓名/身份证号/联系电话); they end with a 合计 row
    and 填表人/审核人 lines. With the layer's column names (`words`, folded by column_key) the
    header is the row among the first HEADER_SEARCH that names most of them; a group row
    above it (or a sub-header below it) fills the cells left blank by merged cells. Without
    `words`, or when no row names any, a title of one cell is skipped (skip_title_rows).
    Summary and signature rows are dropped wherever they are, and said. `rows` and `lines`
    lose what was skipped (in place)."""
    table = [header] + rows
    notes: list[str] = []
    best = _best_header_row(table, words)
    if best is None:
        header = skip_title_rows(header, rows, lines)
    else:
        header = _texts(table[best])
        top = best
        if best >= 1 and _group_row(table[best - 1], header):
            header = [h or u for h, u in zip(header, _texts(table[best - 1]))]
            top = best - 1
        below = table[best + 1] if best + 1 < len(table) else None
        if below is not None and _score(below, words) and _fills_blanks(below, header):
            header = [b or h for b, h in zip(_texts(below), header)]
            best += 1
        if top > 0:
            skipped = [str(next(v for v in r if v is not None and str(v).strip())).strip()[:30] for r in table[:top]]
            notes.append(f"header found under {top} line(s) above it ({' / '.join(skipped)})")
        del rows[:best]
        del lines[:best]
    dropped = []
    for i in range(len(rows) - 1, -1, -1):
        first = next((str(v).strip() for v in rows[i] if v is not None and str(v).strip()), "")
        if _SUMMARY.match(first) or _FOOTER.match(first):
            dropped.append((lines[i], first[:20]))
            del rows[i]
            del lines[i]
    if dropped:
        said = ", ".join(f"{line} ({text})" for line, text in reversed(dropped))
        notes.append(f"skipped {len(dropped)} total/signature row(s), not data: {said}")
    return header, notes


def _texts(record) -> list[str]:
    return ["" if v is None else str(v).strip() for v in record]


def _score(record, words) -> int:
    return sum(1 for v in record if v is not None and isinstance(v, str) and _known_header(v, words))


def _known_header(text: str, words) -> bool:
    from geo.io.columns import header_key

    folded = header_key(text)
    return folded in words or column_key(text) in words or "经度" in folded or "纬度" in folded


def _best_header_row(table: list, words) -> int | None:
    if not words:
        return None
    scores = [_score(r, words) for r in table[:HEADER_SEARCH]]
    top = max(scores, default=0)
    return scores.index(top) if top else None


def _group_row(upper, header: list[str]) -> bool:
    """True when `upper` is the group row of a two-row header: text only, two or more cells,
    and some of it over a cell that `header` leaves blank (a merged cell's column)."""
    cells = [v for v in upper if v is not None and str(v).strip()]
    return len(cells) >= 2 and _fills_blanks(upper, header)


def _fills_blanks(record, header: list[str]) -> bool:
    """True when `record` is all text and has some where `header` is blank."""
    cells = [v for v in record if v is not None and str(v).strip()]
    if not all(isinstance(v, str) for v in cells):
        return False
    return any(v is not None and str(v).strip() and not h for v, h in zip(record, header))


def _table_source(path: Path, fmt: str, header: list, rows: list[list], lines: list[int]) -> Source:
    names = _unique_names(header)
    width = len(names)
    if all(len(r) == width for r in rows):  # the usual table: columns by one transposition
        cells = list(zip(*rows)) if rows else [()] * width
        frame = _objects(pd.DataFrame({i: list(c) for i, c in enumerate(cells)}, index=range(len(rows)), dtype=object))
        frame.columns = names
    else:
        frame = _objects(pd.DataFrame([(list(r) + [None] * width)[:width] for r in rows], columns=names, dtype=object))
    keys = {column_key(c): c for c in frame.columns}
    lon = next((keys[k] for k in LON_COLUMNS if k in keys), None)
    lat = next((keys[k] for k in LAT_COLUMNS if k in keys), None)
    wkt = next((keys[k] for k in WKT_COLUMNS if k in keys), None)
    named = None
    if not (lon and lat):  # "百度经度", "经度(高德)", "bd_lng": the column names say the system
        lon, lat, named = _named_coordinate_columns(frame.columns)
    source = Source(path, fmt, frame, [None] * len(frame), lines=lines, raw=frame)
    source.declared_reason = (
        f"{fmt.upper()} files carry no CRS, so WGS84 is assumed; pass --crs gcj02 for AMap/Tencent coordinates"
    )
    if named is not None:
        source.declared_crs, source.declared_reason = named, f"the column names {lon!r}, {lat!r} say so"
    if lon and lat:
        _points_from_columns(source, lon, lat)
    elif wkt:
        _geometry_from_wkt(source, wkt)
    else:
        source.missing_geometry = GEOMETRY_COLUMNS_HELP
    return source


_SYSTEM_WORDS = (("百度", "bd09", "bd_09", "bd"), ("高德", "腾讯", "gcj02", "gcj_02", "gcj", "火星"), ("wgs84", "gps"))


def _named_coordinate_columns(columns) -> tuple[str | None, str | None, crs_mod.Crs | None]:
    """Longitude/latitude columns whose names carry their system (百度经度, 经度（高德）, bd_lng)."""
    systems = (crs_mod.BD09, crs_mod.GCJ02, crs_mod.WGS84)
    found: dict[str, dict[str, str]] = {}
    for c in columns:
        k = re.sub(r"[\s()（）\[\]【】_\-]+", "", str(c).lower())
        for system, words in zip(systems, _SYSTEM_WORDS):
            word = next((w.replace("_", "") for w in words if w.replace("_", "") in k), None)
            if word is None:
                continue
            rest = k.replace(word, "", 1)
            axis = (
                "lon"
                if rest in ("经度", "lng", "lon", "longitude", "x")
                else "lat"
                if rest in ("纬度", "lat", "latitude", "y")
                else None
            )
            if axis:
                found.setdefault(system.key, {})[axis] = c
            break
    for system in systems:
        pair = found.get(system.key, {})
        if "lon" in pair and "lat" in pair:
            return pair["lon"], pair["lat"], system
    return None, None, None


def _points_from_columns(source: Source, lon: str, lat: str) -> None:
    xs, ys, ok = [], [], []
    for i, (x, y) in enumerate(zip(source.frame[lon].tolist(), source.frame[lat].tolist())):
        if x is None or y is None:
            source.geometry_errors[i] = f"no coordinates ({lon}={shown(x)}, {lat}={shown(y)})"
            continue
        try:
            fx, fy = float(x), float(y)
        except (TypeError, ValueError):
            source.geometry_errors[i] = f"coordinates are not numbers ({lon}={shown(x)}, {lat}={shown(y)})"
            continue
        xs.append(fx)
        ys.append(fy)
        ok.append(i)
    _unswap(source, ok, xs, ys, lon, lat)
    for i, point in zip(ok, shapely.points(xs, ys).tolist() if ok else []):  # one vectorised call
        source.geometry[i] = point
    source.frame = source.frame.drop(columns=[lon, lat])


def _unswap(source: Source, rows: list[int], xs: list[float], ys: list[float], lon: str, lat: str) -> None:
    """Rows whose longitude and latitude were typed into each other's columns (纬度 26.85 under
    经度), read the right way round and said with their rows. China's longitudes (72-138°)
    and latitudes (0.8-56°) do not overlap, so a pair that is in China only when swapped is
    swapped, never a point somewhere else; metres are never swapped."""
    if not rows:
        return
    x, y = np.asarray(xs), np.asarray(ys)
    swapped = np.flatnonzero(~crs_mod.in_china(x, y) & crs_mod.in_china(y, x))
    if not len(swapped):
        return
    for k in swapped.tolist():
        xs[k], ys[k] = ys[k], xs[k]
    labels = [source.label(rows[k]) for k in swapped[:10].tolist()]
    more = f" … and {len(swapped) - 10} more" if len(swapped) > 10 else ""
    source.notes.append(f"{lon} and {lat} swapped in {len(swapped)} row(s), read the right way round: {', '.join(labels)}{more}")


def _geometry_from_wkt(source: Source, column: str) -> None:
    for i, text in enumerate(source.frame[column].tolist()):
        if text is None:
            source.geometry_errors[i] = f"empty geometry ({column} is empty)"
            continue
        try:
            source.geometry[i] = shapely.from_wkt(str(text))
        except shapely.errors.GEOSException as exc:
            source.geometry_errors[i] = f"{column} is not valid WKT ({shown(str(exc), 120)})"
    source.frame = source.frame.drop(columns=[column])


def _unique_names(header: list) -> list[str]:
    names, seen = [], set()
    for i, name in enumerate(header):
        name = str(name).strip() or f"column_{i + 1}"
        while name in seen:
            name += "_"
        seen.add(name)
        names.append(name)
    return names


def _objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Plain Python values, None for NaN/NA/empty strings, strings stripped (object dtype,
    so that pandas never turns None back into NaN)."""

    def clean(v):
        if isinstance(v, str):  # the common case first: this runs once per cell
            return v.strip() or None
        if v is None or v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, float):
            return None if math.isnan(v) else v
        return v.item() if hasattr(v, "item") else v

    return pd.DataFrame(
        {c: [(v.strip() or None) if type(v) is str else clean(v) for v in frame[c].tolist()] for c in frame.columns},
        index=range(len(frame)),
        dtype=object,
    )


def _pop_crs_column(source: Source) -> None:
    keys = {column_key(c): c for c in source.frame.columns}
    for key in CRS_COLUMNS:
        if key in keys:
            column = keys[key]
            source.coord_system = {str(v) for v in source.frame[column].tolist() if v is not None}
            source.frame = source.frame.drop(columns=[column])
            return


# --------------------------------------------------------------------------- CRS


def crs_from_text(text: str) -> crs_mod.Crs | None:
    """The CRS a free-text note names ("coordinates are GCJ-02 (AMap) ..., not WGS84")."""
    upper = re.sub(r"\s+", "", text).upper()
    if "GCJ" in upper or "火星" in text or "高德" in text or "AMAP" in upper:
        return crs_mod.GCJ02
    if "BD-09" in upper or "BD09" in upper or "百度" in text or "BAIDU" in upper:
        return crs_mod.BD09
    if "CGCS" in upper or "2000国家" in text:
        return crs_mod.CGCS2000
    if "WGS" in upper or "GPS" in upper:
        return crs_mod.WGS84
    match = re.search(r"EPSG:?(\d+)", upper)
    try:
        return crs_mod.parse_crs(match.group(1) if match else text)
    except ValueError:
        return None


def resolve_crs(source: Source, override: Any = None) -> tuple[crs_mod.Crs, str]:
    """The CRS to read the coordinates in, and why (said to the user on every import).

    Order: --crs, then a coord_system column or top-level note (our boundary files are
    GCJ-02 inside nominally-WGS84 GeoJSON), then the file's declared CRS, then WGS84.
    """
    if override is not None:
        return crs_mod.parse_crs(override), "from --crs"
    if source.coord_system:
        if len(source.coord_system) > 1:
            raise ValueError(f"the coord_system column mixes systems {sorted(source.coord_system)}: split the file")
        value = next(iter(source.coord_system))
        found = crs_from_text(value)
        if found is None:
            raise ValueError(f"the coord_system column says {value!r}, which is not a known system: pass --crs")
        return found, f"from the file's coord_system {'property' if source.format not in TABLE_FORMATS else 'column'}"
    if source.top_note:
        member, text = source.top_note
        found = crs_from_text(text)
        if found is not None:
            return found, f"from the file's top-level {member} member {text!r}"
    if source.declared_crs is not None:
        return source.declared_crs, source.declared_reason
    if source.format not in TABLE_FORMATS:
        return crs_mod.WGS84, f"{source.declared_reason}, so WGS84 is assumed; pass --crs if not"
    return crs_mod.WGS84, source.declared_reason
