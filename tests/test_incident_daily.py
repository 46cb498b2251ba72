"""incident_daily (migration 0018): after any insert, update, delete or truncate of incidents
the aggregate equals a GROUP BY over the incident table exactly, and the grid risk read from
it equals the risk read row by row."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import shapely

from geo import db
from geo.risk import tiers as risk

GRID_A = "620802001001001"
GRID_B = "620802001002001"
BOX_A = shapely.box(106.650, 35.530, 106.655, 35.535)
BOX_B = shapely.box(106.660, 35.530, 106.665, 35.535)
NOW = datetime.now(timezone.utc).replace(microsecond=0)

# What incident_daily must hold: the same GROUP BY written out from the definition.
EXPECTED = """
    SELECT (reported_at AT TIME ZONE 'Asia/Shanghai')::date AS day, COALESCE(grid_code, '') AS grid_code, admin_code,
           minor_code, CASE WHEN status IN ('closed', 'followed_up') THEN 'resolved'
                            WHEN status = 'cancelled' THEN 'cancelled' ELSE 'open' END AS bucket,
           COALESCE(risk_tier, '') AS risk_tier, COALESCE(level_handled, '') AS level_handled, count(*)::int AS n
      FROM incident GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7"""
ACTUAL = """SELECT day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled, n
              FROM incident_daily ORDER BY 1, 2, 3, 4, 5, 6, 7"""


@pytest.fixture
def world(tiny_jurisdiction, categories, add_grids, conn):
    add_grids([(GRID_A, "A网格", "urban", BOX_A), (GRID_B, "B网格", "rural", BOX_B)])
    risk.load_config(conn)
    return conn


def add(conn, rows: list[tuple]) -> list[int]:
    """Insert (grid_code or None, minor_code, status, reported_at, level) rows in ONE statement."""
    with db.transaction(conn) as cur:
        cur.execute(
            """INSERT INTO incident (title, minor_code, source, reported_at, status, level_handled, grid_code, admin_code,
                                     geom, people_involved, conflict_intensity)
               SELECT 't', r.minor, 'patrol', r.at, r.status, r.level, r.grid,
                      COALESCE(left(r.grid, 12), '620802001001'), ST_SetSRID(ST_MakePoint(106.652, 35.532), 4326),
                      r.people, r.intensity
                 FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::int[], %s::int[])
                      r (grid, minor, status, at, level, people, intensity)
               RETURNING id""",
            [list(c) for c in zip(*rows)],
        )
        return [r[0] for r in cur.fetchall()]


def assert_exact(conn):
    assert db.rows(conn, ACTUAL) == db.rows(conn, EXPECTED)


def sample_rows():
    day = timedelta(days=1)
    return [
        (GRID_A, "0101", "in_progress", NOW, None, 1, 0),
        (GRID_A, "0101", "in_progress", NOW - timedelta(minutes=5), None, 1, 0),  # same key: n = 2
        (GRID_A, "0102", "closed", NOW - 3 * day, "community", 40, 3),  # a high-tier one
        (GRID_B, "0301", "cancelled", NOW - 40 * day, None, 1, 0),
        (None, "0101", "received", NOW - 2 * day, None, 6, 1),  # in no grid
        (GRID_B, "0103", "followed_up", NOW - 100 * day, "town", 1, 0),
    ]


def test_inserts_updates_deletes_and_truncate_keep_the_aggregate_exact(world):
    conn = world
    ids = add(conn, sample_rows())
    assert_exact(conn)
    assert db.scalar(conn, "SELECT n FROM incident_daily WHERE minor_code = '0101' AND grid_code = %s", (GRID_A,)) == 2

    # Updates that move keys (status bucket, grid, day, tier), several rows in one statement.
    with db.transaction(conn) as cur:
        for frm, to in (("in_progress", "verified"), ("verified", "closed")):  # allowed steps, recorded
            cur.execute("UPDATE incident SET status = %s, level_handled = 'community' WHERE id = ANY(%s)", (to, ids[:2]))
            cur.execute(
                """INSERT INTO incident_history (incident_id, from_status, to_status, actor, admin_code)
                           SELECT id, %s, %s, 'test', admin_code FROM incident WHERE id = ANY(%s)""",
                (frm, to, ids[:2]),
            )
        cur.execute("UPDATE incident SET grid_code = %s, admin_code = left(%s, 12) WHERE id = %s", (GRID_B, GRID_B, ids[4]))
        cur.execute("UPDATE incident SET reported_at = reported_at - interval '3 days' WHERE id = %s", (ids[3],))
    assert_exact(conn)
    with db.transaction(conn) as cur:  # the risk trigger re-tiers: the tier key moves
        cur.execute("UPDATE incident SET people_involved = 1, conflict_intensity = 0 WHERE id = %s", (ids[2],))
    assert_exact(conn)
    with db.transaction(conn) as cur:  # an update that moves no key writes nothing
        cur.execute("UPDATE incident SET title = 'x'")
    assert_exact(conn)

    with db.transaction(conn) as cur:
        cur.execute("DELETE FROM incident WHERE id = ANY(%s)", (ids[2:5],))  # those without history
    assert_exact(conn)
    assert db.scalar(conn, "SELECT count(*) FROM incident_daily WHERE n = 0") == 0  # emptied keys are removed

    with db.transaction(conn) as cur:
        cur.execute("TRUNCATE incident_history, incident CASCADE")
    assert db.scalar(conn, "SELECT count(*) FROM incident_daily") == 0


def test_a_rolled_back_statement_leaves_no_trace(world):
    conn = world
    add(conn, sample_rows()[:2])
    with pytest.raises(Exception):
        with db.transaction(conn) as cur:
            cur.execute("DELETE FROM incident")
            raise RuntimeError("abort")
    assert_exact(conn)
    assert db.scalar(conn, "SELECT sum(n) FROM incident_daily") == 2


def test_counts_since_an_instant_are_exact_at_the_partial_first_day(world):
    conn = world
    add(conn, sample_rows())
    for since in (NOW - timedelta(days=2, hours=5), NOW - timedelta(days=40), NOW - timedelta(minutes=3), NOW):
        got = db.scalar(conn, "SELECT COALESCE(sum(n), 0) FROM incident_counts_since(%s)", (since,))
        assert got == db.scalar(conn, "SELECT count(*) FROM incident WHERE reported_at >= %s", (since,)), since


def row_by_row_weight(conn, grid: str) -> float:
    """The decayed incident weight of migration 0004's definition, one incident at a time."""
    return db.scalar(
        conn,
        """
        SELECT COALESCE(sum(CASE risk_tier WHEN 'high' THEN 10 WHEN 'medium' THEN 3 WHEN 'low' THEN 0.5 ELSE 0 END
                            * power(0.5, extract(epoch FROM now() - reported_at) / 86400 / 30)), 0)::float
          FROM incident WHERE grid_code = %s AND status <> 'cancelled'
           AND reported_at > now() - interval '90 days' AND reported_at <= now()""",
        (grid,),
    )


