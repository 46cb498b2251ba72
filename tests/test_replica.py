"""Read replicas (issue #17 item 2), with a real hot standby of the test cluster.

The standby is made by geo.replica (pg_basebackup, a replication slot) on a free port with its
data in a temporary directory, and is stopped (its slot dropped) at the end even when a test
fails. Reads of the app go to it and writes to the primary (checked on the connection used:
pg_is_in_recovery(), inet_server_port(), and the X-Quanyu-Read header of each request); a writer
reads its writes; a version the standby has not replayed is never served as current; a killed
standby costs no request.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psycopg2
import pytest

from geo import db, read_routing, replica
from geo import pgserver as cluster
from geo.security import access
from tests.support.webapp import app_serving, free_port, signed_in_client

try:
    _bindir = cluster._binaries()[0]
    HAVE_BASEBACKUP = (_bindir / "pg_basebackup").is_file()
except cluster.ClusterError:
    HAVE_BASEBACKUP = False

pytestmark = pytest.mark.skipif(not HAVE_BASEBACKUP, reason="pg_basebackup is not installed")


def lsn(url: str, sql: str) -> int:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return db.parse_lsn(cur.fetchone()[0])
    finally:
        conn.close()


def wait_caught_up(primary: str, standby: str, timeout: float = 30) -> None:
    target = lsn(primary, "SELECT pg_current_wal_insert_lsn()::text")
    deadline = time.monotonic() + timeout
    while lsn(standby, "SELECT pg_last_wal_replay_lsn()::text") < target:
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.05)


def on_standby(standby: str, sql: str):
    conn = psycopg2.connect(standby)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()
    finally:
        conn.close()


def state() -> dict:
    """What routing knew when an assertion failed (for its message)."""
    return {"written_lsn": db.written_lsn(), "health": {u.rsplit(":", 1)[1]: read_routing.health(u) for u in db.replica_urls()}}


def pause(standby: str) -> None:
    """Pause replay and wait until it has stopped (the request takes effect a moment later)."""
    on_standby(standby, "SELECT pg_wal_replay_pause()")
    deadline = time.monotonic() + 10
    while on_standby(standby, "SELECT pg_get_wal_replay_pause_state()")[0] != "paused":
        assert time.monotonic() < deadline, "replay did not pause"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def standby(demo_url):
    base = Path(tempfile.mkdtemp(prefix="quanyu-replica-"))
    try:
        url = replica.start(demo_url, port=free_port(), base=base)
        wait_caught_up(demo_url, url)
        yield {"url": url, "base": base, "port": int(url.rsplit(":", 1)[1].split("/")[0])}
    finally:
        replica.stop(demo_url, base=base, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def routed(standby, monkeypatch):
    """QUANYU_REPLICA_URLS naming the standby, with nothing known of it yet."""
    monkeypatch.setenv("QUANYU_REPLICA_URLS", standby["url"])
    read_routing.reset()
    db.set_written_lsn(0)
    yield standby
    with contextlib.suppress(psycopg2.Error):  # a test that paused replay and failed
        on_standby(standby["url"], "SELECT pg_wal_replay_resume()")
    read_routing.reset()
    db.set_written_lsn(0)


@pytest.fixture(scope="module")
def server(demo_url):
    with app_serving(demo_url) as flask_app:
        yield flask_app


def where(conn) -> tuple:
    return tuple(db.one(conn, "SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port").values())


def bump(demo_url) -> dict:
    """A write on the primary that moves a data version (an incident's status touched)."""
    with db.scoped(None), db.pooled(demo_url) as conn:
        db.execute(conn, "UPDATE incident SET status = status WHERE id = (SELECT min(id) FROM incident)")
    conn = db.connect(demo_url)
    try:
        return {r["name"]: r["version"] for r in db.rows(conn, "SELECT name, version FROM data_version")}
    finally:
        conn.close()


def test_reads_go_to_the_standby_with_the_accounts_row_security_and_writes_to_the_primary(routed, demo_url):
    town = db.scalar(c := db.connect(demo_url), "SELECT code FROM admin_unit WHERE level = 'town' ORDER BY code LIMIT 1")
    c.close()
    leader = access.Scope(username="t-leader", role="leader", admin_code=town)
    with db.scoped(leader):
        with db.reading() as conn:
            assert where(conn) == (True, routed["port"])
            assert db.scalar(conn, "SELECT current_setting('quanyu.scope')") == town  # set_config works on a standby
            on_replica = db.scalar(conn, "SELECT count(*) FROM incident")
            assert db.scalar(conn, "SELECT count(*) FROM incident WHERE admin_code NOT LIKE %s", (town + "%",)) == 0
        with db.pooled(demo_url) as conn:
            assert where(conn)[0] is False
            assert db.scalar(conn, "SELECT count(*) FROM incident") == on_replica  # the same rows, the same policy
    assert 0 < on_replica


def test_the_app_reads_from_the_standby(routed, server, demo_url):
    c = signed_in_client(server, demo_url, "leader")
    wait_caught_up(demo_url, routed["url"])  # signing in wrote the session: until replayed, its reads are the primary's
    resp = c.get("/api/versions")
    assert resp.status_code == 200 and resp.headers["X-Quanyu-Read"] == "replica"
    code = db.scalar(x := db.connect(demo_url), "SELECT code FROM jurisdiction LIMIT 1")
    x.close()
    drill = c.get(f"/api/drill/{code}")
    assert drill.status_code == 200 and drill.headers["X-Quanyu-Read"] == "replica"
    tile = c.get("/tiles/grid_risk/8/205/100.pbf")
    assert tile.status_code == 200 and tile.headers["X-Quanyu-Read"] == "replica"
    # the big screen's panels (day caches included: a replica does not try to write them back)
    from geo.web.pages import bigscreen

    read_routing.start_request()
    versions = c.get("/api/versions").get_json()
    with db.scoped(access.Scope(username="t-leader", role="leader", admin_code=code)):
        read_routing.start_request()
        kpis, *_ = bigscreen._panels_now(versions)
    assert kpis and read_routing.served_by() == {"replica"}


def test_an_unreplicated_version_is_never_served_as_current(routed, server, demo_url, monkeypatch):
    standby = routed["url"]
    writer = signed_in_client(server, demo_url, "leader")
    other = signed_in_client(server, demo_url, "operator")
    wait_caught_up(demo_url, standby)
    pause(standby)
    old = None
    with db.reading() as conn:
        old = {r["name"]: r["version"] for r in db.rows(conn, "SELECT name, version FROM data_version")}
        assert where(conn)[0] is True, state()

    new = bump(demo_url)  # this "session" wrote: db.written_lsn() is past the standby's replay
    assert new != old and db.written_lsn() > 0
    with db.reading() as conn:  # read-your-own-writes: the primary answers
        assert where(conn)[0] is False
        # (the incident version: a write's follow-ups, e.g. an alarm evaluated after it, may move others meanwhile)
        assert db.scalar(conn, "SELECT version FROM data_version WHERE name = 'incident'") == new["incident"]

    db.set_written_lsn(0)  # another session: the standby answers, consistently old
    with db.reading() as conn:
        assert where(conn)[0] is True, state()
        assert {r["name"]: r["version"] for r in db.rows(conn, "SELECT name, version FROM data_version")} == old
    with db.reading(at_least=new) as conn:  # a screen that already shows `new` is never shown older
        assert where(conn)[0] is False

    # Over HTTP: a browser that wrote carries the position in its cookie, on every later request.
    session = writer.get_cookie("quanyu_session").value
    with server.test_request_context("/api/versions", headers={"Cookie": f"quanyu_session={session}"}):
        server.preprocess_request()
        bump(demo_url)
        cookie = server.process_response(server.make_response("")).headers.get("Set-Cookie", "")
    assert cookie.startswith("quanyu_wrote=")
    writer.set_cookie("quanyu_wrote", cookie.split(";")[0].split("=", 1)[1])
    resp = writer.get("/api/versions")
    assert resp.headers["X-Quanyu-Read"] == "primary"
    newest = resp.get_json()
    assert newest["incident"] > old["incident"]
    resp = other.get("/api/versions")
    assert resp.headers["X-Quanyu-Read"] == "replica" and resp.get_json() == old, (resp.headers, resp.get_json(), old, state())

    # A tile keyed by the versions in its URL: the page that shows `newest` gets it from the primary,
    # the page still showing `old` from the standby; neither is cached under the other's versions.
    t_new = other.get(f"/tiles/incident_heat/8/205/100.pbf?window=30&v={newest['incident']}")
    t_old = other.get(f"/tiles/incident_heat/8/205/100.pbf?window=30&v={old['incident']}")
    assert t_new.headers["X-Quanyu-Read"] == "primary" and t_old.headers["X-Quanyu-Read"] == "replica", (
        t_new.headers,
        t_old.headers,
        state(),
    )
    assert t_new.headers["ETag"] != t_old.headers["ETag"]

    # The lag shows on the screen once it passes the label's threshold.
    from geo.web.pages import bigscreen

    time.sleep(1.2)
    with db.reading():
        pass
    monkeypatch.setenv("QUANYU_REPLICA_LAG_LABEL_SECONDS", "1")
    assert "只读副本延迟" in bigscreen.replica_lag(1), state()
    on_standby(standby, "SELECT pg_wal_replay_resume()")
    wait_caught_up(demo_url, standby)
    resp = writer.get("/api/versions")  # replayed: the writer is back on the standby, which is current
    assert resp.headers["X-Quanyu-Read"] == "replica" and resp.get_json()["incident"] == newest["incident"], (
        resp.headers,
        state(),
    )
    with db.reading():
        pass
    assert read_routing.lag_to_show(threshold_s=1.0) is None and bigscreen.replica_lag(2) == ""


def test_the_layers_with_a_version_in_their_url_accept_only_digits():
    from geo.web.api.tiles import url_versions
    from layers import LAYERS

    layer = LAYERS["grid_risk"]
    assert url_versions(layer, "3.17") == dict(zip(layer.depends_on, (3, 17)))
    assert url_versions(layer, "3;17") == {} and url_versions(layer, None) == {}
    assert read_routing._versions({"incident": "x", "grid": 2, "a": True}) == {"grid": 2}


def test_the_command_reports_the_standby_and_its_lag(standby, demo_url, monkeypatch, capsys):
    import json

    from geo import cli

    monkeypatch.setenv("DATABASE_URL", demo_url)
    assert cli.main(["db", "replica", "status", "--dir", str(standby["base"])]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["running"] and state["in_recovery"] and state["port"] == standby["port"]
    assert state["slot_active"] and state["sender_state"] == "streaming" and state["lag_bytes"] is not None
    assert "***" in state["url"]  # no password printed by status
    assert cli.main(["db", "replica", "url", "--dir", str(standby["base"])]) == 0
    assert capsys.readouterr().out.strip() == standby["url"]


def test_the_primary_gets_a_replication_line_only_when_it_has_none(tmp_path):
    hba = tmp_path / "pg_hba.conf"
    hba.write_text("host all all 127.0.0.1/32 scram-sha-256\n")
    cluster._ensure_replication_hba(tmp_path)
    lines = [line.split() for line in hba.read_text().splitlines() if line and not line.startswith("#")]
    assert ["host", "replication", "all", "127.0.0.1/32", "scram-sha-256"] in lines
    text = hba.read_text()
    cluster._ensure_replication_hba(tmp_path)  # applied on every start: once is enough
    assert hba.read_text() == text


def test_a_killed_standby_is_survived_with_no_failed_request(routed, server, demo_url, monkeypatch):
    """Last in the module: the standby does not come back."""
    c = signed_in_client(server, demo_url, "leader")
    code = db.scalar(x := db.connect(demo_url), "SELECT code FROM jurisdiction LIMIT 1")
    x.close()
    clients = [signed_in_client(server, demo_url, "leader") for _ in range(3)]
    wait_caught_up(demo_url, routed["url"])
    paths = ["/api/versions", f"/api/drill/{code}", "/tiles/grid_risk/8/205/100.pbf", "/api/hotspots"]
    assert c.get(paths[0]).headers["X-Quanyu-Read"] == "replica"
    statuses: list[tuple[int, str]] = []
    stop = threading.Event()

    def load(client):
        while not stop.is_set():
            for p in paths:
                r = client.get(p)
                statuses.append((r.status_code, r.headers.get("X-Quanyu-Read", "")))

    threads = [threading.Thread(target=load, args=(client,)) for client in clients]
    for th in threads:
        th.start()
    time.sleep(1.0)
    bindir = cluster._binaries()[0]
    cluster._run([bindir / "pg_ctl", "-D", routed["base"] / "data", "stop", "-m", "immediate"], as_server=True)
    time.sleep(1.5)
    stop.set()
    for th in threads:
        th.join(timeout=60)
    served = collections.Counter(w for _, w in statuses)  # "primary,replica": lost mid-read, run again on the primary
    assert statuses and all(code == 200 for code, _ in statuses), ([s for s in statuses if s[0] != 200][:5], served)
    assert any("replica" in w for _, w in statuses) and statuses[-1][1] == "primary"
    # dropped within one request, and not tried again before the back-off passes
    assert read_routing.health(routed["url"]).down_until > time.monotonic()
    assert c.get(paths[1]).headers["X-Quanyu-Read"] == "primary"
    # after the back-off one request tries it again: still gone, still served
    monkeypatch.setenv("QUANYU_REPLICA_RETRY_SECONDS", "0")
    read_routing.health(routed["url"]).down_until = 0
    r = c.get(paths[0])
    assert r.status_code == 200 and r.headers["X-Quanyu-Read"] == "primary"


def test_a_standby_lost_in_the_middle_of_a_read_is_reported_for_a_retry(standby, demo_url, monkeypatch):
    """After the test above: a new standby in the same place, killed while a read holds its connection."""
    url = replica.start(demo_url, port=standby["port"], base=standby["base"])
    wait_caught_up(demo_url, url)
    monkeypatch.setenv("QUANYU_REPLICA_URLS", url)
    read_routing.reset()
    db.set_written_lsn(0)
    bindir = cluster._binaries()[0]
    with pytest.raises(read_routing.ReplicaLost):
        with db.reading() as conn:
            assert where(conn)[0] is True
            cluster._run([bindir / "pg_ctl", "-D", standby["base"] / "data", "stop", "-m", "immediate"], as_server=True)
            db.scalar(conn, "SELECT count(*) FROM incident")
    assert read_routing.health(url).down_until > time.monotonic()
    with db.reading() as conn:  # the next read: the primary, at once
        assert where(conn)[0] is False
