"""The Citus path (issue #17, docs/scaling.md "A province"): every table that holds rows of
a unit carries the distribution key itself, the administrative code or a grid code that
begins with it, so that its rows can be co-located with their unit's on one worker and a
county's queries prune to its shards. A new scoped table without one fails here; the
tables kept the same for everyone (reference tables in Citus) are the ones without
row-level security, listed by tests/test_security.py."""

from __future__ import annotations

from geo import db

KEYS = {"admin_code", "grid_code"}
# Tables whose own code column is the unit's (grid.code and plan_grid.code are grid codes,
# admin_unit.code the unit's code).
OWN_CODE = {"admin_unit", "grid", "plan_grid"}
# Per-worker caches, never distributed: each node keeps its own.
LOCAL = {"day_cache"}


def test_every_scoped_table_carries_its_distribution_key(conn):
    rows = db.rows(
        conn,
        """
        SELECT c.relname, array_agg(a.attname::text) AS columns
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relrowsecurity
         GROUP BY c.relname""",
    )
    assert len(rows) > 15
    missing = {
        r["relname"]
        for r in rows
        if not KEYS & set(r["columns"])
        and not (r["relname"] in OWN_CODE and "code" in r["columns"])
        and r["relname"] not in LOCAL
    }
    assert missing == set()


def test_a_plans_edits_carry_the_plans_unit(conn, tiny_jurisdiction):
    plan = db.scalar(conn, "INSERT INTO plan (admin_code, name) VALUES ('620802001001', 't') RETURNING id")
    db.execute(conn, "INSERT INTO plan_edit (plan_id, seq, op, before, after) VALUES (%s, 1, 'draw', '{}', '{}')", (plan,))
    assert db.scalar(conn, "SELECT admin_code FROM plan_edit WHERE plan_id = %s", (plan,)) == "620802001001"
    conn.rollback()
