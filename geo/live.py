"""Push, not poll (issue #17): one LISTEN connection per process hears every data version
the moment its writer commits, and hands the versions to whoever waits (the big screens'
server-sent event streams, geo/web/api/live.py).

Why: polling every 5 s put a new incident on a screen 1-6 s after its commit, and fifty
screens polling every second would be fifty requests a second for nothing. The writers'
own triggers announce the change (migration 0061: NOTIFY from data_version, delivered at
commit, never for a rolled-back write), so the delay is the stream's, not the clock's.

The listener keeps the whole versions dict (read once at connect, then moved forward by
the notifications' `name:version` payloads; versions only grow), a sequence number that
moves with every change, and whether it is connected: a stream whose listener lost its
connection says so, and the page falls back to polling until it is back. A notification
on 'quanyu_auth' (a session revoked, an account disabled) makes this process's session
cache read the revocation version at once instead of within the second.
"""

from __future__ import annotations

import logging
import os
import select
import threading

import psycopg2
import psycopg2.extensions

from geo import pgserver as cluster

log = logging.getLogger(__name__)
DATA_CHANNEL, AUTH_CHANNEL = "quanyu_data", "quanyu_auth"


def enabled() -> bool:
    """QUANYU_PUSH=0 turns push off (the pages poll every QUANYU_LIVE_SECONDS)."""
    return os.environ.get("QUANYU_PUSH", "1") not in ("0", "false", "no")


class Listener:
    def __init__(self):
        self._cond = threading.Condition()
        self._versions: dict[str, int] = {}
        self._seq = 0
        self._connected = False
        self._pid: int | None = None
        self._stop = threading.Event()
        self._tick: tuple[int, tuple] = (-1, ())

    # ------------------------------------------------------------------ readers

    def snapshot(self) -> tuple[int, dict[str, int], bool]:
        with self._cond:
            return self._seq, dict(self._versions), self._connected

    def at_tick(self, tick: int) -> tuple[int, dict[str, int], bool]:
        """The snapshot of a tick of the shared clock: the first caller of the tick takes it,
        every later caller of the same tick gets the same one (the streams that send at a
        tick send the same versions, so their screens ask for the same cached panels and tiles)."""
        with self._cond:
            if self._tick[0] != tick:
                self._tick = (tick, (self._seq, dict(self._versions), self._connected))
            seq, versions, connected = self._tick[1]
            return seq, dict(versions), connected

    def wait(self, seen: int, timeout: float) -> tuple[int, dict[str, int], bool]:
        """Block until the sequence moves past `seen`, the connection state changes, or
        `timeout` passes; returns (sequence, versions, connected)."""
        self.ensure_started()
        with self._cond:
            was = self._connected
            self._cond.wait_for(lambda: self._seq != seen or self._connected != was, timeout=timeout)
            return self._seq, dict(self._versions), self._connected

    def wait_connected(self, timeout: float) -> bool:
        self.ensure_started()
        with self._cond:
            return self._cond.wait_for(lambda: self._connected, timeout=timeout)

    # ------------------------------------------------------------------ the thread

    def ensure_started(self) -> None:
        """One listening thread per process (a forked worker starts its own)."""
        if self._pid == os.getpid():
            return
        with self._cond:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._connected, self._stop = False, threading.Event()
            threading.Thread(target=self._run, name="quanyu-listen", daemon=True).start()

    def stop(self) -> None:
        """End the thread (tests); the next ensure_started() starts a new one."""
        self._stop.set()
        self._pid = None

    def _run(self) -> None:
        stop, backoff = self._stop, 0.5
        while not stop.is_set():
            conn = None
            try:
                conn = psycopg2.connect(cluster.database_url(), application_name="quanyu-listen")
                conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {DATA_CHANNEL}; LISTEN {AUTH_CHANNEL}")
                    # read after LISTEN: a change committed in between is both read and heard
                    cur.execute("SELECT name, version FROM data_version")
                    versions = dict(cur.fetchall())
                with self._cond:
                    self._versions, self._connected = versions, True
                    self._seq += 1
                    self._cond.notify_all()
                backoff = 0.5
                while not stop.is_set():
                    if select.select([conn], [], [], 5.0) == ([], [], []):
                        with conn.cursor() as cur:  # a quiet line: make sure it is still alive
                            cur.execute("SELECT 1")
                        continue
                    conn.poll()
                    self._apply(conn.notifies)
                    conn.notifies.clear()
            except (psycopg2.Error, OSError) as exc:
                log.warning("push listener lost its connection (%s); screens poll until it is back", exc)
            finally:
                with self._cond:
                    if self._connected:
                        self._connected = False
                        self._cond.notify_all()
                if conn is not None:
                    try:
                        conn.close()
                    except psycopg2.Error:
                        pass
            stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)

    def _apply(self, notifies) -> None:
        changed, auth = False, False
        with self._cond:
            for n in notifies:
                if n.channel == AUTH_CHANNEL:
                    auth = True
                    continue
                name, _, version = n.payload.rpartition(":")
                try:
                    v = int(version)
                except ValueError:
                    continue
                if v > self._versions.get(name, 0):
                    self._versions[name] = v
                    changed = True
            if changed:
                self._seq += 1
                self._cond.notify_all()
        if auth:
            from geo.security import session_cache

            session_cache.recheck()


listener = Listener()
