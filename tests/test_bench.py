"""The benchmark's smoke run, end to end, so that `python -m geo bench` cannot rot.

It builds the tiny lattice city in its own database (quanyu_bench_smoke, never the test
database or `quanyu`), runs every measurement and checks the report has every section
with real numbers. Plus exact checks of the pieces that are pure arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely

from geo import db
from geo.bench import city as bench_city
from geo.bench import databases as bench_db
from geo.bench import load as bench_load
from geo.bench import report as bench_report
from geo.bench import run as bench
from geo.bench import screen as bench_screen

SECTIONS = (
    "build",
    "data",
    "screen",
    "app",
    "load",
    "push",
    "coverage",
    "risk",
    "alerts",
    "hotspots",
    "forecast",
    "assignment",
    "partition",
    "import",
    "history",
    "streets",
    "targets",
)


def test_lattice_codes_nest_and_count():
    grids = bench_city._levels(bench_city.SMOKE)
    assert len(grids) == bench_city.SMOKE.n_grids == 16
    assert grids["code"].is_unique and grids["code"].str.len().eq(15).all()
    assert (grids["code"].str[:12] == grids["community"]).all()
    assert (grids["community"].str[:9] == grids["town"]).all()
    # every lattice cell once: the grids tile the city's rectangle without gaps or overlaps
    assert len(set(zip(grids["col"], grids["row"]))) == 16
    assert bench_city.CITY.n_grids == 20_000


def test_units_cover_their_grids():
    grids = bench_city._levels(bench_city.SMOKE)
    units = bench_city._units(grids)
    geoms = shapely.from_wkb(units["geom"].to_numpy())
    city = geoms[units["level"].to_numpy() == "city"][0]
    communities = geoms[units["level"].to_numpy() == "community"]
    assert math.isclose(sum(g.area for g in communities), city.area, rel_tol=1e-9)
    assert shapely.coverage_is_valid(communities)


def test_initial_view_fits_bounds():
    z, tiles = bench_screen.initial_view((106.3, 35.0, 106.312, 35.01))
    assert 0 < z <= 16 and 1 <= len(tiles) <= 12


def test_targets_say_met_and_missed_plainly():
    report = {
        "import": {"incidents": {"rows_per_s": 50_000}},
        "hotspots": {"median_ms": 10.0},
        "screen": {"grid_click": {"p95_ms": 20.0}},
    }
    base = {"screen": {"grid_click": {"p95_ms": 5.0}}}
    by = {t["name"]: t for t in bench_report.targets(report, base)}
    assert by["import_incidents"]["met"] is False
    assert by["hotspots"]["met"] is True
    assert by["scale_grid_click"]["value"] == 4.0 and by["scale_grid_click"]["met"] is False
    assert by["coverage"]["met"] is None  # not measured: neither met nor missed


def test_load_crossing_is_interpolated_between_steps():
    def st(n, p95):
        return {"screens": n, "screen_requests": {"p95_ms": p95}}

    assert bench_load.crossing([st(10, 100), st(50, 600), st(100, 1600)])["screens_at_p95_1s"] == 70
    assert bench_load.crossing([st(10, 100)])["screens_at_p95_1s"] is None
    assert bench_load.crossing([st(10, 1200)])["screens_at_p95_1s"] == 10
    by = {t["name"]: t for t in bench_report.targets({"load": {"steps": [st(50, 250) | {"writes": {"errors": 1}}]}})}
    assert by["load_50_p95"]["met"] is True and by["load_50_errors"]["met"] is False


def test_smoke_run_has_every_section():
    report = bench.run("smoke", reuse=False, say=lambda _m: None)
    for section in SECTIONS:
        assert section in report, section
        assert "error" not in report[section], (section, report[section])
    assert report["data"]["grids"] == 16 and report["data"]["incidents"] == 2_000  # probes removed
    assert report["import"]["incidents"]["rows"] == bench.PLANS["smoke"].import_rows
    # where the import's time goes: its stages, and the same rows into incident's shape without its schema
    stages = report["import"]["incidents"]["stage_seconds"]
    assert {"读取 reading", "校验 validating", "写入 inserting", "风险 recomputing"} <= set(stages)
    assert sum(stages.values()) <= report["import"]["incidents"]["seconds"] + 0.01
    floor = report["import"]["insert_without_schema"]
    assert floor["bare"]["rows"] == floor["with_indexes"]["rows"] == bench.PLANS["smoke"].import_rows
    # the history load: every row in, its months made and removed again (data counts above)
    assert report["history"]["rows"] == bench.PLANS["smoke"].history_rows and report["history"]["months"] == 24
    assert {"历史 loading", "索引 building", "挂载 attaching", "汇总 daily"} <= set(report["history"]["stage_seconds"])
    # its floor: the rows of the months it made, copied into fresh month tables and indexed, then rolled back
    least = report["history"]["floor"]
    assert 0.9 * report["history"]["rows"] < least["rows"] < report["history"]["rows"]  # the current month's go the normal way
    assert least["copy_seconds"] > 0 and least["index_seconds"] > 0
    assert report["assignment"]["sql_join"]["matched"] == report["assignment"]["geopandas_sjoin"]["matched"]
    assert report["assignment"]["in_memory"]["matched"] == report["assignment"]["geopandas_sjoin"]["matched"]
    assert report["app"]["peak_rss_mb"] > 0
    # the load test: signed-in screens polled and fetched tiles, writes came in, nothing failed
    step = report["load"]["steps"][0]
    assert step["screens"] == bench.PLANS["smoke"].load_steps[0]
    assert step["opened"] == step["screens"] and step["by_kind"]["first_tile"]["requests"] > 0
    assert step["by_kind"]["poll"]["requests"] > 0
    assert step["writes"]["written"] == step["writes"]["requests"] > 0
    assert step["screen_requests"]["errors"] == step["writes"]["errors"] == 0
    assert step["screen_requests"]["p95_ms"] > 0
    # push: every screen's stream opened, every write reached every screen
    push = report["push"]
    assert push["streams_refused"] == 0 and push["missed"] == 0, push
    assert push["commit_to_screen"]["p95_ms"] >= push["commit_to_event"]["p95_ms"] > 0
    assert {m["method"] for m in report["partition"]["methods"]} >= {"geo.planning.partition"}
    names = {t["name"] for t in report["targets"]}
    assert {
        "import_incidents",
        "history_load",
        "assignment_vs_sjoin",
        "assignment_sql_vs_sjoin",
        "first_load",
        "first_load_warmed_worker",
        "app_rss",
        "hotspots",
        "forecast",
        "alerts_per_incident",
        "largest_response",
        "live_refresh_panels_after_change_p95",
    } <= names  # the cost of a cache miss is reported too
    assert all(np.isfinite(report["screen"][k]["p95_ms"]) for k in bench_report.INTERACTIONS)
    assert "MISSED" in bench_report.table(report) or "met" in bench_report.table(report)


def test_streets_section_imports_tiles_and_partitions_along_roads():
    """A street network over the smoke city: imported as a county's file, tiled within the
    interaction budget's reach, the busiest community partitioned along it and compared."""
    report = bench.run("smoke", reuse=True, say=lambda _m: None, only=("streets",))
    s = report["streets"]
    assert "error" not in s, s
    assert s["import"]["features"] == s["segments"] > 100
    assert set(s["tiles"]) == {f"{layer}_z{z}" for layer in ("basemap", "street_names") for z in (9, 12, 14, 16)}
    methods = {m["method"]: m for m in s["partition"]["methods"]}
    assert {"straight cuts (no roads)", "geo.planning.blocks", "gerrychain.recursive_tree_part"} <= set(methods)
    ours = methods["geo.planning.blocks"]
    assert ours["road_share"] >= 0.9 > methods["straight cuts (no roads)"]["road_share"]
    assert "street_tiles_p95" in {t["name"] for t in report["targets"]}
    conn = db.connect(bench_db.ensure("smoke"))
    assert db.scalar(conn, "SELECT count(*) FROM basemap_feature") == 0  # the section leaves no roads behind
    conn.close()


