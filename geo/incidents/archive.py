"""Old months of incidents detached from `incident` and attached again (`python -m geo archive`).

Why: `incident` is partitioned by local month (migration 0090). A month nobody looks at any
more can leave the live table whole: DETACH PARTITION keeps its table (incident_p2023_05)
with every row, index and id, so the screens, the aggregates and every query stop paying
for it, and it can be dumped to cheap storage or attached again when someone needs it.

What detaching changes, and why each step: the daily aggregate loses the month's rows and
the day versions and the data version move (the screens and tiles recompute those days,
0091); the grids of the month are re-scored (their risk counts recent incidents only, but a
tier must never rest on rows that are gone). The keys of the month's incidents stay in
incident_key: their status history, reminders and alarm links keep pointing at rows that
still exist (in the archive), and a 工单编号 of an archived incident cannot come back as a
duplicate. Attaching does the reverse; the month table carries the CHECK constraint of its
range, so ATTACH skips the scan. Only closed months with no incident still being worked on
can leave: an open case detached would drop out of every work queue.
"""

from __future__ import annotations

import re
from datetime import datetime

import psycopg2
from psycopg2 import sql

from geo import db

NAME = re.compile(r"^incident_p(\d{4})_(\d{2})$")


class ArchiveError(ValueError):
    """The month cannot be detached or attached; the message says why and what to do."""


def partition_name(month: str) -> str:
    """'2023-05' (or '2023-5', '202305') -> 'incident_p2023_05'."""
    m = re.fullmatch(r"\s*(\d{4})-?(\d{1,2})\s*", month or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ArchiveError(f"month {month!r}: give it as YYYY-MM, e.g. 2023-05")
    return f"incident_p{m.group(1)}_{int(m.group(2)):02d}"


def months(conn) -> list[dict]:
    """Every month table, attached or not: name, month, state, rows, bytes."""
    found = db.rows(
        conn,
        """SELECT c.relname AS name, i.inhparent IS NOT NULL AS attached, pg_total_relation_size(c.oid) AS bytes
             FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'incident'::regclass
            WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND c.relname ~ '^incident_p[0-9]{4}_[0-9]{2}$'
            ORDER BY c.relname""",
    )
    for r in found:
        y, mo = NAME.match(r["name"]).groups()
        r["month"] = f"{y}-{mo}"
        r["rows"] = db.scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(r["name"])))
        r["state"] = "attached" if r["attached"] else "detached"
    conn.commit()
    return found


def _bounds(cur, name: str) -> tuple[datetime, datetime]:
    y, mo = NAME.match(name).groups()
    cur.execute(
        "SELECT x, incident_month_add(x, 1) FROM (SELECT make_timestamptz(%s, %s, 1, 0, 0, 0, 'Asia/Shanghai') AS x) s",
        (int(y), int(mo)),
    )
    return cur.fetchone()


def _state(cur, name: str) -> str | None:
    cur.execute(
        """SELECT CASE WHEN i.inhrelid IS NULL THEN 'detached' ELSE 'attached' END
             FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'incident'::regclass
            WHERE c.oid = to_regclass(%s)""",
        (name,),
    )
    row = cur.fetchone()
    return row[0] if row else None


def _grids(cur, name: str) -> list[str]:
    cur.execute(sql.SQL("SELECT array_agg(DISTINCT grid_code) FROM {} WHERE grid_code IS NOT NULL").format(sql.Identifier(name)))
    return cur.fetchone()[0] or []


WAIT_S = 30  # how long DETACH/ATTACH may wait for sessions reading incident


def _wait_for_readers(cur) -> None:
    """DETACH and ATTACH lock `incident` (and its default partition) against the sessions
    reading it: wait at most WAIT_S for them, then fail (and change nothing) instead of
    queueing every screen's query behind the lock request indefinitely."""
    cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{WAIT_S}s",))


def _busy(month: str) -> ArchiveError:
    return ArchiveError(f"{month}: other sessions kept incident busy for {WAIT_S} s (nothing changed); try again")


def detach(conn, month: str) -> dict:
    """Detach a closed month whose incidents are all closed or cancelled. One transaction."""
    try:
        return _detach(conn, month)
    except psycopg2.errors.LockNotAvailable:
        raise _busy(month) from None


def attach(conn, month: str) -> dict:
    """Attach a detached month again: rows, aggregates, versions and risk as before. One transaction."""
    try:
        return _attach(conn, month)
    except psycopg2.errors.LockNotAvailable:
        raise _busy(month) from None


