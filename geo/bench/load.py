"""The load test (issue #17): N signed-in wall screens and bursts of intake writes against the
app served as in production (gunicorn, geo.bench.app_server), on 127.0.0.1 only.

A screen does what the big screen's page does: its first load (the page, the layout, the
current versions and every visible layer's tiles of the initial view; reported apart, and
the step's clock starts once the screens are open), then every `poll_s` the version poll (the Dash callback the page's timer fires); when the versions
moved, the two refresh callbacks (panels, feed) and the tiles of each layer whose versions
moved, as the map re-requests them. Each screen has its own session (signed in like any
account) and its own keep-alive connection, like a browser tab.

Writes come as Open311 POSTs (another system reporting incidents) at `write_rate` a second
for `burst_s` seconds in the middle of each step, paced by the clock whether or not the
server keeps up. Everything is bounded: a fixed list of screen counts, each step a fixed
number of seconds, the ramp stops at the first step whose p95 passes 1 s (the count where
it crosses is reported) or when the time budget is spent. The incidents written are
removed afterwards (geo.bench.measure.remove_probes), the keys revoked, the sessions
ended. Figures include the client's own CPU on the same machine: conservative.
"""

from __future__ import annotations

import gzip
import http.client
import json
import random
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from geo import db
from geo.bench import app_server
from geo.bench.measure import PROBE_TITLE

DEFAULT_STEPS = (10, 25, 50, 100, 150, 200, 300)
CROSSING_MS = 1000.0
FIRST_LOAD_WAIT_S = 180.0  # the screens' first loads before a step's clock starts, at most

POLL = {
    "output": "versions.data",
    "outputs": {"id": "versions", "property": "data"},
    "inputs": [{"id": "tick", "property": "n_intervals", "value": 1}],
    "changedPropIds": ["tick.n_intervals"],
}
PANELS = [("kpis", "children"), ("fig-category", "figure"), ("fig-trend", "figure"), ("fig-level", "figure")]
PANELS += [("ranking", "children")]
FEED = [("feed", "children"), ("feed-last", "data")]


def _multi(outputs: list[tuple[str, str]], versions: dict, state: list | None = None) -> dict:
    """A Dash request for a callback of several outputs fired by a change of `versions`."""
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": "versions", "property": "data", "value": versions}],
        "changedPropIds": ["versions.data"],
        "state": state or [],
    }


