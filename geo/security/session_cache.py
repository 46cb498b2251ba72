"""The web workers' cache of signed-in sessions (issue #17).

Why: the guard used to read app_session for every request, tiles, scripts and style
sheets included, so fifty wall screens were fifty queues for the pool and a saturated
pool failed even a signed-in page's CSS. Now a worker keeps a validated session in memory
for QUANYU_SESSION_CACHE_SECONDS (10): a cached request costs no database round trip.

Why it stays exact: every change that can end a session (sign-out, a disabled account,
a new password, a new role or unit, a session's expiry or idle clock set back; triggers
of migration 0060) bumps auth_epoch.version in the same transaction. Each cached session
carries the version read in the same snapshot as the session itself, and a worker reads
the current version over a connection of its own at most every
QUANYU_SESSION_CHECK_SECONDS (1): once the version moves, every session validated before
it is read again. So a sign-out or a disabled account takes effect on every worker
within about a second, whatever worker it was made on (at once on the worker it was made
on). Idle and absolute expiry stay exact within the cache's seconds: a cached session is
read again (and its idle clock restarted) at least that often while it is in use.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import datetime, timezone

import psycopg2

from geo import db
from geo import pgserver as cluster
from geo.cache import LRU
from geo.security import accounts

MAX_ENTRIES = 20_000  # sessions one worker keeps; beyond it the oldest are dropped


def cache_seconds() -> float:
    return max(0.0, float(os.environ.get("QUANYU_SESSION_CACHE_SECONDS", "10")))


def check_seconds() -> float:
    return max(0.0, float(os.environ.get("QUANYU_SESSION_CHECK_SECONDS", "1")))


class _Epoch:
    """The current revocation version, read over a connection of the process's own (not the
    pool's: a saturated pool must not stop cached requests) at most every check_seconds()."""

    def __init__(self):
        self._lock = threading.Lock()
        self._conn = None
        self._pid = None
        self._url = None
        self._value: int | None = None
        self._read_at = float("-inf")

    def current(self) -> int | None:
        """The version, or None when it cannot be read (then nothing cached is trusted)."""
        if time.monotonic() - self._read_at < check_seconds():
            return self._value
        with self._lock:
            if time.monotonic() - self._read_at < check_seconds():
                return self._value  # another thread read it while this one waited
            try:
                value = accounts.auth_epoch(self._connection())
                self._conn.rollback()
            except psycopg2.Error:
                self._close()
                value = None
            self._value, self._read_at = value, time.monotonic() if value is not None else float("-inf")
            return value

    def recheck(self) -> None:
        """Read the version again on the next request (after a change made in this process)."""
        self._read_at = float("-inf")

    def _connection(self):
        url = cluster.database_url()
        if self._conn is None or self._conn.closed or self._pid != os.getpid() or self._url != url:
            self._close()  # a forked worker, or another database (tests): a connection of its own
            self._conn = psycopg2.connect(url, application_name="quanyu-session-epoch")
            self._pid, self._url = os.getpid(), url
        return self._conn

    def _close(self) -> None:
        try:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
        except psycopg2.Error:
            pass
        self._conn = None


_epoch = _Epoch()
# token digest -> (session, validated at, monotonic); beyond MAX_ENTRIES the least recently used go
_entries = LRU(MAX_ENTRIES)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lookup(token: str | None) -> accounts.Session | None:
    """The live session for a cookie's token, from memory when it was validated within the
    cache's seconds under the current revocation version, else from the database."""
    if not token or len(token) > 200:
        return None
    key = _key(token)
    epoch = _epoch.current()
    hit = _entries.get_if_present(key)
    if hit is not None and epoch is not None:
        sess, at = hit
        fresh = time.monotonic() - at < cache_seconds() and sess.epoch == epoch
        if fresh and (sess.expires_at is None or sess.expires_at > datetime.now(timezone.utc)):
            return sess
    with db.system() as conn:
        sess = accounts.session(conn, token)
    if sess is None:
        _entries.discard(key)
        return None
    _entries.put(key, (sess, time.monotonic()))
    return sess


def forget(token: str | None) -> None:
    """Drop a session signed out here, and read the version again on the next request."""
    if token:
        _entries.discard(_key(token))
    _epoch.recheck()


def recheck() -> None:
    """An account changed in this process: read the revocation version on the next request."""
    _epoch.recheck()


def clear() -> None:
    _entries.clear()
    _epoch.recheck()
