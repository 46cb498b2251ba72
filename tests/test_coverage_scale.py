"""The fast paths of the coverage check (issue #8, 规模): hints, pairs, binary COPY.

The check reads household.grid_code as a hint and must come to the same answer whatever
the hint says (locate_points' own, stale, wrong, none); it finds overlapping grid pairs
in shapely for the whole jurisdiction and must find exactly the pairs of the GiST
self-join; it reads households with COPY (FORMAT binary) and must read exactly what a
plain query returns. Small exact geometries of the tiny jurisdiction (tests/test_coverage.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo import db
from geo import pgserver as cluster
from geo.coverage import report as coverage
from geo.coverage.households import membership
from geo.io import binary_copy
from geo.security import access
from tests.support.coverage import H_A, H_EDGE, H_GAP, H_SLIVER, H_TWO, URBAN, VILLAGE, A, B, C, D, add_households, only

HOUSEHOLDS = [H_A, H_EDGE, H_TWO, H_GAP, H_SLIVER]  # ids 1..5 in the layout fixture


def people(report) -> dict:
    """The household side of a report, where hints could make a difference."""
    return dict(households=report.households, grid_load=report.grid_load, reach=report.service_reach)


def set_hints(conn, hints: dict[tuple, str | None]) -> None:
    with db.transaction(conn) as cur:
        for (lon, lat), code in hints.items():
            cur.execute(
                "UPDATE household SET grid_code = %s WHERE geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326)", (code, lon, lat)
            )


def assert_layout_households(report):
    """The exact household findings of the layout (as tests/test_coverage.py has them)."""
    h = report.households
    assert [(i["lon"], i["lat"]) for i in h["outside_grids"]["items"]] == [H_GAP, H_SLIVER]  # in id order
    assert h["outside_grids"]["by_community"] == {URBAN: 1, VILLAGE: 1} and h["outside_grids"]["persons"] == 5
    two = only(h["in_two"]["items"])
    assert (two["lon"], two["lat"]) == H_TWO and two["grid_codes"] == [B, D]
    edge = only(h["on_edge"]["items"])
    assert (edge["lon"], edge["lat"]) == H_EDGE and edge["grid_codes"] == [A, B]
    load = {g["grid_code"]: (g["households"], g["persons"]) for g in report.grid_load}
    assert load == {A: (2, 7), B: (2, 5), C: (0, 0)}  # D is rural without a standard: not listed
    assert only(report.service_reach["items"])["id"] == 5


def test_hints_as_locate_points_sets_them_change_nothing(layout):
    assert db.scalar(layout, "SELECT count(grid_code) FROM household") == 0
    plain = coverage.analyse(layout, config=dict(household_standard_urban=1000))
    db.execute(
        layout,
        """UPDATE household h SET grid_code = (  -- locate_points' rule, leaving admin_code alone
                              SELECT min(g.code) FROM grid_current g WHERE ST_Intersects(g.geom, h.geom))""",
    )
    layout.commit()
    hints = {r["id"]: r["grid_code"] for r in db.rows(layout, "SELECT id, grid_code FROM household")}
    assert hints == {1: A, 2: A, 3: B, 4: None, 5: None}  # the edge and the overlap go to the smaller code
    hinted = coverage.analyse(layout, config=dict(household_standard_urban=1000))
    assert people(hinted) == people(plain)
    assert_layout_households(hinted)


@pytest.mark.parametrize(
    "hints",
    [
        {H_A: C, H_EDGE: B, H_TWO: D, H_GAP: D, H_SLIVER: A},  # every one wrong or stale
        {H_A: A, H_EDGE: A, H_TWO: B, H_GAP: "620802001002999", H_SLIVER: C},  # unknown code, sliver next to C
        {H_A: B, H_EDGE: "x", H_TWO: None, H_GAP: None, H_SLIVER: B},
    ],
)
def test_wrong_hints_are_checked_not_trusted(layout, hints):
    set_hints(layout, hints)  # updated rows move to the end of the table: read back in id order
    report = coverage.analyse(layout, config=dict(household_standard_urban=1000))
    assert_layout_households(report)


def test_a_household_in_an_overlap_hinted_into_one_grid_is_in_both(layout):
    """B overlaps D: a hint into B is not enough (B shares area), the search finds D too."""
    set_hints(layout, {h: A for h in HOUSEHOLDS} | {H_TWO: B})
    two = only(coverage.analyse(layout).households["in_two"]["items"])
    assert two["grid_codes"] == [B, D]


# Two grids drawn 0.36 m over each other along x = 106.66: an overlap thinner than the
# noise width (1 m), so not a defect, yet a household inside it is in both grids.
WEST_GRID = shapely.box(106.65, 35.53, 106.66, 35.55)
EAST_GRID = shapely.box(106.66 - 0.000004, 35.53, 106.67, 35.55)
IN_SLIVER = (106.66 - 0.000002, 35.54)
ON_EDGE = (106.66, 35.535)  # on the west grid's edge, inside the east grid: in two grids by touch, inside one
OUTSIDE = (106.675, 35.54)  # beyond every grid (and the jurisdiction)


@pytest.fixture
def sliver_overlap(conn, tiny_jurisdiction, add_grids):
    add_grids([(URBAN + "001", "w", "urban", WEST_GRID), (VILLAGE + "001", "e", "rural", EAST_GRID)])
    add_households(conn, [(*IN_SLIVER, 2, URBAN), (*ON_EDGE, 3, VILLAGE), (*OUTSIDE, 1, VILLAGE), (106.655, 35.54, 4, URBAN)])
    return conn


@pytest.mark.parametrize("hint", [None, URBAN + "001", VILLAGE + "001"])
def test_a_sliver_overlap_puts_its_households_in_two_grids(sliver_overlap, hint):
    db.execute(sliver_overlap, "UPDATE household SET grid_code = %s", (hint,))
    sliver_overlap.commit()
    r = coverage.analyse(sliver_overlap)
    assert r.noise["count"] == 2 and r.of_kind("overlap") == []  # the overlap (and the east grid's crossing) is noise...
    h = r.households
    two = only(h["in_two"]["items"])  # ...but the household in it is in both grids
    assert (two["lon"], two["lat"]) == IN_SLIVER and two["grid_codes"] == [URBAN + "001", VILLAGE + "001"]
    edge = only(h["on_edge"]["items"])
    assert (edge["lon"], edge["lat"]) == ON_EDGE and edge["grid_codes"] == [URBAN + "001", VILLAGE + "001"]
    out = only(h["outside_grids"]["items"])
    assert (out["lon"], out["lat"]) == OUTSIDE and h["outside_grids"]["by_community"] == {VILLAGE: 1}
    load = {g["grid_code"]: (g["households"], g["persons"]) for g in r.grid_load}
    assert load == {URBAN + "001": (3, 9)}  # the in-sliver, edge and inside households; the east grid is rural


# --------------------------------------------------------------------------- membership, no database

GRIDS = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(1.5, 0, 2.5, 1)], dtype=object)
SHARED = np.array([False, True, True])  # the second and third overlap on 1.5..2


def pairs_of(lon, lat, hint=None, shared=None) -> set:
    pairs, inside = membership(np.array(lon, float), np.array(lat, float), GRIDS, hint, shared)
    return {(int(h), int(g), bool(i)) for h, g, i in zip(pairs[0], pairs[1], inside)}


@pytest.mark.parametrize("hint", [None, [0, 0, 1, 0, 1, 2], [1, 1, 0, 2, 2, 0], [-1, 0, -1, -1, 0, 1]])
def test_membership_is_the_same_whatever_the_hint(hint):
    lon, lat = [0.5, 1.0, 1.7, 3.0, 1.2, 0.0], [0.5, 0.5, 0.5, 0.5, 0.5, 0.0]
    expected = {
        (0, 0, True),  # inside the first only
        (1, 0, False),
        (1, 1, False),  # on the shared edge x = 1
        (2, 1, True),
        (2, 2, True),  # inside the overlap
        (4, 1, True),  # inside the second only
        (5, 0, True),
    }  # on the first's corner, touching it alone (counted as in it); 3 is in none
    assert pairs_of(lon, lat, None if hint is None else np.array(hint), SHARED) == expected


def test_without_the_shared_flags_a_hint_would_hide_the_second_grid():
    """Why `shared` exists: a household inside an overlap hinted into one grid."""
    assert pairs_of([1.7], [0.5], np.array([1])) == {(0, 1, True)}  # wrong: the second grid is missing
    assert pairs_of([1.7], [0.5], np.array([1]), SHARED) == {(0, 1, True), (0, 2, True)}


# --------------------------------------------------------------------------- overlapping pairs

L_WEST = shapely.Polygon([(106.65, 35.53), (106.66, 35.53), (106.66, 35.54), (106.655, 35.54), (106.655, 35.55), (106.65, 35.55)])
L_EAST = shapely.Polygon([(106.66, 35.53), (106.67, 35.53), (106.67, 35.55), (106.655, 35.55), (106.655, 35.54), (106.66, 35.54)])


@pytest.mark.parametrize(
    "grids, pairs",
    [
        ([WEST_GRID, EAST_GRID], 1),  # a sliver overlap
        ([L_WEST, L_EAST], 0),  # interlocking L shapes: the boxes overlap, the grids only touch
        ([shapely.box(106.65, 35.53, 106.66, 35.54), shapely.box(106.66, 35.54, 106.67, 35.55)], 0),  # corner to corner
        ([shapely.box(106.65, 35.53, 106.67, 35.55), shapely.box(106.655, 35.535, 106.66, 35.54)], 1),  # one inside the other
        ([shapely.box(106.65, 35.53, 106.66, 35.55), shapely.box(106.65, 35.53, 106.66, 35.55)], 1),  # drawn twice
    ],
)
def test_pairs_found_in_shapely_are_the_self_joins(conn, tiny_jurisdiction, add_grids, grids, pairs):
    codes = [URBAN + "001", VILLAGE + "001"]
    add_grids([(code, code, "urban", g) for code, g in zip(codes, grids)])
    by_join = coverage._overlaps(conn, codes)
    by_shapely = coverage._overlaps(conn, codes, np.array(grids, dtype=object))
    assert [(a, b, g.wkb) for a, b, g in by_shapely] == [(a, b, g.wkb) for a, b, g in by_join]
    assert len(by_join) == pairs


# --------------------------------------------------------------------------- row-level security


def test_a_planners_scoped_connection_checks_its_own_community(layout):
    scope = access.Scope(username="pl", role="planner", admin_code=URBAN)
    with db.scoped(scope), db.pooled(cluster.database_url(test=True)) as c:
        r = coverage.analyse(c, URBAN)
    h = r.households  # only the urban community's grids (A, B, C) and households are visible
    assert r.grids == 3 and h["outside_grids"]["count"] == 1 and only(h["outside_grids"]["items"])["id"] == 5
    assert only(h["on_edge"]["items"])["grid_codes"] == [A, B] and h["in_two"]["count"] == 0
    assert r.service_reach["households"] == 3 and r.service_reach["centres"] == 1


# --------------------------------------------------------------------------- binary COPY

COLUMNS = [("id", "int8"), ("n", "int4"), ("s", "int2"), ("x", "float8"), ("b", "bool"), ("code", "text"), ("name", "text")]
QUERY = """SELECT i::int8, (i * 7)::int4, (i %% 100)::int2, i / 3.0::float8, i %% 2 = 0,
                  CASE WHEN i %% 997 = 0 THEN NULL WHEN i %% 500 = 0 THEN '' WHEN i %% 301 = 0 THEN '62080' || i
                       ELSE lpad((i %% 40)::text, 12, '0') END,
                  CASE WHEN i %% 1000 = 7 THEN '网格' || i ELSE NULL END
             FROM generate_series(%(a)s, %(b)s) i"""


def as_rows(cols: dict) -> list[tuple]:
    values = [cols[name] for name, _ in COLUMNS]
    values = [np.asarray(v, dtype=object) if hasattr(v, "categories") else v.tolist() for v in values]
    return [tuple(None if isinstance(x, float) and x != x else x for x in row) for row in zip(*values)]


@pytest.mark.parametrize("a, b", [(1, 0), (1, 1), (1, 20_000)])
def test_binary_copy_reads_what_a_query_returns(conn, a, b):
    cols = binary_copy.read(conn, QUERY, dict(a=a, b=b), COLUMNS)
    with conn.cursor() as cur:
        cur.execute(QUERY, dict(a=a, b=b))
        expected = [tuple(r) for r in cur.fetchall()]
    assert as_rows(cols) == expected and len(expected) == b - a + 1
    assert cols["x"].dtype == np.float64 and cols["s"].dtype == np.int16


def test_binary_copy_reads_long_runs_across_its_blocks(conn):
    """One layout for 5,000 rows (blocks of 1,024 rows doubling), then a longer code, then back."""
    sql = """SELECT i::int8, CASE WHEN i = 5001 THEN 'x' || lpad(i::text, 12, '0') ELSE lpad(i::text, 12, '0') END
               FROM generate_series(1, 9000) i"""
    cols = binary_copy.read(conn, sql, None, [("id", "int8"), ("code", "text")])
    assert cols["id"].tolist() == list(range(1, 9001))
    assert list(np.asarray(cols["code"], dtype=object)) == [("x" if i == 5001 else "") + f"{i:012d}" for i in range(1, 9001)]


def test_binary_copy_reads_row_by_row_after_many_layout_changes(conn, monkeypatch):
    monkeypatch.setattr(binary_copy, "_MAX_RUNS", 5)
    cols = binary_copy.read(conn, QUERY, dict(a=1, b=3000), COLUMNS)
    with conn.cursor() as cur:
        cur.execute(QUERY, dict(a=1, b=3000))
        assert as_rows(cols) == [tuple(r) for r in cur.fetchall()]


def test_binary_copy_refuses_null_in_a_fixed_column(conn):
    with pytest.raises(ValueError, match="NULL or not int8"):
        binary_copy.read(conn, "SELECT NULL::int8", None, [("id", "int8")])
    conn.rollback()


def test_factorize_bytes_numbers_values_by_first_appearance():
    values = np.array([b"620802001001", b"620802001002", b"620802001001", b"9", b"620802001002"], dtype="S12")
    codes, first = binary_copy.factorize_bytes(values)
    assert codes.tolist() == [0, 1, 0, 2, 1] and first.tolist() == [0, 1, 3]
    wide = np.array([b"a" * 15 + b"1", b"a" * 15 + b"2", b"a" * 15 + b"1"], dtype="S16")  # differ in the second word
    assert binary_copy.factorize_bytes(wide)[0].tolist() == [0, 1, 0]


def test_factorize_bytes_survives_a_hash_collision(monkeypatch):
    """Two values whose mixed hash is the same are still told apart."""
    values = np.array([b"a" * 8 + b"1", b"b" * 8 + b"1", b"a" * 8 + b"1"], dtype="S9")
    real = binary_copy.pd.factorize
    calls = []

    def colliding(keys):
        calls.append(len(keys))
        return real(np.zeros(len(keys), dtype=np.uint64)) if len(calls) == 1 else real(keys)

    monkeypatch.setattr(binary_copy.pd, "factorize", colliding)
    codes, first = binary_copy.factorize_bytes(values)
    assert codes.tolist() == [0, 1, 0] and first.tolist() == [0, 1] and len(calls) > 1


def test_no_grids_or_no_households(conn, tiny_jurisdiction):
    empty = coverage.analyse(conn)
    assert empty.grids == 0 and empty.households["outside_grids"]["count"] == 0 and empty.service_reach["households"] == 0
    add_households(conn, [(106.652, 35.535, 2, URBAN), (106.665, 35.548, 3, VILLAGE)])
    r = coverage.analyse(conn)
    assert (
        r.households["outside_grids"]["by_community"] == {URBAN: 1, VILLAGE: 1} and r.households["outside_grids"]["persons"] == 5
    )
    assert r.service_reach["count"] == 2 and all(i["distance_m"] is None for i in r.service_reach["items"])  # no centre at all
    assert sorted(g.admin_code for g in r.of_kind("gap")) == [URBAN, VILLAGE]  # each community one whole gap
