"""Coverage analysis on small exact geometries in the tiny jurisdiction: the grids A-D of
tests/support/coverage.py (a gap, a sliver, an overlap, a crossing, a grid outside).
Expected areas are geodesic (pyproj.Geod), independent of the analysis' projected areas.
"""

from __future__ import annotations

import json

import pyproj
import pytest
import shapely

from geo import cli, db
from geo.coverage import report as coverage
from geo.coverage.geometry import Meter
from tests.support.coverage import CENTRE, H_EDGE, H_GAP, H_SLIVER, H_TWO, URBAN, VILLAGE, A, B, C, D, only

GEOD = pyproj.Geod(ellps="GRS80")


def geodesic_area(*box) -> float:
    return abs(GEOD.geometry_area_perimeter(shapely.box(*box))[0])


def test_gap_sliver_overlap_outside_crossing(layout):
    r = coverage.analyse(layout)
    gap = only(r.of_kind("gap"))
    assert gap.admin_code == VILLAGE and gap.grid_codes == [C, D]  # C borders it along x = 106.66
    assert gap.area_m2 == pytest.approx(geodesic_area(106.66, 35.545, 106.67, 35.55), rel=1e-3)
    assert 106.66 < gap.lon < 106.67 and 35.545 < gap.lat < 35.55
    sliver = only(r.of_kind("sliver"))
    assert sliver.admin_code == URBAN and sliver.grid_codes == [A, B, C, D]  # D meets its east end
    assert sliver.area_m2 == pytest.approx(geodesic_area(106.65, 35.54, 106.66, 35.5401), rel=1e-3)
    assert sliver.width_m == pytest.approx(11.1, abs=0.2)
    overlap = only(r.of_kind("overlap"))
    assert overlap.grid_codes == [B, D] and overlap.admin_code == VILLAGE
    assert overlap.area_m2 == pytest.approx(geodesic_area(106.66, 35.53, 106.661, 35.54), rel=1e-3)
    crossing = only(r.of_kind("crossing"))
    assert crossing.grid_codes == [B] and crossing.area_m2 == pytest.approx(overlap.area_m2, rel=1e-6)
    outside = only(r.of_kind("outside"))
    assert outside.grid_codes == [D] and outside.area_m2 == pytest.approx(geodesic_area(106.67, 35.53, 106.671, 35.545), rel=1e-3)
    assert not r.seamless and r.noise["count"] == 0


def test_scores_are_area_covered_exactly_once(layout):
    r = coverage.analyse(layout)
    by = {s["admin_code"]: s for s in r.scores}
    urban_area = geodesic_area(106.65, 35.53, 106.66, 35.55)
    assert by[URBAN]["score"] == pytest.approx(1 - geodesic_area(106.65, 35.54, 106.66, 35.5401) / urban_area, abs=1e-5)
    village_area = geodesic_area(106.66, 35.53, 106.67, 35.55)
    lost = geodesic_area(106.66, 35.545, 106.67, 35.55) + geodesic_area(106.66, 35.53, 106.661, 35.54)
    assert by[VILLAGE]["score"] == pytest.approx(1 - lost / village_area, abs=1e-5)
    assert r.score["admin_code"] == "620802"
    assert r.score["covered_once_m2"] == pytest.approx(by[URBAN]["covered_once_m2"] + by[VILLAGE]["covered_once_m2"], abs=0.2)
    assert r.score["score"] == pytest.approx(r.score["covered_once_m2"] / r.score["area_m2"], abs=1e-6)


def test_households_in_no_grid_two_grids_and_on_an_edge(layout):
    h = coverage.analyse(layout).households
    assert h["outside_grids"]["count"] == 2
    assert {(i["lon"], i["lat"]) for i in h["outside_grids"]["items"]} == {H_GAP, H_SLIVER}
    two = only(h["in_two"]["items"])
    assert (two["lon"], two["lat"]) == H_TWO and two["grid_codes"] == [B, D]
    edge = only(h["on_edge"]["items"])
    assert (edge["lon"], edge["lat"]) == H_EDGE and edge["grid_codes"] == [A, B]


def test_grid_load_against_standard_and_persons_limit(layout):
    r = coverage.analyse(layout)
    assert {g["grid_code"]: g["issues"] for g in r.grid_load} == {
        A: ["below_standard"],
        B: ["below_standard"],
        C: ["below_standard"],
    }
    r = coverage.analyse(layout, config=dict(household_standard_urban=1, household_tolerance=0.0, persons_limit_urban=6))
    load = {g["grid_code"]: g for g in r.grid_load}
    assert load[A]["households"] == 2 and load[A]["persons"] == 7  # H_A (5) and H_EDGE (2)
    assert load[A]["issues"] == ["above_standard", "over_persons_limit"]
    assert load[C]["issues"] == ["below_standard"]
    assert D not in load  # rural without its own standard: nothing to compare with


def test_staffing_one_plus_one_plus_n(layout):
    staff = {s["grid_code"]: s for s in coverage.analyse(layout).staffing}
    assert set(staff) == {B, C}
    assert staff[B]["missing"] == ["fulltime"] and "no_worker" in staff[B]["issues"]
    assert staff[C]["missing"] == ["leader", "fulltime"]


def test_service_reach(layout):
    reach = coverage.analyse(layout).service_reach
    far = only(reach["items"])
    assert (far["lon"], far["lat"]) == H_SLIVER and far["radius_m"] == 1000
    expected = GEOD.inv(*CENTRE, *H_SLIVER)[2]  # 1,174 m; the village's households are within 3 km
    assert far["distance_m"] == pytest.approx(expected, rel=2e-3)
    assert reach["centres"] == 1 and reach["count"] == 1


