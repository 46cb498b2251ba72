"""`/api/live`: the data versions pushed to an open page as server-sent events (issue #17).

The big screen (assets/live.js) opens one stream; each time a writer commits, the
process's listener (geo.live) wakes the stream, which sends the whole versions dict, the
same JSON `/api/versions` answers, and the page redraws what depends on what moved.
Events are coalesced to at most one every COALESCE_S: a burst of fifty writes a second
is a redraw or two a second, not fifty. During a burst every stream sends at the same
ticks of the clock the same snapshot of its tick (Listener.at_tick), so fifty screens ask
for one set of versions, which the panel and tile caches compute once, instead of fifty
sets a few milliseconds apart; a change after a quiet spell is sent at once.

Bounded: a stream lasts at most STREAM_S (the browser's EventSource reconnects by itself);
each worker holds at most max_streams() of them so that its threads stay free for
ordinary requests; beyond that, or with push off (QUANYU_PUSH=0) or its listener down,
the answer is 503 with Retry-After and the page keeps polling (the fallback). A stream
ends when its session does (checked at every heartbeat, from the session cache).
"""

from __future__ import annotations

import json
import os
import threading
import time

import flask

from geo import live
from geo.security import session_cache

bp = flask.Blueprint("live", __name__)

HEARTBEAT_S = 15.0  # a comment line this often keeps proxies from closing an idle stream
COALESCE_S = 0.5
STREAM_S = 600.0
CONNECT_WAIT_S = 2.0


def max_streams() -> int:
    """Streams per process: gunicorn's threads (QUANYU_THREADS) less eight kept for requests."""
    threads = int(os.environ.get("QUANYU_THREADS", "0") or 0)
    return max(1, threads - 8) if threads else 64


_slots_lock = threading.Lock()
_open = 0


def _busy(reason: str, retry: int):
    resp = flask.jsonify({"error": "push unavailable", "reason": reason, "fallback": "polling", "retry_after": retry})
    resp.status_code = 503
    resp.headers["Retry-After"] = str(retry)
    return resp


@bp.get("/api/live")
def stream():
    global _open
    if not live.enabled():
        return _busy("push is off (QUANYU_PUSH=0)", 3600)
    if not live.listener.wait_connected(CONNECT_WAIT_S):
        return _busy("the listener is not connected to the database", 15)
    with _slots_lock:
        if _open >= max_streams():
            return _busy(f"this worker already holds {max_streams()} streams", 30)
        _open += 1
    token = flask.request.cookies.get("quanyu_session")
    released = threading.Event()

    def release():  # on close, whether or not the stream ever started
        global _open
        with _slots_lock:
            if not released.is_set():
                released.set()
                _open -= 1

    def events():
        try:
            yield f"retry: {int(COALESCE_S * 6000)}\n\n"
            seq, versions, connected = live.listener.snapshot()
            yield _event(versions)
            started, last_tick = time.monotonic(), _tick()
            while time.monotonic() - started < STREAM_S:
                new_seq, versions, connected = live.listener.wait(seq, HEARTBEAT_S)
                if not connected:
                    yield "event: down\ndata: {}\n\n"  # the page polls until it reconnects
                    return
                if session_cache.lookup(token) is None:
                    return  # signed out or disabled meanwhile
                if new_seq == seq:
                    yield ": ping\n\n"
                    continue
                tick = _tick()
                if tick <= last_tick:  # sent in this tick already: the next tick's snapshot, shared
                    tick = last_tick + 1
                    time.sleep(max(0.0, tick * COALESCE_S - time.time()))
                    new_seq, versions, _ = live.listener.at_tick(tick)
                seq, last_tick = new_seq, tick
                yield _event(versions)
        finally:
            release()

    resp = flask.Response(events(), mimetype="text/event-stream")
    resp.call_on_close(release)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"  # nginx: pass events on at once
    return resp


def _tick() -> int:
    """The tick of the shared clock (wall time, the same in every worker) that now is in."""
    return int(time.time() // COALESCE_S)


def _event(versions: dict) -> str:
    return f"data: {json.dumps(versions, separators=(',', ':'))}\n\n"
