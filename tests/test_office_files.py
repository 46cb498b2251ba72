"""Files as another county's offices write them (issue #14, checked again on files the tests
had not seen): each test is a place where such a file used to be refused, or worse, imported
wrong, and the rule that now reads it. The files are built here, small, in the tiny
jurisdiction (tests/support/tiny.py), so every expectation is exact.
"""

from __future__ import annotations

import openpyxl
import pytest

from geo import db
from geo.io import importer
from tests.support.imports import GRID_E, GRID_NW

pytestmark = pytest.mark.filterwarnings("ignore:.*(truncated|laundered).*")


def register(path, *, data, footer=()):
    """A 公安 household register: a title in one merged cell, a 填报单位/填报日期 line, a header
    of two rows (户主信息 and 住址信息 merged over their columns; 序号, 家庭人口 merged down),
    the rows with a blank row in the middle, then a 合计 row and the signatures."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["某区某街道户籍人口登记表（2024年）"])
    sheet.merge_cells("A1:H1")
    sheet.append(["填报单位：某派出所", None, None, None, None, None, "填报日期：", "2024-06-30"])
    sheet.append(["序号", "户主信息", None, None, "住址信息", None, None, "家庭人口"])
    sheet.append([None, "户主姓名", "公民身份号码", "联系电话", "详细地址", "经度", "纬度", None])
    for cells in ("B3:D3", "E3:G3", "A3:A4", "H3:H4"):
        sheet.merge_cells(cells)
    for n, row in enumerate(data, start=1):
        sheet.append([n, *row])
        if n == 1:
            sheet.append([None] * 8)
    for row in footer:
        sheet.append(row)
    book.create_sheet("填表说明").append(["1. 身份证号填写18位"])
    book.save(path)
    return path


HOUSEHOLDS = [  # 户主姓名, 公民身份号码, 联系电话, 详细地址, 经度, 纬度, 家庭人口
    ("张三", "62080219800101001X", "13800000001", "新民路1号", 106.655, 35.545, 3),
    ("李四", "620802198001010028", "13800000002", "柳湖村5组", 106.665, 35.535, "２"),
]


def test_a_register_under_a_title_with_a_two_row_header_and_a_totals_row(gridded, tmp_path):
    rows = [(name, idn, phone, address, x, y, persons) for name, idn, phone, address, x, y, persons in HOUSEHOLDS]
    path = register(
        tmp_path / "户籍人口.xlsx",
        data=[r[:6] + (r[6],) for r in rows],
        footer=[["合计", None, None, None, None, None, None, 5], ["填表人：王五", None, None, None, "审核人：赵六"]],
    )
    result = importer.import_file(gridded, "households", path)
    got = db.rows(gridded, "SELECT head_name, address, persons, grid_code FROM household ORDER BY id")
    assert got == [
        {"head_name": "张三", "address": "新民路1号", "persons": 3, "grid_code": GRID_NW},
        {"head_name": "李四", "address": "柳湖村5组", "persons": 2, "grid_code": GRID_E},
    ]
    said = result.summary()
    assert "header found under 2 line(s) above it" in said
    assert "skipped 2 total/signature row(s), not data: 8 (合计), 9 (填表人：王五)" in said


def test_code_and_name_columns_no_list_holds_are_read_not_generated(clean_db, tiny_units, tmp_path):
    """乡镇代码, 村社区代码 and XZQDM/XZQMC (国土调查 names) hold the units' codes: they used to be
    ignored and the codes generated, different from the office's. A community layer that also
    carries its town's code takes its own (the column with the most distinct codes)."""
    import geopandas as gpd

    path = tmp_path / "区划.gpkg"
    district, town, *communities = tiny_units
    gpd.GeoDataFrame({"XZQDM": [district["code"]], "XZQMC": [district["name"]]}, geometry=[district["geom"]], crs=4326).to_file(
        path, layer="区县"
    )
    gpd.GeoDataFrame({"乡镇代码": [town["code"]], "乡镇名称": [town["name"]]}, geometry=[town["geom"]], crs=4326).to_file(
        path, layer="乡镇"
    )
    gpd.GeoDataFrame(
        {
            "所属乡镇代码": [town["code"]] * 2,
            "村社区代码": [c["code"] for c in communities],
            "村社区名称": [c["name"] for c in communities],
        },
        geometry=[c["geom"] for c in communities],
        crs=4326,
    ).to_file(path, layer="村社区")
    result = importer.import_file(clean_db, "boundary", path)
    got = db.rows(clean_db, "SELECT code, name, level, parent_code FROM admin_unit ORDER BY code")
    assert got == [
        {"code": u["code"], "name": u["name"], "level": u["level"], "parent_code": u["parent_code"]} for u in tiny_units
    ]
    assert "generated" not in result.summary()


