"""The Citus path (issue #17, docs/scaling.md "A province"): every table that holds rows of
a unit carries the distribution key itself, the administrative code or a grid code that
begins with it, so that its rows can be co-located with their unit's on one worker and a
county's queries prune to its shards. A new scoped table without one fails here; the
tables kept the same for everyone (reference tables in Citus) are the ones without
row-level security, listed by tests/test_security.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

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


def test_row_level_security_reads_each_rows_own_key(conn):
    """A scoped table's policy tests the row's own key (in_scope(admin_code), a grid code's
    community, a unit's code), never looks another table up per row: such a lookup is a join
    by id that the join test below cannot see, and would cross workers. plan_grid and
    plan_edit read their plan by id until 0100."""
    rows = db.rows(conn, "SELECT tablename, policyname, qual, with_check FROM pg_policies WHERE schemaname = 'public'")
    assert len(rows) > 15
    expressions = [(r["tablename"], e) for r in rows if r["tablename"] not in LOCAL for e in (r["qual"], r["with_check"]) if e]
    off = {
        (table, e)
        for table, e in expressions
        if re.search(r"\b(SELECT|EXISTS|FROM)\b", e, re.I)
        or not re.search(r"\bin_scope\(\W*(left\W+)?(admin_code|grid_code|code)\b", e)
    }
    assert off == set()
    assert {"plan_grid", "plan_edit"} <= {table for table, _ in expressions}


def test_a_plans_edits_carry_the_plans_unit(conn, tiny_jurisdiction):
    plan = db.scalar(conn, "INSERT INTO plan (admin_code, name) VALUES ('620802001001', 't') RETURNING id")
    db.execute(conn, "INSERT INTO plan_edit (plan_id, seq, op, before, after) VALUES (%s, 1, 'draw', '{}', '{}')", (plan,))
    assert db.scalar(conn, "SELECT admin_code FROM plan_edit WHERE plan_id = %s", (plan,)) == "620802001001"
    conn.rollback()


def test_a_plans_grids_carry_the_plans_unit_and_follow_it(conn, tiny_jurisdiction):
    """plan_grid.admin_code (0097) is the plan's, whatever the writer passes, and follows a
    plan moved to another unit, as its edits do: publish joins plan_grid to plan on it."""
    plan = db.scalar(conn, "INSERT INTO plan (admin_code, name) VALUES ('620802001001', 't') RETURNING id")
    db.execute(
        conn,
        """INSERT INTO plan_grid (plan_id, code, name, kind, action, admin_code)
           VALUES (%s, '620802001001001', 'g', 'urban', 'removed', '620802001002')""",
        (plan,),
    )
    db.execute(conn, "INSERT INTO plan_edit (plan_id, seq, op, before, after) VALUES (%s, 1, 'draw', '{}', '{}')", (plan,))
    units = """SELECT (SELECT admin_code FROM plan_grid WHERE plan_id = %(p)s) AS grids,
                      (SELECT admin_code FROM plan_edit WHERE plan_id = %(p)s) AS edits"""
    assert tuple(db.one(conn, units, dict(p=plan)).values()) == ("620802001001", "620802001001")
    db.execute(conn, "UPDATE plan_grid SET admin_code = '620802001002' WHERE plan_id = %s", (plan,))
    assert db.scalar(conn, "SELECT admin_code FROM plan_grid WHERE plan_id = %s", (plan,)) == "620802001001"
    db.execute(conn, "UPDATE plan SET admin_code = '620802001002' WHERE id = %s", (plan,))
    assert tuple(db.one(conn, units, dict(p=plan)).values()) == ("620802001002", "620802001002")
    assert db.scalar(
        conn, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'plan_grid'::regclass AND attname = 'admin_code'"
    )
    conn.rollback()


# Joins of two distributed tables whose condition does not equate their keys, each with what
# the move to Citus does about it. Only joins that cross units by design belong here: a join
# that can carry the key must (0097-0099 keyed the last four that could: alarm ↔ link twice
# in alert_group, link ↔ incident in geo/alerts/lifecycle.py, plan ↔ plan_grid in
# geo/planning/publish.py). Anything else fails test_no_join_between_distributed_tables_without_the_key.
KNOWN_CROSS_UNIT: set[tuple[str, str]] = {
    # The overlapping pairs of a community's coverage report (_overlaps): its grids and any
    # neighbour's entering it, by geometry across the community boundary. In Citus it reads a
    # reference table of the current grid outlines (code, geom), so it runs on one node.
    ("geo/coverage/report.py", "a.code < b.code AND ST_Intersects(a.geom, b.geom) AND NOT ST_Touches(a.geom, b.geom)"),
}
# A link between rows of two units carries the key of each end: alert_incident.admin_code is
# its incident's (row-level security reads it), alert_admin_code its alarm's (0099). Joined
# to the other end's table, a link's key is that end's column and no other.
LINK_KEYS = {("alert_incident", "alert"): "alert_admin_code"}
ROOT = Path(__file__).resolve().parent.parent
REFERENCE = {"admin_unit"}  # under row-level security for its names, but a reference table in Citus
_JOIN = re.compile(
    r"\bJOIN\s+(?:LATERAL\s+)?(?:public\.)?([a-z_][a-z0-9_]*)(?:\s+(?:AS\s+)?([a-z_][a-z0-9_]*))?\s+ON\s+(.*?)"
    r"(?=\b(?:LEFT|RIGHT|INNER|FULL|CROSS|JOIN|WHERE|GROUP|ORDER|LIMIT|UNION|HAVING|RETURNING)\b|;|$)",
    re.I | re.S,
)
_RELATION = re.compile(
    r"\b(?:FROM|JOIN)\s+(?:ONLY\s+|LATERAL\s+)?(?:public\.)?([a-z_][a-z0-9_]*)(?:\s+(?:AS\s+)?([a-z_][a-z0-9_]*))?", re.I
)
_NOT_ALIAS = {
    "on",
    "where",
    "join",
    "left",
    "right",
    "inner",
    "cross",
    "full",
    "group",
    "order",
    "using",
    "limit",
    "set",
    "natural",
}


def _sql_texts(conn):
    """Every SQL text with a JOIN: string constants of geo/**/*.py and the current bodies of
    the database's functions and views."""
    for path in sorted((ROOT / "geo").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"\bJOIN\b", node.value, re.I):
                yield path.relative_to(ROOT).as_posix(), node.value
    for r in db.rows(
        conn,
        """SELECT 'function ' || p.proname AS name, pg_get_functiondef(p.oid) AS body
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
            WHERE n.nspname = 'public' AND l.lanname IN ('sql', 'plpgsql')
           UNION ALL SELECT 'view ' || viewname, pg_get_viewdef(viewname::regclass) FROM pg_views WHERE schemaname = 'public'""",
    ):
        if r["body"] and re.search(r"\bJOIN\b", r["body"], re.I):
            yield r["name"], r["body"]


def _distributed(conn) -> set[str]:
    rows = db.rows(
        conn,
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relrowsecurity""",
    )
    return {r["relname"] for r in rows} - LOCAL - REFERENCE


def _keys(table: str, others: set[str]) -> set[str]:
    """The columns that key `table` in a join with `others`."""
    for (link, end), column in LINK_KEYS.items():
        if table == link and end in others:
            return {column}
    return {"admin_code", "grid_code", "code"}


def _conjuncts(cond: str) -> list[str]:
    """The condition's terms joined by AND at the top level, outer parentheses off
    (pg_get_viewdef wraps every term); an OR stays one term."""
    kept, depth = [], 0
    for ch in cond:
        if ch == ")" and depth == 0:
            continue  # closes a parenthesis opened before ON
        depth += (ch == "(") - (ch == ")")
        kept.append(ch)
    text = "".join(kept).strip()
    while text.startswith("("):
        depth = 0
        for i, ch in enumerate(text):
            depth += (ch == "(") - (ch == ")")
            if depth == 0:
                break
        if i != len(text) - 1:
            break
        text = text[1:-1].strip()
    parts, depth, start = [], 0, 0
    for m in re.finditer(r"[()]|\bAND\b", text, re.I):
        if m.group() in "()":
            depth += 1 if m.group() == "(" else -1
        elif depth == 0:
            parts.append(text[start : m.start()])
            start = m.end()
    parts.append(text[start:])
    return [text] if len(parts) == 1 else [t for p in parts for t in _conjuncts(p)]


_EQUALS = re.compile(r"([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\s*=\s*([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)", re.I)


def _keyed(cond: str, tables: dict[str, str]) -> bool:
    """Whether `cond` puts the rows of all its sides (alias -> table) in one unit: terms of
    its top-level AND equating one side's key to another's (`a.admin_code = b.admin_code`,
    `g.code = i.grid_code`) connect every side. Anything else (`<`, `<>`, geometry, ids, an
    equality under OR) relates rows of any two units. A prefix relation (a grid code's
    left(code, 9), `LIKE code || '%'`) is not read as one unit: none joins two distributed
    tables, and a town's rows lie on many communities' shards."""
    group = {a: a for a in tables}
    for term in _conjuncts(cond):
        bare = re.sub(r"::[a-z_]+(?: varying)?(?:\(\d+\))?|[()]", "", term, flags=re.I).strip()
        m = _EQUALS.fullmatch(bare)
        if not m:
            continue
        a, ka, b, kb = (g.lower() for g in m.groups())
        if a in tables and b in tables and a != b:
            if ka in _keys(tables[a], {tables[b]}) and kb in _keys(tables[b], {tables[a]}):
                ga, gb = group[a], group[b]
                group = {x: ga if g == gb else g for x, g in group.items()}
    return len(set(group.values())) == 1


@pytest.mark.parametrize(
    "cond, keyed",
    [
        ("g.code = i.grid_code", True),
        ("(((g.code)::text = (i.grid_code)::text))", True),  # as pg_get_viewdef writes it
        ("i.id = ai.incident_id AND i.admin_code = ai.admin_code", True),
        ("al.id = ai.alert_id AND (al.admin_code = ai.alert_admin_code)", True),
        ("al.id = ai.alert_id AND al.admin_code = ai.admin_code", False),  # a link's key by the end it joins
        ("i.id = ai.incident_id", False),
        ("a.code < b.code AND ST_Intersects(a.geom, b.geom) AND NOT ST_Touches(a.geom, b.geom)", False),
        ("ST_Intersects(a.geom, b.geom) AND a.code <> b.code", False),
        ("a.code <= b.code", False),
        ("a.id = b.id OR a.admin_code = b.admin_code", False),
        ("a.id = b.id AND (a.admin_code = b.admin_code OR a.code = b.code)", False),
        ("left(a.code, 12) = h.admin_code", False),
        ("a.layer = b.layer AND a.code = b.code", True),
        ("a.code = b.code AND b.admin_code = h.admin_code", True),
        ("a.code = b.code AND h.id = b.id", False),  # h joined by id
    ],
)
def test_the_join_reader_counts_only_equated_keys(cond, keyed):
    tables = {"g": "grid", "a": "grid", "b": "grid", "i": "incident", "ai": "alert_incident", "al": "alert", "h": "household"}
    sides = set(re.findall(r"\b([a-z]+)\.[a-z]", cond))
    assert _keyed(cond, {a: tables[a] for a in sides}) is keyed


def test_no_join_between_distributed_tables_without_the_key(conn):
    """A join of two distributed tables stays on one worker only if its condition equates
    their keys (admin_code, grid_code, a unit's or grid's code; _keyed says what counts): a
    join on ids or geometry, or one that merely names the keys (`a.grid_code <> b.grid_code`),
    would cross districts. Joins written as `JOIN ... ON`, in the app's SQL and in the
    database's functions and views (comma joins in WHERE are not read)."""
    distributed = _distributed(conn) | {"grid_current"}
    keyed, unkeyed = 0, set()
    for where, text in _sql_texts(conn):
        text = re.sub(r"--[^\n]*", "", text)
        alias = {}
        for m in _RELATION.finditer(text):
            table, name = m.group(1).lower(), (m.group(2) or "").lower()
            alias[name if name and name not in _NOT_ALIAS else table] = table
            alias.setdefault(table, table)
        for m in _JOIN.finditer(text):
            cond = " ".join(m.group(3).split())
            sides = {a.lower() for a in re.findall(r"\b([a-z_][a-z0-9_]*)\.[a-z_]", cond, re.I)}
            sides = {a for a in sides if alias.get(a) in distributed}
            if len(sides) < 2:
                continue
            if _keyed(cond, {a: alias[a] for a in sides}):
                keyed += 1
            else:
                unkeyed.add((where, cond))
    assert keyed >= 10  # the reader still finds the keyed joins (grid ↔ incident, grid ↔ grid_risk, ...)
    assert {(w, c) for w, c in unkeyed if (w, c) not in KNOWN_CROSS_UNIT} == set()
    assert KNOWN_CROSS_UNIT <= unkeyed  # one gone or keyed: take it off the list
