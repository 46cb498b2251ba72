"""A planner's grids stay inside the planner's unit (found by attacking the running app after
issue #18): a town planner accepted a "proposal" (the page's store, sent by a script) whose
grid covered a community of another town and published it; publishing relocates the points
under a grid as the owner, so that town's 419 households and 69 incidents took the
planner's community as their admin_code, left their own town's screens and appeared on the
planner's. Here on real PostGIS, as the planner's database role under row-level security."""

from __future__ import annotations

import pytest
import shapely

from geo import db
from geo import pgserver as cluster
from geo.planning import drafts as planning
from geo.planning.publish import publish
from geo.security import access

WEST, EAST = "620802001001", "620802001002"  # two communities of the tiny jurisdiction
WEST_AREA = shapely.box(106.65, 35.53, 106.66, 35.55)
BOTH = shapely.box(106.65, 35.53, 106.67, 35.55)
PLANNER = access.Scope(username="planner@west", role="planner", admin_code=WEST)


@pytest.fixture
def world(tiny_jurisdiction, add_grids, categories, conn):
    """A grid in each community; in the eastern one a household and an incident."""
    add_grids(
        [
            (WEST + "001", "西一网格", "urban", WEST_AREA),
            (EAST + "001", "东一网格", "rural", shapely.box(106.66, 35.53, 106.67, 35.55)),
        ]
    )
    point = "SRID=4326;POINT(106.665 35.54)"
    with db.transaction(conn) as cur:
        cur.execute(
            """INSERT INTO household (address, head_name, phone, persons, grid_code, admin_code, geom)
                       VALUES ('1号', '张三丰', '13812341234', 3, %s, %s, %s)""",
            (EAST + "001", EAST, point),
        )
        cur.execute(
            """INSERT INTO incident (title, minor_code, source, reported_at, status, grid_code, admin_code, geom)
                       VALUES ('邻里纠纷', '0101', 'hotline', now() - interval '1 hour', 'registered', %s, %s, %s)""",
            (EAST + "001", EAST, point),
        )
    return conn


def eastern_rows(conn) -> set:
    conn.commit()
    return {
        (r["grid_code"], r["admin_code"])
        for table in ("household", "incident")
        for r in db.rows(conn, f"SELECT grid_code, admin_code FROM {table}")
    }


def test_a_planners_grid_is_clipped_to_the_planners_unit(world):
    url = cluster.database_url(test=True)
    with db.scoped(PLANNER), db.pooled(url) as conn:
        plan_id = planning.create(conn, WEST, created_by=PLANNER.username)
        assert planning.replace_all(conn, plan_id, [BOTH], force=True).applied
        drawn = planning.grids(conn, plan_id)
        assert drawn and all(shapely.covers(shapely.buffer(WEST_AREA, 1e-6), g["geom"]) for g in drawn.values())
        publish(conn, plan_id, by=PLANNER.username, refresh_coverage=False)
    assert eastern_rows(world) == {(EAST + "001", EAST)}  # still the eastern community's

    with db.scoped(PLANNER), db.pooled(url) as conn:  # a grid wholly in the other community: nothing of it is theirs
        plan_id = planning.create(conn, WEST, created_by=PLANNER.username)
        with pytest.raises(planning.PlanError, match="outside the unit"):
            planning.draw(conn, plan_id, shapely.box(106.662, 35.535, 106.668, 35.545), force=True)


def test_a_draft_reaching_beyond_the_unit_is_not_published_by_its_planner(world):
    """A draft written before the clipping (or by anything but the edit functions) is refused
    at publishing; the owner (the CLI) may still publish what it likes."""
    plan_id = planning.create(world, WEST, created_by="earlier")
    planning.apply(
        world, plan_id, "draw", {WEST + "001": dict(code=WEST + "001", name="大网格", kind="urban", geom=BOTH)}, force=True
    )
    world.commit()
    url = cluster.database_url(test=True)
    with db.scoped(PLANNER), db.pooled(url) as conn:
        with pytest.raises(planning.PlanError, match="beyond the unit"):
            publish(conn, plan_id, by=PLANNER.username, refresh_coverage=False)
    assert eastern_rows(world) == {(EAST + "001", EAST)}
    assert planning.get(world, plan_id)["status"] == "draft"
