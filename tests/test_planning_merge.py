"""多网合一 piece by piece, on small exact geometries.

The urban community 620802001001 is the box 106.65-106.66 x 35.53-35.55. Official grids:
  A 106.650-106.655, B 106.655-106.660 (full height; they tile the community exactly).
Police and urban management both draw their boundary at 106.656: the 0.001-degree strip
106.655-106.656 (about 90 m x 2.2 km) lies in B but both departments put it with A.
"""

from __future__ import annotations

import pytest
import shapely

from geo import db
from geo.planning import drafts as planning
from geo.planning.merge import accept, choose, pieces, reject

URBAN = "620802001001"
A, B = URBAN + "001", URBAN + "002"
STRIP = shapely.box(106.655, 35.53, 106.656, 35.55)
CIVIL_STRIP = shapely.box(106.656, 35.53, 106.657, 35.55)


@pytest.fixture
def community(tiny_jurisdiction, add_grids, conn):
    add_grids(
        [
            (A, "A", "urban", shapely.box(106.650, 35.53, 106.655, 35.55)),
            (B, "B", "urban", shapely.box(106.655, 35.53, 106.660, 35.55)),
        ]
    )
    for layer in ("police", "urban_mgmt"):
        add_grids(
            [
                (URBAN + "101", f"{layer} west", "urban", shapely.box(106.650, 35.53, 106.656, 35.55)),
                (URBAN + "102", f"{layer} east", "urban", shapely.box(106.656, 35.53, 106.660, 35.55)),
            ],
            layer=layer,
        )
    with db.transaction(conn) as cur:  # two households in the strip, one in A, one deep in B
        for i, (lon, lat) in enumerate([(106.6555, 35.535), (106.6555, 35.545), (106.652, 35.54), (106.659, 35.54)]):
            cur.execute(
                """INSERT INTO household (address, persons, admin_code, geom)
                           VALUES (%s, 2, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                (f"h{i}", URBAN, lon, lat),
            )
    return conn


def test_two_layers_agreeing_against_the_official_grid_propose_exactly_the_strip(community):
    plan_id = planning.create(community, URBAN)
    ctx = planning.context(community, plan_id)
    found = pieces(community, plan_id, ctx)
    assert len(found) == 1
    p = found[0]
    assert (p.grid, p.proposed, p.votes, p.candidates) == (B, A, {"police": A, "urban_mgmt": A}, [A, B])
    assert shapely.equals(p.geom, STRIP) and p.households == 2
    assert p.area_m2 == pytest.approx(float(ctx.meter.area(STRIP)), abs=0.5)
    assert 195_000 < p.area_m2 < 205_000  # 0.001 deg x 0.02 deg at 35.54 N
    before = planning.grids(community, plan_id)
    result = accept(community, plan_id, p.key)
    assert result.applied and result.codes == [A, B] and result.op == "accept_piece"
    after = planning.grids(community, plan_id)
    assert shapely.equals(after[A]["geom"], shapely.box(106.650, 35.53, 106.656, 35.55))
    assert shapely.equals(after[B]["geom"], shapely.box(106.656, 35.53, 106.660, 35.55))
    assert {r["code"]: r["households"] for r in result.after.loads} == {A: 3, B: 1}
    assert pieces(community, plan_id) == []  # the draft now follows both departments
    planning.undo(community, plan_id)
    back = planning.grids(community, plan_id)
    assert {c: g["geom"].wkb for c, g in back.items()} == {c: g["geom"].wkb for c, g in before.items()}
    assert [x.key for x in pieces(community, plan_id)] == [p.key]


def test_layers_disagreeing_with_each_other_are_shown_and_the_majority_proposed(community, add_grids):
    # Civil affairs puts its boundary at 106.657: the strip 106.656-106.657 has civil for A, police and urban for B.
    add_grids(
        [
            (URBAN + "101", "civil west", "urban", shapely.box(106.650, 35.53, 106.657, 35.55)),
            (URBAN + "102", "civil east", "urban", shapely.box(106.657, 35.53, 106.660, 35.55)),
        ],
        layer="civil",
    )
    plan_id = planning.create(community, URBAN)
    found = {round(p.geom.bounds[0], 6): p for p in pieces(community, plan_id)}
    assert set(found) == {106.655, 106.656}
    strip, civil = found[106.655], found[106.656]
    assert strip.proposed == A and strip.votes == {"civil": A, "police": A, "urban_mgmt": A}
    assert shapely.equals(civil.geom, CIVIL_STRIP)
    assert civil.grid == B and civil.proposed == B and not civil.change and civil.candidates == [B, A]  # 2 : 1 keeps it
    # Rejecting the minority piece is an edit: it leaves the list, undo brings it back; the grids do not change.
    result = reject(community, plan_id, civil.key)
    assert result.applied and result.codes == []
    assert [p.key for p in pieces(community, plan_id)] == [strip.key]
    assert planning.history(community, plan_id)["undo"] == 1
    planning.undo(community, plan_id)
    assert {p.key for p in pieces(community, plan_id)} == {strip.key, civil.key}
    # The planner may still give a piece to the minority's grid.
    assert accept(community, plan_id, civil.key, A).applied
    with pytest.raises(planning.PlanError):
        accept(community, plan_id, civil.key, A)  # no longer proposed


def test_a_tie_goes_to_the_choice_nearer_the_household_standard():
    standards = {"a": 300, "b": 300}
    # b is 40 over, a 40 under: giving the piece's 40 households to a balances both.
    assert choose("b", {"police": "a", "urban_mgmt": "b"}, {"a": 260, "b": 340}, standards, 40) == "a"
    assert choose("b", {"police": "a", "urban_mgmt": "b"}, {"a": 340, "b": 260}, standards, 40) == "b"
    # Both under the standard: moving changes nothing in total, so the piece stays.
    assert choose("b", {"police": "a", "urban_mgmt": "b"}, {"a": 10, "b": 12}, standards, 2) == "b"
    assert choose("b", {"police": "a", "urban_mgmt": "a", "civil": "b"}, {"a": 340, "b": 260}, standards, 40) == "a"