def test_province_lattice_codes_are_unique_nested_and_apart():
    shape = bench_city.PROVINCE
    cities = bench_city.province_lattice(bench_city.ProvinceShape(city=bench_city.SMOKE, cities=10, columns=2))
    assert [c for c, _, _ in cities] == [f"99{k:02d}00" for k in range(1, 11)]
    grids = pd.concat([g for _, g, _ in cities], ignore_index=True)
    assert grids["code"].is_unique and len(set(zip(grids["col"], grids["row"]))) == len(grids) == 160
    for code, g, units in cities:
        assert g["code"].str.startswith(code[:4]).all() and units["code"].str.startswith(code[:4]).all()
        assert (g["code"].str[:12] == g["community"]).all()
    assert shape.n_grids == 200_000 and shape.cities * shape.city.incidents >= 20_000_000
    # the layout stays within 1.5° of CM 108°E, the metric SRID 4545's meridian
    w, e = (bench_city.ORIGIN[0] + shape.origin[0] * bench_city.CELL_DEG[0] + k * 200 * bench_city.CELL_DEG[0] for k in (0, 2))
    assert 106.5 <= w < e <= 109.5


def test_a_small_province_builds_city_by_city():
    """Two smoke cities as a province: counts add up, each city's rows stay in its own box,
    and the province's own row covers them (the screen's extent and coverage read it)."""
    from geo.analysis import dashboard

    shape = bench_city.SMOKE_PROVINCE
    conn = db.connect(bench_db.ensure("province_smoke"))
    try:
        built = bench_city.build_province(conn, shape, say=lambda _m: None)
        assert built["grids"] == shape.n_grids == 32 and built["cities"] == 2
        assert built["incidents"] == db.scalar(conn, "SELECT count(*) FROM incident") == 2 * shape.city.incidents
        assert built["households"] == db.scalar(conn, "SELECT count(*) FROM household") == 2 * shape.city.households
        assert {"city 1/2 990100 write incidents", "city 2/2 990200 write incidents", "risk tiers"} <= set(built["seconds"])
        per_city = db.rows(
            conn,
            """SELECT a.code,
                      (SELECT count(*) FROM grid g WHERE g.code LIKE left(a.code, 4) || '%%'
                          AND ST_CoveredBy(g.geom, a.geom) AND g.admin_code = left(g.code, 12)) AS grids,
                      (SELECT count(*) FROM incident i WHERE i.admin_code LIKE left(a.code, 4) || '%%'
                          AND ST_Within(i.geom, a.geom) AND left(i.grid_code, 12) = i.admin_code) AS incidents,
                      (SELECT count(*) FROM household h WHERE h.admin_code LIKE left(a.code, 4) || '%%'
                          AND ST_Within(h.geom, a.geom)) AS households
                 FROM admin_unit a WHERE a.parent_code = '990000' ORDER BY a.code""",
        )
        assert per_city == [
            {"code": c, "grids": 16, "incidents": shape.city.incidents, "households": shape.city.households}
            for c in ("990100", "990200")
        ]
        assert (
            db.scalar(
                conn,
                """SELECT ST_Area(ST_Intersection(a.geom, b.geom)) FROM admin_unit a, admin_unit b
                WHERE a.code = '990100' AND b.code = '990200'""",
            )
            == 0
        )
        sizes = {r["relation"]: r for r in bench.largest_relations(conn, 40)}  # a month-partitioned table with its months
        assert sizes["incident"]["bytes"] > sizes["incident"]["index_bytes"] > 0 and sizes["household"]["index_bytes"] > 0
        j = dashboard.jurisdiction(conn)
        ext = db.one(conn, "SELECT ST_XMin(e) x0, ST_XMax(e) x1 FROM (SELECT ST_Extent(geom) e FROM grid) g")
        assert j["code"] == "990000" and (j["xmin"], j["xmax"]) == (ext["x0"], ext["x1"])
    finally:
        conn.close()
