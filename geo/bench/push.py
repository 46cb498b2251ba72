"""Commit to screen (issue #17): how long from a write's commit until every open big screen
has the new data, with N screens holding the push stream (/api/live) open.

Each screen is a signed-in session with its stream and a second keep-alive connection for
its callbacks; on an event it does what the page does on a version change (the panels' and
the feed's refresh). The writer commits a probe incident directly in the bench database
every `spacing_s` (so the commit time is exact), then reads the incident version the commit
made. Per write and screen: the event latency (commit -> the first event carrying that
version) and the screen latency (-> the refresh answered). A screen that never saw a
version within `grace_s` counts as missed. Bounded: fixed screens, writes and grace.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse

import numpy as np

from geo import db
from geo.bench import app_server
from geo.bench import load as bench_load
from geo.bench.measure import PROBE_TITLE


class StreamScreen(threading.Thread):
    """One screen: reads its stream, refreshes on every event, records when each version came."""

    def __init__(self, base: str, token: str, csrf: str, rec: bench_load.Recorder):
        super().__init__(daemon=True)
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.cookies = f"quanyu_session={token}; _csrf_token={csrf}"
        self.client = bench_load.Client(base, token, csrf, rec)
        self.events: list[tuple[int, float]] = []  # incident version, when its event came
        self.refreshed: list[tuple[int, float]] = []  # incident version, when the refresh for it was answered
        self.latest: dict | None = None
        self.wake = threading.Condition()
        self.done = False
        self.connected = threading.Event()
        self.failed: str | None = None
        self.conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        try:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            self.conn.request("GET", "/api/live", headers={"Cookie": self.cookies, "Accept": "text/event-stream"})
            resp = self.conn.getresponse()
            if resp.status != 200:
                self.failed = f"HTTP {resp.status}: {resp.read()[:200]!r}"
                return
            while True:
                line = resp.readline()
                if not line:
                    return
                if not line.startswith(b"data:"):
                    continue
                at = time.perf_counter()
                versions = json.loads(line[5:])
                if not self.connected.is_set():
                    self.connected.set()
                    threading.Thread(target=self._refresher, daemon=True).start()
                    continue
                self.events.append((int(versions.get("incident", 0)), at))
                with self.wake:
                    self.latest = versions
                    self.wake.notify()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if not self.failed and not getattr(self, "_closing", False):
                self.failed = repr(exc)
        finally:
            self.connected.set()
            with self.wake:
                self.done = True
                self.wake.notify()

    def _refresher(self) -> None:
        """What the page does on an event, beside the stream (a browser does not stop reading
        its stream while callbacks are in flight): refresh with the latest versions."""
        feed = [bench_load._prop("feed-last", "data", None)]
        while True:
            with self.wake:
                self.wake.wait_for(lambda: self.latest is not None or self.done)
                if self.latest is None:
                    break
                versions, self.latest = self.latest, None
            self.client.request("refresh", "POST", "/_dash-update-component", bench_load._multi(bench_load.PANELS, versions))
            self.client.request("refresh", "POST", "/_dash-update-component", bench_load._multi(bench_load.FEED, versions, feed))
            self.refreshed.append((int(versions.get("incident", 0)), time.perf_counter()))
        self.client.close()

    def close(self) -> None:
        self._closing = True
        if self.conn is not None and self.conn.sock is not None:
            try:
                self.conn.sock.shutdown(2)
            except OSError:
                pass


def _write_probe(conn, probe: dict) -> tuple[float, int]:
    """A probe incident committed now; (commit time, the incident version it made)."""
    with db.transaction(conn) as cur:
        cur.execute(
            """INSERT INTO incident (title, minor_code, source, reported_at, grid_code, admin_code, geom, synthetic)
               VALUES (%(t)s, %(cat)s, 'patrol', now(), %(code)s, %(admin)s, %(p)s::geometry, true)""",
            dict(t=PROBE_TITLE, **probe),
        )
    t = time.perf_counter()
    return t, int(db.scalar(conn, "SELECT version FROM data_version WHERE name = 'incident'"))


def run(url: str, screens: int = 50, writes: int = 10, spacing_s: float = 2.0, grace_s: float = 10.0, workers: int = 2) -> dict:
    from geo.bench import measure as m

    sessions: list[tuple[str, str]] = []
    bench_load.sign_in_screens(url, sessions, screens)
    conn = db.connect(url)
    probe = db.one(
        conn,
        """SELECT g.code, g.admin_code AS admin, ST_PointOnSurface(g.geom) AS p,
                  (SELECT minor_code FROM category ORDER BY minor_code LIMIT 1) AS cat
             FROM grid_current g ORDER BY g.code LIMIT 1""",
    )
    conn.commit()
    threads = max(64, screens + 16)  # every stream a thread of its own wherever it lands, and room for requests
    rec = bench_load.Recorder()
    out: dict = {
        "screens": screens,
        "writes": writes,
        "spacing_s": spacing_s,
        "server": f"gunicorn -w {workers} --threads {threads}",
    }
    try:
        with app_server.running(url, workers=workers, threads=threads) as app:
            out["warm_up_wait_s"] = app.wait_warm()
            group = [StreamScreen(app.base, tok, csrf, rec) for tok, csrf in sessions]
            for s in group:
                s.start()
            deadline = time.monotonic() + 60
            for s in group:
                s.connected.wait(max(0.1, deadline - time.monotonic()))
            refused = [s.failed for s in group if s.failed]
            # the panels once before the first write, so that a worker's start-up is not counted
            warm = bench_load.Client(app.base, *sessions[0], bench_load.Recorder())
            for _ in range(workers * 2):
                _, versions = warm.request("warm", "GET", "/api/versions")
                versions = json.loads(versions or b"{}")
                warm.request("warm", "POST", "/_dash-update-component", bench_load._multi(bench_load.PANELS, versions))
                warm.close()  # a new connection: the next may land on the other worker
            commits = []
            for _ in range(writes):
                commits.append(_write_probe(conn, probe))
                time.sleep(spacing_s)
            time.sleep(min(grace_s, 5.0))
            for s in group:
                s.close()
            for s in group:
                s.join(timeout=30)
    finally:
        bench_load.end_sessions(url, sessions)
        m.remove_probes(conn)
        conn.close()
    event_ms, screen_ms, missed = [], [], 0
    for t_commit, version in commits:
        for s in group:
            event = next((at for v, at in s.events if v >= version), None)
            shown = next((at for v, at in s.refreshed if v >= version), None)
            if event is None or shown is None or shown - t_commit > grace_s:
                missed += 1
                continue
            event_ms.append((event - t_commit) * 1000)
            screen_ms.append((shown - t_commit) * 1000)

    def pct(a):
        a = np.asarray(a, float)
        return (
            {f"p{q}_ms": round(float(np.percentile(a, q)), 1) for q in (50, 95, 99)} | {"max_ms": round(float(a.max()), 1)}
            if len(a)
            else {}
        )

    out |= {
        "streams_refused": len(refused),
        "refused_because": sorted(set(refused))[:3],
        "missed": missed,
        "commit_to_event": pct(event_ms),
        "commit_to_screen": pct(screen_ms),
        "refresh_requests": rec.summary(1.0, ("refresh",)) | {"throughput_per_s": None},
    }
    return out