# Two grids tiling the tiny jurisdiction, noded alike along y = 35.54 (so GEOS can judge
# them), with a closed 11 m notch between them, or with Q2 reaching 5.5 m into Q1.
Q1 = shapely.Polygon([(106.65, 35.53), (106.67, 35.53), (106.67, 35.54), (106.658, 35.54), (106.652, 35.54), (106.65, 35.54)])
Q2 = shapely.Polygon([(106.65, 35.54), (106.652, 35.54), (106.658, 35.54), (106.67, 35.54), (106.67, 35.55), (106.65, 35.55)])
NOTCH = shapely.box(106.652, 35.54, 106.658, 35.5401)
TONGUE = shapely.box(106.652, 35.5395, 106.658, 35.54)


@pytest.mark.parametrize("q2, kind, piece", [(Q2.difference(NOTCH), "sliver", NOTCH), (Q2.union(TONGUE), "overlap", TONGUE)])
def test_side_by_side_with_shapely_coverage_functions(conn, tiny_jurisdiction, add_grids, q2, kind, piece):
    """Our findings and GEOS's coverage validator (gap width = the sliver width) agree on
    the same polygons: the same grids at fault, and the union's area."""
    codes = [URBAN + "001", URBAN + "002"]
    add_grids([(codes[0], "q1", "urban", Q1), (codes[1], "q2", "urban", q2)])
    r = coverage.analyse(conn)
    width = r.config["sliver_width_m"]
    metric = list(Meter(4545).metric([Q1, Q2, q2]))  # GEOS's gap width is in the data's units
    assert shapely.coverage_is_valid(metric[:2]) and not shapely.coverage_is_valid([metric[0], metric[2]], gap_width=width)
    edges = shapely.coverage_invalid_edges([metric[0], metric[2]], gap_width=width)
    flagged = sorted(code for code, e in zip(codes, edges) if not e.is_empty)
    found = only([d for d in r.defects if d.kind in ("gap", "sliver", "overlap")])
    assert found.kind == kind and found.grid_codes == flagged == codes
    assert found.area_m2 == pytest.approx(geodesic_area(*piece.bounds), rel=1e-3)
    assert not r.seamless
    if kind == "sliver":  # a valid coverage (no gap width) with a hole: the union shows it
        assert shapely.coverage_is_valid([Q1, q2])
        union = shapely.coverage_union_all([Q1, q2])
        assert union.area == pytest.approx(tiny_jurisdiction[0]["geom"].area - NOTCH.area, rel=1e-9)


def test_an_exact_tiling_is_seamless(conn, tiny_jurisdiction, add_grids):
    boxes = [
        (106.65, 35.53, 106.66, 35.54),
        (106.65, 35.54, 106.66, 35.55),
        (106.66, 35.53, 106.67, 35.54),
        (106.66, 35.54, 106.67, 35.55),
    ]  # noded alike, as GEOS's validity demands
    codes = [URBAN + "001", URBAN + "002", VILLAGE + "001", VILLAGE + "002"]
    add_grids([(c, c, "urban", shapely.box(*b)) for c, b in zip(codes, boxes)])
    r = coverage.analyse(conn)
    grids = [shapely.box(*b) for b in boxes]
    assert shapely.coverage_is_valid(grids) and r.seamless and r.defects == []
    assert shapely.coverage_union_all(grids).equals(tiny_jurisdiction[0]["geom"])
    assert r.score["score"] == pytest.approx(1.0, abs=1e-9)
    assert all(s["score"] == pytest.approx(1.0, abs=1e-9) for s in r.scores)


def test_community_scope(layout):
    r = coverage.analyse(layout, URBAN)
    assert r.scope_code == URBAN and [s["admin_code"] for s in r.scores] == [URBAN]
    assert [d.kind for d in r.defects] == ["sliver", "overlap", "crossing"]
    with pytest.raises(ValueError, match="not a community"):
        coverage.analyse(layout, "620802001")
    with pytest.raises(ValueError, match="unknown area"):
        coverage.analyse(layout, "620802001999")


def test_refresh_stores_defects_and_skips_when_grids_unchanged(layout, add_grids):
    first = coverage.refresh(layout)
    assert first["refreshed"]
    kinds = db.rows(layout, "SELECT kind, grid_codes, grid_version FROM coverage_defect ORDER BY kind")
    assert [k["kind"] for k in kinds] == ["crossing", "gap", "outside", "overlap", "sliver"]
    assert {k["grid_version"] for k in kinds} == {first["grid_version"]}
    assert not coverage.refresh(layout)["refreshed"]
    add_grids([(VILLAGE + "002", "fill", "rural", shapely.box(106.66, 35.545, 106.67, 35.55))])
    again = coverage.refresh(layout)
    assert again["refreshed"] and again["grid_version"] > first["grid_version"]
    assert db.scalar(layout, "SELECT count(*) FROM coverage_defect WHERE kind = 'gap'") == 0


def test_cli_json_and_table(layout, capsys):
    assert cli.main(["coverage", "--json", "--test"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["gap"] == 1 and report["overlaps"][0]["grid_codes"] == [B, D]
    assert cli.main(["coverage", "--test", "--community", URBAN, "--set", "sliver_width_m=5"]) == 0
    out = capsys.readouterr().out
    assert "覆盖得分" in out and "碎片 slivers" in out
    assert cli.main(["coverage", "--test", "--set", "bogus=1"]) == 1