def test_a_hotline_ledgers_own_headers_are_recognised_by_their_shape_and_values(gridded, categories, tmp_path):
    """诉求分类, 来电日期, 诉求地址, 工单流水号, 来源类型: none is in the lists; 诉求地址 used to be
    dropped without a word and 诉求分类 refused. 来源类型 fits the category's pattern too, but
    its values are no categories."""
    path = tmp_path / "12345.csv"
    path.write_text(
        "工单流水号,来电日期,来源类型,诉求分类,诉求地址,经度,纬度\n"
        "LS001,2025/3/5 8:07,12345热线,邻里纠纷,新民路1号,106.655,35.545\n"
        "LS002,2025年3月6日,12345热线,噪音扰民,柳湖村5组,106.665,35.535\n",
        encoding="utf-8",
    )
    result = importer.import_file(gridded, "incidents", path)
    mapping = result.prepared.mapping.fields
    assert {k: mapping[k] for k in ("external_id", "reported_at", "source", "category", "address")} == {
        "external_id": "工单流水号",
        "reported_at": "来电日期",
        "source": "来源类型",
        "category": "诉求分类",
        "address": "诉求地址",
    }
    got = db.rows(gridded, "SELECT external_id, minor_code, source, address FROM incident ORDER BY external_id")
    assert got == [
        {"external_id": "LS001", "minor_code": "0103", "source": "hotline", "address": "新民路1号"},
        {"external_id": "LS002", "minor_code": "1103", "source": "hotline", "address": "柳湖村5组"},
    ]


def _metres(geom, epsg):
    import numpy as np
    import pyproj
    import shapely

    t = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_a_gauss_kruger_shapefile_without_its_prj_is_read_in_the_zone_its_eastings_name(clean_db, tiny_units, tmp_path):
    """The surveying office's outline in CGCS2000 3-degree zone 36 (eastings 36xxxxxx m), the
    .prj lost on the way: it was refused as 'outside China' with 'pass --crs EPSG:<code>'."""
    import geopandas as gpd
    import shapely

    district = tiny_units[0]
    path = tmp_path / "区界.shp"
    gpd.GeoDataFrame(
        {"区划代码": [district["code"]], "名称": [district["name"]]}, geometry=[_metres(district["geom"], 4524)]
    ).to_file(path, encoding="GBK")
    assert not path.with_suffix(".prj").exists()
    result = importer.import_file(clean_db, "boundary", path)
    assert "(EPSG:4524)" in result.crs_line and "3-degree zone number 36" in result.crs_line
    stored = shapely.from_wkt(db.scalar(clean_db, "SELECT ST_AsText(geom) FROM admin_unit"))
    assert stored.symmetric_difference(district["geom"]).area < 1e-12  # ~ a square centimetre


def test_metres_without_a_zone_prefix_are_read_in_the_jurisdictions_zone(gridded, tmp_path):
    """x/y in metres of CM 108°E (the tiny jurisdiction's zone) in a CSV, no --crs."""
    import shapely

    truth = shapely.Point(106.655, 35.545)
    p = _metres(truth, 4545)
    path = tmp_path / "住户.csv"
    path.write_text(f"x,y,详细地址\n{p.x:.3f},{p.y:.3f},新民路1号\n", encoding="utf-8")
    result = importer.import_file(gridded, "households", path)
    assert "(EPSG:4545)" in result.crs_line and "jurisdiction's 3-degree zone (CM 108°E)" in result.crs_line
    stored = shapely.from_wkt(db.scalar(gridded, "SELECT ST_AsText(geom) FROM household"))
    assert stored.distance(truth) < 1e-7 and db.scalar(gridded, "SELECT grid_code FROM household") == GRID_NW


