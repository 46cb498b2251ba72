"""Exports: every layer to every format, round trips, declared coordinate systems, masking."""

from __future__ import annotations

import csv
import json

import openpyxl
import pyogrio
import pytest
import shapely

from geo import cli, crs, db
from geo.io import exporter, importer

pytestmark = pytest.mark.filterwarnings("ignore:.*(truncated|laundered).*")  # shapefile field names

FORMATS = ("geojson", "gpkg", "zip", "shp", "csv", "xlsx")
WEST, EAST = "620802001001", "620802001002"
GRIDS = (
    (WEST + "001", "新民社区第1网格", "urban", shapely.box(106.65, 35.53, 106.66, 35.55)),
    (
        EAST + "001",
        "柳湖村第1网格",
        "rural",
        shapely.Polygon([(106.66, 35.53), (106.67, 35.53), (106.67, 35.55), (106.6651234567, 35.5498765432), (106.66, 35.55)]),
    ),
)
HOUSEHOLD = shapely.Point(106.6551234567, 35.5451234567)
KEYS = {  # how rows of a layer are matched up after a round trip
    "boundary": "code",
    "grids": "code",
    "households": "id",
    "incidents": "id",
    "places": "id",
}
TABLES = {"boundary": "admin_unit", "grids": "grid", "households": "household", "incidents": "incident", "places": "place"}


@pytest.fixture
def seeded(tiny_jurisdiction, conn, add_grids, categories):
    """Two grids, two households, one incident and two places, with personal data."""
    add_grids(GRIDS)
    with db.transaction(conn) as cur:
        cur.execute(
            """INSERT INTO household (address, head_name, phone, persons, tags, grid_code, admin_code, geom) VALUES
               ('新民路1号', '张三', '13812341234', 3, '{left_behind}', %(w)s || '001', %(w)s, ST_GeomFromText(%(p1)s, 4326)),
               ('柳湖村5组', '欧阳娜娜', '0933-8212345', 1, '{}', %(e)s || '001', %(e)s, ST_GeomFromText(%(p2)s, 4326))""",
            {"w": WEST, "e": EAST, "p1": HOUSEHOLD.wkt, "p2": "POINT(106.6659876543 35.5351234567)"},
        )
        cur.execute(
            """INSERT INTO incident (title, minor_code, source, reported_at, people_involved, conflict_intensity, status,
                                     deadline, closed_at, reporter_name, reporter_phone, grid_code, admin_code, geom)
               VALUES ('楼上漏水', '0103', 'resident', '2024-03-01 09:30+08', 2, 2, 'closed', '2024-03-12 17:30+08',
                       '2024-03-05 10:00+08', '赵六', '13600001111', %(w)s || '001', %(w)s,
                       ST_GeomFromText('POINT(106.6521 35.5321)', 4326))""",
            {"w": WEST},
        )
        cur.execute(
            """INSERT INTO place (kind, category, name, tier, danger_grade, id_number, phone, grid_code, admin_code, geom) VALUES
               ('key_person', '严重精神障碍', '王五', 1, 2, '620802199001011234', '13700002222', %(w)s || '001', %(w)s,
                ST_GeomFromText('POINT(106.6533 35.5444)', 4326)),
               ('service_center', '便民服务站', '柳湖村便民服务站', NULL, NULL, NULL, NULL, %(e)s || '001', %(e)s,
                ST_GeomFromText('POINT(106.6688 35.5477)', 4326))""",
            {"w": WEST, "e": EAST},
        )
    return conn


def geometries(conn, layer: str) -> dict:
    rows = db.rows(conn, f"SELECT {KEYS[layer]} AS k, ST_AsText(geom) AS w FROM {TABLES[layer]} ORDER BY 1")
    return {r["k"]: shapely.from_wkt(r["w"]) for r in rows}


