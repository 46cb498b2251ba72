"""The Kongtong demo: real boundary, figures from the documents, deliberate defects."""

from __future__ import annotations

import pytest

from geo import db

OFFICIAL_AREA_KM2 = 1936.0


def test_district_area_matches_official_within_one_percent(demo_conn):
    area = db.scalar(demo_conn, "SELECT ST_Area(geom::geography) / 1e6 FROM admin_unit WHERE code = '620802'")
    assert abs(area - OFFICIAL_AREA_KM2) / OFFICIAL_AREA_KM2 < 0.01


def test_hierarchy_has_three_streets_and_seventeen_towns(demo_conn):
    kinds = dict(
        (r["kind"], r["n"])
        for r in db.rows(demo_conn, "SELECT kind, count(*) AS n FROM admin_unit WHERE level = 'town' GROUP BY kind")
    )
    assert kinds["街道"] == 3
    assert kinds["镇"] + kinds["乡"] == 17
    # Every community's code extends its town's, and every grid code its community's.
    assert (
        db.scalar(
            demo_conn,
            """SELECT count(*) FROM admin_unit c JOIN admin_unit t ON t.code = c.parent_code
                                   WHERE c.level = 'community' AND left(c.code, 9) <> t.code""",
        )
        == 0
    )
    assert db.scalar(demo_conn, "SELECT count(*) FROM grid WHERE left(code, 12) <> admin_code") == 0


def test_towns_tile_the_district(demo_conn):
    district, towns = db.one(
        demo_conn,
        """
        SELECT (SELECT ST_Area(geom::geography) FROM admin_unit WHERE code = '620802') AS district,
               (SELECT sum(ST_Area(geom::geography)) FROM admin_unit WHERE level = 'town') AS towns""",
    ).values()
    assert towns == pytest.approx(district, rel=1e-4)


def test_grid_and_household_figures_follow_kongtong(demo_conn):
    r = db.one(
        demo_conn,
        """
        SELECT count(*) FILTER (WHERE kind = 'urban') AS urban, count(*) FILTER (WHERE kind = 'rural') AS rural
          FROM grid_current""",
    )
    assert 340 <= r["urban"] <= 370  # Kongtong: 355 urban grids
    assert 1240 <= r["rural"] <= 1260  # 1,260 rural grids, less the deliberately missing ones
    households = db.scalar(demo_conn, "SELECT count(*) FROM household")
    assert 140_000 <= households <= 170_000
    median = db.scalar(
        demo_conn,
        """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM (
        SELECT count(*) AS n FROM household h JOIN grid_current g ON g.code = h.grid_code
         WHERE g.kind = 'urban' GROUP BY g.code) s""",
    )
    assert 270 <= median <= 330  # about 300 households per urban grid
    assert db.scalar(demo_conn, "SELECT count(*) FROM place WHERE category = '严重精神障碍患者'") == 2277


def test_a_year_of_disputes_is_about_12700(demo_conn):
    n = db.scalar(
        demo_conn,
        """SELECT count(*) FROM incident i JOIN category c USING (minor_code)
                                WHERE c.is_dispute AND i.reported_at > now() - interval '365 days'""",
    )
    assert 11_500 <= n <= 14_000


def test_deliberate_defects_are_in_the_data(demo_conn):
    # Overlapping grids, households in no grid, oversized grids and grids without a worker.
    overlaps = db.scalar(
        demo_conn,
        """SELECT count(*) FROM grid_current a JOIN grid_current b
        ON a.code < b.code AND ST_Intersects(a.geom, b.geom) AND ST_Area(ST_Intersection(a.geom, b.geom)::geography) > 100""",
    )
    assert overlaps >= 10
    assert db.scalar(demo_conn, "SELECT count(*) FROM household WHERE grid_code IS NULL") > 0
    assert (
        db.scalar(
            demo_conn,
            """SELECT count(*) FROM (SELECT grid_code FROM household h JOIN grid_current g ON g.code = h.grid_code
                                   WHERE g.kind = 'urban' GROUP BY grid_code HAVING count(*) > 500) s""",
        )
        >= 3
    )
    assert (
        db.scalar(
            demo_conn,
            """SELECT count(*) FROM grid_current g WHERE NOT EXISTS (
        SELECT 1 FROM grid_staff s WHERE s.grid_code = g.code AND s.role IN ('fulltime', 'parttime'))""",
        )
        >= 12
    )
    assert db.scalar(demo_conn, "SELECT count(DISTINCT layer) FROM grid WHERE layer <> 'official'") == 2