def test_grid_risk_from_the_aggregate_equals_the_row_by_row_definition(world):
    conn = world
    day = timedelta(days=1)
    rows = [
        (GRID_A, "0101", "in_progress", NOW - k * day - timedelta(hours=k % 24, minutes=7 * k), None, 1 + k % 40, k % 4)
        for k in range(0, 95)
    ]
    add(conn, rows)
    risk.recompute_grids(conn)
    got = db.scalar(conn, "SELECT (factors->'incidents'->>'value')::float FROM grid_risk WHERE grid_code = %s", (GRID_A,))
    assert got == pytest.approx(row_by_row_weight(conn, GRID_A), abs=0.006)  # the value is rounded to 2 decimals
    counts = db.one(
        conn,
        """SELECT count(*) FILTER (WHERE risk_tier = 'high') AS h, count(*) FILTER (WHERE risk_tier = 'medium') AS m,
                                    count(*) FILTER (WHERE risk_tier = 'low') AS l FROM incident
                              WHERE reported_at > now() - interval '90 days'""",
    )
    text = db.scalar(conn, "SELECT factors->'incidents'->>'text' FROM grid_risk WHERE grid_code = %s", (GRID_A,))
    assert f"高{counts['h']}/中{counts['m']}/低{counts['l']} 起" in text
