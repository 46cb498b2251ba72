"""History loads (`python -m geo import incidents FILE --history`): closed months as whole partitions.

Why: a county's back catalogue is millions of incidents in months nobody works on any more.
Inserted row by row into `incident`, every row maintains seventeen indexes, the daily
aggregate and the triggers (11,600 rows/s at city scale, issue #17). Here the rows of each
closed month (before the current local month, with no partition yet) are copied into a
fresh table without indexes, its indexes are built once afterwards (a sorted build is many
times cheaper than row-by-row maintenance), the daily aggregate is added with one GROUP BY
per month (0091), and the table is ATTACHed as the month's partition. Each month table is
created with the CHECK constraint of its range, so ATTACH skips the validation scan.

What stays the same as the normal path (tests/test_history_load.py compares the two on
one file): the file is read and checked by the same code (geo.io.importer.prepare), the risk
tier comes from the same set-based expression (writers.risk_select), the rows get an
'imported' history row, the day versions, the data version, the unknown-factor context and
the alarms are what the statement triggers would have done (0091), and the grids touched
are recomputed once. Everything is one transaction with the rest of the import: a load that
fails anywhere leaves no table, no partition and no row behind.

The rows of the current month, of a month that already has a partition (it holds rows, or
it was made ahead of time), and the rows that update an existing incident by 工单编号 go
through the normal path.
"""

from __future__ import annotations

import contextlib

import psycopg2
from psycopg2 import sql

from geo.io import writers
from geo.io.problems import ImportFailed

LOAD_MEMORY = ("256MB", "1GB")  # work_mem, maintenance_work_mem of the load's own statements
ATTACH_WAIT_S = 30  # how long ATTACH may wait for sessions reading incident before the load gives up


@contextlib.contextmanager
def _step(ctx, what: str):
    """A database error inside names the file and the step; the caller's transaction then
    rolls back everything (month tables, partitions attached, rows), so nothing is left."""
    try:
        yield
    except psycopg2.Error as exc:
        detail = (exc.pgerror or str(exc)).strip().splitlines()[0]
        raise ImportFailed(ctx.path, [f"history load, {what}: {detail}"]) from exc


def eligible_months(cur) -> list:
    """The months of the staged rows that can be loaded as fresh partitions: closed (before
    the current local month) and without a table of their name (attached or archived)."""
    cur.execute(
        """SELECT m, incident_partition_name(m) FROM (
               SELECT DISTINCT incident_month(reported_at) AS m FROM import_stage) x
            WHERE m < incident_month(now()) AND to_regclass(incident_partition_name(m)) IS NULL
            ORDER BY m"""
    )
    return cur.fetchall()


def load(cur, ctx, names: list[str]) -> tuple[int, list[str], list[str]]:
    """Load the staged rows of the eligible months as new partitions, and take them out of
    import_stage (the rest goes the normal way). Returns (rows, grids touched, partitions).
    Raises ImportFailed naming the file and the step when the database refuses any of it."""
    with _step(ctx, "preparing the month tables"):
        months = _create_months(cur, ctx)
    if not months:
        return 0, [], []
    parent = f"incident_load_{ctx.batch}"
    # Memory for this transaction's sorts (the rows in file order, the keys by id) and index
    # builds: the defaults (32 MB, 256 MB) spill a few hundred thousand rows to disk.
    cur.execute("SELECT current_setting('work_mem'), current_setting('maintenance_work_mem')")
    before = cur.fetchone()
    cur.execute("SELECT set_config('work_mem', %s, true), set_config('maintenance_work_mem', %s, true)", LOAD_MEMORY)
    with _step(ctx, "copying the rows"):
        rows, touched = _copy_rows(cur, ctx, names, parent, months)
    with _step(ctx, "building indexes"):
        ctx.say("索引 building the months' indexes …", 0.9)
        for _, name in months:
            build_indexes(cur, name)
    with _step(ctx, f"attaching the months (waited {ATTACH_WAIT_S} s for sessions reading incident; try again)"):
        ctx.say("挂载 attaching the months …", 0.92)
        # ATTACH locks the default partition exclusively: never wait forever behind a reader
        cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{ATTACH_WAIT_S}s",))
        for start, name in months:
            cur.execute("SELECT incident_month_add(%s, 1)", (start,))
            cur.execute(
                sql.SQL("ALTER TABLE incident ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(name), sql.Literal(start), sql.Literal(cur.fetchone()[0])
                )
            )
        cur.execute("SELECT set_config('lock_timeout', '0', true)")
    cur.execute("SELECT set_config('work_mem', %s, true), set_config('maintenance_work_mem', %s, true)", before)
    with _step(ctx, "daily aggregates, versions and risk context"):
        ctx.say("汇总 daily aggregates, versions, risk context …", 0.93)
        for _, name in months:
            cur.execute("SELECT incident_daily_add(%s::regclass, 1), incident_month_versions(%s::regclass)", (name, name))
        ctx.say("风险 unknown-factor context and alarms of the loaded rows …", 0.94)
        for _, name in months:
            cur.execute("SELECT incident_loaded_context(%s::regclass)", (name,))
    return rows, touched, [name for _, name in months]


