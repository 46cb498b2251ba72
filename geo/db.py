"""The one place that talks to PostgreSQL.

Every query in the project goes through these helpers with bound parameters (psycopg2's
`%(name)s` / `%s`), never string formatting, so that no input ever becomes SQL. Callers get
plain dicts or DataFrames; connections come from one pool per process so that the app's
callbacks and the tile server share a handful of sessions.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import psycopg2
import psycopg2.extras
import psycopg2.pool

from geo import cluster

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_LOCK_KEY = 7_246_810_001  # pg_advisory_lock key: one migrator at a time

_pools: dict[str, psycopg2.pool.ThreadedConnectionPool] = {}
_pools_lock = threading.Lock()
_migrated: set[str] = set()


def connect(url: str | None = None, *, test: bool = False):
    """A new connection (for the CLI, imports and tests), migrations applied."""
    url = url or cluster.database_url(test=test)
    conn = psycopg2.connect(url, application_name="quanyu")
    if url not in _migrated:
        migrate(conn)
        _migrated.add(url)
    return conn


def pool(url: str | None = None, maxconn: int = 8) -> psycopg2.pool.ThreadedConnectionPool:
    url = url or cluster.database_url()
    with _pools_lock:
        if url not in _pools:
            connect(url).close()  # make sure the schema is current before serving
            _pools[url] = psycopg2.pool.ThreadedConnectionPool(1, maxconn, url, application_name="quanyu-app")
        return _pools[url]


@contextlib.contextmanager
def pooled(url: str | None = None) -> Iterator[Any]:
    """Borrow a pooled connection; commits on success, rolls back on error."""
    p = pool(url)
    conn = p.getconn()
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        p.putconn(conn)


@contextlib.contextmanager
def transaction(conn) -> Iterator[Any]:
    """One atomic unit: everything inside commits together or not at all."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def rows(conn, sql: str, params: Sequence | dict | None = None) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, params)
        return [dict(r) for r in cur.fetchall()] if cur.description else []


def one(conn, sql: str, params: Sequence | dict | None = None) -> dict | None:
    result = rows(conn, sql, params)
    return result[0] if result else None


def scalar(conn, sql: str, params: Sequence | dict | None = None) -> Any:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
        return row[0] if row else None


def execute(conn, sql: str, params: Sequence | dict | None = None) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.rowcount


def copy_rows(cur, table: str, columns: Sequence[str], records: Iterable[Sequence]) -> int:
    """Bulk load with COPY: an order of magnitude faster than INSERT for imports.

    Values are written as CSV (NULL for None, arrays as PostgreSQL literals); table and
    column names are quoted identifiers, never user input.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    n = 0
    for rec in records:
        writer.writerow([_copy_value(v) for v in rec])
        n += 1
    buf.seek(0)
    ident = psycopg2.extensions.quote_ident
    target = ".".join(ident(part, cur) for part in table.split("."))
    cols = ", ".join(ident(c, cur) for c in columns)
    cur.copy_expert(f"COPY {target} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buf)
    return n


def _copy_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v) or type(v).__name__ in ("NAType", "NaTType"):
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, (list, tuple)):
        return "{" + ",".join('"' + str(x).replace('"', '\\"') + '"' for x in v) + "}"
    return v


# --------------------------------------------------------------------------- migrations

def migrations() -> list[tuple[str, str]]:
    return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(MIGRATIONS_DIR.glob("*.sql"))]


def migrate(conn) -> list[str]:
    """Apply pending migrations in order, each in its own transaction.

    Safe to re-run and to run from several processes at once (an advisory lock serialises
    them). A migration file that changed after it was applied is refused: history in the
    database must match the files, or later migrations would build on the wrong schema.
    """
    applied_now = []
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
        try:
            cur.execute(
                """CREATE TABLE IF NOT EXISTS schema_migration (
                       version text PRIMARY KEY, checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            conn.commit()
            cur.execute("SELECT version, checksum FROM schema_migration")
            done = dict(cur.fetchall())
            for version, sql in migrations():
                digest = hashlib.sha256(sql.encode()).hexdigest()
                if version in done:
                    if done[version] != digest:
                        raise RuntimeError(
                            f"migration {version} changed after it was applied; add a new migration instead"
                        )
                    continue
                try:
                    cur.execute(sql)
                    cur.execute("INSERT INTO schema_migration (version, checksum) VALUES (%s, %s)", (version, digest))
                    conn.commit()
                except Exception:
                    conn.rollback()
                    raise
                applied_now.append(version)
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,))
            conn.commit()
    return applied_now