def test_rows_still_checked_after_the_coordinate_system_is_corrected(tiny_jurisdiction, conn, tmp_path):
    """GCJ-02 grids behind a WGS84 .prj are re-read as GCJ-02; a bad 网格类型 in one of them
    must still be a problem of its row: it used to be checked into the first reading's
    problems, which the correction replaces, and the grid went in without its kind."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from geo import crs as crs_mod
    from tests.support.imports import EAST, WEST

    boxes = [
        (f"{community}{k + 1:03d}", shapely.box(x0 + k * 0.0025, 35.53, x0 + (k + 1) * 0.0025, 35.55))
        for community, x0 in ((WEST, 106.65), (EAST, 106.66))
        for k in range(4)
    ]
    gcj = [shapely.transform(g, lambda xy: np.column_stack(crs_mod.wgs84_to_gcj02(xy[:, 0], xy[:, 1]))) for _, g in boxes]
    kinds = ["城市网格"] * 7 + ["没有这种"]
    path = tmp_path / "grids.gpkg"
    gpd.GeoDataFrame({"网格编码": [c for c, _ in boxes], "网格类型": kinds}, geometry=gcj, crs=4326).to_file(path)
    with pytest.raises(importer.ImportFailed) as failed:
        importer.import_file(conn, "grids", path)
    assert "没有这种" in str(failed.value) and "read as GCJ-02" in str(failed.value)
    assert db.scalar(conn, "SELECT count(*) FROM grid") == 0


def _ledger(path, rows):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["某市12345政务服务便民热线工单明细表"])
    sheet.append(["工单编号", "来电时间", "诉求分类", "诉求地址", "经度", "纬度", "办理状态"])
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_case_listed_once_per_step_is_one_case_and_swapped_coordinates_are_read_right(gridded, categories, tmp_path):
    """A 12345 export lists a case again at each step (受理, then 办结): same 工单编号, same 来电时间.
    It used to be refused as a repeated number, and with --skip-invalid the case kept its first
    (earliest) state. 纬度 typed under 经度 was refused; it is unambiguous in China."""
    path = _ledger(
        tmp_path / "工单.xlsx",
        [
            ["GD001", "2024/3/5 8:07", "邻里纠纷", "新民路1号", 106.655, 35.545, "已办结"],
            ["GD002", "2024年3月6日", "噪音扰民", "柳湖村5组", 35.535, 106.665, "办理中"],
            ["GD001", "2024/3/5 8:07", "邻里纠纷", "新民路1号", 106.655, 35.545, "已受理"],
        ],
    )
    result = importer.import_file(gridded, "incidents", path)
    got = db.rows(gridded, "SELECT external_id, status, grid_code FROM incident ORDER BY external_id")
    assert got == [
        {"external_id": "GD001", "status": "closed", "grid_code": GRID_NW},
        {"external_id": "GD002", "status": "in_progress", "grid_code": GRID_E},
    ]
    said = result.summary()
    assert "1 row(s) were earlier steps of a case listed again (same 工单编号 and 受理时间)" in said
    assert "经度 and 纬度 swapped in 1 row(s), read the right way round: row 2 (sheet row 4)" in said


def test_one_number_on_two_cases_is_still_a_problem(gridded, categories, tmp_path):
    path = _ledger(
        tmp_path / "工单.xlsx",
        [
            ["GD001", "2024/3/5 8:07", "邻里纠纷", "新民路1号", 106.655, 35.545, "已办结"],
            ["GD001", "2024/4/9 10:00", "噪音扰民", "柳湖村5组", 106.665, 35.535, "办理中"],
        ],
    )
    with pytest.raises(importer.ImportFailed, match="two cases under one 工单编号"):
        importer.import_file(gridded, "incidents", path)


def test_amap_coordinates_in_a_register_are_found_by_the_communities_their_addresses_name(gridded, tmp_path):
    """经度/纬度 picked on AMap (GCJ-02, ~400 m east of WGS84 here) in a sheet that says nothing
    of its system: read as WGS84, the households near the 新民社区/柳湖村 border went into the
    village and its grid without a word. Their addresses name their community: that is the
    evidence, as a grid's code is for grids."""
    from geo import crs as crs_mod

    truth = [(106.6585 - 0.0005 * k, 35.548 - 0.001 * k, f"崆峒区东关街道新民社区新民路{k + 1}号") for k in range(6)]
    truth += [(106.665, 35.535 + 0.002 * k, f"柳湖村{k + 1}组") for k in range(4)]
    book = openpyxl.Workbook()
    book.active.append(["户主姓名", "详细地址", "经度", "纬度"])
    for k, (x, y, address) in enumerate(truth):
        gx, gy = crs_mod.wgs84_to_gcj02(x, y)
        book.active.append([f"住户{k}", address, round(float(gx), 7), round(float(gy), 7)])
    path = tmp_path / "住户.xlsx"
    book.save(path)
    result = importer.import_file(gridded, "households", path)
    assert "GCJ-02" in result.crs_line and "6 of 10 points lie outside the community their address names" in result.crs_line
    got = db.rows(gridded, "SELECT admin_code, grid_code, ST_X(geom) AS x, ST_Y(geom) AS y FROM household ORDER BY id")
    assert [r["grid_code"] for r in got] == [GRID_NW] * 6 + [GRID_E] * 4
    assert all(abs(r["x"] - x) < 1e-6 and abs(r["y"] - y) < 1e-6 for r, (x, y, _) in zip(got, truth))


