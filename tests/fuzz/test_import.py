"""Fuzzing the importer (geo/io/importer.py, geo/io/readers.py) with hypothesis.

Why: import files come from clerks and other systems, so whatever a file holds (malformed,
truncated, GBK, huge, injection-looking, NaN, out-of-range, wrong type, the wrong format
under a known extension) the import must either load it exactly or refuse it with
ImportFailed naming the file (and the row and column when one cell is to blame), leaving
the database unchanged. Files are CSV and GeoJSON for households and incidents, and
GeoJSON polygons for grids, in the tiny jurisdiction of conftest.py. docs/fuzzing.md says
what was tried and found; HYPOTHESIS_PROFILE=long runs 1,000 examples per test.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from geo import db
from geo.io import importer, upload_check
from tests.fuzz.hostile import INJECTIONS, hostile, short_nasty
from tests.support.imports import counts

# GDAL and geopandas warn about the broken inputs on purpose (unclosed rings, unparsable JSON columns).
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
LON, LAT = (106.6505, 106.6695), (35.5305, 35.5495)  # inside the tiny jurisdiction, off the grid edges
LABEL = re.compile(r"^(row \d+ \(line \d+\)|feature \d+): ")
_names = itertools.count()

# --------------------------------------------------------------------------- cell generators

plain_text = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=30)
free_text = st.one_of(plain_text, st.sampled_from([i for i in INJECTIONS if not importer.CONTROL.search(i)])).filter(
    lambda s: s.strip() == s and s and len(s) <= importer.MAX_TEXT_CHARS
)
VALID = {  # column -> strategy of cells the importer must accept, with the value it must store
    "households": {
        "address": free_text,
        "head_name": st.none() | free_text,
        "phone": st.none() | st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
        "persons": st.none() | st.integers(0, 100),
        "tags": st.none()
        | st.lists(st.sampled_from(sorted(importer.HOUSEHOLD_TAGS)), min_size=1, max_size=3, unique=True).map(";".join),
    },
    "incidents": {
        "category": st.sampled_from(("0103", "0301", "婚姻家庭纠纷")),
        "reported_at": st.datetimes(
            importer.MIN_TIME.replace(tzinfo=None), importer.MAX_TIME.replace(tzinfo=None, year=2099)
        ).map(lambda d: d.replace(microsecond=0).isoformat(sep=" ")),
        "title": st.none() | free_text,
        "description": st.none() | free_text,
        "people_involved": st.none() | st.integers(0, 1_000_000),
        "status": st.none() | st.sampled_from(("received", "结案", "处置中")),
    },
}
BAD = {  # per column, cells that must be refused (with the row and the column named)
    "address": st.sampled_from(("a\x00b", "\x07bell", "门" * (importer.MAX_TEXT_CHARS + 1))),
    "persons": st.sampled_from(("-1", "101", "1.5", "abc", "nan", "1e309", "9" * 5000)),
    "tags": st.sampled_from(("vip", "留守;foo", "'; DROP TABLE household; --")),
    "reported_at": st.sampled_from(("yesterday", "2024-02-30", "0001-01-01", "9999-12-31 23:59", "1969-12-31", "2100-01-01")),
    "category": st.sampled_from(("9999", "<script>alert(1)</script>", "未知类别")),
    "people_involved": st.sampled_from(("-5", "1000001", "x", "inf")),
}
bad_coordinate = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not (73 <= f <= 136)),
    st.sampled_from((None, "", "abc", "106,65", "∞", "1e400", "-nan")),
)
MUTATIONS = ("none", "none", "none", "none", "truncate", "empty", "garbage", "binary", "huge", "wrong_format")


@st.composite
def tables(draw, layer: str, hostile_cells: bool):
    """(columns, rows, points): rows of cells by column, points as (lon, lat) cells."""
    columns = list(VALID[layer])
    n = draw(st.integers(1, 6))
    rows, points = [], []
    for _ in range(n):
        row = {}
        for c in columns:
            row[c] = draw(hostile | st.none()) if hostile_cells and draw(st.integers(0, 11)) == 0 else draw(VALID[layer][c])
        rows.append(row)
        point = (draw(st.floats(*LON)), draw(st.floats(*LAT)))
        if hostile_cells and draw(st.integers(0, 5)) == 0:
            point = (draw(bad_coordinate), point[1]) if draw(st.booleans()) else (point[0], draw(bad_coordinate))
        points.append(point)
    return columns, rows, points


# --------------------------------------------------------------------------- file writers


def csv_bytes(columns, rows, points, encoding: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns + ["lon", "lat"])
    for row, (x, y) in zip(rows, points):
        w.writerow(["" if row[c] is None else row[c] for c in columns] + ["" if x is None else x, "" if y is None else y])
    text = buf.getvalue()
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:  # GBK cannot hold every character: GB18030 (its superset) can
        return text.encode("gb18030")


def geojson_bytes(columns, rows, points) -> bytes:
    def coordinate(v):
        if isinstance(v, float) or v is None:
            return v
        try:
            return float(v)
        except ValueError:
            return v  # a string in a coordinate array: GDAL must refuse it

    features = [
        {
            "type": "Feature",
            "properties": {c: row[c] for c in columns},
            "geometry": {"type": "Point", "coordinates": [coordinate(x), coordinate(y)]},
        }
        for row, (x, y) in zip(rows, points)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode("utf-8")


def mutate(data: bytes, mutation: str, draw) -> bytes:
    if mutation == "truncate":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if mutation == "empty":
        return b""
    if mutation == "garbage":
        return draw(st.binary(min_size=1, max_size=64)) + data
    if mutation == "binary":
        return (
            draw(st.sampled_from((b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\x89PNG\r\n\x1a\n", b"MZ\x90\x00")))
            + data
        )
    if mutation == "huge":  # over a 1 KB limit set for this example
        return data + b"\n" * (2048 - len(data)) if len(data) < 2048 else data
    return data


def write(tmp_path, fmt: str, data: bytes, mutation: str, draw):
    ext = fmt
    if mutation == "wrong_format":  # CSV bytes under .geojson and the other way round
        ext = {"csv": "geojson", "geojson": "csv"}[fmt]
    path = tmp_path / f"fuzz{next(_names)}.{ext}"
    path.write_bytes(mutate(data, mutation, draw))
    return path


# --------------------------------------------------------------------------- the oracle

TARGET = {"households": "household", "incidents": "incident", "grids": "grid"}


def run_import(conn, layer, path, huge: bool = False):
    """Import; return the result or the ImportFailed, after checking what was written."""
    before = counts(conn)
    old = os.environ.get(upload_check.ENV)
    if huge:
        os.environ[upload_check.ENV] = str(1 / 1024)  # 1 KB
    try:
        result = importer.import_file(conn, layer, path)
    except importer.ImportFailed as exc:
        assert counts(conn) == before  # nothing written, no half import
        message = str(exc)
        assert message.startswith(f"{path}: ") and "nothing was imported" in message
        assert exc.problems and all(p and len(p) < 600 for p in exc.problems)  # short, even for 1 MB cells
        _event(f"{layer}: refused")
        return exc
    finally:
        if huge:
            os.environ.pop(upload_check.ENV) if old is None else os.environ.__setitem__(upload_check.ENV, old)
        assert db.scalar(conn, "SELECT 1") == 1  # the connection is usable (no aborted transaction)
    after = counts(conn)
    c = result.counts  # rows without ids may match rows of an earlier example (writers._match_by_content)
    assert after[TARGET[layer]] - before[TARGET[layer]] == c["inserted"]
    assert c["inserted"] + c["updated"] + c["unchanged"] == result.rows
    assert after["import_log"] == before["import_log"] + 1
    _event(f"{layer}: imported")
    return result


def _event(text: str) -> None:
    """hypothesis.event (counted in --hypothesis-show-statistics), also usable outside @given."""
    try:
        event(text)
    except InvalidArgument:
        pass


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("layer", ["households", "incidents"])
@given(
    data=st.data(),
    fmt=st.sampled_from(("csv", "geojson")),
    encoding=st.sampled_from(("utf-8", "utf-8-sig", "gbk")),
    mutation=st.sampled_from(MUTATIONS),
)
def test_any_file_imports_or_fails_cleanly(gridded, categories, tmp_path, layer, data, fmt, encoding, mutation):
    columns, rows, points = data.draw(tables(layer, hostile_cells=True))
    raw = csv_bytes(columns, rows, points, encoding) if fmt == "csv" else geojson_bytes(columns, rows, points)
    path = write(tmp_path, fmt, raw, mutation, data.draw)
    out = run_import(gridded, layer, path, huge=mutation == "huge")
    if mutation in ("empty", "binary", "huge"):
        assert isinstance(out, importer.ImportFailed)
    if isinstance(out, importer.ImportResult) and mutation == "none":
        assert out.rows == len(rows)


@pytest.mark.parametrize("layer", ["households", "incidents"])
@given(data=st.data(), fmt=st.sampled_from(("csv", "geojson")), encoding=st.sampled_from(("utf-8", "utf-8-sig", "gbk")))
def test_valid_files_import_exactly(gridded, categories, tmp_path, layer, data, fmt, encoding):
    """Well-formed files always load, and text (injection-looking or not) is stored verbatim."""
    if layer == "households":  # rows without ids match earlier examples' rows: this file's must be new
        db.execute(gridded, "DELETE FROM household")
        gridded.commit()
    columns, rows, points = data.draw(tables(layer, hostile_cells=False))
    raw = csv_bytes(columns, rows, points, encoding) if fmt == "csv" else geojson_bytes(columns, rows, points)
    path = write(tmp_path, fmt, raw, "none", data.draw)
    out = run_import(gridded, layer, path)
    assert isinstance(out, importer.ImportResult), str(out)
    assert out.rows == len(rows)
    text_columns = {"households": ("address", "head_name", "phone"), "incidents": ("description",)}[layer]
    got = db.rows(
        gridded,
        f"""SELECT {", ".join(text_columns)}, ST_X(geom) AS x, ST_Y(geom) AS y FROM {TARGET[layer]}
                                ORDER BY id DESC LIMIT %s""",
        (len(rows),),
    )[::-1]
    for row, point, stored in zip(rows, points, got):
        for c in text_columns:
            assert stored[c] == (str(row[c]) if row[c] is not None else None)
        assert math.isclose(stored["x"], point[0], abs_tol=1e-9) and math.isclose(stored["y"], point[1], abs_tol=1e-9)


@pytest.mark.parametrize(
    "layer, column",
    [
        ("households", "address"),
        ("households", "persons"),
        ("households", "tags"),
        ("incidents", "reported_at"),
        ("incidents", "category"),
        ("incidents", "people_involved"),
    ],
)
@given(data=st.data(), fmt=st.sampled_from(("csv", "geojson")))
def test_one_bad_cell_is_named_by_row_and_column(gridded, categories, tmp_path, layer, column, data, fmt):
    columns, rows, points = data.draw(tables(layer, hostile_cells=False))
    k = data.draw(st.integers(0, len(rows) - 1))
    rows[k][column] = bad = data.draw(BAD[column])
    raw = csv_bytes(columns, rows, points, "utf-8") if fmt == "csv" else geojson_bytes(columns, rows, points)
    out = run_import(gridded, layer, write(tmp_path, fmt, raw, "none", data.draw))
    assert isinstance(out, importer.ImportFailed)
    if fmt == "geojson" and "\x00" in bad:  # GDAL would cut the text at the NUL: the file is refused
        assert out.problems[0].startswith("cannot read the file: the GeoJSON holds a NUL character")
        return
    label = f"row {k + 1} (line {k + 2})" if fmt == "csv" else f"feature {k + 1}"
    assert any(p.startswith(f"{label}: {column}=") for p in out.problems), out.problems


ring_point = st.tuples(st.floats(106.64, 106.68, allow_nan=False), st.floats(35.52, 35.56, allow_nan=False))
odd_number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from((1e308, -1e308, 181.0, 91.0)))


@given(data=st.data())
def test_random_grid_polygons(gridded, tmp_path, data):
    """Self-intersecting, unclosed, degenerate, non-finite or far-away rings: imported
    (repaired) or refused, never a crash or a half import."""
    features = []
    for _ in range(data.draw(st.integers(1, 2))):
        if data.draw(st.booleans()):  # a small box inside the jurisdiction, then perhaps broken below
            x, y, w, h = (
                data.draw(st.floats(*LON)),
                data.draw(st.floats(*LAT)),
                data.draw(st.floats(1e-4, 5e-3)),
                data.draw(st.floats(1e-4, 5e-3)),
            )
            ring = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
        else:
            ring = [list(p) for p in data.draw(st.lists(ring_point, min_size=0, max_size=7))]
            if ring and data.draw(st.booleans()):
                ring.append(ring[0])  # closed
        if ring and data.draw(st.integers(0, 3)) == 0:
            ring[data.draw(st.integers(0, len(ring) - 1))][data.draw(st.integers(0, 1))] = data.draw(odd_number)
        kind = data.draw(st.sampled_from(("Polygon", "Polygon", "MultiPolygon", "MultiPolygon", "Point", "LineString")))
        coords = {"Polygon": [ring], "MultiPolygon": [[ring]], "Point": ring[0] if ring else [], "LineString": ring}[kind]
        props = {
            "name": data.draw(st.none() | free_text | short_nasty),
            "kind": data.draw(st.sampled_from((None, None, "urban", "农村", "x"))),
        }
        features.append({"type": "Feature", "properties": props, "geometry": {"type": kind, "coordinates": coords}})
    raw = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    run_import(gridded, "grids", write(tmp_path, "geojson", raw, "none", data.draw))


# --------------------------------------------------------------------------- the limits, pinned


def test_size_limit_and_content_type_name_the_file(gridded, tmp_path, monkeypatch):
    monkeypatch.setenv(upload_check.ENV, "0.001")  # 1,048 bytes
    big = tmp_path / "big.csv"
    big.write_text("address,lon,lat\n" + "门牌,106.655,35.535\n" * 100, encoding="utf-8")
    out = run_import(gridded, "households", big)
    assert out.problems == [
        f"big.csv: {upload_check.human(big.stat().st_size)} is over the upload limit of 1.0 KB ({upload_check.ENV})"
    ]
    monkeypatch.setenv(upload_check.ENV, "lots")
    assert "must be a number of megabytes" in run_import(gridded, "households", big).problems[0]
    monkeypatch.delenv(upload_check.ENV)
    cases = {
        "book.csv": (
            b"PK\x03\x04" + b"\x00" * 40,
            "book.csv: the name says csv but the content is a ZIP archive (an Excel workbook is .xlsx, a zipped Shapefile .zip)",
        ),
        "old.xlsx": (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40,
            "old.xlsx: the name says xlsx but the content is an "
            "old Office file (.xls/.doc) (save it as .xlsx or .csv in Excel (WPS) first)",
        ),
        "points.geojson": (
            "address,lon,lat\n门牌,106.655,35.535\n".encode(),
            "points.geojson: the name says geojson but the content is text",
        ),
        "empty.csv": (b"", "empty.csv: the file is empty (0 bytes)"),
        "photo.gpkg": (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "photo.gpkg: the name says gpkg but the content is an image"),
        "fake.xlsx": (
            _zip({"hello.txt": b"hi"}),
            "fake.xlsx: a ZIP archive but not an Excel .xlsx workbook (no xl/workbook.xml)",
        ),
        "noshp.zip": (
            _zip({"a.dbf": b"x"}),
            "noshp.zip: the ZIP archive holds no .shp file (a zipped Shapefile needs .shp, .shx, .dbf)",
        ),
        "bomb.zip": (
            _zip({"a.shp": b"\x00" * (21 * 1024 * 1024)}),
            "bomb.zip: unpacks to 21.0 MB, over 10 x the upload limit of 2.0 MB",
        ),
    }
    monkeypatch.setenv(upload_check.ENV, "2")
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert run_import(gridded, "households", path).problems[0].startswith(expected), name


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def test_gbk_csv_with_injection_text_round_trips(gridded, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(
        '地址,户主,经度,纬度\n"新民路1号\'; DROP TABLE household; --",<script>张三</script>,106.655,35.535\n'.encode("gbk")
    )
    result = run_import(gridded, "households", path)
    assert result.rows == 1 and result.encoding.startswith("GBK/GB18030")
    assert db.one(gridded, "SELECT address, head_name FROM household") == {
        "address": "新民路1号'; DROP TABLE household; --",
        "head_name": "<script>张三</script>",
    }


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_text_that_looks_like_null_or_a_time_is_kept(gridded, tmp_path, fmt):
    """Found by the fuzzer: "\\N" became NULL (the staging COPY's NULL marker) and GeoJSON
    "00:00" became "00:00:00" (GDAL's date detection)."""
    rows = [{"address": a, "head_name": h} for a, h in (("\\N", "00:00"), ("2024-03-01", "2024-03-01 09:30"), ("NULL", "\\."))]
    points = [(106.655, 35.535)] * 3
    raw = (
        csv_bytes(["address", "head_name"], rows, points, "utf-8")
        if fmt == "csv"
        else geojson_bytes(["address", "head_name"], rows, points)
    )
    assert run_import(gridded, "households", write(tmp_path, fmt, raw, "none", None)).rows == 3
    assert db.rows(gridded, "SELECT address, head_name FROM household ORDER BY id") == rows
