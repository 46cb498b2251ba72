"""Push, not poll (issue #17): a commit's data version reaches the process's listener through
NOTIFY (a rolled-back write never does), the listener survives losing its connection, and
/api/live streams the versions to a signed-in page (503 + Retry-After, so the page polls,
when push is off)."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from geo import db, live
from tests.support.webapp import app_serving, signed_in_client


@pytest.fixture
def listener(monkeypatch):
    from geo import pgserver

    monkeypatch.setenv("DATABASE_URL", pgserver.database_url(test=True))
    lis = live.Listener()
    assert lis.wait_connected(10), "the listener connects"
    yield lis
    lis.stop()


def _bump(conn, name: str = "incident", commit: bool = True) -> int:
    v = db.scalar(conn, "UPDATE data_version SET version = version + 1 WHERE name = %s RETURNING version", (name,))
    conn.commit() if commit else conn.rollback()
    return v


def test_a_commit_wakes_the_listener_and_a_rollback_does_not(listener, conn):
    db.execute(conn, "INSERT INTO data_version (name) VALUES ('incident') ON CONFLICT DO NOTHING")
    conn.commit()
    seq, before, connected = listener.snapshot()
    assert connected and "incident" in before
    _bump(conn, commit=False)
    t = time.monotonic()
    assert listener.wait(seq, 1.0)[0] == seq  # nothing committed: nothing heard
    assert time.monotonic() - t >= 0.9
    v = _bump(conn)
    t = time.monotonic()
    new_seq, after, _ = listener.wait(seq, 5.0)
    assert new_seq != seq and after["incident"] == v
    assert time.monotonic() - t < 2.0  # pushed, not found by a poll


def test_the_listener_comes_back_after_losing_its_connection(listener, conn):
    seq, _, _ = listener.snapshot()
    dbname = db.scalar(conn, "SELECT current_database()")
    db.scalar(
        conn,
        """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE application_name = 'quanyu-listen' AND datname = %s AND pid <> pg_backend_pid()""",
        (dbname,),
    )
    conn.commit()
    deadline = time.monotonic() + 10
    while listener.snapshot()[2] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.wait_connected(15), "reconnected"
    v = _bump(conn)  # and it hears commits again
    seq2, versions, _ = listener.wait(listener.snapshot()[0], 5.0)
    assert versions["incident"] == v


# --------------------------------------------------------------------------- /api/live


@pytest.fixture(scope="module")
def server(demo_url):
    with app_serving(demo_url) as flask_app:
        yield flask_app
    live.listener.stop()


def _events(resp, out: list, stop: threading.Event) -> None:
    for chunk in resp.response:
        for line in chunk.decode().splitlines() if isinstance(chunk, bytes) else chunk.splitlines():
            if line.startswith("data:"):
                out.append((time.monotonic(), json.loads(line[5:])))
        if stop.is_set():
            break


def test_the_stream_pushes_a_commit_to_a_signed_in_page(server, demo_url):
    anon = server.test_client()
    assert anon.get("/api/live").status_code == 401
    c = signed_in_client(server, demo_url, "operator")
    resp = c.get("/api/live", buffered=False)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    got, stop = [], threading.Event()
    reader = threading.Thread(target=_events, args=(resp, got, stop), daemon=True)
    reader.start()
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got and "incident" in got[0][1]  # the versions at once, as /api/versions has them
    other = db.connect(demo_url)
    try:
        t = time.monotonic()
        v = _bump(other)
        while not any(e[1].get("incident") == v for e in got) and time.monotonic() < t + 10:
            time.sleep(0.05)
        at = next(e[0] for e in got if e[1].get("incident") == v)
        assert at - t < 2.0
    finally:
        stop.set()
        _bump(other)  # wakes the stream so the reader sees stop
        other.close()
        reader.join(timeout=20)
        resp.close()


def test_push_off_answers_503_so_the_page_keeps_polling(server, demo_url, monkeypatch):
    monkeypatch.setenv("QUANYU_PUSH", "0")
    c = signed_in_client(server, demo_url, "operator")
    resp = c.get("/api/live")
    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
    assert resp.get_json()["fallback"] == "polling"
    assert c.get("/api/versions").status_code == 200  # what the page's poll reads instead


def test_screens_refreshing_at_the_same_versions_share_one_computation(server, demo_url, monkeypatch):
    """Fifty screens refreshing after one write: the panels are computed once per worker and
    scope (the same answer object), and again for new versions or another scope."""
    from geo.security import access
    from geo.web.pages import bigscreen

    conn = db.connect(demo_url)
    try:
        versions = dashboard_versions(conn)
        town = db.scalar(conn, "SELECT code FROM admin_unit WHERE level = 'town' ORDER BY code LIMIT 1")
        code = db.scalar(conn, "SELECT code FROM jurisdiction LIMIT 1")
    finally:
        conn.close()
    admin, leader = access.Scope("t-admin", "admin", code), access.Scope("t-leader", "leader", town)
    monkeypatch.setattr(bigscreen, "PANELS_CLOCK_S", 3600)  # a cold first computation must not cross a clock bucket
    with db.scoped(admin):
        first = bigscreen.refresh_panels(versions)
        assert bigscreen.refresh_panels(dict(versions)) is first
        moved = dict(versions, incident=versions.get("incident", 0) + 1)
        assert bigscreen.refresh_panels(moved) is not first
    with db.scoped(leader):
        assert bigscreen.refresh_panels(versions) is not first  # never another scope's answer

    # the feed likewise: read once for the screens of a scope at the same versions
    reads, real = [], bigscreen.dashboard.feed
    monkeypatch.setattr(bigscreen.dashboard, "feed", lambda conn, code: reads.append(code) or real(conn, code))
    monkeypatch.setattr(bigscreen, "_feeds", bigscreen.LRU(64))
    with db.scoped(admin):
        items, signature = bigscreen.refresh_feed(versions, None)
        assert bigscreen.refresh_feed(dict(versions), None)[1] == signature and len(reads) == 1
        assert bigscreen.refresh_feed(versions, signature) == (bigscreen.no_update, bigscreen.no_update)
        bigscreen.refresh_feed(moved, None)
        assert len(reads) == 2
    with db.scoped(leader):
        bigscreen.refresh_feed(versions, None)
        assert len(reads) == 3  # never another scope's answer


def dashboard_versions(conn) -> dict:
    from geo.analysis import dashboard

    return dashboard.versions(conn)


@pytest.fixture
def screen_poll(monkeypatch):
    """The big screen's poll callback on the test database, with the clock in the test's hand."""
    from geo import pgserver

    monkeypatch.setenv("DATABASE_URL", os.environ.get("TEST_DATABASE_URL") or pgserver.database_url(test=True))
    import app  # noqa: F401  the one Dash app of the process
    from geo.web.pages import bigscreen

    clock = [1_000_000.0]
    monkeypatch.setattr(bigscreen.time, "time", lambda: clock[0])
    bigscreen._published.clear()
    yield bigscreen.poll, clock
    bigscreen._published.clear()


def test_screens_polling_in_one_epoch_get_the_same_versions(screen_poll, conn):
    """A burst of writes must not give each polling screen versions of its own (fifty panel
    computations and tile renderings): within one epoch every poll answers the same, the
    next epoch sees the write, and a page that already knows newer versions never goes back."""
    from dash import no_update

    from geo.web.pages import bigscreen

    poll, clock = screen_poll
    db.execute(conn, "INSERT INTO data_version (name) VALUES ('incident') ON CONFLICT DO NOTHING")
    conn.commit()
    first = poll(1, {})
    assert first["incident"] >= 1
    written = _bump(conn)
    clock[0] += bigscreen.VERSIONS_EPOCH_S / 4
    assert poll(1, {}) == first  # another screen, same epoch: the same versions
    assert poll(2, first) is no_update
    clock[0] += bigscreen.VERSIONS_EPOCH_S
    later = poll(3, first)
    assert later["incident"] == written
    ahead = dict(later, incident=written + 5)  # what a push or another worker already showed
    assert poll(4, ahead) is no_update
    assert poll(5, {"incident": 0})["incident"] == written


def test_streams_sending_in_one_tick_send_the_same_snapshot(listener, conn):
    """During a burst, the streams that send at a tick send that tick's first snapshot, even
    if a write lands between them; the next tick has the write."""
    db.execute(conn, "INSERT INTO data_version (name) VALUES ('incident') ON CONFLICT DO NOTHING")
    conn.commit()
    _, first, _ = listener.at_tick(41)
    written = _bump(conn)
    assert listener.wait_connected(5)
    deadline = time.monotonic() + 10
    while listener.snapshot()[1].get("incident") != written and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.snapshot()[1]["incident"] == written
    assert listener.at_tick(41)[1] == first  # another stream of the same tick
    assert listener.at_tick(42)[1]["incident"] == written