def test_phones_as_typed_are_one_number_and_an_id_number_excel_rounded_is_refused(gridded, tmp_path):
    """`+86 139…`, `138 8888 0001`, full-width digits: the same numbers stored (and masked) as
    digits, not as typed. A key person's 身份证号 typed into a number cell is kept by Excel as
    5.30702198001011E+17, its last three digits gone: it used to be stored as 530702198001010000,
    someone else's number; now its row says what happened and what to do."""
    book = openpyxl.Workbook()
    book.active.append(["户主姓名", "联系电话", "详细地址", "经度", "纬度"])
    for phone in ("+86 13900000002", "138 8888 0001", "１３７００００0003", "(0931)8123456"):
        book.active.append(["张三", phone, "新民路1号", 106.655, 35.545])
    homes = tmp_path / "住户.xlsx"
    book.save(homes)
    importer.import_file(gridded, "households", homes)
    phones = [r["phone"] for r in db.rows(gridded, "SELECT phone FROM household ORDER BY id")]
    assert phones == ["13900000002", "13888880001", "13700000003", "09318123456"]

    book = openpyxl.Workbook()
    book.active.append(["姓名", "人员类别", "身份证号", "联系电话", "经度", "纬度"])
    book.active.append(["王五", "社区矫正人员", 530702198001011234, "+86 13700000001", 106.655, 35.545])
    book.active.append(["赵六", "社区矫正人员", "53070219800101123X", "13700000002", 106.656, 35.545])
    places = tmp_path / "重点人员.xlsx"
    book.save(places)
    with pytest.raises(importer.ImportFailed) as failed:
        importer.import_file(gridded, "places", places)
    message = str(failed.value)
    assert "1 problem;" in message and "row 1 (sheet row 2): 身份证号=" in message
    assert "an ID number stored as a number (5.30702e+17) has lost its last digits" in message
    assert "format the column as text" in message
    importer.import_file(gridded, "places", places, skip_invalid=True)
    assert db.rows(gridded, "SELECT name, id_number, phone FROM place") == [
        {"name": "赵六", "id_number": "53070219800101123X", "phone": "13700000002"}
    ]


def test_hotline_and_register_wordings_of_this_county(gridded, categories, tmp_path):
    """Wordings of the second county's files that the shipped tables lacked: 12345 categories
    as 大类/小类 with the hotline's minor names, and a 公安 key-person list's 人员类别."""
    path = _ledger(
        tmp_path / "工单.xlsx",
        [
            ["GD001", "2024/3/5 8:07", "城乡建设/物业管理", "新民路1号", 106.655, 35.545, "已办结"],
            ["GD002", "2024/3/5 9:07", "环境保护-噪声污染", "新民路2号", 106.655, 35.545, "已办结"],
            ["GD003", "2024/3/5 10:07", "城市管理-违章搭建", "柳湖村5组", 106.665, 35.535, "已办结"],
        ],
    )
    importer.import_file(gridded, "incidents", path)
    assert [r["minor_code"] for r in db.rows(gridded, "SELECT minor_code FROM incident ORDER BY external_id")] == [
        "1013",
        "1103",
        "0406",
    ]
    book = openpyxl.Workbook()
    book.active.append(["姓名", "人员类别", "经度", "纬度"])
    book.active.append(["王五", "社区矫正人员", 106.655, 35.545])
    book.active.append(["赵六", "肇事肇祸精神障碍患者", 106.656, 35.545])
    places = tmp_path / "重点人员.xlsx"
    book.save(places)
    importer.import_file(gridded, "places", places)
    assert {r["kind"] for r in db.rows(gridded, "SELECT kind FROM place")} == {"key_person"}