def read_csv(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layer", list(KEYS))
def test_round_trip(seeded, reset_db, tmp_path, layer, fmt):
    before = geometries(seeded, layer)
    path = tmp_path / f"{layer}.{fmt}"
    result = exporter.export_layer(seeded, layer, path)
    assert result.rows == len(before) > 0 and path.exists()
    reset_db(units=layer != "boundary")
    importer.import_file(seeded, layer, path)
    after = geometries(seeded, layer)
    assert list(after) == list(before)
    for key, geom in before.items():
        assert shapely.hausdorff_distance(geom, after[key]) < 1e-7, key


def test_gcj02_csv_export_has_coord_system_and_reimports(seeded, reset_db, tmp_path):
    path = tmp_path / "households.csv"
    result = exporter.export_layer(seeded, "households", path, crs="gcj02")
    assert "GCJ-02" in result.crs_line and "converted from WGS84" in result.crs_line
    rows = read_csv(path)
    assert {r["coord_system"] for r in rows} == {"GCJ-02"}
    gx, gy = crs.wgs84_to_gcj02(HOUSEHOLD.x, HOUSEHOLD.y)
    assert abs(float(rows[0]["lon"]) - gx) < 1e-9 and abs(float(rows[0]["lat"]) - gy) < 1e-9
    reset_db()
    imported = importer.import_file(seeded, "households", path)
    assert "from the file's coord_system column" in imported.crs_line
    assert shapely.hausdorff_distance(geometries(seeded, "households")[1], HOUSEHOLD) < 1e-7


def test_gcj02_geojson_declares_itself_at_top_level(seeded, tmp_path):
    path = tmp_path / "grids.geojson"
    result = exporter.export_layer(seeded, "grids", path, crs="gcj02")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["coord_system"] == "GCJ-02" and "not WGS84" in doc["crs_note"]
    assert any("RFC 7946" in w for w in result.warnings)
    x0, y0 = doc["features"][0]["geometry"]["coordinates"][0][0][0]
    assert (x0, y0) == pytest.approx(crs.wgs84_to_gcj02(*GRIDS[0][3].exterior.coords[0]), abs=1e-9)


def test_gcj02_gpkg_has_coord_system_column_and_warning(seeded, tmp_path):
    path = tmp_path / "places.gpkg"
    result = exporter.export_layer(seeded, "places", path, crs="gcj02")
    assert any("EPSG:4326" in w and "coord_system" in w for w in result.warnings)
    assert "警告 warning:" in result.summary()
    info = pyogrio.read_info(path)
    assert info["crs"] == "EPSG:4326" and "coord_system" in list(info["fields"])
    assert set(pyogrio.read_dataframe(path)["coord_system"]) == {"GCJ-02"}


def test_cgcs2000_and_projected_crs_are_declared(seeded, tmp_path):
    exporter.export_layer(seeded, "grids", tmp_path / "g.gpkg", crs="cgcs2000")
    assert pyogrio.read_info(tmp_path / "g.gpkg")["crs"] == "EPSG:4490"
    exporter.export_layer(seeded, "households", tmp_path / "h.csv", crs="EPSG:4545")
    row = read_csv(tmp_path / "h.csv")[0]
    assert row["coord_system"] == "EPSG:4545" and 35e5 < float(row["y"]) < 40e5  # Gauss-Kruger metres
    assert "lon" not in row


def test_wkt_polygons_in_csv_and_excel(seeded, tmp_path):
    exporter.export_layer(seeded, "grids", tmp_path / "g.csv")
    rows = read_csv(tmp_path / "g.csv")
    assert [r["code"] for r in rows] == [g[0] for g in GRIDS] and {r["coord_system"] for r in rows} == {"WGS84"}
    assert shapely.hausdorff_distance(shapely.from_wkt(rows[1]["wkt"]), GRIDS[1][3]) < 1e-9  # 9 decimals
    exporter.export_layer(seeded, "grids", tmp_path / "g.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "g.xlsx").active
    header = [c.value for c in sheet[1]]
    assert header[-2:] == ["wkt", "coord_system"] and sheet.max_row == 3


def test_excel_refuses_polygons_over_the_cell_limit(tiny_jurisdiction, conn, add_grids, tmp_path):
    detailed = shapely.Point(106.655, 35.54).buffer(0.004, quad_segs=1000)  # 4,000 vertices
    add_grids([(WEST + "001", "细", "urban", detailed)])
    with pytest.raises(exporter.ExportFailed, match="Excel's 32,767-character cell limit"):
        exporter.export_layer(conn, "grids", tmp_path / "g.xlsx")


def test_empty_layer_exports(tiny_jurisdiction, conn, tmp_path):
    for fmt in ("geojson", "gpkg", "csv"):
        assert exporter.export_layer(conn, "places", tmp_path / f"p.{fmt}").rows == 0
    assert json.loads((tmp_path / "p.geojson").read_text(encoding="utf-8"))["features"] == []


# --------------------------------------------------------------------------- what is exported


def test_personal_columns_are_masked_by_default(seeded, tmp_path):
    exporter.export_layer(seeded, "households", tmp_path / "h.csv")
    assert [(r["head_name"], r["phone"]) for r in read_csv(tmp_path / "h.csv")] == [
        ("张*", "138****1234"),
        ("欧***", "093*****2345"),
    ]
    exporter.export_layer(seeded, "places", tmp_path / "p.csv")
    assert [(r["name"], r["id_number"]) for r in read_csv(tmp_path / "p.csv")] == [
        ("王*", "620802********1234"),
        ("柳湖村便民服务站", ""),
    ]  # a key person's name is personal
    exporter.export_layer(seeded, "incidents", tmp_path / "i.csv")
    assert [(r["reporter_name"], r["reporter_phone"]) for r in read_csv(tmp_path / "i.csv")] == [("赵*", "136****1111")]
    exporter.export_layer(seeded, "households", tmp_path / "full.csv", unmasked=True)
    assert read_csv(tmp_path / "full.csv")[0]["head_name"] == "张三"


def test_incident_times_are_iso_cst(seeded, tmp_path):
    exporter.export_layer(seeded, "incidents", tmp_path / "i.geojson")
    props = json.loads((tmp_path / "i.geojson").read_text(encoding="utf-8"))["features"][0]["properties"]
    assert props["reported_at"] == "2024-03-01T09:30:00+08:00" and props["category"] == "邻里纠纷"


def test_grid_layers_and_versions(seeded, add_grids, tmp_path):
    add_grids([(WEST + "009", "警务区", "urban", GRIDS[0][3])], layer="police")
    db.execute(seeded, "UPDATE grid SET valid_to = now() WHERE code = %s", (EAST + "001",))
    db.execute(
        seeded,
        """INSERT INTO grid (code, name, kind, admin_code, version, geom)
                          SELECT code, name, kind, admin_code, 2, geom FROM grid WHERE code = %s""",
        (EAST + "001",),
    )
    seeded.commit()
    assert exporter.export_layer(seeded, "grids", tmp_path / "g.csv").rows == 2
    assert exporter.export_layer(seeded, "grids", tmp_path / "all.csv", all_versions=True).rows == 3
    assert [(r["code"], r["version"]) for r in read_csv(tmp_path / "all.csv")] == [
        (WEST + "001", "1"),
        (EAST + "001", "1"),
        (EAST + "001", "2"),
    ]
    assert exporter.export_layer(seeded, "grids", tmp_path / "p.csv", grid_layer="police").rows == 1


def test_boundary_level(seeded, tmp_path):
    assert exporter.export_layer(seeded, "boundary", tmp_path / "c.csv", level="community").rows == 2
    assert [r["code"] for r in read_csv(tmp_path / "c.csv")] == [WEST, EAST]
    with pytest.raises(exporter.ExportFailed, match="--level applies to boundary only"):
        exporter.export_layer(seeded, "grids", tmp_path / "x.csv", level="town")


# --------------------------------------------------------------------------- command line


def test_cli_export_prints_count_crs_and_path(seeded, tmp_path, capsys):
    path = tmp_path / "out" / "households.gpkg"
    assert cli.main(["export", "households", str(path), "--crs", "bd09", "--test"]) == 0
    out = capsys.readouterr().out
    assert f"导出完成 exported 2 households → {path}" in out and "坐标系 CRS: BD-09" in out and "警告 warning:" in out
    assert cli.main(["export", "households", str(tmp_path / "x.txt"), "--test"]) == 1
    assert "unsupported file type '.txt'" in capsys.readouterr().err
