"""The one place that talks to PostgreSQL.

Every query in the project goes through these helpers with bound parameters (psycopg2's
`%(name)s` / `%s`), never string formatting, so that no input ever becomes SQL. Callers get
plain dicts or DataFrames; connections come from one pool per process so that the app's
callbacks and the tile server share a handful of sessions.

The pool waits (issue #17): a request that finds every connection in use queues for one
for up to QUANYU_POOL_WAIT_SECONDS instead of failing with psycopg2's "connection pool
exhausted", and only then raises PoolBusy, which the web app answers with 503 and a
Retry-After. Fifty wall screens polling at once are a queue, not fifty errors.

Read replicas (issue #17): `reading()` borrows a connection for read-only work from a streaming
replica of QUANYU_REPLICA_URLS when one is fit to answer (geo/read_routing.py decides), else
from the primary's pool; `pooled()` is the primary, for writes and everything else. So that
a writer reads its own writes, every commit on the primary that wrote records its WAL position
for the request (`written_lsn`), and the web layer carries it in the session's cookie.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import hashlib
import io
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import psycopg2
import psycopg2.extras
import psycopg2.pool

from geo import pgserver as cluster

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_LOCK_KEY = 7_246_810_001  # pg_advisory_lock key: one migrator at a time

_pools: dict[str, "WaitingPool"] = {}
_pools_lock = threading.Lock()
_migrated: set[str] = set()

# The signed-in account of the request being served (a geo.security.access.Scope), or None for the
# CLI and system jobs. Set by the web guard before any view runs; pooled() applies it.
_scope: contextvars.ContextVar = contextvars.ContextVar("quanyu_scope", default=None)


def current_scope():
    return _scope.get()


def scope_key() -> tuple | None:
    """What a cache in front of the database must add to its key: results computed for one
    role and unit must never be served to another (RLS cannot filter a cache hit)."""
    scope = _scope.get()
    return None if scope is None else scope.key


# The WAL position (an int; 0 = none) after the last write this request or its browser session
# committed on the primary; geo.read_routing serves this session from a replica only once the
# replica has replayed past it (read-your-own-writes). Tracked only when replicas are configured.
_written_lsn: contextvars.ContextVar[int] = contextvars.ContextVar("quanyu_written_lsn", default=0)


def written_lsn() -> int:
    return _written_lsn.get()


def set_written_lsn(lsn: int) -> contextvars.Token:
    return _written_lsn.set(lsn)


def reset_written_lsn(token: contextvars.Token) -> None:
    _written_lsn.reset(token)


def replica_urls() -> list[str]:
    """QUANYU_REPLICA_URLS: comma-separated URLs of streaming replicas of DATABASE_URL (none: no routing)."""
    return [u.strip() for u in os.environ.get("QUANYU_REPLICA_URLS", "").split(",") if u.strip()]


def parse_lsn(text: str | None) -> int:
    """'16/B374D848' -> an int that orders like the LSN."""
    if not text:
        return 0
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low or "0", 16)


class TrackedConnection(psycopg2.extensions.connection):
    """A primary connection that notes, at each commit that wrote, the WAL position after it
    (pg_current_wal_insert_lsn, which is past the commit record), so that this request reads
    its writes on a replica only after the replica replayed them. One extra round trip per
    commit, and only when replicas are configured."""

    def commit(self):
        track = (
            bool(replica_urls())
            and not self.closed
            and self.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
        )
        wrote = False
        if track:
            with self.cursor() as cur:
                cur.execute("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
                wrote = cur.fetchone()[0]
        super().commit()
        if wrote:
            with self.cursor() as cur:
                cur.execute("SELECT pg_current_wal_insert_lsn()::text")
                lsn = parse_lsn(cur.fetchone()[0])
            super().rollback()  # end the snapshot of that one SELECT
            if lsn > _written_lsn.get():
                _written_lsn.set(lsn)


def set_scope(scope) -> contextvars.Token:
    return _scope.set(scope)


def reset_scope(token: contextvars.Token) -> None:
    _scope.reset(token)


@contextlib.contextmanager
def scoped(scope) -> Iterator[None]:
    """Run the block as `scope` (an account), or as the owner when scope is None."""
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


def connect(url: str | None = None, *, test: bool = False):
    """A new connection (for the CLI, imports and tests), migrations applied."""
    url = url or cluster.database_url(test=test)
    conn = psycopg2.connect(url, application_name="quanyu")
    if url not in _migrated:
        migrate(conn)
        _migrated.add(url)
    return conn


class PoolBusy(RuntimeError):
    """Every pooled connection stayed in use for the whole wait: the server is saturated.
    Not an error of the request; the web app answers 503 with Retry-After so that clients
    (the big screen's next poll, a script) try again shortly."""

    def __init__(self, waited_s: float, size: int, retry_after: int):
        super().__init__(
            f"数据库连接繁忙 all {size} database connections stayed busy for {waited_s:.1f} s; "
            f"retry in {retry_after} s (or raise QUANYU_POOL_SIZE / QUANYU_POOL_WAIT_SECONDS)"
        )
        self.retry_after = retry_after


def pool_size() -> int:
    """Connections per process (QUANYU_POOL_SIZE, default 8): with gunicorn's threads, one per
    thread means a request never waits for a connection behind another thread's."""
    return max(1, int(os.environ.get("QUANYU_POOL_SIZE", "8")))


def pool_wait_seconds() -> float:
    """How long a request queues for a connection before PoolBusy (QUANYU_POOL_WAIT_SECONDS, 15)."""
    return max(0.0, float(os.environ.get("QUANYU_POOL_WAIT_SECONDS", "15")))


class WaitingPool:
    """psycopg2's ThreadedConnectionPool behind a bounded wait.

    A semaphore of `size` slots is the queue: getconn() blocks on it for up to `wait_s`
    and raises PoolBusy when the wait passes. A thread that already holds a connection of
    this pool takes a second one without queueing (a nested borrow would otherwise wait on
    itself: eight threads each holding one and each waiting for a second is a deadlock);
    those come from an overflow of another `size` connections and are closed after use.
    """

    def __init__(self, url: str, size: int, wait_s: float, **connect_kwargs):
        self.url, self.size, self.wait_s = url, size, wait_s
        self._slots = threading.BoundedSemaphore(size)
        connect_kwargs.setdefault("application_name", "quanyu-app")
        connect_kwargs.setdefault("connection_factory", TrackedConnection)
        self._pool = psycopg2.pool.ThreadedConnectionPool(1, size * 2, url, **connect_kwargs)
        # psycopg2 keeps at most `minconn` idle connections and closes every other one it is
        # given back: with minconn 1, every request of a busy worker (and every nested borrow,
        # e.g. the Open311 key check) paid a new connection and its SCRAM handshake. Opened
        # lazily (one now), kept up to `size`: the overflow beyond `size` is still closed.
        self._pool.minconn = size
        self._held = threading.local()
        self._slotted: set[int] = set()  # id() of connections handed out against a slot

    @property
    def _used(self) -> dict:
        return self._pool._used

    def getconn(self):
        depth = getattr(self._held, "depth", 0)
        if depth == 0:
            t = time.monotonic()
            if not self._slots.acquire(timeout=self.wait_s):
                raise PoolBusy(time.monotonic() - t, self.size, retry_after=max(1, min(30, round(self.wait_s / 3))))
        try:
            conn = self._pool.getconn()
        except BaseException as exc:
            if depth == 0:
                self._slots.release()
            if isinstance(exc, psycopg2.pool.PoolError):  # the overflow is spent too
                raise PoolBusy(0.0, self.size * 2, retry_after=1) from None
            raise
        if depth == 0:
            self._slotted.add(id(conn))
        self._held.depth = depth + 1
        return conn

    def putconn(self, conn, close: bool = False) -> None:
        slotted = id(conn) in self._slotted
        self._slotted.discard(id(conn))
        try:
            # An overflow connection is closed rather than kept: the idle pool stays at `size`.
            self._pool.putconn(conn, close=close or (not slotted and len(self._pool._pool) >= self.size))
        finally:
            self._held.depth = max(0, getattr(self._held, "depth", 1) - 1)
            if slotted:
                self._slots.release()

    def closeall(self) -> None:
        self._pool.closeall()

    def close_idle(self) -> None:
        """Close the connections waiting in the pool (a lost server's are all broken); those
        in use go back and are dropped as their borrowers find them closed."""
        with self._pool._lock:
            for conn in self._pool._pool:
                with contextlib.suppress(psycopg2.Error):
                    conn.close()
            self._pool._pool.clear()


# A replica's connections give up quickly: a server that does not answer is dropped, not waited for.
REPLICA_CONNECT_TIMEOUT_S = 2


def pool(url: str | None = None, *, replica: bool = False) -> WaitingPool:
    """The pool of `url` (default: the primary). A replica's pool is made without migrating
    (a hot standby is read-only; the primary's migrations reach it by replication) and its
    connections read in one snapshot each (REPEATABLE READ, READ ONLY): the data versions and
    the data they tag come from the same moment of the replay."""
    url = url or cluster.database_url()
    with _pools_lock:
        if url not in _pools:
            if replica:
                _pools[url] = WaitingPool(
                    url,
                    pool_size(),
                    pool_wait_seconds(),
                    application_name="quanyu-app-replica",
                    connect_timeout=REPLICA_CONNECT_TIMEOUT_S,
                    connection_factory=psycopg2.extensions.connection,
                )
            else:
                connect(url).close()  # make sure the schema is current before serving
                _pools[url] = WaitingPool(url, pool_size(), pool_wait_seconds())
        return _pools[url]


def forget_pool(url: str) -> None:
    """Drop the pool of a server that went away; the next borrow makes a new one."""
    with _pools_lock:
        p = _pools.pop(url, None)
    if p is not None:
        p.close_idle()


@contextlib.contextmanager
def reading(at_least: dict | None = None) -> Iterator[Any]:
    """A connection for read-only work: on a replica of QUANYU_REPLICA_URLS that has replayed
    this session's writes (and, with `at_least`, the data versions the caller's screen already
    shows), else on the primary. Scope and row-level security as in pooled(). Never write
    through it. See geo/read_routing.py."""
    from geo import read_routing

    with read_routing.reading(at_least) as conn:
        yield conn


@contextlib.contextmanager
def pooled(url: str | None = None, *, replica: bool = False) -> Iterator[Any]:
    """Borrow a pooled connection; commits on success, rolls back on error.

    Inside a signed-in request the connection runs as the account's database role with its
    administrative code as `quanyu.scope`, so row-level security limits every query made
    with it; the settings are session-level (committed at once, so a rollback inside the
    block cannot drop them) and cleared before the connection goes back to the pool.
    """
    p = pool(url, replica=replica)
    conn = p.getconn()
    scope = _scope.get()
    try:
        if replica and not conn.closed and conn.status == psycopg2.extensions.STATUS_READY:
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        if scope is not None:
            _apply_scope(conn, scope)
        yield conn
        conn.commit()
    except BaseException:
        try:
            conn.rollback()
        except psycopg2.Error:  # a lost connection: the caller gets the error that lost it
            if not replica:
                raise
        raise
    finally:
        if scope is not None and not conn.closed:
            try:
                _apply_scope(conn, None)
            except psycopg2.Error:
                p.putconn(conn, close=True)
                conn = None
        if conn is not None:
            p.putconn(conn)


def _apply_scope(conn, scope) -> None:
    if conn.status != psycopg2.extensions.STATUS_READY:
        conn.rollback()
    with conn.cursor() as cur:
        if scope is None:
            cur.execute("""SELECT set_config('role', 'none', false), set_config('quanyu.scope', '', false),
                                  set_config('quanyu.unit', '', false), set_config('quanyu.user', '', false),
                                  set_config('quanyu.role', '', false), set_config('quanyu.ip', '', false),
                                  set_config('statement_timeout', '0', false)""")
        else:
            cur.execute(
                """SELECT set_config('role', %s, false), set_config('quanyu.scope', %s, false),
                                  set_config('quanyu.unit', %s, false), set_config('quanyu.user', %s, false),
                                  set_config('quanyu.role', %s, false), set_config('quanyu.ip', %s, false),
                                  set_config('statement_timeout', %s, false)""",
                (
                    scope.db_role,
                    scope.prefix,
                    scope.admin_code,
                    scope.username,
                    scope.role,
                    scope.ip or "",
                    str(int(getattr(scope, "timeout_ms", 0) or 0)),
                ),
            )
    psycopg2.extensions.connection.commit(conn)  # settings only: no write for TrackedConnection to look for


def url_of(conn) -> str | None:
    """The URL of the pool a borrowed connection came from (None for a connection of its own)."""
    with _pools_lock:
        for url, p in _pools.items():
            if any(c is conn for c in p._used.values()):
                return url
    return None


@contextlib.contextmanager
def system(url: str | None = None) -> Iterator[Any]:
    """A pooled connection as the owner, for derived-data jobs a request sets off (coverage
    refresh after a publish, the audit of a failed sign-in): they must see the whole
    jurisdiction whoever asked. Never hand its results to the caller unfiltered."""
    with scoped(None), pooled(url) as conn:
        yield conn


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


@contextlib.contextmanager
def statement_timeout(conn, seconds: float) -> Iterator[None]:
    """Cut off every statement inside after `seconds`, as pg_tileserv guards each tile: a
    SET LOCAL statement_timeout in the caller's transaction. PostgreSQL cancels a statement
    that runs longer itself (psycopg2.errors.QueryCanceled), so a slow query never holds its
    connection; the transaction is then aborted and the caller rolls it back, which also
    drops the setting. On success the previous value is back for the rest of the transaction."""
    ms = max(1, round(seconds * 1000))
    old = scalar(
        conn, "SELECT current_setting('statement_timeout') AS old, set_config('statement_timeout', %s, true)", (str(ms),)
    )
    yield
    execute(conn, "SELECT set_config('statement_timeout', %s, true)", (old,))


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


def csv_writer(buf):
    """A CSV writer for COPY ... (FORMAT csv). Lines end in CRLF so that the csv module
    quotes any value holding a CR or LF (with a bare "\n" terminator Python 3.11 leaves a
    lone CR unquoted, and PostgreSQL would read it as the end of the row)."""
    return csv.writer(buf, lineterminator="\r\n")


def copy_rows(cur, table: str, columns: Sequence[str], records: Iterable[Sequence]) -> int:
    """Bulk load with COPY: an order of magnitude faster than INSERT for imports.

    Values are written as CSV (NULL for None, arrays as PostgreSQL literals); table and
    column names are quoted identifiers, never user input.
    """
    buf = io.StringIO()
    writer = csv_writer(buf)
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


def _ensure_partitions(cur) -> None:
    """Make the incident months ahead of time (0090) on every migrate, that is at each process
    start and each CLI run: a month's partition exists before its first incident arrives
    (one that arrives anyway waits in the default partition, never refused)."""
    cur.execute("SELECT to_regprocedure('incident_partitions_ensure(integer)') IS NOT NULL")
    if cur.fetchone()[0]:
        cur.execute("SELECT incident_partitions_ensure()")


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
                        raise RuntimeError(f"migration {version} changed after it was applied; add a new migration instead")
                    continue
                try:
                    cur.execute(sql)
                    cur.execute("INSERT INTO schema_migration (version, checksum) VALUES (%s, %s)", (version, digest))
                    conn.commit()
                except Exception:
                    conn.rollback()
                    raise
                applied_now.append(version)
            _ensure_partitions(cur)
            conn.commit()
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,))
            conn.commit()
    if applied_now:  # a fresh (or just upgraded) database gets the reference data it lacks
        from geo.io import reference

        reference.seed(conn)
    return applied_now
