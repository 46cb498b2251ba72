"""Which server answers a read: a streaming replica when it is fit to, else the primary.

Why (issue #17 item 2): the big screens' reads (tiles, KPIs, panels, drill-down, hotspots,
reports) are most of the load and can be served by hot standbys (geo/replica.py makes one),
but only if nothing a screen shows becomes wrong or fails because of it. `reading()` (used
through geo.db.reading) borrows a replica connection and, in one round trip, asks the replica
where its replay stands before handing it out; it hands out the primary instead when

* the replica does not answer (it is then *down*: skipped for QUANYU_REPLICA_RETRY_SECONDS,
  10 by default, and its pool dropped; then one request tries it again);
* it has not replayed this session's last write (geo.db.written_lsn: read-your-own-writes;
  the web layer keeps it in a cookie, so the writer's other requests and other workers know);
* its data versions are older than those the caller's screen already shows (`at_least`: the
  versions of the page's store, of a tile URL); a panel is then never older than its tag;
* it lags more than QUANYU_REPLICA_MAX_LAG_SECONDS (30).

Exactness of the caches: every cache key in front of the database holds the data versions read
on the same connection as the data (geo.cache, geo.analysis.dashboard), and a replica connection
reads in one REPEATABLE READ snapshot (geo.db.pool), so a version and the data it tags come from
the same moment of the replay; versions are rows of data_version, which replicate with the data.
The server's address is part of those keys too (the replica's port), so one server's entry is
never served for another.

A replica lost in the middle of a read raises ReplicaLost after marking it down; the web layer
(geo/web/replica_retry.py) runs the request once more, on the primary, so no request fails.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any, Iterator

import psycopg2

from geo import db


class ReplicaLost(psycopg2.OperationalError):
    """The replica serving a read went away mid-read. Nothing was written through it; the
    request can be run again and will be served by the primary."""


def retry_seconds() -> float:
    return float(os.environ.get("QUANYU_REPLICA_RETRY_SECONDS", "10"))


def max_lag_seconds() -> float:
    return float(os.environ.get("QUANYU_REPLICA_MAX_LAG_SECONDS", "30"))


@dataclass
class Health:
    """What this process last learnt of one replica."""

    down_until: float = 0.0  # time.monotonic() before which it is not tried
    lag_s: float | None = None  # at the last probe
    probed_at: float = 0.0
    replay_lsn: int = 0


_health: dict[str, Health] = {}
_lock = threading.Lock()
# The servers that answered the reads of the current request ("primary", "replica"), for its
# X-Quanyu-Read header (what the tests and an operator check); the web layer starts a new set per request.
_served_by: contextvars.ContextVar[set | None] = contextvars.ContextVar("quanyu_served_by", default=None)

_PROBE = """SELECT pg_last_wal_replay_lsn()::text AS lsn,
                   CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
                        ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float AS lag,
                   (SELECT json_object_agg(name, version) FROM data_version) AS versions"""


def health(url: str) -> Health:
    with _lock:
        return _health.setdefault(url, Health())


def mark_down(url: str, reason: object = "") -> None:
    """Skip `url` for retry_seconds() and drop its pool (its connections are broken)."""
    h = health(url)
    h.down_until = time.monotonic() + retry_seconds()
    h.lag_s = None
    db.forget_pool(url)


def reset() -> None:
    """Forget what is known of every replica (tests; a changed QUANYU_REPLICA_URLS)."""
    with _lock:
        _health.clear()


def start_request() -> None:
    _served_by.set(set())


def served_by() -> set:
    return _served_by.get() or set()


def _note(where: str) -> None:
    seen = _served_by.get()
    if seen is not None:
        seen.add(where)


def candidates(urls: list[str]) -> list[str]:
    """The replicas worth trying, the session's own first: one account's screen keeps reading
    the same replica while it is up, so what it sees only moves forward."""
    now = time.monotonic()
    up = [u for u in urls if health(u).down_until <= now]
    if not up:
        return []
    scope = db.current_scope()
    start = zlib.crc32((getattr(scope, "username", "") or "").encode()) % len(up)
    return up[start:] + up[:start]


def _fit(url: str, conn, at_least: dict | None) -> bool:
    """Probe the replica on the borrowed connection; record its replay; say whether it may answer."""
    row = db.one(conn, _PROBE)
    h = health(url)
    h.replay_lsn, h.lag_s, h.probed_at = db.parse_lsn(row["lsn"]), row["lag"], time.monotonic()
    if h.replay_lsn < db.written_lsn():
        return False
    if row["lag"] is not None and row["lag"] > max_lag_seconds():
        return False
    have = row["versions"] or {}
    return not any(int(have.get(name) or 0) < v for name, v in _versions(at_least).items())


def _versions(at_least) -> dict[str, int]:
    """The well-formed part of versions a client sent (a page's store may hold anything)."""
    if not isinstance(at_least, dict):
        return {}
    out = {}
    for name, v in at_least.items():
        if isinstance(v, int) and not isinstance(v, bool):
            out[str(name)] = v
        elif isinstance(v, str) and v.isdigit() and len(v) < 19:
            out[str(name)] = int(v)
    return out


@contextlib.contextmanager
def reading(at_least: dict | None = None) -> Iterator[Any]:
    """A connection for read-only work (see the module docstring for where it comes from)."""
    for url in candidates(db.replica_urls()):
        stack = contextlib.ExitStack()
        try:
            conn = stack.enter_context(db.pooled(url, replica=True))
            fit = _fit(url, conn, at_least)
        except psycopg2.Error as exc:
            if not isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
                stack.close()
                raise
            mark_down(url, exc)
            with contextlib.suppress(psycopg2.Error):
                stack.close()
            continue
        except BaseException:
            stack.close()
            raise
        if not fit:
            stack.close()
            continue
        read = False
        try:
            with stack:
                _note("replica")
                try:
                    yield conn
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                    if isinstance(exc, psycopg2.errors.QueryCanceled) or not (conn.closed or _gone(conn)):
                        raise
                    mark_down(url, exc)
                    raise ReplicaLost(f"replica {url.rpartition('@')[2]} went away: {exc}".strip()) from exc
                read = True
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            if not read:
                raise
            # Everything was read; the server went away as the connection was handed back (its
            # commit of a read-only transaction): the answer stands, the replica is dropped.
            mark_down(url, exc)
        return
    with db.pooled() as conn:
        _note("primary")
        yield conn


def _gone(conn) -> bool:
    """Whether the connection's server stopped answering (as opposed to a query's own error)."""
    try:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        return False
    except psycopg2.Error:
        return True


def lag_to_show(threshold_s: float | None = None) -> float | None:
    """The replication lag (seconds) of the replicas this process reads from, when a screen
    should say so: above QUANYU_REPLICA_LAG_LABEL_SECONDS (5) while they still answer (beyond
    the maximum lag the primary answers and the screen is current). None otherwise."""
    threshold = float(os.environ.get("QUANYU_REPLICA_LAG_LABEL_SECONDS", "5")) if threshold_s is None else threshold_s
    now = time.monotonic()
    lags = [
        h.lag_s
        for u in db.replica_urls()
        if (h := health(u)).down_until <= now and h.lag_s is not None and now - h.probed_at < 60
    ]
    worst = max(lags, default=None)
    return worst if worst is not None and threshold < worst <= max_lag_seconds() else None
