"""Size and content checks on an import file, before any reader opens it.

Why: a file's extension is whatever the sender typed. Handed the wrong or a hostile file, a
reader (GDAL, openpyxl, the csv module) can spend minutes and gigabytes (a 2 GB "CSV", a
ZIP bomb unpacked by openpyxl) or fail with a message about its own internals. So a file is
read only if it is within the size limit (QUANYU_MAX_UPLOAD_MB, default 200 MB; a ZIP may
unpack to ZIP_RATIO times that) and its first bytes are those of the format its extension
names; otherwise the error names the file and says what its content looks like.
"""

from __future__ import annotations

import codecs
import math
import os
import re
import sqlite3
import zipfile
from pathlib import Path

ENV = "QUANYU_MAX_UPLOAD_MB"
DEFAULT_MAX_MB = 200
ZIP_RATIO = 10  # xlsx and shapefiles compress 3-8x; a ZIP bomb is 1000x
# A part of a ZIP that inflates more than MAX_RATIO times is a bomb, whatever the limits: a
# 200 KB .xlsx of 5 million shared strings unpacked to 85 MB and cost the server 44 s and
# 450 MB per request, and one of 4 MB (1.7 GB) was within ZIP_RATIO x the limit. Real
# workbooks and shapefiles compress 3-30x; Apache POI refuses the same ratio (0.01) by default.
MAX_RATIO = 100
RATIO_FROM = 1024 * 1024  # parts smaller than this unpacked are harmless whatever their ratio
HEAD = 64 * 1024

SIGNATURES = (  # (first bytes, kind)
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"SQLite format 3\x00", "sqlite"),
    (b"\x00\x00\x27\x0a", "shp"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"%PDF", "pdf"),
    (b"\x89PNG", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF8", "image"),
    (b"\x1f\x8b", "gzip"),
    (b"Rar!", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"MZ", "executable"),
    (b"\x7fELF", "executable"),
)
KIND_NAMES = {
    "zip": "a ZIP archive",
    "sqlite": "a SQLite database",
    "shp": "a Shapefile .shp",
    "ole": "an old Office file (.xls/.doc)",
    "pdf": "a PDF document",
    "image": "an image",
    "gzip": "a gzip archive",
    "rar": "a RAR archive",
    "7z": "a 7-Zip archive",
    "executable": "a program",
    "utf16": "UTF-16 text",
    "json": "JSON text",
    "text": "text",
    "binary": "binary data",
    "empty": "empty",
}
EXPECTED = {  # reader format -> the content kinds it may have
    "csv": ("text",),
    "geojson": ("json",),
    "xlsx": ("zip",),
    "shapefile": ("zip", "shp"),
    "gpkg": ("sqlite",),
}
HINTS = {
    "ole": "save it as .xlsx or .csv in Excel (WPS) first",
    "zip": "an Excel workbook is .xlsx, a zipped Shapefile .zip",
    "sqlite": "a GeoPackage is .gpkg",
    "json": "GeoJSON is .geojson or .json",
    "utf16": "save it as CSV in UTF-8 or GBK",
}


class FileRejected(ValueError):
    """Too large or not the format its extension says; the message names the file."""


def safe_name(filename: str | None, default: str = "upload") -> str:
    """The base name of an uploaded file with anything a file system or a message should not
    hold replaced (NUL, control characters, path separators), at most 120 characters."""
    base = re.split(r"[\\/]", filename or default)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "_", base).strip(" .") or default
    return base[:120]