def _detach(conn, month: str) -> dict:
    name = partition_name(month)
    with db.transaction(conn) as cur:
        state = _state(cur, name)
        if state != "attached":
            raise ArchiveError(
                f"{month}: no attached month {name} ({'already detached' if state else 'no such month'}; see python -m geo archive list)"
            )
        start, end = _bounds(cur, name)
        cur.execute("SELECT incident_month(now())")
        if start >= cur.fetchone()[0]:
            raise ArchiveError(f"{month}: only months before the current one can be archived")
        cur.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE status NOT IN ('closed', 'followed_up', 'cancelled')").format(
                sql.Identifier(name)
            )
        )
        still_open = cur.fetchone()[0]
        if still_open:
            raise ArchiveError(
                f"{month}: {still_open} incident(s) of this month are still being worked on (not closed): "
                "close or cancel them first, an archived case would drop out of every work queue"
            )
        # The CHECK of the range (made by ensure and history loads; added here for months the
        # migration made), so that attaching again skips the scan.
        cur.execute(
            "SELECT 1 FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s AND contype = 'c'",
            (name, name + "_month"),
        )
        if not cur.fetchone():
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (reported_at >= {} AND reported_at < {})").format(
                    sql.Identifier(name), sql.Identifier(name + "_month"), sql.Literal(start), sql.Literal(end)
                )
            )
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))
        rows = cur.fetchone()[0]
        grids = _grids(cur, name)
        cur.execute("SELECT incident_daily_add(%s::regclass, -1)", (name,))
        _wait_for_readers(cur)
        cur.execute(sql.SQL("ALTER TABLE incident DETACH PARTITION {}").format(sql.Identifier(name)))
        cur.execute("SELECT incident_month_versions(%s::regclass)", (name,))
        if grids:
            cur.execute("SELECT risk_recompute_grids(%s)", (grids,))
    return {"month": month, "partition": name, "rows": rows, "grids": len(grids)}


def _attach(conn, month: str) -> dict:
    name = partition_name(month)
    with db.transaction(conn) as cur:
        state = _state(cur, name)
        if state != "detached":
            raise ArchiveError(
                f"{month}: no detached month {name} ({'it is attached' if state else 'no such table'}; see python -m geo archive list)"
            )
        start, end = _bounds(cur, name)
        cur.execute("SELECT count(*) FROM incident_pdefault WHERE reported_at >= %s AND reported_at < %s", (start, end))
        waiting = cur.fetchone()[0]
        if waiting:
            raise ArchiveError(
                f"{month}: {waiting} incident(s) of this month arrived while it was archived and wait in incident_pdefault; "
                f"move them into {name} first (INSERT ... SELECT, then DELETE from the default), then attach"
            )
        _wait_for_readers(cur)
        cur.execute(
            sql.SQL("ALTER TABLE incident ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(name), sql.Literal(start), sql.Literal(end)
            )
        )
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))
        rows = cur.fetchone()[0]
        grids = _grids(cur, name)
        cur.execute("SELECT incident_daily_add(%s::regclass, 1), incident_month_versions(%s::regclass)", (name, name))
        if grids:
            cur.execute("SELECT risk_recompute_grids(%s)", (grids,))
    return {"month": month, "partition": name, "rows": rows, "grids": len(grids)}


def make_months(cur, start, end) -> list[str]:
    """Make the month partitions from `start` to `end` (timestamps) before a bulk write of
    past incidents (an import, the demo, the bench city), so that its rows go straight into
    their months instead of waiting in the default partition (0093)."""
    if start is None or end is None:
        return []
    cur.execute(
        """SELECT incident_partitions_make(ARRAY(
               SELECT DISTINCT incident_month(t) FROM generate_series(%s::timestamptz, %s::timestamptz, interval '1 day') t
               UNION SELECT incident_month(%s::timestamptz)))""",
        (start, end, end),
    )
    return list(cur.fetchone()[0] or [])


MAX_NEW_MONTHS = 24  # an import making more months than this leaves them to the default partition


def make_staged_months(cur) -> list[str]:
    """Before an import's INSERT: make the months its staged rows fall in (only months that
    hold rows, and at most MAX_NEW_MONTHS of them: a ledger with stray dates from 1970 to
    2099 must not create hundreds of partitions, each with every index of incident; such
    rows wait in the default partition)."""
    cur.execute(
        """SELECT array_agg(m) FROM (SELECT DISTINCT incident_month(reported_at) AS m FROM import_stage) x
            WHERE to_regclass(incident_partition_name(m)) IS NULL"""
    )
    missing = cur.fetchone()[0] or []
    if not missing or len(missing) > MAX_NEW_MONTHS:
        return []
    cur.execute("SELECT incident_partitions_make(%s::timestamptz[])", (missing,))
    return list(cur.fetchone()[0] or [])


def ensure(conn, months_ahead: int = 3) -> list[str]:
    """The maintenance job: make the months ahead (and move rows waiting in the default
    partition into their months). Also runs on every migrate; cron it daily for a server
    process that lives longer than `months_ahead` months."""
    with db.transaction(conn) as cur:
        cur.execute("SELECT incident_partitions_ensure(%s)", (months_ahead,))
        return list(cur.fetchone()[0] or [])
