"""Imports of every layer from every format, against the real test database.

Files are built in tmp_path from small exact geometries in the tiny jurisdiction of
conftest.py (a ~2 km district near Pingliang with an urban community in the west half and a
village in the east half), so every expectation (codes, grids, deadlines) is exact.
"""

from __future__ import annotations

import csv
import zipfile
from datetime import datetime

import geopandas
import numpy as np
import openpyxl
import pyproj
import pytest
import shapely

from geo import cli, crs, db
from geo.io import importer
from geo.worktime import CST
from tests.support.imports import EAST, GRID_E, GRID_NW, GRID_SW, GRIDS, WEST, counts

pytestmark = pytest.mark.filterwarnings("ignore:.*(truncated|laundered).*")  # shapefile field names

FORMATS = ("geojson", "gpkg", "zip", "shp", "csv", "xlsx")
GEOD = pyproj.Geod(ellps="WGS84")


# --------------------------------------------------------------------------- helpers


def write_file(path, records: list[dict], geoms: list, **top) -> str:
    """Write records + WGS84 geometries in the format of path's extension; `top` adds
    top-level GeoJSON members. CSV/Excel get lon/lat for points and WKT for polygons."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".xlsx"):
        header, rows = _table(records, geoms)
        if suffix == ".csv":
            with path.open("w", encoding="utf-8", newline="") as fh:
                csv.writer(fh).writerows([header, *rows])
        else:
            book = openpyxl.Workbook()
            book.active.append(header)
            for row in rows:
                book.active.append(row)
            book.save(path)
        return str(path)
    gdf = geopandas.GeoDataFrame(records, geometry=geoms, crs="EPSG:4326")
    if suffix == ".zip":
        shp_dir = path.with_suffix("")
        shp_dir.mkdir()
        gdf.to_file(shp_dir / "data.shp", engine="pyogrio")
        with zipfile.ZipFile(path, "w") as zf:
            for part in shp_dir.iterdir():
                zf.write(part, part.name)
    else:
        gdf.to_file(path, engine="pyogrio")
    if top:
        text = path.read_text(encoding="utf-8")
        extra = ", ".join(f'"{k}": "{v}"' for k, v in top.items())
        path.write_text(
            text.replace('"type": "FeatureCollection",', f'"type": "FeatureCollection", {extra},', 1), encoding="utf-8"
        )
    return str(path)


def _table(records, geoms):
    keys = list(records[0])
    if all(g.geom_type == "Point" for g in geoms):
        return keys + ["lon", "lat"], [[r[k] for k in keys] + [g.x, g.y] for r, g in zip(records, geoms)]
    return keys + ["wkt"], [[r[k] for k in keys] + [g.wkt] for r, g in zip(records, geoms)]


def distance_m(a, b) -> float:
    return GEOD.inv(a.x, a.y, b.x, b.y)[2]


def stored_points(conn, table: str) -> list:
    return [shapely.from_wkt(r["w"]) for r in db.rows(conn, f"SELECT ST_AsText(geom) AS w FROM {table} ORDER BY id")]


def fail(conn, layer, path, **kwargs) -> str:
    """Import that must fail without writing anything; returns the message."""
    before = counts(conn)
    with pytest.raises(importer.ImportFailed) as info:
        importer.import_file(conn, layer, path, **kwargs)
    assert counts(conn) == before
    message = str(info.value)
    assert str(path) in message and "nothing was imported" in message
    return message


# --------------------------------------------------------------------------- every layer, every format


@pytest.mark.parametrize("fmt", FORMATS)
def test_boundary_every_format(clean_db, tiny_units, tmp_path, fmt):
    records = [{"code": u["code"], "name": u["name"]} for u in tiny_units]
    path = write_file(tmp_path / f"boundary.{fmt}", records, [u["geom"] for u in tiny_units])
    result = importer.import_file(clean_db, "boundary", path)
    assert result.rows == 4
    got = db.rows(
        clean_db,
        """SELECT code, level, name, kind, urban, parent_code, GeometryType(geom) AS t,
                                      ST_Equals(geom, ST_Multi(ST_GeomFromText(%s, 4326))) AS same
                                 FROM admin_unit ORDER BY code""",
        (tiny_units[0]["geom"].wkt,),
    )
    assert [(r["code"], r["level"], r["kind"], r["urban"], r["parent_code"]) for r in got] == [
        ("620802", "district", "区", True, None),  # parent 620800 (the city) is not loaded
        ("620802001", "town", "街道", True, "620802"),
        (WEST, "community", "社区", True, "620802001"),
        (EAST, "community", "村", False, "620802001"),
    ]
    assert {r["t"] for r in got} == {"MULTIPOLYGON"} and got[0]["same"]
    assert db.one(clean_db, "SELECT code, name, metric_srid FROM jurisdiction") == {
        "code": "620802",
        "name": "崆峒区",
        "metric_srid": 4545,
    }  # CGCS2000 GK zone CM 108E
    log = db.one(clean_db, "SELECT layer, file_name, source_crs, rows, repaired FROM import_log")
    assert log == {"layer": "boundary", "file_name": f"boundary.{fmt}", "source_crs": "wgs84", "rows": 4, "repaired": 0}


def test_boundary_reimport_updates_by_code(tiny_jurisdiction, conn, tmp_path):
    bigger = shapely.box(106.649, 35.529, 106.671, 35.551)
    path = write_file(tmp_path / "district.geojson", [{"adcode": "620802", "name": "崆峒区"}], [bigger])
    result = importer.import_file(conn, "boundary", path)
    assert "0 new, 1 updated and 0 unchanged administrative unit(s)" in result.summary()
    assert db.scalar(conn, "SELECT count(*) FROM admin_unit") == 4
    assert db.scalar(
        conn, "SELECT ST_Equals(geom, ST_Multi(ST_GeomFromText(%s, 4326))) FROM admin_unit WHERE code = '620802'", (bigger.wkt,)
    )
    assert db.scalar(conn, "SELECT parent_code FROM admin_unit WHERE code = '620802001'") == "620802"


@pytest.mark.parametrize("fmt", FORMATS)
def test_grids_every_format(tiny_jurisdiction, conn, tmp_path, fmt):
    records = [{"code": code, "name": name, "kind": kind, "household_standard": 300} for code, name, kind, _ in GRIDS]
    path = write_file(tmp_path / f"grids.{fmt}", records, [g[3] for g in GRIDS])
    assert importer.import_file(conn, "grids", path).rows == 3
    got = db.rows(conn, "SELECT code, name, kind, admin_code, version, household_standard, layer FROM grid ORDER BY code")
    assert [(r["code"], r["name"], r["kind"], r["admin_code"]) for r in got] == [(c, n, k, c[:12]) for c, n, k, _ in GRIDS]
    assert {(r["version"], r["household_standard"], r["layer"]) for r in got} == {(1, 300, "official")}


@pytest.mark.parametrize("fmt", FORMATS)
def test_households_every_format(gridded, tmp_path, fmt):
    records = [
        {"address": "新民路1号", "head_name": "张三", "phone": "13812341234", "persons": 3, "tags": "留守;hardship"},
        {"address": "柳湖村5组", "head_name": "李四", "phone": "13900001111", "persons": 1, "tags": "new_arrival"},
    ]
    points = [shapely.Point(106.655, 35.545), shapely.Point(106.665, 35.535)]
    path = write_file(tmp_path / f"households.{fmt}", records, points)
    result = importer.import_file(gridded, "households", path)
    assert result.rows == 2 and "lie in no official grid" not in result.summary()
    got = db.rows(gridded, "SELECT address, head_name, phone, persons, tags, admin_code, grid_code FROM household ORDER BY id")
    assert got == [
        {
            "address": "新民路1号",
            "head_name": "张三",
            "phone": "13812341234",
            "persons": 3,
            "tags": ["left_behind", "hardship"],
            "admin_code": WEST,
            "grid_code": GRID_NW,
        },
        {
            "address": "柳湖村5组",
            "head_name": "李四",
            "phone": "13900001111",
            "persons": 1,
            "tags": ["new_arrival"],
            "admin_code": EAST,
            "grid_code": GRID_E,
        },
    ]
    assert [p.equals_exact(q, 1e-12) for p, q in zip(stored_points(gridded, "household"), points)] == [True, True]


@pytest.mark.parametrize("fmt", FORMATS)
def test_incidents_every_format(gridded, categories, tmp_path, fmt):
    records = [
        {
            "category": "0103",
            "reported_at": "2024-03-01 09:30",
            "title": "楼上漏水",
            "people_involved": 2,
            "conflict_intensity": "较激烈",
            "status": "立案",
            "source": "patrol",
        },
        {
            "category": "婚姻家庭纠纷",
            "reported_at": "2024-03-01T09:30:00+08:00",
            "title": None,
            "people_involved": None,
            "conflict_intensity": None,
            "status": None,
            "source": None,
        },
    ]
    path = write_file(tmp_path / f"incidents.{fmt}", records, [shapely.Point(106.655, 35.545), shapely.Point(106.665, 35.535)])
    assert importer.import_file(gridded, "incidents", path).rows == 2
    got = db.rows(
        gridded,
        """SELECT id, title, minor_code, source, reported_at, people_involved, conflict_intensity,
                                     status, deadline, admin_code, grid_code FROM incident ORDER BY id""",
    )
    reported = datetime(2024, 3, 1, 9, 30, tzinfo=CST)  # a Friday; naive times are CST
    assert [
        (r["title"], r["minor_code"], r["source"], r["people_involved"], r["conflict_intensity"], r["status"]) for r in got
    ] == [
        ("楼上漏水", "0103", "patrol", 2, 2, "registered"),
        ("婚姻家庭纠纷", "0101", "import", None, None, "received"),  # title = category name; factors unknown
    ]
    assert [r["reported_at"] for r in got] == [reported, reported]
    # 邻里纠纷 7 working days, 婚姻家庭纠纷 15 working days, counted from the Friday report
    assert [r["deadline"] for r in got] == [datetime(2024, 3, 12, 17, 30, tzinfo=CST), datetime(2024, 3, 22, 17, 30, tzinfo=CST)]
    assert [(r["admin_code"], r["grid_code"]) for r in got] == [(WEST, GRID_NW), (EAST, GRID_E)]
    history = db.rows(gridded, "SELECT incident_id, from_status, to_status, actor FROM incident_history ORDER BY incident_id")
    assert history == [
        {"incident_id": got[0]["id"], "from_status": None, "to_status": "registered", "actor": f"import:incidents.{fmt}"},
        {"incident_id": got[1]["id"], "from_status": None, "to_status": "received", "actor": f"import:incidents.{fmt}"},
    ]


def test_imported_deadlines_follow_the_office_calendar(gridded, categories, tmp_path):
    """Imported incidents count working days on the same calendar as those entered by hand:
    with Monday 4 March 2024 a holiday, 7 working days from Friday 1 March end on Wednesday
    13 March instead of Tuesday 12 March. Two reports on the same day share the deadline."""
    import json

    db.execute(
        gridded,
        "INSERT INTO setting (key, value) VALUES ('work_calendar', %s)",
        (json.dumps({"holidays": ["2024-03-04"], "workdays": []}),),
    )
    gridded.commit()
    records = [{"category": "0103", "reported_at": "2024-03-01 09:30"}, {"category": "0103", "reported_at": "2024-03-01 16:00"}]
    path = write_file(tmp_path / "incidents.csv", records, [shapely.Point(106.655, 35.545)] * 2)
    importer.import_file(gridded, "incidents", path)
    got = db.rows(gridded, "SELECT deadline FROM incident ORDER BY id")
    assert [r["deadline"] for r in got] == [datetime(2024, 3, 13, 17, 30, tzinfo=CST)] * 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_places_every_format(gridded, tmp_path, fmt):
    records = [
        {
            "kind": "重点人员",
            "category": "社区矫正",
            "name": "王五",
            "tier": 1,
            "danger_grade": None,
            "id_number": "620802199001011234",
            "phone": "13700002222",
            "address": "新民路3号",
        },
        {
            "kind": "service_center",
            "category": "便民服务站",
            "name": "柳湖村便民服务站",
            "tier": None,
            "danger_grade": None,
            "id_number": None,
            "phone": None,
            "address": None,
        },
    ]
    path = write_file(tmp_path / f"places.{fmt}", records, [shapely.Point(106.652, 35.532), shapely.Point(106.668, 35.548)])
    assert importer.import_file(gridded, "places", path).rows == 2
    got = db.rows(gridded, "SELECT kind, category, name, tier, id_number, admin_code, grid_code FROM place ORDER BY id")
    assert got == [
        {
            "kind": "key_person",
            "category": "社区矫正",
            "name": "王五",
            "tier": 1,
            "id_number": "620802199001011234",
            "admin_code": WEST,
            "grid_code": GRID_SW,
        },
        {
            "kind": "service_center",
            "category": "便民服务站",
            "name": "柳湖村便民服务站",
            "tier": None,
            "id_number": None,
            "admin_code": EAST,
            "grid_code": GRID_E,
        },
    ]


# --------------------------------------------------------------------------- CRS


def test_gcj02_csv_lands_within_half_a_metre(gridded, tmp_path):
    truth = shapely.Point(106.655, 35.545)
    gx, gy = crs.wgs84_to_gcj02(truth.x, truth.y)
    assert distance_m(truth, shapely.Point(gx, gy)) > 100  # the offset is real
    path = write_file(tmp_path / "gcj.csv", [{"address": "新民路1号"}], [shapely.Point(gx, gy)])
    result = importer.import_file(gridded, "households", path, crs="gcj02")
    assert "GCJ-02" in result.crs_line and "(from --crs) → converted to WGS84" in result.crs_line
    assert distance_m(stored_points(gridded, "household")[0], truth) < 0.5
    assert db.scalar(gridded, "SELECT source_crs FROM import_log") == "gcj02"


def test_coord_system_property_and_top_level_note_are_honoured(clean_db, tiny_units, tmp_path):
    district = tiny_units[0]["geom"]
    gcj = shapely.transform(district, lambda xy: np.column_stack(crs.wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    by_property = write_file(tmp_path / "p.geojson", [{"adcode": "620802", "name": "崆峒区", "coord_system": "GCJ-02"}], [gcj])
    result = importer.import_file(clean_db, "boundary", by_property)
    assert "GCJ-02" in result.crs_line and "from the file's coord_system property" in result.crs_line
    by_note = write_file(
        tmp_path / "n.geojson",
        [{"adcode": "620802", "name": "崆峒区"}],
        [gcj],
        crs_note="coordinates are GCJ-02 (AMap) longitude/latitude, not WGS84",
    )
    result = importer.import_file(clean_db, "boundary", by_note)
    assert "from the file's top-level crs_note member" in result.crs_line and "GCJ-02" in result.crs_line
    corner = shapely.from_wkt(
        db.scalar(clean_db, "SELECT ST_AsText(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1)) FROM admin_unit")
    )
    expected = shapely.Point(district.exterior.coords[0])
    assert distance_m(corner, expected) < 0.5


def test_projected_coordinates_declared_or_given(gridded, tmp_path):
    truth = shapely.Point(106.655, 35.545)
    x, y = pyproj.Transformer.from_crs(4326, 4545, always_xy=True).transform(truth.x, truth.y)
    gpkg = tmp_path / "gk.gpkg"
    geopandas.GeoDataFrame({"address": ["a"]}, geometry=[shapely.Point(x, y)], crs="EPSG:4545").to_file(gpkg)
    result = importer.import_file(gridded, "households", gpkg)
    assert "(EPSG:4545) (declared by the GeoPackage's srs) → converted to WGS84" in result.crs_line
    path = tmp_path / "gk.csv"
    path.write_text(f"x,y,address\n{x},{y},b\n", encoding="utf-8")
    importer.import_file(gridded, "households", path, crs="EPSG:4545")
    assert [distance_m(p, truth) < 0.01 for p in stored_points(gridded, "household")] == [True, True]


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_shapefile_without_prj_is_assumed_wgs84(gridded, tmp_path):
    path = tmp_path / "h.shp"
    geopandas.GeoDataFrame({"address": ["a"]}, geometry=[shapely.Point(106.655, 35.545)]).to_file(path)
    assert not path.with_suffix(".prj").exists()
    result = importer.import_file(gridded, "households", path)
    assert "the file declares no CRS (no .prj), so WGS84 is assumed" in result.crs_line


def test_real_kongtong_boundary_is_read_as_gcj02(clean_db):
    result = importer.import_file(clean_db, "boundary", "data/boundaries/620802-kongtong.geojson")
    assert result.crs_line.startswith("坐标系 CRS: GCJ-02") and "converted to WGS84" in result.crs_line
    area_km2 = db.scalar(clean_db, "SELECT ST_Area(geom::geography) / 1e6 FROM admin_unit WHERE code = '620802'")
    assert 1800 < area_km2 < 2100  # official area 1,936 km²


def test_gbk_csv_with_chinese_headers(gridded, tmp_path):
    path = tmp_path / "住户.csv"
    path.write_bytes("经度,纬度,地址,户主,人数,标签\n106.655,35.545,新民路1号,张三,4,特困、失业\n".encode("gbk"))
    result = importer.import_file(gridded, "households", path)
    assert "编码 encoding: GBK/GB18030" in result.summary()
    assert db.one(gridded, "SELECT address, head_name, persons, tags FROM household") == {
        "address": "新民路1号",
        "head_name": "张三",
        "persons": 4,
        "tags": ["hardship", "unemployed"],
    }


def test_utf8_bom_csv_and_excel_dates(gridded, categories, tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufefflng,latitude,address\n106.655,35.545,新民路1号\n".encode("utf-8"))
    assert importer.import_file(gridded, "households", bom).rows == 1
    book = openpyxl.Workbook()
    book.active.append(["经度", "纬度", "类别", "上报时间"])
    book.active.append([106.655, 35.545, "0103", datetime(2024, 3, 1, 9, 30)])  # a real Excel date cell
    book.save(tmp_path / "dates.xlsx")
    importer.import_file(gridded, "incidents", tmp_path / "dates.xlsx")
    assert db.scalar(gridded, "SELECT reported_at FROM incident") == datetime(2024, 3, 1, 9, 30, tzinfo=CST)


# --------------------------------------------------------------------------- broken files: nothing written


def test_bad_geometry_is_rejected(gridded, tmp_path):
    flat = shapely.Polygon([(106.651, 35.531), (106.655, 35.531), (106.659, 35.531), (106.651, 35.531)])  # no area
    path = write_file(tmp_path / "grids.geojson", [{"name": "好"}, {"name": "坏"}], [GRIDS[0][3], flat])
    message = fail(gridded, "grids", path)
    assert "feature 2: invalid geometry (Self-intersection[106.655 35.531]) and make_valid left no polygon" in message


def test_empty_and_wrong_type_geometry_are_rejected(gridded, tmp_path):
    path = write_file(
        tmp_path / "h.geojson",
        [{"address": "a"}, {"address": "b"}, {"address": "c"}],
        [shapely.Point(106.655, 35.545), None, GRIDS[0][3]],
    )
    message = fail(gridded, "households", path)
    assert "feature 2: empty geometry" in message
    assert "feature 3: wrong geometry type Polygon: this layer needs points" in message


def test_missing_column_is_rejected(gridded, tmp_path):
    path = write_file(tmp_path / "h.csv", [{"户主": "张三", "phone": "1"}], [shapely.Point(106.655, 35.545)])
    message = fail(gridded, "households", path)
    assert (
        "missing required column: address (or 地址/住址/详细地址/家庭住址/现住址/居住地址). Columns found: 户主, phone" in message
    )


def test_wrong_type_is_rejected(gridded, tmp_path):
    records = [{"address": "a", "persons": "2"}, {"address": "b", "persons": "abc"}]
    path = write_file(tmp_path / "h.csv", records, [shapely.Point(106.655, 35.545)] * 2)
    message = fail(gridded, "households", path)
    assert "row 2 (line 3): persons='abc': not a whole number" in message


def test_outside_china_is_rejected(gridded, tmp_path):
    records = [{"address": "a"}, {"address": "Paris"}, {"address": "swapped"}]
    points = [shapely.Point(106.655, 35.545), shapely.Point(2.35, 48.85), shapely.Point(35.545, 106.655)]
    message = fail(gridded, "households", write_file(tmp_path / "h.xlsx", records, points))
    assert "row 2 (sheet row 3): coordinates outside China (2.350000, 48.850000)" in message
    # a table's swapped 经度/纬度 are read the right way round (tests/test_office_files.py); a
    # vector file's geometry is not rewritten, only named
    assert "row 3 (sheet row 4)" not in message and "these 1 row(s)" in message
    message = fail(gridded, "households", write_file(tmp_path / "h.geojson", records, points))
    assert "feature 3: coordinates outside China" in message and "lon and lat look swapped" in message


def test_outside_jurisdiction_is_rejected_with_50_m_tolerance(gridded, tmp_path):
    # the district's east edge is lon 106.67; at lat 35.54 one metre is 1 / 90,590 degrees of lon
    near, far = shapely.Point(106.67 + 30 / 90590, 35.545), shapely.Point(106.67 + 200 / 90590, 35.545)
    message = fail(gridded, "households", write_file(tmp_path / "h.csv", [{"address": "a"}, {"address": "b"}], [near, far]))
    assert "row 2 (line 3): point (106.672208, 35.545000) is outside 崆峒区 (more than 50 m from its boundary)" in message
    assert "row 1" not in message
    importer.import_file(gridded, "households", write_file(tmp_path / "near.csv", [{"address": "a"}], [near]))
    assert db.one(gridded, "SELECT admin_code, grid_code FROM household") == {"admin_code": EAST, "grid_code": None}


def test_unknown_category_is_rejected(gridded, categories, tmp_path):
    records = [{"category": "0103", "reported_at": "2024-03-01"}, {"category": "9999", "reported_at": "2024-03-01"}]
    message = fail(gridded, "incidents", write_file(tmp_path / "i.csv", records, [shapely.Point(106.655, 35.545)] * 2))
    assert "row 2 (line 3): category='9999': unknown incident category" in message


def test_unknown_enum_values_are_rejected(gridded, categories, tmp_path):
    records = [{"category": "0103", "reported_at": "2024-03-01", "source": "微信", "status": "done", "conflict_intensity": "9"}]
    message = fail(gridded, "incidents", write_file(tmp_path / "i.csv", records, [shapely.Point(106.655, 35.545)]))
    for column in ("source='微信'", "status='done'", "conflict_intensity='9'"):
        assert f"row 1 (line 2): {column}: unknown value; accepted:" in message


def test_every_problem_is_reported_at_once_and_a_repeated_value_once(gridded, tmp_path):
    records = [{"address": "a", "persons": "x"} for _ in range(25)] + [
        {"address": "b", "persons": str(200 + i)} for i in range(25)
    ]
    message = fail(gridded, "households", write_file(tmp_path / "h.csv", records, [shapely.Point(106.655, 35.545)] * 50))
    # the 25 identical bad cells are one problem naming the first rows; the 25 distinct ones are all listed
    assert "26 problems" in message
    assert (
        "persons='x' in 25 rows (row 1 (line 2), row 2 (line 3), row 3 (line 4), row 4 (line 5), row 5 (line 6) … and 20 more)"
        in message
    )
    assert "row 50 (line 51): persons='224': must be between 0 and 100" in message


# --------------------------------------------------------------------------- grids


def test_bowtie_is_repaired_and_reported(tiny_jurisdiction, conn, tmp_path):
    bowtie = shapely.Polygon([(106.651, 35.531), (106.659, 35.539), (106.659, 35.531), (106.651, 35.539), (106.651, 35.531)])
    assert not bowtie.is_valid
    result = importer.import_file(conn, "grids", write_file(tmp_path / "g.geojson", [{"name": "蝴蝶"}], [bowtie]))
    assert result.repairs == [
        "feature 1: invalid geometry (Self-intersection[106.655 35.535]) repaired with make_valid into 2 polygon(s)"
    ]
    assert "修复 repaired 1 invalid geometry" in result.summary()
    assert db.one(conn, "SELECT ST_NumGeometries(geom) AS parts, ST_IsValid(geom) AS valid, admin_code FROM grid") == {
        "parts": 2,
        "valid": True,
        "admin_code": WEST,
    }
    assert db.scalar(conn, "SELECT repaired FROM import_log") == 1


def test_grid_codes_and_names_are_generated_by_community(tiny_jurisdiction, conn, add_grids, tmp_path):
    add_grids([(WEST + "001", "已有网格", "urban", shapely.box(106.655, 35.53, 106.66, 35.54))])
    quadrants = [
        shapely.box(106.65, 35.53, 106.655, 35.54),  # SW of the west community
        shapely.box(106.655, 35.54, 106.66, 35.55),  # NE
        shapely.box(106.65, 35.54, 106.655, 35.55),  # NW
        shapely.box(106.661, 35.531, 106.669, 35.549),  # the village
    ]
    result = importer.import_file(conn, "grids", write_file(tmp_path / "g.gpkg", [{"note": i} for i in range(4)], quadrants))
    assert "generated codes for 4 grid(s)" in result.summary()
    got = db.rows(
        conn, "SELECT code, name, kind, admin_code, ST_AsText(geom) AS wkt FROM grid WHERE edited_by IS NOT NULL ORDER BY code"
    )
    # numbered west->east within rows taken north->south, after the existing 001
    assert [(r["code"], r["name"], r["kind"], r["admin_code"]) for r in got] == [
        (WEST + "002", "新民社区第2网格", "urban", WEST),  # NW
        (WEST + "003", "新民社区第3网格", "urban", WEST),  # NE
        (WEST + "004", "新民社区第4网格", "urban", WEST),  # SW
        (EAST + "001", "柳湖村第1网格", "rural", EAST),
    ]
    assert shapely.from_wkt(got[0]["wkt"]).equals(shapely.MultiPolygon([quadrants[2]]))


def test_grid_with_largest_overlap_decides_the_community(tiny_jurisdiction, conn, tmp_path):
    mostly_east = shapely.box(106.658, 35.54, 106.668, 35.55)  # 20% west, 80% east
    importer.import_file(conn, "grids", write_file(tmp_path / "g.csv", [{"name": "跨界"}], [mostly_east]))
    assert db.one(conn, "SELECT code, admin_code FROM grid") == {"code": EAST + "001", "admin_code": EAST}


def test_reimporting_a_grid_code_adds_version_2(tiny_jurisdiction, conn, tmp_path):
    first, second = GRIDS[0][3], shapely.box(106.65, 35.541, 106.66, 35.55)
    importer.import_file(conn, "grids", write_file(tmp_path / "v1.geojson", [{"code": GRID_NW}], [first]))
    result = importer.import_file(conn, "grids", write_file(tmp_path / "v2.geojson", [{"code": GRID_NW}], [second]))
    assert "1 grid(s) already existed: old version closed" in result.summary()
    got = db.rows(conn, "SELECT version, valid_to IS NULL AS current, ST_AsText(geom) AS wkt FROM grid ORDER BY version")
    assert [(r["version"], r["current"]) for r in got] == [(1, False), (2, True)]
    assert shapely.from_wkt(got[0]["wkt"]).equals(first) and shapely.from_wkt(got[1]["wkt"]).equals(second)
    assert db.scalar(conn, "SELECT count(*) FROM grid_current") == 1


def test_departmental_layer(tiny_jurisdiction, conn, tmp_path):
    path = write_file(tmp_path / "police.geojson", [{"code": GRID_NW, "name": "警务区"}], [GRIDS[0][3]])
    importer.import_file(conn, "grids", path, grid_layer="police")
    assert db.rows(conn, "SELECT layer, code FROM grid") == [{"layer": "police", "code": GRID_NW}]
    assert db.scalar(conn, "SELECT layer FROM import_log") == "grids:police"
    with pytest.raises(importer.ImportFailed, match="applies to grids only"):
        importer.import_file(conn, "households", path, grid_layer="police")


def test_point_in_two_grids_takes_the_smaller_code(tiny_jurisdiction, conn, add_grids, tmp_path):
    add_grids(
        [
            (WEST + "007", "七", "urban", shapely.box(106.65, 35.53, 106.66, 35.55)),
            (WEST + "003", "三", "urban", shapely.box(106.65, 35.53, 106.66, 35.55)),
        ]
    )
    importer.import_file(conn, "households", write_file(tmp_path / "h.csv", [{"address": "a"}], [shapely.Point(106.655, 35.545)]))
    assert db.scalar(conn, "SELECT grid_code FROM household") == WEST + "003"


# --------------------------------------------------------------------------- command line


def test_cli_bad_file_exits_1_with_the_message(gridded, tmp_path, capsys):
    path = write_file(tmp_path / "h.csv", [{"address": "a", "persons": "abc"}], [shapely.Point(106.655, 35.545)])
    assert cli.main(["import", "households", path, "--test"]) == 1
    err = capsys.readouterr().err
    assert "错误 error:" in err and "h.csv" in err and "row 1 (line 2): persons='abc': not a whole number" in err
    assert "坐标系 CRS: WGS84" in err
    assert db.scalar(gridded, "SELECT count(*) FROM import_log") == 0


def test_cli_import_prints_crs_and_summary(gridded, tmp_path, capsys):
    gx, gy = crs.wgs84_to_gcj02(106.655, 35.545)
    path = write_file(tmp_path / "h.csv", [{"address": "a"}], [shapely.Point(gx, gy)])
    assert cli.main(["import", "households", path, "--crs", "gcj02", "--test"]) == 0
    out = capsys.readouterr()
    assert "导入完成 batch 1: 1 households from h.csv: 1 new" in out.out
    assert "坐标系 CRS: GCJ-02" in out.out and "converted to WGS84" in out.out
    assert "校验 validating 1 rows" in out.err