def _create_months(cur, ctx) -> list:
    """Make the fresh month tables (index-less, each with the CHECK of its range, as the
    partitions of a loading table incident_load_<batch>) for the eligible months."""
    # Rows waiting in the default partition move into their months first: an ATTACH of a
    # month whose rows sit in the default would be refused.
    cur.execute("SELECT incident_partitions_ensure()")
    months = eligible_months(cur)
    if not months:
        return months
    ctx.say(f"历史 loading {len(months)} closed month(s) as new partitions …", 0.86)
    parent = f"incident_load_{ctx.batch}"
    cur.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE incident INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS "
            "INCLUDING STORAGE) PARTITION BY RANGE (reported_at)"
        ).format(sql.Identifier(parent))
    )
    for start, name in months:
        cur.execute("SELECT incident_month_add(%s, 1)", (start,))
        end = cur.fetchone()[0]
        # The CHECK constraint of the range: ATTACH PARTITION finds it and skips its scan.
        cur.execute(
            sql.SQL(
                "CREATE TABLE {name} PARTITION OF {parent} (CONSTRAINT {check} CHECK (reported_at >= {a} AND reported_at < {b})) "
                "FOR VALUES FROM ({a}) TO ({b})"
            ).format(
                name=sql.Identifier(name),
                parent=sql.Identifier(parent),
                check=sql.Identifier(name + "_month"),
                a=sql.Literal(start),
                b=sql.Literal(end),
            )
        )
    return months


def _copy_rows(cur, ctx, names: list[str], parent: str, months: list) -> tuple[int, list[str]]:
    """One INSERT routes the rows into their month tables (ids from incident's sequence, risk
    tier as the normal path scores it); then their keys and 'imported' history rows; then the
    month tables are detached from the loading table, which goes."""
    in_months = "incident_month(s.reported_at) = ANY(%(months)s::timestamptz[])"
    cur.execute(
        f"""INSERT INTO {parent} ({", ".join(names)}, grid_code, admin_code, geom, import_batch, risk_score, risk_tier, risk_reasons)
            {writers.risk_select(names, "import_stage", in_months)}""",
        {"batch": ctx.batch, "months": [m for m, _ in months]},
    )
    rows = cur.rowcount
    cur.execute(f"DELETE FROM import_stage s WHERE {in_months}", {"months": [m for m, _ in months]})
    ctx.say("历史 keys and status history of the loaded rows …", 0.88)
    cur.execute(f"SELECT array_agg(DISTINCT grid_code) FILTER (WHERE grid_code IS NOT NULL) FROM {parent}")
    touched = cur.fetchone()[0] or []
    # Global uniqueness of id and 工单编号 (incident_key, 0090), then the history rows that
    # reference them, as the normal path writes them.
    cur.execute(
        f"INSERT INTO incident_key (id, reported_at, external_id) SELECT id, reported_at, external_id FROM {parent} ORDER BY id"
    )
    cur.execute(
        f"""INSERT INTO incident_history (incident_id, to_status, actor, note, admin_code)
            SELECT id, status, %s, 'imported', admin_code FROM {parent} ORDER BY id""",
        (ctx.actor,),
    )
    ctx.say("历史 detaching the month tables from the loading table …", 0.89)
    for _, name in months:
        cur.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(sql.Identifier(parent), sql.Identifier(name)))
    cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(parent)))
    return rows, touched


def build_indexes(cur, table: str) -> None:
    """Build on `table` every index `incident` has (the primary key included), read from the
    catalog so that an index a later migration adds is built too, with the same definitions,
    so that ATTACH adopts them instead of building its own."""
    cur.execute(
        """SELECT i.indisprimary, pg_get_indexdef(i.indexrelid), c.relname
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = 'incident'::regclass ORDER BY c.relname"""
    )
    defs = cur.fetchall()
    ident = sql.Identifier(table).as_string(cur)
    for primary, definition, _name in defs:
        if primary:
            cur.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id, reported_at)").format(sql.Identifier(table)))
            continue
        # "CREATE INDEX name ON ONLY public.incident USING ..." -> "CREATE INDEX ON <table> USING ..."
        head, rest = definition.split(" ON ", 1)
        rest = rest.split(" USING ", 1)[1]
        unique = "UNIQUE " if head.startswith("CREATE UNIQUE") else ""
        cur.execute(f"CREATE {unique}INDEX ON {ident} USING {rest}")
