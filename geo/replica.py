"""A hot standby of the project's PostgreSQL, on this machine (issue #17 item 2).

Why: the read-only work of many screens (tiles, KPIs, panels, drill-down, hotspots,
reports) can move to read replicas (geo/read_routing.py sends it there), and that path has to
be exercised for real on one machine: by the tests, the benchmark and a developer. This
module makes PostgreSQL's own streaming replica of the primary, nothing else:

* ``pg_basebackup`` of the primary into ``var/replica/data`` (or a directory given, e.g. a
  test's temporary one), with a physical replication slot named after the replica's port,
  so the primary keeps the WAL the standby has not received yet;
* its own port: ``$QUANYU_REPLICA_PORT`` or the primary's port + 1 (54330 next to the
  embedded 54329), TCP on 127.0.0.1 only, no unix socket (the copied settings name the
  primary's socket directory);
* ``standby.signal`` and a managed ``quanyu_replica.conf`` included last from
  postgresql.conf, so the copied ``quanyu.conf`` of the embedded primary (its port, its
  socket) is overridden without being edited.

A stopped replica is not kept: ``stop`` drops its slot (a slot without a standby makes the
primary keep WAL forever) and ``start`` takes a fresh copy, which costs seconds at the sizes
a developer runs. The primary must allow replication: the embedded cluster does (geo/pgserver.py
writes wal_level, max_wal_senders and the replication hba line on start); another server
needs the same by its administrator.

Public API: start(), stop(), status(), url(); ``python -m geo db replica start|stop|status|url``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg2

from geo import config
from geo import pgserver as cluster

DEFAULT_BASE = config.VAR_DIR / "replica"
_CONF_NAME = "quanyu_replica.conf"
_CONF_INCLUDE = f"include_if_exists = '{_CONF_NAME}'  # managed by geo/replica.py\n"
_STATE = "replica.json"
START_TIMEOUT = 120


class ReplicaError(cluster.ClusterError):
    """The replica cannot be made or reached; the message says what to do."""


def _primary_parts(primary_url: str) -> dict:
    u = urlsplit(primary_url)
    return {
        "host": u.hostname or "127.0.0.1",
        "port": u.port or 5432,
        "user": unquote(u.username or ""),
        "password": unquote(u.password or ""),
        "dbname": unquote(u.path.lstrip("/")) or "postgres",
    }


def default_port(primary_url: str) -> int:
    """``$QUANYU_REPLICA_PORT`` or the primary's port + 1."""
    raw = os.environ.get("QUANYU_REPLICA_PORT", "").strip()
    if raw:
        try:
            return int(raw)
        except ValueError:
            raise ReplicaError(f"QUANYU_REPLICA_PORT must be an integer, got {raw!r}") from None
    return _primary_parts(primary_url)["port"] + 1


def replica_url(primary_url: str, port: int) -> str:
    """The primary's URL (same login, same database) at the replica's port on 127.0.0.1."""
    u = urlsplit(primary_url)
    login = u.netloc.rpartition("@")[0]
    return urlunsplit((u.scheme, f"{login}@127.0.0.1:{port}" if login else f"127.0.0.1:{port}", u.path, u.query, ""))


def slot_name(port: int) -> str:
    return f"quanyu_replica_{port}"


def _state_file(base: Path) -> Path:
    return base / _STATE