def test_a_register_without_ids_imported_again_is_matched_not_added_again(gridded, tmp_path):
    """A 公安 register has no 户编号 (its 身份证号 is not kept): importing it again added every
    household a second time. Rows are matched by address and head (where that names one row
    on each side): the same file changes nothing, a changed phone is an update, undo restores."""
    rows = [("张三", "13800000001", "新民路1号", 106.655, 35.545), ("李四", "13800000002", "柳湖村5组", 106.665, 35.535)]

    def register_file(name, data):
        book = openpyxl.Workbook()
        book.active.append(["户主姓名", "联系电话", "详细地址", "经度", "纬度"])
        for row in data:
            book.active.append(list(row))
        book.save(tmp_path / name)
        return tmp_path / name

    importer.import_file(gridded, "households", register_file("a.xlsx", rows))
    again = importer.import_file(gridded, "households", register_file("a.xlsx", rows))
    assert (again.counts["inserted"], again.counts["updated"], again.counts["unchanged"]) == (0, 0, 2)
    changed = importer.import_file(gridded, "households", register_file("b.xlsx", [rows[0][:1] + ("13900000009",) + rows[0][2:]]))
    assert (changed.counts["inserted"], changed.counts["updated"]) == (0, 1)
    assert db.rows(gridded, "SELECT head_name, phone FROM household ORDER BY id") == [
        {"head_name": "张三", "phone": "13900000009"},
        {"head_name": "李四", "phone": "13800000002"},
    ]
    from geo.io import batches

    batches.undo(gridded, changed.batch, "test")
    assert db.scalar(gridded, "SELECT phone FROM household WHERE head_name = '张三'") == "13800000001"


@pytest.mark.parametrize(
    "name, says",
    [("户籍.xls", "save it as .xlsx (另存为 → Excel 工作簿 *.xlsx)"), ("网格.kml", "ogr2ogr -f GeoJSON out.geojson in.kml")],
)
def test_files_offices_also_keep_are_refused_with_how_to_convert_them(gridded, tmp_path, name, says):
    """An Excel 97-2003 .xls or a KML from 奥维/Google Earth: not read here, and the refusal says
    how to make a file that is, instead of only listing the formats."""
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0" if name.endswith(".xls") else b"<kml/>")
    with pytest.raises(importer.ImportFailed) as failed:
        importer.import_file(gridded, "households", path)
    assert str(path) in str(failed.value) and says in str(failed.value)


def test_a_roster_that_names_its_grids_finds_their_codes(gridded, tmp_path):
    """The 综治办's 1+1+N roster lists each person under the grid's name, not its 15-digit code:
    it was refused for a missing 网格编码. A name that no grid (or two grids) has is a problem
    of its rows, with the nearest name."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["东关街道网格员花名册"])
    sheet.append(["序号", "所属网格", "姓名", "职务", "联系电话"])
    sheet.append([1, "新民社区第1网格", "王五", "网格长", "139 0000 0001"])
    sheet.append([2, "新民社区第1网格", "赵六", "专职网格员", "13900000002"])
    sheet.append([3, "柳湖村第1网格", "钱七", "兼职网格员", None])
    path = tmp_path / "花名册.xlsx"
    book.save(path)
    result = importer.import_file(gridded, "staff", path)
    assert "网格编码 found by 网格名称 for 3 row(s)" in result.summary()
    assert db.rows(gridded, "SELECT grid_code, name, role, phone FROM grid_staff ORDER BY id") == [
        {"grid_code": GRID_NW, "name": "王五", "role": "leader", "phone": "13900000001"},
        {"grid_code": GRID_NW, "name": "赵六", "role": "fulltime", "phone": "13900000002"},
        {"grid_code": GRID_E, "name": "钱七", "role": "parttime", "phone": None},
    ]
    sheet.append([4, "新民社区第9网格", "孙八", "兼职网格员", None])
    book.save(path)
    with pytest.raises(importer.ImportFailed, match="所属网格='新民社区第9网格'.*no current official grid has this name"):
        importer.import_file(gridded, "staff", path)