def test_everything_inside_is_labelled_synthetic(demo_conn):
    for table in ("household", "place", "grid_staff"):
        assert db.scalar(demo_conn, f"SELECT bool_and(synthetic) FROM {table}") is True
    # Other tests add real-looking grid versions and incidents to the demo database; the demo's own are synthetic.
    assert db.scalar(demo_conn, "SELECT bool_and(synthetic) FROM grid WHERE edited_by = 'demo'") is True
    assert (
        db.scalar(
            demo_conn,
            """SELECT bool_and(synthetic) FROM incident i WHERE EXISTS (
        SELECT 1 FROM incident_history h WHERE h.incident_id = i.id AND h.actor = 'demo')""",
        )
        is True
    )
    assert db.scalar(demo_conn, "SELECT synthetic FROM admin_unit WHERE code = '620802'") is False


def test_incident_history_matches_status(demo_conn):
    bad = db.scalar(
        demo_conn,
        """SELECT count(*) FROM incident i WHERE i.status <> (
        SELECT to_status FROM incident_history h WHERE h.incident_id = i.id ORDER BY at DESC, id DESC LIMIT 1)""",
    )
    assert bad == 0


def test_dispatched_cases_name_whom_they_were_sent_to(demo_conn):
    """Every demo case that went through 已派遣 names its assignee (its department) on the case
    and on that history row, so the work queue's 派遣给 is not empty beside 已派遣."""
    rows = db.rows(
        demo_conn,
        """SELECT i.status, i.assigned_to = c.department AS named, h.assigned_to = c.department AS recorded
             FROM incident i JOIN category c USING (minor_code)
             LEFT JOIN incident_history h ON h.incident_id = i.id AND h.to_status = 'dispatched'
            WHERE i.synthetic""",
    )
    sent = [r for r in rows if r["status"] not in ("received", "registered")]
    assert sent and all(r["named"] and r["recorded"] for r in sent)
    assert all(r["named"] is None for r in rows if r["status"] in ("received", "registered"))


def test_demo_is_deterministic(demo_conn):
    from geo.demo import generator as demo

    info = db.scalar(demo_conn, "SELECT value FROM setting WHERE key = 'demo'")
    from datetime import date, datetime

    world = demo.generate(
        seed=info["seed"],
        end=date.fromisoformat(info["end"]),
        years=info["years"],
        as_of=datetime.fromisoformat(info["as_of"]),
        progress=lambda m: None,
    )
    official = world.grids[world.grids["layer"] == "official"]
    codes = db.rows(demo_conn, "SELECT code FROM grid_current ORDER BY code")
    assert sorted(official["code"]) == [r["code"] for r in codes]
    assert len(world.incidents) == db.scalar(demo_conn, "SELECT count(*) FROM incident WHERE synthetic")


def test_migrations_rerun_safely(conn):
    assert db.migrate(conn) == []
    assert db.migrate(conn) == []
    assert db.scalar(conn, "SELECT count(*) FROM schema_migration") == len(db.migrations())


def test_grid_boundary_is_never_edited_in_place(demo_conn):
    import psycopg2

    code = db.scalar(demo_conn, "SELECT code FROM grid_current LIMIT 1")
    with pytest.raises(psycopg2.errors.RaiseException, match="never edited in place"):
        db.execute(
            demo_conn, "UPDATE grid SET geom = ST_Multi(ST_Buffer(geom, 0.001)) WHERE code = %s AND valid_to IS NULL", (code,)
        )
    demo_conn.rollback()
    with pytest.raises(psycopg2.errors.RaiseException, match="cannot be deleted"):
        db.execute(demo_conn, "DELETE FROM grid WHERE code = %s", (code,))
    demo_conn.rollback()
