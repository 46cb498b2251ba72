"""The `history` section of the benchmark: a back catalogue of closed months loaded with
`import incidents FILE --history` (geo.io.history), in rows per second end to end.

The file is a clerk's CSV like the import section's (Chinese headers), spread over `months`
closed months before the current one plus a few rows of the current month (which go the
normal way), with 工单编号 and some unknown risk factors, so that every step of the load runs.
The rows it adds are removed afterwards: the months the load made are detached and
dropped, their keys, history rows and aggregates with them; the few rows of the current
month are deleted through the table. The months go before the bench database's own data
(36 months before its earliest incident), so that every one of them is a fresh partition.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from geo import db
from geo.worktime import CST

PROBE_TITLE = "bench-history-probe"
HEADERS = ["工单编号", "经度", "纬度", "事件类别", "上报时间", "标题", "涉事人数", "持续天数", "冲突程度", "行为风险", "状态"]
INTENSITY = ("平稳", "一般", "较激烈", "激烈")


def write_csv(
    path: Path,
    pts: np.ndarray,
    minor_codes: list[str],
    months: int,
    seed: int = 17,
    prefix: str = "H",
    before=None,
    unknown_share: float = 0.2,
) -> None:
    """len(pts) incidents: 98% spread over the `months` closed months ending at `before` (the
    first day of a month; default the current month), 2% in the current month; a share
    `unknown_share` has an unknown conflict intensity (empty cell), assessed from its context
    (0040), as the row-by-row path assesses it, and at the same cost."""
    rng = np.random.default_rng(seed)
    now = datetime.now(CST).replace(microsecond=0)
    month_start = now.replace(day=1, hour=0, minute=0, second=0)
    end = before or month_start
    first = end
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    span = (end - first).total_seconds()
    n = len(pts)
    cats = rng.choice(minor_codes, n)
    current = rng.random(n) < 0.02
    offsets = rng.uniform(0, span - 1, n)
    recent = rng.uniform(0, max(1.0, (now - month_start).total_seconds() - 60), n)
    people = rng.integers(1, 9, n)
    days = rng.integers(0, 30, n)
    conflict = rng.integers(0, 4, n)
    behaviour = rng.integers(0, 4, n)
    unknown = rng.random(n) < unknown_share
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        for i in range(n):
            at = month_start + timedelta(seconds=float(recent[i])) if current[i] else first + timedelta(seconds=float(offsets[i]))
            w.writerow(
                [
                    f"{prefix}{i:08d}",
                    f"{pts[i, 0]:.7f}",
                    f"{pts[i, 1]:.7f}",
                    cats[i],
                    at.strftime("%Y-%m-%d %H:%M:%S"),
                    PROBE_TITLE,
                    int(people[i]),
                    int(days[i]),
                    "" if unknown[i] else INTENSITY[conflict[i]],
                    int(behaviour[i]),
                    "结案",
                ]
            )


def run(conn, rows: int, months: int = 24, unknown_share: float = 0.0) -> dict:
    """Load `rows` incidents over `months` closed months with --history; rows/s end to end
    (read, check, locate, stage, copy, index, attach, aggregate), then remove them. By
    default every risk factor is known: an unknown one is re-assessed from its context
    (0040) row by row in both paths alike, a cost of the data, not of the load."""
    from geo.bench import measure as m
    from geo.io import importer

    minor = [r["minor_code"] for r in db.rows(conn, "SELECT minor_code FROM category ORDER BY 1")]
    earliest = db.scalar(conn, "SELECT min(reported_at) FROM incident") or datetime.now(CST)
    before = earliest.astimezone(CST).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    pts = m.sample_points(conn, rows)
    db.execute(conn, "SELECT incident_partitions_ensure()")  # rows waiting in the default: their months now, not in the load
    conn.commit()
    made_before = set(_month_tables(conn))
    with tempfile.TemporaryDirectory(prefix="quanyu-bench-history-") as tmp:
        path = Path(tmp) / "history.csv"
        # 工单编号 of this run only: an earlier run's ids would be updated in place (upsert), not loaded
        write_csv(
            path, pts, minor, months, before=before, prefix=f"HB{int(time.time()) % 1_000_000}-", unknown_share=unknown_share
        )
        marks: list[tuple[float, str]] = []
        with _upload_limit_at_least(path.stat().st_size):
            t = time.perf_counter()
            result = importer.import_file(
                conn, "incidents", path, history=True, progress=lambda msg, f=None: marks.append((time.perf_counter() - t, msg))
            )
            s = time.perf_counter() - t
    made = sorted(set(_month_tables(conn)) - made_before)
    least = floor(conn, result.batch, made)
    out = {
        "rows": result.rows,
        "months": len(made),
        "unknown_share": unknown_share,
        "seconds": round(s, 2),
        "rows_per_s": round(result.rows / s, 1),
        "stage_seconds": m._stages(marks, s),
        "floor": least,
    }
    t = time.perf_counter()
    try:
        remove(conn, result.batch, made)
    except Exception as exc:  # the figures stand; say what was left behind, and how to remove it
        conn.rollback()
        out["cleanup_error"] = f"{exc!r}; left: batch {result.batch}, months {made} (geo.bench.history.remove)"
    out["cleanup_seconds"] = round(time.perf_counter() - t, 2)
    return out


def floor(conn, batch: int, months: list[str]) -> dict:
    """The least any load of the same rows must do here: copy them into fresh month tables
    of incident's shape (from incident itself, so no file is read, parsed, checked or
    located, no risk scored, no key, history row or aggregate written) and build the
    month tables' indexes, as the load does (geo.io.history.build_indexes), with the load's
    memory. Its rows/s bounds the load's from above on this machine: a target above it
    cannot be met by any change to the load, only by a schema with less to build or by
    more cores. Rolled back: nothing stays."""
    from psycopg2 import sql

    from geo.io import history as history_load

    columns = db.scalar(
        conn,
        """SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = 'incident'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''""",
    )
    conn.rollback()
    bounds = db.rows(
        conn,
        """SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_class c
            WHERE c.relname = ANY(%s) AND c.relispartition ORDER BY 1""",
        (months,),
    )
    if not bounds:
        conn.rollback()
        return {}
    cur = conn.cursor()
    try:
        cur.execute(
            "SELECT set_config('work_mem', %s, true), set_config('maintenance_work_mem', %s, true)", history_load.LOAD_MEMORY
        )
        cur.execute(
            "CREATE TABLE bench_history_floor (LIKE incident INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS "
            "INCLUDING STORAGE) PARTITION BY RANGE (reported_at)"
        )
        for b in bounds:
            cur.execute(f"CREATE TABLE bench_floor_{b['name']} PARTITION OF bench_history_floor {b['bound']}")
        source = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {} FROM {} WHERE import_batch = {}").format(
                sql.SQL(columns), sql.Identifier(b["name"]), sql.Literal(batch)
            )
            for b in bounds
        )
        t = time.perf_counter()
        cur.execute(sql.SQL("INSERT INTO bench_history_floor ({}) {}").format(sql.SQL(columns), source))
        rows, copy_s = cur.rowcount, time.perf_counter() - t
        t = time.perf_counter()
        for b in bounds:
            history_load.build_indexes(cur, f"bench_floor_{b['name']}")
        index_s = time.perf_counter() - t
    finally:
        cur.close()
        conn.rollback()
    s = copy_s + index_s
    return {
        "rows": rows,
        "copy_seconds": round(copy_s, 2),
        "index_seconds": round(index_s, 2),
        "rows_per_s": round(rows / s, 1) if s else None,
    }


@contextlib.contextmanager
def _upload_limit_at_least(size: int):
    """Two million rows are a 207 MB file, over the default upload limit (200 MB): the bench
    raises QUANYU_MAX_UPLOAD_MB for its own import, as an operator loading such a file does."""
    from geo.io import upload_check

    old = os.environ.get(upload_check.ENV)
    if size > upload_check.max_bytes():
        os.environ[upload_check.ENV] = str(size / 1e6 + 1)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(upload_check.ENV, None)
        else:
            os.environ[upload_check.ENV] = old


def _month_tables(conn) -> list[str]:
    names = [r["relname"] for r in db.rows(conn, "SELECT relname FROM pg_class WHERE relname ~ '^incident_p[0-9]{4}_[0-9]{2}$'")]
    conn.commit()
    return names


def remove(conn, batch: int, months: list[str], attempts: int = 8) -> None:
    """What the bench's load added goes: its rows of the current month and the months it made
    (detached, aggregates out, history rows and keys deleted, tables dropped).

    Others measure on the same database (the lead's load test, with a cleanup of its own), so
    the strong locks are short and taken in the order the other cleanups take them (incident
    before incident_history): one short transaction detaches the months and deletes the few
    rows of the current month under an exclusive lock on incident (waited for at most 5 s,
    then tried again, never queued in front of every reader for minutes); a second one,
    touching no lock of incident, removes what the detached months left in the other tables;
    a third recomputes the grid risk. A deadlock all the same is tried again."""
    import psycopg2

    ours = _ours(conn, batch, months)
    for step in (_detach, _purge, _recompute):
        for attempt in range(attempts):
            try:
                with db.transaction(conn) as cur:
                    step(cur, batch, ours)
                break
            except (psycopg2.errors.DeadlockDetected, psycopg2.errors.LockNotAvailable):
                conn.rollback()
                if attempt == attempts - 1:
                    raise
                time.sleep(2 + 3 * attempt)


def _ours(conn, batch: int, months: list[str]) -> list[str]:
    from psycopg2 import sql

    ours = []
    with db.transaction(conn) as cur:
        for name in months:
            cur.execute(
                sql.SQL("SELECT bool_and(import_batch IS NOT DISTINCT FROM %s) FROM {}").format(sql.Identifier(name)), (batch,)
            )
            if cur.fetchone()[0] is not False:
                ours.append(name)  # never drop a month holding rows the bench did not load
    return ours


def _detach(cur, batch: int, ours: list[str]) -> None:
    from psycopg2 import sql

    cur.execute("SET LOCAL lock_timeout = '5s'")
    cur.execute("LOCK TABLE incident IN ACCESS EXCLUSIVE MODE")
    cur.execute("LOCK TABLE incident_history IN SHARE ROW EXCLUSIVE MODE")
    cur.execute("SET LOCAL lock_timeout = 0")
    cur.execute("SET LOCAL quanyu.risk_defer = 'on'")
    for name in ours:
        cur.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s))",
            (name, name),
        )
        if cur.fetchone()[0]:
            cur.execute(sql.SQL("ALTER TABLE incident DETACH PARTITION {}").format(sql.Identifier(name)))
    cur.execute("ALTER TABLE incident_history DISABLE TRIGGER incident_history_append_only")
    cur.execute("DELETE FROM incident_history WHERE incident_id IN (SELECT id FROM incident WHERE import_batch = %s)", (batch,))
    cur.execute("ALTER TABLE incident_history ENABLE TRIGGER incident_history_append_only")
    cur.execute("SELECT to_regclass('alert_incident') IS NOT NULL")
    if cur.fetchone()[0]:
        cur.execute("DELETE FROM alert_incident WHERE incident_id IN (SELECT id FROM incident WHERE import_batch = %s)", (batch,))
    cur.execute("DELETE FROM incident WHERE import_batch = %s", (batch,))


def _purge(cur, batch: int, ours: list[str]) -> None:
    """The detached months: their aggregates, versions, history rows and keys, then the tables."""
    from psycopg2 import sql

    ours = [n for n in ours if _exists(cur, n)]
    if not ours:
        return
    for name in ours:
        cur.execute("SELECT incident_daily_add(%s::regclass, -1), incident_month_versions(%s::regclass)", (name, name))
    # The append-only guard is passed by this session alone where it may (a superuser: the
    # embedded cluster; session_replication_role), so that the lead's writes to
    # incident_history never wait behind a DISABLE TRIGGER for minutes; elsewhere the trigger
    # is disabled.
    cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    alone = cur.fetchone()[0]
    if alone:
        cur.execute("SET LOCAL session_replication_role = replica")
    else:
        cur.execute("SET LOCAL lock_timeout = '5s'")
        cur.execute("ALTER TABLE incident_history DISABLE TRIGGER incident_history_append_only")
        cur.execute("SET LOCAL lock_timeout = 0")
    # one statement over all the months: incident_history is scanned once, not once per month
    ids = sql.SQL(" UNION ALL ").join(sql.SQL("SELECT id FROM {}").format(sql.Identifier(n)) for n in ours)
    cur.execute(sql.SQL("DELETE FROM incident_history WHERE incident_id IN ({})").format(ids))
    # The keys: nothing else references a row the bench loaded a moment ago, and the foreign-key
    # checks of a deleted key probe every month of incident (merged_into) per row: 85 s for
    # 200,000 keys. Skipped with the guard where this session may; checked elsewhere.
    cur.execute(sql.SQL("DELETE FROM incident_key WHERE id IN ({})").format(ids))
    if alone:
        cur.execute("SET LOCAL session_replication_role = origin")
    else:
        cur.execute("ALTER TABLE incident_history ENABLE TRIGGER incident_history_append_only")
    for name in ours:
        cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))


def _recompute(cur, batch: int, ours: list[str]) -> None:
    cur.execute("SELECT risk_recompute_grids()")


def _exists(cur, name: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    return cur.fetchone()[0]