@dataclass
class Recorder:
    """Every request's kind, latency and status, from every thread."""

    samples: list[tuple[str, float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # who answered the screens' reads (the X-Quanyu-Read header: replica, primary), with replicas on
    read_from: Counter = field(default_factory=Counter)

    def add(self, kind: str, ms: float, status: int) -> None:
        with self.lock:
            self.samples.append((kind, ms, status))

    def summary(self, seconds: float, kinds: tuple[str, ...] | None = None) -> dict:
        with self.lock:
            rows = [s for s in self.samples if kinds is None or s[0] in kinds]
        ms = np.array([r[1] for r in rows], float)
        status = [r[2] for r in rows]
        out = {
            "requests": len(rows),
            "throughput_per_s": round(len(rows) / seconds, 1) if seconds else None,
            "errors": sum(1 for s in status if not (200 <= s < 400) and s != 503),
            "busy_503": sum(1 for s in status if s == 503),
            # what the failures were (0: no answer: the connection failed or timed out)
            "failed_statuses": {str(k): v for k, v in sorted(Counter(s for s in status if not 200 <= s < 400).items())},
        }
        if self.read_from:  # every screen request of the step, whatever `kinds`
            out["read_from"] = dict(self.read_from)
        if len(ms):
            out |= {f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)} | {
                "max_ms": round(float(ms.max()), 1)
            }
        return out


class Client:
    """One keep-alive HTTP connection with a session's cookies (a browser tab)."""

    def __init__(self, base: str, token: str, csrf: str, rec: Recorder):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.rec = u.hostname, u.port, rec
        self.cookies = f"quanyu_session={token}; _csrf_token={csrf}"
        self.csrf = csrf
        self.conn: http.client.HTTPConnection | None = None

    def request(self, kind: str, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": self.cookies, "Accept-Encoding": "gzip"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers |= {"Content-Type": "application/json", "X-CSRFToken": self.csrf}
        t = time.perf_counter()
        status, payload = 0, b""
        for attempt in (0, 1):  # a keep-alive connection the server closed is reopened once
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                status = resp.status
                served = resp.getheader("X-Quanyu-Read")
                if served and kind != "write":
                    with self.rec.lock:
                        self.rec.read_from[served] += 1
                if resp.getheader("Content-Encoding") == "gzip":
                    payload = gzip.decompress(payload)
                break
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    status = 0
        self.rec.add(kind, (time.perf_counter() - t) * 1000, status)
        return status, payload

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class View:
    """What every screen shows: the initial view's tiles of each visible layer."""

    z: int
    tiles: list[tuple[int, int]]
    layers: list[tuple[str, tuple[str, ...], tuple[str, ...]]]  # id, depends_on, filters

    def tile_paths(self, versions: dict, only: set[str] | None = None) -> list[str]:
        out = []
        for lid, depends, filters in self.layers:
            if only is not None and lid not in only:
                continue
            q = {"window": "30"} if "window" in filters else {}
            q["v"] = ".".join(str(versions.get(n, 0)) for n in depends)
            qs = urllib.parse.urlencode(q)
            out += [f"/tiles/{lid}/{self.z}/{x}/{y}.pbf?{qs}" for x, y in self.tiles]
        return out

    def moved(self, old: dict, new: dict) -> set[str]:
        return {lid for lid, depends, _ in self.layers if any(old.get(n) != new.get(n) for n in depends)}


def screen_loop(
    client: Client, view: View, poll_s: float, stop: threading.Event, start_delay: float, loaded: threading.Semaphore
) -> None:
    """A wall screen from first load until `stop`: poll, and on a change refresh as the page
    does. The first load's requests are kinds of their own (first_page, first_tile) and
    `loaded` is released once it is done: the step measures screens that are open."""
    if stop.wait(start_delay):
        return
    client.request("first_page", "GET", "/")
    client.request("first_page", "GET", "/_dash-layout")
    status, body = client.request("first_page", "GET", "/api/versions")
    versions = json.loads(body) if status == 200 else {}
    for path in view.tile_paths(versions):
        client.request("first_tile", "GET", path)
    loaded.release()
    feed_last = None
    while not stop.wait(poll_s):
        status, body = client.request("poll", "POST", "/_dash-update-component", POLL | {"state": _state(versions)})
        if status != 200:
            continue  # 503: the next tick retries, as the page does
        new = (json.loads(body).get("response", {}).get("versions") or {}).get("data")
        if new is None:
            continue  # no_update: nothing changed (Dash answers 204, or 200 with no outputs)
        moved = view.moved(versions, new)
        client.request("refresh", "POST", "/_dash-update-component", _multi(PANELS, new))
        status, body = client.request(
            "refresh", "POST", "/_dash-update-component", _multi(FEED, new, [_prop("feed-last", "data", feed_last)])
        )
        if status == 200:
            feed_last = (json.loads(body)["response"].get("feed-last") or {}).get("data", feed_last)
        for path in view.tile_paths(new, moved):
            client.request("tile", "GET", path)
        versions = new
    client.close()


def _prop(ident: str, prop: str, value) -> dict:
    return {"id": ident, "property": prop, "value": value}


def _state(versions: dict) -> list[dict]:
    return [_prop("versions", "data", versions)]


def writer(
    base: str, keys: list[str], points: np.ndarray, codes: list[str], rate: float, seconds: float, rec: Recorder, ids: list[int]
) -> None:
    """Open311 POSTs at `rate` a second for `seconds`, each at its scheduled time (a slow
    answer does not slow the schedule: up to 32 are in flight)."""
    n = int(rate * seconds)
    u = urllib.parse.urlsplit(base)
    local = threading.local()

    def post(i: int) -> None:
        if getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        lon, lat = points[i % len(points)]
        form = urllib.parse.urlencode(
            {
                "api_key": keys[i % len(keys)],
                "service_code": codes[i % len(codes)],
                "lat": f"{lat:.6f}",
                "long": f"{lon:.6f}",
                "description": f"{PROBE_TITLE} load {i}",
            }
        )
        t = time.perf_counter()
        status = 0
        try:
            local.conn.request(
                "POST", "/open311/v2/requests.json", body=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
            )
            resp = local.conn.getresponse()
            body = resp.read()
            status = resp.status
            if status == 200:
                ids.append(int(json.loads(body)[0]["service_request_id"]))
        except (http.client.HTTPException, OSError, ValueError, KeyError):
            local.conn.close()
            local.conn = None
        rec.add("write", (time.perf_counter() - t) * 1000, status)

    start = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        for i in range(n):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, i)


@dataclass
class Setup:
    view: View
    keys: list[str]
    key_ids: list[int]
    points: np.ndarray
    codes: list[str]
    sessions: list[tuple[str, str]] = field(default_factory=list)


def prepare(url: str, n_keys: int) -> Setup:
    from geo.analysis import dashboard
    from geo.bench import screen as bench_screen
    from geo.bench.measure import sample_points
    from geo.security import apikeys
    from layers import LAYERS

    conn = db.connect(url)
    try:
        j = dashboard.jurisdiction(conn)
        z, tiles = bench_screen.initial_view((j["xmin"], j["ymin"], j["xmax"], j["ymax"]))
        view = View(z, tiles, [(lid, tuple(la.depends_on), tuple(la.filters)) for lid, la in LAYERS.items() if la.visible])
        keys = [apikeys.create(conn, f"bench-load-{i}") for i in range(n_keys)]
        key_ids = [k["id"] for k in apikeys.list_keys(conn) if k["name"].startswith("bench-load-") and not k["revoked_at"]]
        points = sample_points(conn, 2_000, seed=17)
        codes = [r["minor_code"] for r in db.rows(conn, "SELECT minor_code FROM category ORDER BY minor_code")]
        return Setup(view, keys, key_ids, points, codes)
    finally:
        conn.close()


def sign_in_screens(url: str, sessions: list[tuple[str, str]], n: int) -> None:
    """Sessions (token, CSRF token) for n screens in `sessions`, made as the sign-in form makes them."""
    from geo.bench import screen as bench_screen
    from geo.security import accounts

    if len(sessions) >= n:
        return
    conn = db.connect(url)
    try:
        bench_screen.ensure_bench_account(conn)
        while len(sessions) < n:
            s = accounts.sign_in(conn, bench_screen.BENCH_USER, bench_screen.BENCH_PASSWORD, user_agent="quanyu-bench-load")
            sessions.append((s.token, s.csrf_token))
    finally:
        conn.close()


def end_sessions(url: str, sessions: list[tuple[str, str]]) -> None:
    from geo.security import accounts

    conn = db.connect(url)
    try:
        for token, _ in sessions:
            accounts.sign_out(conn, token)
    finally:
        conn.close()


def step(base: str, setup: Setup, screens: int, seconds: float, poll_s: float, rate: float, burst_s: float) -> dict:
    """`screens` screens open (their first loads done, or FIRST_LOAD_WAIT_S spent), then
    `seconds` of polling with a write burst starting a third of the way in."""
    rec, stop, ids, loaded = Recorder(), threading.Event(), [], threading.Semaphore(0)
    rng = random.Random(screens)
    threads = [
        threading.Thread(
            target=screen_loop,
            args=(Client(base, tok, csrf, rec), setup.view, poll_s, stop, rng.uniform(0, poll_s), loaded),
            daemon=True,
        )
        for tok, csrf in setup.sessions[:screens]
    ]
    t_open = time.monotonic()
    for th in threads:
        th.start()
    opened = sum(loaded.acquire(timeout=max(0.1, t_open + FIRST_LOAD_WAIT_S - time.monotonic())) for _ in threads)
    t0 = time.monotonic()
    burst = threading.Thread(
        target=lambda: stop.wait(seconds / 3) or writer(base, setup.keys, setup.points, setup.codes, rate, burst_s, rec, ids),
        daemon=True,
    )
    burst.start()
    stop.wait(seconds)
    stop.set()
    for th in threads + [burst]:
        th.join(timeout=120)
    elapsed = time.monotonic() - t0
    steady = ("poll", "refresh", "tile")
    return {
        "screens": screens,
        "opened": opened,
        "first_loads_s": round(t0 - t_open, 1),
        "seconds": round(elapsed, 1),
        "screen_requests": rec.summary(elapsed, steady),
        "by_kind": {k: rec.summary(elapsed, (k,)) for k in ("first_page", "first_tile") + steady},
        "writes": rec.summary(burst_s, ("write",)) | {"target_per_s": rate, "written": len(ids)},
        "_ids": ids,
    }


def run(
    url: str,
    steps: tuple[int, ...] = DEFAULT_STEPS,
    step_seconds: float = 30,
    poll_s: float | None = None,
    write_rate: float = 50,
    burst_s: float = 10,
    budget_s: float = 900,
    workers: int = 2,
    threads: int = 64,
    say=print,
    env: dict | None = None,
) -> dict:
    """The ramp: each count of screens in turn until p95 passes 1 s or the budget is spent.
    `env`: more environment for the app (QUANYU_REPLICA_URLS for run_with_replica)."""
    from geo import config
    from geo.bench import measure as m
    from geo.security import apikeys

    poll_s = poll_s or config.settings().live_seconds
    steps = tuple(sorted(set(int(s) for s in steps if s > 0)))
    n_keys = max(10, int(write_rate * 60 / 25) + 1)  # Open311 allows 60 posts a minute per key per worker
    setup = prepare(url, n_keys)
    out: dict = {
        "server": f"gunicorn -w {workers} --threads {threads}",
        "poll_seconds": poll_s,
        "write_burst": f"{write_rate:g}/s for {burst_s:g} s per step",
        "step_seconds": step_seconds,
        "steps": [],
    }
    started = time.monotonic()
    try:
        with app_server.running(url, workers=workers, threads=threads, **(env or {})) as app:
            # measured on warmed workers (a cold process's first screen is its own figure:
            # screen.first_load); the warm-up's wait is reported
            out["warm_up_wait_s"] = app.wait_warm()
            for n in steps:
                if time.monotonic() - started + step_seconds > budget_s:
                    out["stopped"] = f"time budget {budget_s:g} s spent"
                    break
                sign_in_screens(url, setup.sessions, n)
                say(f"  load: {n} screens …")
                r = step(app.base, setup, n, step_seconds, poll_s, write_rate, burst_s)
                r.pop("_ids")
                out["steps"].append(r)
                s = r["screen_requests"]
                say(f"    p95 {s.get('p95_ms')} ms, {s['throughput_per_s']} req/s, errors {s['errors']}, 503 {s['busy_503']}")
                if s.get("p95_ms", 0) > CROSSING_MS:
                    break
    finally:
        end_sessions(url, setup.sessions)
        conn = db.connect(url)
        try:
            for key_id in setup.key_ids:
                apikeys.revoke(conn, key_id)
            # every incident a load run wrote (this one's, and an interrupted earlier run's)
            with db.transaction(conn) as cur:
                cur.execute(
                    "UPDATE incident SET title = %s WHERE description LIKE %s AND title IS DISTINCT FROM %s",
                    (PROBE_TITLE, PROBE_TITLE + " load %", PROBE_TITLE),
                )
            m.remove_probes(conn)
        finally:
            conn.close()
    out |= crossing(out["steps"])
    return out


def run_with_replica(url: str, say=print, **kwargs) -> dict:
    """The same ramp with the screens' reads on a hot standby of the bench database (issue #17
    item 2), made for the run by geo.replica in a temporary directory on a free port and removed
    after: beside the `load` section of the same run, replicas on and off on the same machine.
    On one machine the standby shares the cores with the primary and the app, so this measures
    the routing's cost and correctness under load (every read that should go to the standby
    does: `read_from`), not the capacity a standby on its own server adds."""
    import shutil
    import tempfile
    from pathlib import Path

    from geo import replica

    base = Path(tempfile.mkdtemp(prefix="quanyu-bench-replica-"))
    try:
        t = time.monotonic()
        standby = replica.start(url, port=app_server.free_port(), base=base)
        made_s = round(time.monotonic() - t, 1)
        say(f"  replica: standby made in {made_s} s")
        out = run(url, say=say, env={"QUANYU_REPLICA_URLS": standby}, **kwargs)
        out["replica"] = {"made_s": made_s} | {
            k: v for k, v in replica.status(url, base=base).items() if k not in ("url", "data_dir")
        }
        return out
    finally:
        replica.stop(url, base=base)
        shutil.rmtree(base, ignore_errors=True)


def crossing(steps: list[dict]) -> dict:
    """The screen count at which p95 reaches 1 s: interpolated between the last step under it
    and the first over it; None when no step passed it (then at least the largest tried)."""
    under = None
    for s in steps:
        p95 = s["screen_requests"].get("p95_ms")
        if p95 is None:
            continue
        if p95 > CROSSING_MS:
            if under is None:
                return {"screens_at_p95_1s": s["screens"], "screens_at_p95_1s_note": "the first step already passed 1 s"}
            n0, p0 = under
            n = n0 + (s["screens"] - n0) * (CROSSING_MS - p0) / (p95 - p0)
            return {"screens_at_p95_1s": round(n), "screens_at_p95_1s_note": f"between {n0} and {s['screens']} screens"}
        under = (s["screens"], p95)
    largest = steps[-1]["screens"] if steps else 0
    return {"screens_at_p95_1s": None, "screens_at_p95_1s_note": f"not reached up to {largest} screens"}