def _read_state(base: Path) -> dict | None:
    try:
        return json.loads(_state_file(base).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _primary_admin(primary_url: str):
    """A connection to the primary's maintenance database (slots are cluster-wide)."""
    conn = psycopg2.connect(primary_url, application_name="quanyu-replica-admin", connect_timeout=10)
    conn.autocommit = True
    return conn


def prepare_primary(primary_url: str) -> None:
    """Refuse early, with what to change, when the primary cannot feed a standby."""
    conn = _primary_admin(primary_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int")
            wal_level, senders = cur.fetchone()
    finally:
        conn.close()
    if wal_level not in ("replica", "logical") or senders < 1:
        raise ReplicaError(
            f"the primary has wal_level={wal_level}, max_wal_senders={senders}: set wal_level = replica and "
            "max_wal_senders >= 2 and restart it (the embedded cluster does so itself on start)"
        )


def _drop_slot(primary_url: str, name: str, wait_s: float = 10.0) -> bool:
    """Drop the replication slot once no walsender uses it (a stopped standby's sender
    takes a moment to exit); False if there was none."""
    conn = _primary_admin(primary_url)
    try:
        deadline = time.monotonic() + wait_s
        with conn.cursor() as cur:
            while True:
                cur.execute("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (name,))
                row = cur.fetchone()
                if row is None:
                    return False
                if row[0] is None:
                    cur.execute("SELECT pg_drop_replication_slot(%s)", (name,))
                    return True
                if time.monotonic() > deadline:  # a standby we lost track of: end its sender
                    cur.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                time.sleep(0.2)
    finally:
        conn.close()


def _server_env(password: str) -> dict:
    env = cluster._clean_env()
    env["PGPASSWORD"] = password
    return env


def _pidfile_port(data: Path) -> int | None:
    """The port of a live postmaster in `data`, else None."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, IndexError, ValueError):
        return None
    if not cluster._is_postgres_pid(pid):
        return None
    with contextlib.suppress(IndexError, ValueError):
        return int(lines[3])
    return None


def _write_conf(data: Path, port: int, parts: dict, slot: str) -> None:
    """Settings of the standby, included after everything copied from the primary."""
    conninfo = " ".join(
        f"{k}='{str(v).replace(chr(92), chr(92) * 2).replace(chr(39), chr(92) + chr(39))}'"
        for k, v in (
            ("host", parts["host"]),
            ("port", parts["port"]),
            ("user", parts["user"]),
            ("password", parts["password"]),
            ("application_name", slot),
        )
    )
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": "''",  # TCP only: the copied setting names the primary's directory
        "hot_standby": "on",
        # The primary keeps the rows a standby query still reads: long panel queries are not
        # cancelled by vacuum's replay ("canceling statement due to conflict with recovery").
        "hot_standby_feedback": "on",
        "primary_conninfo": "'" + conninfo.replace("'", "''") + "'",
        "primary_slot_name": f"'{slot}'",
        "shared_buffers": "128MB",
        "cluster_name": f"'{slot}'",
    }
    text = "# Managed by geo/replica.py; rewritten on every start.\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    cluster._write_file(data / _CONF_NAME, text, 0o600)
    conf = data / "postgresql.conf"
    if _CONF_INCLUDE.strip() not in conf.read_text():
        with open(conf, "a") as fh:
            fh.write("\n" + _CONF_INCLUDE)
    (data / "standby.signal").touch()
    for path in (data / _CONF_NAME, data / "standby.signal"):
        cluster._chown_server(path)


def start(primary_url: str | None = None, *, port: int | None = None, base: Path | str | None = None) -> str:
    """Make (or keep) a hot standby of `primary_url`'s cluster; returns its URL.

    Idempotent: a standby already running in `base` is left alone. Otherwise the directory
    is replaced by a fresh pg_basebackup (see the module docstring for why it is not reused).
    """
    primary_url = primary_url or cluster.database_url()
    base = Path(base or DEFAULT_BASE)
    parts = _primary_parts(primary_url)
    port = port or default_port(primary_url)
    data = base / "data"
    running = _pidfile_port(data)
    if running is not None:
        return replica_url(primary_url, running)
    bindir, _, _ = cluster._binaries()
    if not (bindir / "pg_basebackup").is_file():
        raise ReplicaError(f"pg_basebackup not found in {bindir} (Debian: postgresql-client)")
    prepare_primary(primary_url)
    if cluster._port_in_use(port):
        raise ReplicaError(f"port {port} on 127.0.0.1 is in use; set QUANYU_REPLICA_PORT to a free port")
    slot = slot_name(port)
    _drop_slot(primary_url, slot)  # left by a replica that was not stopped cleanly
    if data.exists():
        shutil.rmtree(data)
    base.mkdir(parents=True, exist_ok=True)
    cluster._chown_server(base)
    if not cluster._server_can_traverse(base):
        raise ReplicaError(f"the server user {cluster.SERVER_USER!r} cannot reach {base}; choose a directory it can")
    cmd = [
        bindir / "pg_basebackup",
        "-h",
        parts["host"],
        "-p",
        str(parts["port"]),
        "-U",
        parts["user"],
        "-D",
        data,
        "-X",
        "stream",
        "-C",
        "-S",
        slot,
        "--checkpoint=fast",
        "--no-password",
    ]
    for attempt in (1, 2):
        cluster._log(f"pg_basebackup of {parts['host']}:{parts['port']} into {data} (slot {slot})")
        try:
            cluster._run(cmd, as_server=True, timeout=3600, env=_server_env(parts["password"]))
            break
        except cluster.ClusterError as exc:
            # PostgreSQL 15 can invalidate a slot created while a checkpoint runs ("restart_lsn
            # exceeds max_slot_wal_keep_size" even when unlimited) and end the copy's WAL stream:
            # on a busy shared cluster, one more try with a new slot gets past it.
            if attempt == 2:
                _drop_slot(primary_url, slot)  # never leave the primary a slot without a standby
                raise
            cluster._log(f"pg_basebackup failed, trying once more: {str(exc).splitlines()[-2:]}")
            _drop_slot(primary_url, slot)
            shutil.rmtree(data, ignore_errors=True)
    _write_conf(data, port, parts, slot)
    log = base / "postgres.log"
    log.touch()
    cluster._chown_server(log)
    state = {"port": port, "slot": slot, "primary": f"{parts['host']}:{parts['port']}"}
    cluster._write_file(_state_file(base), json.dumps(state) + "\n", 0o644)
    cluster._log(f"starting the standby on 127.0.0.1:{port}")
    proc = cluster.pg_ctl_start(bindir, data, log, base)
    if proc.returncode != 0:
        tail = cluster._tail(log.read_text(errors="replace"), 20)
        raise ReplicaError(f"the standby failed to start (pg_ctl exit {proc.returncode}). Last lines of {log}:\n{tail}")
    return replica_url(primary_url, port)


def stop(primary_url: str | None = None, *, base: Path | str | None = None, mode: str = "fast") -> bool:
    """Stop the standby in `base` and drop its slot on the primary; False if none ran.

    Safe after a crash or a ``pg_ctl stop -m immediate``: the slot is dropped all the same."""
    base = Path(base or DEFAULT_BASE)
    data = base / "data"
    was_running = _pidfile_port(data) is not None
    if was_running:
        bindir, _, _ = cluster._binaries()
        cluster._run(
            [bindir / "pg_ctl", "-D", data, "stop", "-m", mode, "-w", "-t", str(START_TIMEOUT)],
            as_server=True,
            check=False,
            timeout=START_TIMEOUT + 30,
        )
    state = _read_state(base)
    if state:
        primary_url = primary_url or cluster.database_url()
        with contextlib.suppress(psycopg2.Error):
            _drop_slot(primary_url, state["slot"])
    return was_running


def url(primary_url: str | None = None, *, base: Path | str | None = None) -> str:
    """The URL of the standby in `base` (of the primary's database), running or not."""
    primary_url = primary_url or cluster.database_url()
    base = Path(base or DEFAULT_BASE)
    state = _read_state(base) or {}
    return replica_url(primary_url, _pidfile_port(base / "data") or state.get("port") or default_port(primary_url))


def status(primary_url: str | None = None, *, base: Path | str | None = None) -> dict:
    """Running or not, where, and how far behind: the primary's view (pg_stat_replication:
    sent/replayed bytes and replay_lag) and the standby's (pg_last_wal_replay_lsn, the age of
    the last replayed transaction when it has not caught up)."""
    primary_url = primary_url or cluster.database_url()
    base = Path(base or DEFAULT_BASE)
    state = _read_state(base) or {}
    port = _pidfile_port(base / "data")
    out = {
        "running": port is not None,
        "port": port or state.get("port") or default_port(primary_url),
        "data_dir": str(base / "data"),
        "slot": state.get("slot"),
        "url": None,
    }
    slot = state.get("slot") or slot_name(out["port"])
    with contextlib.suppress(psycopg2.Error):
        conn = _primary_admin(primary_url)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    """SELECT s.active, r.state, pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint,
                              extract(epoch FROM r.replay_lag)::float
                         FROM pg_replication_slots s
                         LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
                        WHERE s.slot_name = %s""",
                    (slot,),
                )
                row = cur.fetchone()
        finally:
            conn.close()
        if row:
            out.update(slot_active=row[0], sender_state=row[1], lag_bytes=row[2], replay_lag_s=row[3])
    if port is not None:
        out["url"] = _safe(replica_url(primary_url, port))
        with contextlib.suppress(psycopg2.Error):
            conn = psycopg2.connect(replica_url(primary_url, port), connect_timeout=5)
            try:
                with conn.cursor() as cur:
                    cur.execute(
                        """SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
                                  CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                                       ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float"""
                    )
                    recovery, lsn, lag = cur.fetchone()
            finally:
                conn.close()
            out.update(in_recovery=recovery, replay_lsn=lsn, lag_s=lag)
    return out


def _safe(u: str) -> str:
    """The URL with its password hidden, for printing."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", u)