def max_bytes() -> int:
    """The upload limit in bytes, from QUANYU_MAX_UPLOAD_MB (megabytes, fractions allowed)."""
    raw = os.environ.get(ENV, "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_MAX_MB
    except ValueError:
        raise ValueError(f"{ENV} must be a number of megabytes, not {raw!r}") from None
    if not (math.isfinite(mb) and mb > 0):
        raise ValueError(f"{ENV} must be a positive number of megabytes, not {raw!r}")
    return max(1, int(mb * 1024 * 1024))


def human(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def content_kind(head: bytes) -> str:
    """What the first bytes of a file are: one of KIND_NAMES."""
    if not head:
        return "empty"
    for magic, kind in SIGNATURES:
        if head.startswith(magic):
            return kind
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf16"
    if head.count(b"\x00") * 10 > len(head):  # a stray NUL in a cell is for the row checks to name
        return "binary"
    for encoding in ("utf-8-sig", "gb18030"):
        try:  # incremental: the head may end inside a multi-byte character
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return "json" if text.lstrip()[:1] in ("{", "[") else "text"
    return "binary"


def check(path: str | Path, fmt: str, limit: int | None = None) -> None:
    """Raise FileRejected unless `path` is within the limit and its content fits `fmt`."""
    path = Path(path)
    limit = max_bytes() if limit is None else limit
    size = path.stat().st_size
    if size > limit:
        raise FileRejected(f"{path.name}: {human(size)} is over the upload limit of {human(limit)} ({ENV})")
    with path.open("rb") as fh:
        kind = content_kind(fh.read(HEAD))
    if kind == "empty":
        raise FileRejected(f"{path.name}: the file is empty (0 bytes)")
    if kind not in EXPECTED[fmt]:
        hint = HINTS.get(kind)
        raise FileRejected(
            f"{path.name}: the name says {fmt} but the content is {KIND_NAMES[kind]}" + (f" ({hint})" if hint else "")
        )
    if kind == "zip":
        _check_zip(path, fmt, limit)
    if kind == "sqlite":
        _check_sqlite(path)


def _check_sqlite(path: Path) -> None:
    """A GeoPackage without views (its own triggers fire on writes only: GeoPackages have many).

    Why: a layer of a GeoPackage may be a view, which SQLite computes while GDAL reads it. A
    98 KB file whose layer was a recursive view of 3 million rows grew the server by 5 GB in
    80 s (one of 30 million, or an unbounded one, never ends: no statement timeout reaches
    into SQLite, and a thread stuck in C cannot be stopped). Offices' GeoPackages (ArcGIS,
    QGIS, the surveying office's exports) are tables; a view is asked to be exported again."""
    try:
        con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise FileRejected(f"{path.name}: not a readable GeoPackage ({exc})") from None
    try:
        found = con.execute("SELECT type, name FROM sqlite_master WHERE type = 'view' ORDER BY name").fetchall()
    except sqlite3.Error as exc:
        raise FileRejected(f"{path.name}: not a readable GeoPackage ({exc})") from None
    finally:
        con.close()
    if found:
        names = ", ".join(f"{kind} {name}" for kind, name in found[:5])
        raise FileRejected(
            f"{path.name}: the GeoPackage holds views ({names}), which are computed while it is read: "
            "export the layers again as plain tables (QGIS: Export > Save Features As)"
        )


def _check_zip(path: Path, fmt: str, limit: int) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRejected(f"{path.name}: not a readable ZIP archive ({exc})") from None
    unpacked = sum(m.file_size for m in members)
    if unpacked > ZIP_RATIO * limit:
        raise FileRejected(
            f"{path.name}: unpacks to {human(unpacked)}, over {ZIP_RATIO} x the upload limit of {human(limit)} ({ENV})"
        )
    for m in members:
        if m.file_size > RATIO_FROM and m.file_size > MAX_RATIO * max(1, m.compress_size):
            raise FileRejected(
                f"{path.name}: {m.filename} unpacks {m.file_size // max(1, m.compress_size)} times its size "
                f"({human(m.compress_size)} -> {human(m.file_size)}): refused as a ZIP bomb (at most {MAX_RATIO} times)"
            )
    names = [m.filename.lower() for m in members]
    if fmt == "xlsx" and "xl/workbook.xml" not in names:
        raise FileRejected(f"{path.name}: a ZIP archive but not an Excel .xlsx workbook (no xl/workbook.xml)")
    if fmt == "shapefile" and not any(n.endswith(".shp") for n in names):
        raise FileRejected(f"{path.name}: the ZIP archive holds no .shp file (a zipped Shapefile needs .shp, .shx, .dbf)")
