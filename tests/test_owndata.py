"""A county's own files, as offices write them, imported with no hand edits (issue #14).

The files are built here the way the issue's table describes them: the district outline as
a GBK shapefile in a CGCS2000 Gauss-Kruger zone without .cpg, towns and name-only
communities in a two-layer GeoPackage, grids in GCJ-02 behind a WGS84 .prj (zipped), a
household register in BD-09 with 户主姓名/联系电话/身份证号/详细地址/人口数, a 12345 ledger with
工单编号/受理时间/事件类型/事发地址/办理状态/涉事人数 and 20 bad rows, a places sheet and a
1+1+N staff roster. Every count, status, community and coordinate is checked against the
truth the files were made from; a re-import changes nothing; undo restores the state before.
"""

from __future__ import annotations

import zipfile
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import openpyxl
import pyproj
import pytest
import shapely

from geo import cli, db
from geo import crs as crs_mod
from geo.incidents import intake
from geo.io import batches, importer, inspect
from geo.worktime import CST

DISTRICT = (106.65, 35.53, 106.67, 35.55)
TOWN = "620802001"
WEST, EAST = "620802001001", "620802001002"  # generated for the name-only communities, west first
COLUMN_W = 0.0025  # four grid columns per community


def _gk(geom):
    """WGS84 -> CGCS2000 / 3-degree Gauss-Kruger CM 108E (EPSG:4545), as the bureau's file is."""
    t = pyproj.Transformer.from_crs(4326, 4545, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def _zip(folder, stem, target):
    with zipfile.ZipFile(target, "w") as zf:
        for p in folder.glob(stem + ".*"):
            zf.write(p, p.name)
    return target


def district_shapefile(tmp_path):
    """区划代码/名称 in GBK, no .cpg, no code-page byte: what ArcGIS leaves behind."""
    folder = tmp_path / "district"
    folder.mkdir()
    gdf = gpd.GeoDataFrame({"区划代码": ["620802"], "名称": ["崆峒区"]}, geometry=[_gk(shapely.box(*DISTRICT))], crs=4545)
    gdf.to_file(folder / "district.shp", engine="pyogrio", encoding="GBK")
    for cpg in folder.glob("*.cpg"):
        cpg.unlink()
    dbf = folder / "district.dbf"
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0  # no language driver id: GDAL alone would read Latin-1
    dbf.write_bytes(bytes(raw))
    assert "区划代码".encode("gbk") in raw
    return _zip(folder, "district", tmp_path / "district.zip")


def towns_and_communities(tmp_path):
    path = tmp_path / "units.gpkg"
    gpd.GeoDataFrame({"乡镇编码": [TOWN], "乡镇名称": ["东关街道"]}, geometry=[shapely.box(*DISTRICT)], crs=4326).to_file(
        path, layer="乡镇", engine="pyogrio"
    )
    communities = [shapely.box(106.65, 35.53, 106.66, 35.55), shapely.box(106.66, 35.53, 106.67, 35.55)]
    gpd.GeoDataFrame({"社区名称": ["新民社区", "柳湖村"]}, geometry=communities, crs=4326).to_file(
        path, layer="社区", engine="pyogrio"
    )
    return path


def grid_boxes():
    """(code, WGS84 box): four columns per community."""
    out = []
    for community, x0 in ((WEST, 106.65), (EAST, 106.66)):
        for k in range(4):
            out.append((f"{community}{k + 1:03d}", shapely.box(x0 + k * COLUMN_W, 35.53, x0 + (k + 1) * COLUMN_W, 35.55)))
    return out


def gcj_grids_zip(tmp_path):
    folder = tmp_path / "grids"
    folder.mkdir()
    boxes = grid_boxes()
    gcj = [shapely.transform(g, lambda xy: np.column_stack(crs_mod.wgs84_to_gcj02(xy[:, 0], xy[:, 1]))) for _, g in boxes]
    gdf = gpd.GeoDataFrame(
        {
            "网格编码": [c for c, _ in boxes],
            "网格名称": [f"网格{i + 1}" for i in range(len(boxes))],
            "网格类型": ["城市网格"] * 4 + ["农村网格"] * 4,
        },
        geometry=gcj,
        crs=4326,  # the .prj says WGS84; the coordinates are GCJ-02 (picked on AMap)
    )
    gdf.to_file(folder / "grids.shp", engine="pyogrio", encoding="GBK")  # GDAL writes a .cpg for it
    return _zip(folder, "grids", tmp_path / "grids.zip")


def _sheet(path, header, rows):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    book.save(path)
    return path


HOUSEHOLDS = [  # 户编号, 户主姓名, 联系电话, 身份证号, 详细地址, 人口数, WGS84 lon, lat
    (
        f"H{i:03d}",
        f"住户{i}",
        f"1380000{i:04d}",
        f"62080219800101{i:04d}",
        f"东关街道{i}号",
        1 + i % 5,
        106.651 + i * 0.0011,
        35.54,
    )
    for i in range(16)
]


def bd09_households(tmp_path, rows=HOUSEHOLDS):
    out = []
    for ext, name, phone, idn, address, persons, x, y in rows:
        gx, gy = crs_mod.wgs84_to_gcj02(x, y)
        bx, by = crs_mod.gcj02_to_bd09(gx, gy)
        out.append([ext, name, phone, idn, address, f"{persons}人" if persons == 3 else persons, float(bx), float(by)])
    return _sheet(
        tmp_path / "住户.xlsx", ["户编号", "户主姓名", "联系电话", "身份证号", "详细地址", "人口数", "百度经度", "百度纬度"], out
    )


STATUS_WORDS = ["已受理", "办理中", "已办结", "已回访", "已派单"]
STATUS_OF = {"已受理": "registered", "办理中": "in_progress", "已办结": "closed", "已回访": "followed_up", "已派单": "dispatched"}
TYPES = ["矛盾纠纷-邻里纠纷", "噪音扰民", "停车难", "供暖问题", "0114", "婚姻家庭纠纷"]
CODE_OF = {
    "矛盾纠纷-邻里纠纷": "0103",
    "噪音扰民": "1103",
    "停车难": "0705",
    "供暖问题": "1012",
    "0114": "0114",
    "婚姻家庭纠纷": "0101",
}
GOOD, BAD = 180, 20


def ledger_rows(statuses=None):
    """(row values, truth) for the 12345 ledger: 180 good rows in four time forms, 20 bad."""
    base = datetime(2025, 3, 5, 14, 22)
    rows, truth = [], []
    for i in range(GOOD):
        t = base + timedelta(days=i % 60, minutes=i)
        form = i % 4
        when = (
            f"{t:%Y/%-m/%-d %H:%M}"
            if form == 0
            else f"{t.year}年{t.month}月{t.day}日"
            if form == 1
            else (t - datetime(1899, 12, 30)).total_seconds() / 86400
            if form == 2
            else t
        )
        expected = t.replace(hour=0, minute=0) if form == 1 else t
        status = (statuses or {}).get(i, STATUS_WORDS[i % len(STATUS_WORDS)])
        kind = TYPES[i % len(TYPES)]
        x, y = 106.651 + (i % 18) * 0.001, 35.531 + (i // 18) * 0.0015
        rows.append([f"GD2025{i:05d}", when, kind, f"东关街道{i}号", status, 1 + i % 7, x, y])
        truth.append(
            {
                "external_id": f"GD2025{i:05d}",
                "reported_at": expected.replace(tzinfo=CST),
                "status": STATUS_OF[status],
                "minor_code": CODE_OF[kind],
                "people": 1 + i % 7,
                "x": x,
                "y": y,
            }
        )
    for j in range(BAD):
        i = GOOD + j
        x, y, when = 106.655, 35.54, "2025/3/6 09:00"
        if j < 7:
            x = y = None  # blank coordinates
        elif j < 14:
            x, y = 116.40, 39.90  # a point in another province (Beijing)
        else:
            when = "2025-13-01"  # no such month
        rows.append([f"GD2025{i:05d}", when, "噪音扰民", "外省", "已受理", 1, x, y])
    return rows, truth


def ledger(tmp_path, name="12345工单.xlsx", statuses=None):
    rows, truth = ledger_rows(statuses)
    header = ["工单编号", "受理时间", "事件类型", "事发地址", "办理状态", "涉事人数", "经度", "纬度"]
    return _sheet(tmp_path / name, header, rows), truth


PLACES = [
    ("平凉一中", "学校", 106.652, 35.545),
    ("区人民医院", "医院", 106.661, 35.535),
    ("东关加油站", "加油站", 106.668, 35.548),
    ("新民党群服务中心", "党群服务中心", 106.656, 35.541),
]
PLACE_KIND = {"学校": "sensitive_place", "医院": "sensitive_place", "加油站": "dangerous_thing", "党群服务中心": "service_center"}


def places_sheet(tmp_path):
    return _sheet(
        tmp_path / "场所.xlsx",
        ["场所编号", "场所名称", "场所类型", "经度", "纬度"],
        [[f"P{i}", n, t, x, y] for i, (n, t, x, y) in enumerate(PLACES)],
    )


ROLES = {"网格长": "leader", "专职网格员": "fulltime", "兼职网格员": "parttime", "流动网格员": "mobile"}


def roster(tmp_path):
    rows = []
    for k, (code, _) in enumerate(grid_boxes()):
        rows += [
            [code, f"长{k}", "网格长", "13900000000"],
            [code, f"专{k}", "专职网格员", "13900000001"],
            [code, f"兼{k}", "兼职网格员", None],
        ]
    rows.append([grid_boxes()[0][0], "快递小王", "流动网格员", "13900000009"])
    return _sheet(tmp_path / "网格员花名册.xlsx", ["网格编码", "姓名", "职务", "联系电话"], rows)


def _state(conn) -> dict:
    """Every row the imports touch, comparable before and after."""
    return {
        "incident": db.rows(
            conn, "SELECT external_id, status, closed_at, minor_code, grid_code FROM incident ORDER BY external_id"
        ),
        "household": db.rows(
            conn, "SELECT external_id, persons, address, ST_AsText(geom) AS g FROM household ORDER BY external_id"
        ),
        "staff": db.rows(conn, "SELECT grid_code, role, name, phone FROM grid_staff ORDER BY grid_code, name"),
        "grid": db.rows(conn, "SELECT code, ST_AsText(geom) AS g FROM grid WHERE valid_to IS NULL ORDER BY code"),
    }


def test_a_countys_files_import_as_they_come(clean_db, categories, tmp_path):
    conn = clean_db
    # 1. district: GBK detected from the text, Gauss-Kruger zone from the .prj
    result = importer.import_file(conn, "boundary", district_shapefile(tmp_path))
    assert result.encoding.startswith("GBK/GB18030 (no .cpg; the text decodes as valid Chinese")
    assert "CGCS2000" in result.crs_line or "4545" in result.crs_line
    unit = db.one(
        conn,
        "SELECT name, level, ST_Area(geom::geography) / ST_Area(ST_MakeEnvelope(106.65, 35.53, 106.67, 35.55, 4326)::geography) AS ratio FROM admin_unit WHERE code = '620802'",
    )
    assert unit["name"] == "崆峒区" and unit["level"] == "district" and abs(unit["ratio"] - 1) < 1e-4
    assert db.one(conn, "SELECT code, name FROM jurisdiction") == {"code": "620802", "name": "崆峒区"}

    # 2. towns and name-only communities: both layers, codes generated west -> east
    result = importer.import_file(conn, "boundary", towns_and_communities(tmp_path))
    assert "2 unit(s) had names only: 0 code(s) matched by name within their town, 2 generated" in result.summary()
    units = {
        r["code"]: (r["name"], r["level"], r["parent_code"])
        for r in db.rows(conn, "SELECT code, name, level, parent_code FROM admin_unit")
    }
    assert units[WEST] == ("新民社区", "community", TOWN) and units[EAST] == ("柳湖村", "community", TOWN)
    assert units[TOWN] == ("东关街道", "town", "620802")

    # 3. grids in GCJ-02 behind a WGS84 .prj: the codes disagree with the map, the system is corrected
    result = importer.import_file(conn, "grids", gcj_grids_zip(tmp_path))
    assert "GCJ-02" in result.crs_line and "4 of 8 grids lie outside the community their code names" in result.crs_line
    for code, box in grid_boxes():
        got = db.one(conn, "SELECT admin_code, kind, ST_AsText(geom) AS g FROM grid_current WHERE code = %s", (code,))
        assert got["admin_code"] == code[:12] and got["kind"] == ("urban" if code[:12] == WEST else "rural")
        assert shapely.hausdorff_distance(shapely.from_wkt(got["g"]), box) < 1e-7  # ~1 cm

    # 4. households in BD-09 (the column names say so), 人口数 with units, 身份证号 recognised, not stored
    result = importer.import_file(conn, "households", bd09_households(tmp_path))
    assert result.counts["inserted"] == len(HOUSEHOLDS) and "BD-09" in result.crs_line
    assert any("身份证号 recognised as id_number and not stored" in n for n in result.notes)
    for ext, _, _, _, address, persons, x, y in HOUSEHOLDS:
        got = db.one(
            conn,
            "SELECT persons, address, grid_code, admin_code, ST_X(geom) AS x, ST_Y(geom) AS y FROM household WHERE external_id = %s",
            (ext,),
        )
        assert got["persons"] == persons and got["address"] == address
        assert abs(got["x"] - x) < 1e-6 and abs(got["y"] - y) < 1e-6
        assert got["admin_code"] == (WEST if x < 106.66 else EAST) and got["grid_code"].startswith(got["admin_code"])

    # 5. the 12345 ledger: all-or-nothing by default, listing every bad row
    path, truth = ledger(tmp_path)
    with pytest.raises(importer.ImportFailed) as info:
        importer.import_file(conn, "incidents", path)
    message = str(info.value)
    assert "no coordinates" in message and "2025-13-01" in message and "is outside 崆峒区" in message
    for i in range(GOOD, GOOD + 14):  # every bad row named, none cut (the bad date is one problem of 6 rows)
        assert f"row {i + 1} (sheet row {i + 2}): " in message
    assert "受理时间='2025-13-01' in 6 rows" in message
    assert db.scalar(conn, "SELECT count(*) FROM incident") == 0
    result = importer.import_file(conn, "incidents", path, skip_invalid=True, user="区综治中心")
    assert result.counts["inserted"] == GOOD and result.rejected == BAD
    rejected_rows = openpyxl.load_workbook(result.rejected_path).active
    assert rejected_rows.max_row == BAD + 1 and rejected_rows.cell(1, 2).value == "原因 reason"
    stored = {
        r["external_id"]: r
        for r in db.rows(
            conn,
            "SELECT external_id, reported_at, status, minor_code, people_involved, closed_at, deadline, ST_X(geom) AS x, ST_Y(geom) AS y, admin_code FROM incident",
        )
    }
    assert len(stored) == GOOD
    for t in truth:
        got = stored[t["external_id"]]
        assert got["reported_at"] == t["reported_at"], t
        assert (got["status"], got["minor_code"], got["people_involved"]) == (t["status"], t["minor_code"], t["people"])
        assert (got["closed_at"] is not None) == (t["status"] in ("closed", "followed_up"))
        assert abs(got["x"] - t["x"]) < 1e-9 and got["admin_code"] == (WEST if t["x"] < 106.66 else EAST)
    assert not db.scalar(conn, "SELECT count(*) FROM incident WHERE status IN ('closed', 'followed_up') AND closed_at IS NULL")
    # the 工单编号 is kept and found by the work queue's search box
    ticket = intake.find_incident(conn, "GD202500042")
    assert ticket and db.scalar(conn, "SELECT external_id FROM incident WHERE id = %s", (ticket,)) == "GD202500042"
    assert intake.find_incident(conn, str(ticket)) == ticket and intake.find_incident(conn, "GD999") is None

    # 6. places by 场所类型, 7. the 1+1+N roster by grid code
    result = importer.import_file(conn, "places", places_sheet(tmp_path))
    kinds = dict(
        db.rows(conn, "SELECT name, kind FROM place")
        and [(r["name"], r["kind"]) for r in db.rows(conn, "SELECT name, kind FROM place")]
    )
    assert kinds == {n: PLACE_KIND[t] for n, t, _, _ in PLACES}
    result = importer.import_file(conn, "staff", roster(tmp_path))
    by_role = {r["role"]: r["n"] for r in db.rows(conn, "SELECT role, count(*) AS n FROM grid_staff GROUP BY role")}
    assert by_role == {"leader": 8, "fulltime": 8, "parttime": 8, "mobile": 1}
    assert not db.scalar(
        conn, "SELECT count(*) FROM grid_current g WHERE NOT EXISTS (SELECT 1 FROM grid_staff s WHERE s.grid_code = g.code)"
    )

    # re-importing every file changes nothing
    before = _state(conn)
    batches_before = db.scalar(conn, "SELECT count(*) FROM import_batch")
    again = [
        importer.import_file(conn, "grids", tmp_path / "grids.zip"),
        importer.import_file(conn, "households", tmp_path / "住户.xlsx"),
        importer.import_file(conn, "incidents", path, skip_invalid=True),
        importer.import_file(conn, "places", tmp_path / "场所.xlsx"),
        importer.import_file(conn, "staff", tmp_path / "网格员花名册.xlsx"),
    ]
    assert all(r.counts["inserted"] == r.counts["updated"] == r.counts["removed"] == 0 for r in again), [r.counts for r in again]
    assert again[2].counts["unchanged"] == GOOD
    assert _state(conn) == before and db.scalar(conn, "SELECT count(*) FROM import_batch") == batches_before + 5

    # the ledger a week later: some cases closed, one new; upsert in place, then undo restores it
    later, _ = ledger(tmp_path, "12345工单-更新.xlsx", statuses={1: "已办结", 6: "已办结", 11: "已回访"})
    result = importer.import_file(conn, "incidents", later, skip_invalid=True)
    assert result.counts["updated"] == 3 and result.counts["inserted"] == 0
    assert db.one(conn, "SELECT status, closed_at IS NOT NULL AS closed FROM incident WHERE external_id = 'GD202500001'") == {
        "status": "closed",
        "closed": True,
    }
    assert (
        db.scalar(
            conn,
            "SELECT count(*) FROM incident_history h JOIN incident i ON i.id = h.incident_id WHERE i.external_id = 'GD202500001'",
        )
        == 2
    )
    batches.undo(conn, result.batch, "test")
    assert _state(conn)["incident"] == before["incident"]

    # an imported case worked on since cannot be undone away; untouched, the first import undoes exactly its rows
    first = db.scalar(conn, "SELECT min(id) FROM import_batch WHERE layer = 'incidents' AND undone_at IS NULL")
    worked = db.scalar(conn, "SELECT id FROM incident WHERE external_id = 'GD202500000'")
    with db.transaction(conn) as cur:
        cur.execute(
            "INSERT INTO reminder (incident_id, kind, to_whom, admin_code) SELECT id, 'overdue', '网格长', admin_code FROM incident WHERE id = %s",
            (worked,),
        )
    with pytest.raises(batches.UndoRefused, match="GD202500000 .* worked on after the import"):
        batches.undo(conn, first, "test")
    with db.transaction(conn) as cur:
        cur.execute("DELETE FROM reminder")
    batches.undo(conn, first, "test")
    assert db.scalar(conn, "SELECT count(*) FROM incident") == 0
    assert _state(conn)["household"] == before["household"] and _state(conn)["staff"] == before["staff"]
    with pytest.raises(batches.UndoRefused, match="already undone"):
        batches.undo(conn, first, "test")


def test_inspect_shows_mapping_problems_and_a_preview_without_writing(clean_db, categories, tmp_path):
    conn = clean_db
    importer.import_file(conn, "boundary", district_shapefile(tmp_path))
    importer.import_file(conn, "boundary", towns_and_communities(tmp_path))
    importer.import_file(conn, "grids", gcj_grids_zip(tmp_path))
    path, _ = ledger(tmp_path)
    report = inspect.inspect_file(conn, "incidents", path)
    assert report["ok"] and report["rows"] == GOOD + BAD and report["format"] == "xlsx"
    assert report["mapping"]["受理时间"] == "reported_at" and report["mapping"]["工单编号"] == "external_id"
    assert {c["column"]: c["how"] for c in report["columns"]}["办理状态"] == "header"
    assert report["counts"] == {"inserted": GOOD, "updated": 0, "unchanged": 0, "removed": 0, "rejected": BAD}
    assert report["problems"]["rows_with_problems"] == BAD
    assert len(report["sample"]["features"]) == GOOD + BAD - 7  # the 7 rows without coordinates have no geometry
    assert db.scalar(conn, "SELECT count(*) FROM incident") == 0 and db.scalar(conn, "SELECT count(*) FROM import_batch") == 3
    # an unknown type is one problem with a suggestion, not one per row
    sheet = _sheet(
        tmp_path / "bad.xlsx", ["受理时间", "事件类型", "经度", "纬度"], [["2025/3/5 14:22", "邻里纠份", 106.655, 35.54]] * 30
    )
    report = inspect.inspect_file(conn, "incidents", sheet)
    (problem,) = report["problems"]["values"]
    assert problem["count"] == 30 and problem["suggestion"].startswith("邻里纠纷")
    # a header the importer does not know (neither listed nor shaped like one): the mapping
    # says so, and --columns fixes it
    sheet = _sheet(tmp_path / "odd.xlsx", ["日子", "类别名", "经度", "纬度"], [["2025年3月5日", "停车难", 106.655, 35.54]])
    report = inspect.inspect_file(conn, "incidents", sheet)
    assert not report["ok"] and "missing required columns" in report["problems"]["file"][0]
    report = inspect.inspect_file(conn, "incidents", sheet, columns={"日子": "reported_at", "类别名": "category"})
    assert report["ok"] and report["counts"]["inserted"] == 1


def test_several_districts_without_their_city(clean_db, tmp_path):
    path = tmp_path / "districts.geojson"
    gpd.GeoDataFrame(
        {"code": ["620802", "620821"], "name": ["崆峒区", "泾川县"]},
        geometry=[shapely.box(106.65, 35.53, 106.67, 35.55), shapely.box(106.67, 35.53, 106.69, 35.55)],
        crs=4326,
    ).to_file(path, driver="GeoJSON", engine="pyogrio")
    result = importer.import_file(clean_db, "boundary", path)
    assert "jurisdiction set to 崆峒区、泾川县 (620800), every top-level unit imported" in result.summary()
    assert db.scalar(clean_db, "SELECT count(*) FROM admin_unit WHERE parent_code = '620800'") == 2
    homes = _sheet(tmp_path / "h.xlsx", ["详细地址", "经度", "纬度"], [["甲", 106.66, 35.54], ["乙", 106.68, 35.54]])
    importer.import_file(clean_db, "households", homes)  # each in its district, none "outside"
    assert [r["admin_code"] for r in db.rows(clean_db, "SELECT admin_code FROM household ORDER BY ST_X(geom)")] == [
        "620802",
        "620821",
    ]
    importer.import_file(clean_db, "boundary", path, jurisdiction="620800 平凉市")
    assert db.one(clean_db, "SELECT code, name FROM jurisdiction") == {"code": "620800", "name": "平凉市"}


def test_cli_history_and_undo(clean_db, tmp_path, capsys):
    path = district_shapefile(tmp_path)
    assert cli.main(["import", "boundary", str(path), "--test", "--user", "张三"]) == 0
    assert cli.main(["import", "history", "--test"]) == 0
    out = capsys.readouterr().out
    assert "张三" in out and "district.zip" in out and "1 new" in out
    assert cli.main(["import", "undo", "1", "--test"]) == 0
    assert "undid batch 1" in capsys.readouterr().out
    assert db.scalar(clean_db, "SELECT count(*) FROM admin_unit") == 0
    assert cli.main(["import", "undo", "1", "--test"]) == 1  # already undone: said, not a traceback


def test_a_fresh_database_has_categories_and_the_risk_configuration(conn):
    """`db migrate` on an empty database seeds the reference data (and never overwrites it)."""
    import psycopg2

    from geo import pgserver
    from geo.io import reference

    url = pgserver.database_url(test=True)
    name = conn.info.dbname + "_fresh"
    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        fresh = psycopg2.connect(url.rsplit("/", 1)[0] + "/" + name)
        try:
            assert db.migrate(fresh)  # every migration applied, then the seed
            assert db.scalar(fresh, "SELECT count(*) FROM category") == 177
            assert db.scalar(fresh, "SELECT count(DISTINCT major_code) FROM category") == 12
            assert db.scalar(fresh, "SELECT config->>'version' FROM risk_config") == "2026-11 default"
            db.execute(fresh, "UPDATE category SET department = '本地' WHERE minor_code = '0101'")
            fresh.commit()
            assert reference.seed(fresh) == []  # idempotent: what is there stays
            assert db.scalar(fresh, "SELECT department FROM category WHERE minor_code = '0101'") == "本地"
        finally:
            fresh.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def test_categories_and_aliases_import(clean_db, categories, tmp_path):
    from geo.io import reference

    table = _sheet(
        tmp_path / "类别.xlsx",
        ["大类编码", "大类名称", "小类编码", "小类名称", "责任部门", "时限", "时限单位", "严重程度", "是否纠纷", "说明"],
        [["13", "农村事务", "1301", "农村饮水", "水务局", 5, "工作日", 2, "否", None]],
    )
    try:
        result = reference.import_categories(clean_db, table)
        assert (result.inserted, result.updated) == (1, 0)
        assert db.one(clean_db, "SELECT minor_name, time_unit, is_dispute FROM category WHERE minor_code = '1301'") == {
            "minor_name": "农村饮水",
            "time_unit": "working_days",
            "is_dispute": False,
        }
        assert reference.import_categories(clean_db, table).unchanged == 1
        aliases = tmp_path / "aliases.csv"
        aliases.write_text("别名,小类编码\n吃水难,1301\n", encoding="gbk")
        assert reference.import_categories(clean_db, aliases).inserted == 1
        gpd.GeoDataFrame({"code": ["620802"], "name": ["崆峒区"]}, geometry=[shapely.box(*DISTRICT)], crs=4326).to_file(
            tmp_path / "d.geojson", driver="GeoJSON", engine="pyogrio"
        )
        importer.import_file(clean_db, "boundary", tmp_path / "d.geojson")
        ledger_file = _sheet(
            tmp_path / "l.xlsx", ["受理时间", "诉求类型", "经度", "纬度"], [["2025/3/5 14:22", "吃水难", 106.655, 35.54]]
        )
        importer.import_file(clean_db, "incidents", ledger_file)
        assert db.scalar(clean_db, "SELECT minor_code FROM incident") == "1301"
    finally:  # category is reference data the other tests share: put it back as it was
        from tests.support.tiny import truncate_data

        truncate_data(clean_db)
        db.execute(clean_db, "DELETE FROM category WHERE minor_code = '1301'")
        clean_db.commit()


def test_reimported_units_match_by_name_and_batches_undo_grids_and_replace(clean_db, tmp_path):
    conn = clean_db
    importer.import_file(conn, "boundary", district_shapefile(tmp_path))
    units = towns_and_communities(tmp_path)
    importer.import_file(conn, "boundary", units)
    again = importer.import_file(conn, "boundary", units)
    assert "2 unit(s) had names only: 2 code(s) matched by name within their town, 0 generated" in again.summary()
    assert again.counts["unchanged"] == 3 and db.scalar(conn, "SELECT count(*) FROM admin_unit") == 4

    grids = importer.import_file(conn, "grids", gcj_grids_zip(tmp_path))
    moved = tmp_path / "moved.geojson"
    code, box = grid_boxes()[0]
    gpd.GeoDataFrame({"网格编码": [code]}, geometry=[shapely.affinity.scale(box, 0.9, 0.9)], crs=4326).to_file(
        moved, driver="GeoJSON", engine="pyogrio"
    )
    edit = importer.import_file(conn, "grids", moved)
    assert edit.counts["updated"] == 1
    batches.undo(conn, edit.batch, "test")  # the old boundary comes back, as version 3
    got = db.one(conn, "SELECT version, ST_AsText(geom) AS g FROM grid_current WHERE code = %s", (code,))
    assert got["version"] == 3 and shapely.hausdorff_distance(shapely.from_wkt(got["g"]), box) < 1e-7
    assert grids.batch < edit.batch

    importer.import_file(conn, "households", bd09_households(tmp_path))
    (tmp_path / "b").mkdir()
    smaller = bd09_households(tmp_path / "b", HOUSEHOLDS[:3])
    replaced = importer.import_file(conn, "households", smaller, mode="replace")
    assert replaced.counts["removed"] == len(HOUSEHOLDS) and db.scalar(conn, "SELECT count(*) FROM household") == 3
    batches.undo(conn, replaced.batch, "test")
    assert db.scalar(conn, "SELECT count(*) FROM household") == len(HOUSEHOLDS)


def test_encoding_can_be_forced_and_garbled_names_are_named(clean_db, tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes("详细地址,经度,纬度\n东关1号,106.655,35.54\n".encode("gbk"))
    with pytest.raises(importer.ImportFailed) as info:
        importer.import_file(clean_db, "households", path, encoding="latin-1")
    assert "look garbled" in str(info.value) and "--encoding gbk" in str(info.value)
    report = inspect.inspect_file(clean_db, "households", path)
    assert report["encoding"]["name"] == "GBK/GB18030" and report["mapping"]["详细地址"] == "address"


def test_ledger_with_a_title_row_and_annotated_statuses(clean_db, categories, tmp_path):
    gpd.GeoDataFrame({"code": ["620802"], "name": ["崆峒区"]}, geometry=[shapely.box(*DISTRICT)], crs=4326).to_file(
        tmp_path / "d.geojson", driver="GeoJSON", engine="pyogrio"
    )
    importer.import_file(clean_db, "boundary", tmp_path / "d.geojson")
    book = openpyxl.Workbook()
    book.active.title = "填表说明"  # a first sheet of notes, the ledger on the second
    book.active.append(["受理时间填写到分钟"])
    book.active.append(["事件类型按12345分类"])
    sheet = book.create_sheet("台账")
    sheet.append(["2025年3月 12345热线工单台账"])  # a title in one (merged) cell above the header
    sheet.append(["工单编号", "受理时间", "事件类型", "办理状态", "经度", "纬度"])
    sheet.append(["A1", "2025/3/5 14:22", "停车难", "已办结（满意）", 106.655, 35.54])
    sheet.append(["A2", "2025/3/6 09:00", "噪音扰民", "办理中(超期)", 106.656, 35.54])
    book.save(tmp_path / "台账.xlsx")
    result = importer.import_file(clean_db, "incidents", tmp_path / "台账.xlsx")
    assert result.counts["inserted"] == 2
    rows = db.rows(clean_db, "SELECT external_id, status FROM incident ORDER BY external_id")
    assert rows == [{"external_id": "A1", "status": "closed"}, {"external_id": "A2", "status": "in_progress"}]


def test_grid_codes_that_disagree_with_the_map_in_every_system_are_warned_about(clean_db, tmp_path):
    importer.import_file(clean_db, "boundary", district_shapefile(tmp_path))
    importer.import_file(clean_db, "boundary", towns_and_communities(tmp_path))
    boxes = grid_boxes()
    swapped = [(boxes[(i + 4) % 8][0], g) for i, (_, g) in enumerate(boxes)]  # every code names the other community
    path = tmp_path / "swapped.geojson"
    gpd.GeoDataFrame({"网格编码": [c for c, _ in swapped]}, geometry=[g for _, g in swapped], crs=4326).to_file(
        path, driver="GeoJSON", engine="pyogrio"
    )
    report = inspect.inspect_file(clean_db, "grids", path)
    assert report["warnings"] and "8 of 8 grids lie outside the community their code names" in report["warnings"][0]
    assert "the coordinate system may be wrong" in report["warnings"][0] and report["crs"]["key"] == "wgs84"
    result = importer.import_file(clean_db, "grids", path)
    assert any("coordinate system may be wrong" in n for n in result.notes)
    assert db.scalar(clean_db, "SELECT count(*) FROM grid_current WHERE left(code, 12) <> admin_code") == 8  # the map decides
