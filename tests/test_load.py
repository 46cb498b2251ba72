"""Load that never errors (issue #17): the pool waits for a connection and answers 503 with
Retry-After only when the wait passes; a signed-in request needs no database round trip
for its session (static files load while the pool is saturated); a sign-out or a disabled
account made on another worker still takes effect within about a second."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from geo import db
from geo.security import session_cache
from tests.support.webapp import app_serving, signed_in_client


@contextlib.contextmanager
def saturated(url: str, wait_s: float, hold_s: float | None = None):
    """Every slot of the app pool for `url` held by other threads (as busy requests would
    hold them) and the pool's wait set to `wait_s`; they let go after `hold_s` if given,
    else when the block ends."""
    p = db.pool(url)
    old_wait, release, held = p.wait_s, threading.Event(), threading.Barrier(p.size + 1)

    def hold():
        with db.pooled(url):
            held.wait(timeout=30)
            release.wait(timeout=60)

    threads = [threading.Thread(target=hold, daemon=True) for _ in range(p.size)]
    for th in threads:
        th.start()
    held.wait(timeout=30)
    p.wait_s = wait_s
    if hold_s is not None:
        threading.Timer(hold_s, release.set).start()
    try:
        yield p
    finally:
        p.wait_s = old_wait
        release.set()
        for th in threads:
            th.join(timeout=30)


def test_the_pool_waits_for_a_connection_then_says_busy(conn):
    from geo import pgserver

    p = db.WaitingPool(pgserver.database_url(test=True), size=2, wait_s=3.0)
    try:
        got: list = []
        release = threading.Event()

        def hold():
            c = p.getconn()
            got.append(c)
            release.wait(timeout=30)
            p.putconn(c)

        holders = [threading.Thread(target=hold) for _ in range(2)]
        for th in holders:
            th.start()
        while len(got) < 2:
            time.sleep(0.01)
        threading.Timer(0.4, release.set).start()
        t = time.monotonic()
        c = p.getconn()  # waits for a holder to give one back instead of "connection pool exhausted"
        waited = time.monotonic() - t
        assert 0.3 < waited < 3.0
        # a thread holding one takes a second at once (a nested borrow must not wait on itself)
        t = time.monotonic()
        nested = p.getconn()
        assert time.monotonic() - t < 1.0
        p.putconn(nested)
        p.putconn(c)
        for th in holders:
            th.join()
        # all slots held past the wait: PoolBusy, with a retry delay, after about the wait
        p.wait_s = 0.3
        release.clear()
        got.clear()
        holders = [threading.Thread(target=hold) for _ in range(2)]
        for th in holders:
            th.start()
        while len(got) < 2:
            time.sleep(0.01)
        t = time.monotonic()
        with pytest.raises(db.PoolBusy) as busy:
            p.getconn()
        assert 0.25 < time.monotonic() - t < 2.0
        assert busy.value.retry_after >= 1 and "QUANYU_POOL_SIZE" in str(busy.value)
        release.set()
        for th in holders:
            th.join()
        assert p.getconn() is not None  # the slots came back
    finally:
        p.closeall()


@pytest.fixture(scope="module")
def server(demo_url):
    with app_serving(demo_url) as flask_app:
        yield flask_app


def test_a_saturated_pool_answers_503_and_signed_in_static_files_still_load(server, demo_url):
    c = signed_in_client(server, demo_url, "operator")
    assert c.get("/api/versions").status_code == 200  # the session is now cached
    with saturated(demo_url, wait_s=0.3):
        css = c.get("/assets/quanyu.css")
        assert css.status_code == 200 and b"{" in css.data  # no database round trip: not even the session's
        busy = c.get("/api/versions")
        assert busy.status_code == 503
        assert int(busy.headers["Retry-After"]) >= 1
        assert busy.get_json()["error"] == "busy" and "秒后重试" in busy.get_json()["message"]
        assert c.get("/").status_code == 200  # the page's shell needs no database either
        poll = c.post("/_dash-update-component", json=POLL, headers={"X-CSRFToken": c.csrf})
        assert poll.status_code == 503 and poll.headers["Retry-After"]  # the screen's next tick retries
        town = db.scalar(other_conn := db.connect(demo_url), "SELECT code FROM admin_unit WHERE level = 'town' LIMIT 1")
        other_conn.close()
        page = c.get(f"/reports/risk-list/{town}", headers={"Accept": "text/html"})
        assert page.status_code == 503 and "秒后重试" in page.get_data(as_text=True)
        assert page.headers["Retry-After"]
    assert c.get("/api/versions").status_code == 200  # and it serves again once connections return


POLL = {  # the big screen's version poll, as Dash's renderer sends it
    "output": "versions.data",
    "outputs": {"id": "versions", "property": "data"},
    "inputs": [{"id": "tick", "property": "n_intervals", "value": 1}],
    "changedPropIds": ["tick.n_intervals"],
    "state": [{"id": "versions", "property": "data", "value": {}}],
}


def _token(client) -> str:
    return client.get_cookie("quanyu_session").value


def test_a_sign_out_on_another_worker_reaches_this_one_within_a_second(server, demo_url):
    from geo.security import accounts

    c = signed_in_client(server, demo_url, "leader")
    assert c.get("/api/versions").status_code == 200
    other = db.connect(demo_url)  # another worker's connection: nothing of this process is told
    try:
        db.execute(other, "UPDATE app_session SET revoked_at = now() WHERE token_hash = %s", (accounts._digest(_token(c)),))
        other.commit()
        time.sleep(session_cache.check_seconds() + 0.2)
        assert c.get("/api/versions").status_code == 401
        # a disabled account too, with every session of it
        c = signed_in_client(server, demo_url, "leader")
        assert c.get("/api/versions").status_code == 200
        db.execute(other, "UPDATE app_user SET active = false WHERE username = %s", (c.username,))
        other.commit()
        time.sleep(session_cache.check_seconds() + 0.2)
        assert c.get("/api/versions").status_code == 401
    finally:
        db.execute(other, "UPDATE app_user SET active = true WHERE username LIKE 'test-leader-%%'")
        other.commit()
        other.close()


def test_cached_sessions_still_expire_and_the_idle_clock_still_runs(server, demo_url, monkeypatch):
    from geo.security import accounts

    monkeypatch.setenv("QUANYU_SESSION_CACHE_SECONDS", "0.5")
    c = signed_in_client(server, demo_url, "leader")
    assert c.get("/api/versions").status_code == 200
    digest = accounts._digest(_token(c))
    other = db.connect(demo_url)
    try:
        before = db.scalar(other, "SELECT last_seen FROM app_session WHERE token_hash = %s", (digest,))
        db.execute(other, "UPDATE app_session SET last_seen = last_seen - interval '1 minute' WHERE token_hash = %s", (digest,))
        other.commit()
        time.sleep(session_cache.check_seconds() + 0.2)
        assert c.get("/api/versions").status_code == 200
        # the request past the cache's seconds read the session again and restarted its idle clock
        assert db.scalar(other, "SELECT last_seen FROM app_session WHERE token_hash = %s", (digest,)) >= before
        other.commit()
        db.execute(other, "UPDATE app_session SET expires_at = now() + interval '2 seconds' WHERE token_hash = %s", (digest,))
        other.commit()
        time.sleep(session_cache.check_seconds() + 0.2)
        assert c.get("/api/versions").status_code == 200  # read again (the expiry moved earlier) and cached
        monkeypatch.setenv("QUANYU_SESSION_CACHE_SECONDS", "60")
        time.sleep(2.0)
        assert c.get("/api/versions").status_code == 401  # expired: the cached copy knows its expiry
    finally:
        other.close()


def test_24_concurrent_requests_of_one_session_wait_and_all_succeed(server, demo_url):
    """Issue #18's "24 concurrent requests from one session: 10 answered 5xx": with every
    connection busy when they arrive, they queue and are all answered once connections return."""
    from concurrent.futures import ThreadPoolExecutor

    c = signed_in_client(server, demo_url, "operator")
    cookies = {name: c.get_cookie(name).value for name in ("quanyu_session", "_csrf_token")}

    def one(_):
        tc = server.test_client()
        for name, value in cookies.items():
            tc.set_cookie(name, value)
        return tc.get("/api/versions").status_code

    with saturated(demo_url, wait_s=15, hold_s=1.0), ThreadPoolExecutor(24) as ex:  # busy for a second more
        codes = list(ex.map(one, range(24)))
    assert codes == [200] * 24


def test_a_busy_worker_keeps_its_connections():
    """Connections given back are kept up to the pool's size, not closed down to one: a new
    connection costs a SCRAM handshake and a backend with cold catalog caches, and a busy
    worker paid it on nearly every request (five times the Open311 write's time at city
    scale). Beyond the size, the overflow is still closed."""
    from geo import pgserver

    p = db.WaitingPool(pgserver.database_url(test=True), 4, 5.0)

    def pids(n: int) -> set[int]:
        held = [p.getconn() for _ in range(n)]  # nested borrows of one thread: slot + overflow
        try:
            return {db.scalar(c, "SELECT pg_backend_pid()") for c in held}
        finally:
            for c in held:
                c.rollback()
                p.putconn(c)

    try:
        first = pids(4)
        assert pids(4) == first  # the same four backends again
        assert len(pids(6) & first) == 4 and len(p._pool._pool) == 4  # two overflow ones, closed after use
    finally:
        p.closeall()
