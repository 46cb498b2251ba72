"""Moving households between grids, on small exact geometries.

The urban community 620802001001 (106.65-106.66 x 35.53-35.55) holds A (west half) and
B (east half). h0 lies 20 m west of the shared edge (in A), h1 deep in A, h2 in B.
"""

from __future__ import annotations

import pytest
import shapely

from geo import db
from geo.planning import drafts as planning
from geo.planning.households import households, move, moved_counts
from geo.planning.publish import publish

URBAN = "620802001001"
A, B = URBAN + "001", URBAN + "002"
POINTS = [(106.6548, 35.540), (106.651, 35.545), (106.658, 35.535)]


@pytest.fixture
def community(tiny_jurisdiction, add_grids, conn):
    add_grids(
        [
            (A, "A", "urban", shapely.box(106.650, 35.53, 106.655, 35.55)),
            (B, "B", "urban", shapely.box(106.655, 35.53, 106.660, 35.55)),
        ]
    )
    with db.transaction(conn) as cur:
        for i, (lon, lat) in enumerate(POINTS):
            cur.execute(
                """INSERT INTO household (address, head_name, persons, admin_code, geom)
                           VALUES (%s, %s, 3, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                (f"崆峒路{i}号", "欧阳娜娜", URBAN, lon, lat),
            )
    db.execute(conn, "SELECT locate_points('household'::regclass, NULL)")
    conn.commit()
    return conn


def ids(conn) -> list[int]:
    return [r["id"] for r in db.rows(conn, "SELECT id FROM household ORDER BY id")]


def test_the_page_sees_each_household_in_its_draft_grid_with_the_name_masked(community):
    plan_id = planning.create(community, URBAN)
    found = households(community, plan_id)
    assert [h["grid"] for h in found] == [A, A, B]
    assert found[0]["label"] == "崆峒路0号 欧***" and "娜" not in "".join(h["label"] for h in found)


def test_a_move_hands_exactly_the_chosen_household_over_and_publish_relocates_it(community):
    h0, h1, h2 = ids(community)
    plan_id = planning.create(community, URBAN)
    before = planning.grids(community, plan_id)
    result = move(community, plan_id, [h0], B)
    assert result.applied and result.op == "move" and result.codes == [A, B]
    assert moved_counts(result) == [
        dict(code=A, before=2, after=1, standard=300, deviation=round(1 / 300 - 1, 4), off=True),
        dict(code=B, before=1, after=2, standard=300, deviation=round(2 / 300 - 1, 4), off=True),
    ]
    assert [h["grid"] for h in households(community, plan_id)] == [B, A, B]
    after = planning.grids(community, plan_id)
    assert len(after[A]["geom"].geoms) == 1 and len(after[B]["geom"].geoms) == 1  # both stay in one piece
    assert after[A]["geom"].area + after[B]["geom"].area == pytest.approx(before[A]["geom"].area + before[B]["geom"].area)
    assert result.after.summary["gap"] == 0 and result.after.summary["overlap"] == 0
    # Nothing official changes before publish; publish re-derives household.grid_code with the grids.
    assert db.scalar(community, "SELECT grid_code FROM household WHERE id = %s", (h0,)) == A
    publish(community, plan_id, by="t", refresh_coverage=False)
    assert {r["id"]: r["grid_code"] for r in db.rows(community, "SELECT id, grid_code FROM household")} == {h0: B, h1: A, h2: B}


def test_a_neighbour_a_few_metres_away_stays(community):
    """The piece is the chosen household's Voronoi cell: its neighbour 20 m further from the
    edge keeps its grid."""
    with db.transaction(community) as cur:
        cur.execute(
            """INSERT INTO household (address, persons, admin_code, geom)
                       VALUES ('next door', 2, %s, ST_SetSRID(ST_MakePoint(106.6546, 35.5401), 4326)) RETURNING id""",
            (URBAN,),
        )
        neighbour = cur.fetchone()[0]
    h0 = ids(community)[0]
    plan_id = planning.create(community, URBAN)
    result = move(community, plan_id, [h0], B)
    assert [(c["code"], c["before"], c["after"]) for c in moved_counts(result)] == [(A, 3, 2), (B, 1, 2)]
    where = {h["id"]: h["grid"] for h in households(community, plan_id)}
    assert where[h0] == B and where[neighbour] == A


def test_undo_restores_both_grids_exactly(community):
    h0 = ids(community)[0]
    plan_id = planning.create(community, URBAN)
    before = {c: g["geom"].wkb for c, g in planning.grids(community, plan_id).items()}
    move(community, plan_id, [h0], B)
    planning.undo(community, plan_id)
    assert {c: g["geom"].wkb for c, g in planning.grids(community, plan_id).items()} == before


def test_moves_that_cannot_be_done_say_why(community):
    h0, h1, h2 = ids(community)
    plan_id = planning.create(community, URBAN)
    with pytest.raises(planning.PlanError, match="already in grid"):
        move(community, plan_id, [h2], B)
    with pytest.raises(planning.PlanError, match="not in this plan"):
        move(community, plan_id, [h0], URBAN + "009")
    with pytest.raises(planning.PlanError):
        move(community, plan_id, [], B)
    assert planning.history(community, plan_id)["undo"] == 0
