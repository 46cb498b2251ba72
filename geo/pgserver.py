"""Embedded PostgreSQL/PostGIS cluster used when no DATABASE_URL is set.

Why this exists: the dashboard needs PostGIS, and asking every developer (and
every CI box) to hand-configure a server is the biggest source of "works on my
machine".  Instead the project owns a private cluster inside the checkout:

* data in ``<repo>/var/pg/data``, sockets in ``<repo>/var/pg/run``, log in
  ``<repo>/var/pg/postgres.log`` (``var/`` is git-ignored);
* TCP on 127.0.0.1 only, port ``$QUANYU_PG_PORT`` or 54329, so it never
  collides with (or is mistaken for) a system PostgreSQL on 5432;
* password auth (scram-sha-256) for superuser ``quanyu``; the password lives
  in ``var/pg/password`` (0600).

The rest of the project should only call :func:`database_url`.  Public API::

    database_url(test=False) -> str   # the single entry point
    start() -> str                    # idempotent, returns URL of "quanyu"
    stop() -> bool                    # idempotent, True if it was running
    status() -> dict                  # running, port, data_dir, pg_version, ...
    url(dbname="quanyu") -> str
    ensure_postgis() -> Path          # path of postgis.control
    ClusterError

Also usable as ``python -m geo.pgserver {start,stop,status,url}``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from geo import config

__all__ = [
    "ClusterError",
    "DEFAULT_PORT",
    "REPO_ROOT",
    "database_url",
    "ensure_postgis",
    "port",
    "start",
    "status",
    "stop",
    "url",
]

REPO_ROOT = config.REPO_ROOT
VAR_PG = REPO_ROOT / "var" / "pg"
DEFAULT_PORT = 54329
SERVER_USER = "quanyu"  # OS account that owns the cluster when we run as root
SUPERUSER = "quanyu"  # database superuser created by initdb
DATABASES = ("quanyu", "quanyu_test")
RELOCATED_ROOT = Path("/var/lib/quanyu")
START_TIMEOUT = 60

_PASSWORD_FILE = VAR_PG / "password"
_LOCATION_FILE = VAR_PG / "LOCATION"
_LOCK_FILE = VAR_PG / ".lock"
_CONF_NAME = "quanyu.conf"
_CONF_INCLUDE = f"include_if_exists = '{_CONF_NAME}'  # managed by geo/pgserver.py\n"

# Per-process caches: binary discovery costs subprocesses, and database_url()
# may be called many times (e.g. once per test module).
_bin_cache: dict[str, object] = {}
_dbs_ensured_for: tuple | None = None


class ClusterError(Exception):
    """The embedded cluster cannot be provided; the message says what to do."""


def _log(msg: str) -> None:
    """Progress on stderr, so CLI stdout (URLs, JSON) stays machine-readable."""
    print(f"[quanyu.cluster] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------


def port() -> int:
    """Configured port: ``$QUANYU_PG_PORT`` or 54329 (a private default)."""
    raw = os.environ.get("QUANYU_PG_PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        value = int(raw)
    except ValueError:
        raise ClusterError(f"QUANYU_PG_PORT must be an integer, got {raw!r}") from None
    if not 1 <= value <= 65535:
        raise ClusterError(f"QUANYU_PG_PORT out of range: {value}")
    return value


def _is_root() -> bool:
    return os.geteuid() == 0


def _base_dir() -> Path:
    """Directory holding data/, run/ and postgres.log.

    Normally ``var/pg``; if the server user could not traverse to the repo
    (root-owned checkout under /root), start() relocated it under
    /var/lib/quanyu and recorded that in ``var/pg/LOCATION``.
    """
    try:
        text = _LOCATION_FILE.read_text().strip()
    except FileNotFoundError:
        return VAR_PG
    return Path(text) if text else VAR_PG


def _data_dir() -> Path:
    return _base_dir() / "data"


def _run_dir() -> Path:
    return _base_dir() / "run"


def _log_file() -> Path:
    return _base_dir() / "postgres.log"


# --------------------------------------------------------------------------
# subprocess helpers
# --------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    """Environment without PG* variables, which would redirect pg_ctl/initdb."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.setdefault("LC_ALL", "C")  # stable, parseable tool output
    return env


def _server_identity() -> dict:
    """subprocess kwargs that drop to the server user (initdb refuses root)."""
    if not _is_root():
        return {}
    pw = pwd.getpwnam(SERVER_USER)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _run(
    cmd: list[str],
    *,
    as_server: bool = False,
    check: bool = True,
    timeout: float | None = 300,
    cwd: Path | str | None = None,
    env: dict | None = None,
    **kwargs,
) -> subprocess.CompletedProcess:
    """Run an argument list (never a shell); failures become ClusterError."""
    if as_server:
        kwargs.update(_server_identity())
        # The server user may not be allowed into our cwd (e.g. /root).
        cwd = cwd or "/"
    try:
        proc = subprocess.run(
            [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env or _clean_env(), **kwargs
        )
    except FileNotFoundError as exc:
        raise ClusterError(f"command not found: {cmd[0]} ({exc})") from None
    except subprocess.TimeoutExpired:
        raise ClusterError(f"command timed out after {timeout}s: {' '.join(map(str, cmd))}") from None
    if check and proc.returncode != 0:
        raise ClusterError(
            f"command failed (exit {proc.returncode}): {' '.join(map(str, cmd))}\n" + _tail(proc.stdout + proc.stderr, 20)
        )
    return proc


def _tail(text: str, n: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-n:])


def _log_tail(n: int = 20) -> str:
    try:
        return _tail(_log_file().read_text(errors="replace"), n)
    except OSError as exc:
        return f"(could not read {_log_file()}: {exc})"


# --------------------------------------------------------------------------
# finding / installing PostgreSQL + PostGIS
# --------------------------------------------------------------------------


def _has_initdb(bindir: Path | None) -> bool:
    return bool(bindir) and (Path(bindir) / "initdb").is_file()


def _pg_config_value(pg_config: str | Path, flag: str) -> str | None:
    try:
        proc = subprocess.run([str(pg_config), flag], capture_output=True, text=True, timeout=30, env=_clean_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def _debian_bindirs() -> list[Path]:
    """``/usr/lib/postgresql/NN/bin`` with initdb, highest version first."""
    root = Path("/usr/lib/postgresql")
    found = []
    if root.is_dir():
        for entry in root.iterdir():
            if re.fullmatch(r"\d+(\.\d+)?", entry.name) and _has_initdb(entry / "bin"):
                found.append((tuple(int(p) for p in entry.name.split(".")), entry / "bin"))
    return [b for _, b in sorted(found, reverse=True)]


def _find_bindir() -> Path | None:
    """Locate server binaries, in the documented order of preference."""
    explicit = os.environ.get("QUANYU_PG_BIN")
    if explicit:
        if not _has_initdb(Path(explicit)):
            raise ClusterError(f"QUANYU_PG_BIN={explicit} has no initdb")
        return Path(explicit)
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = _pg_config_value(pg_config, "--bindir")
        if bindir and _has_initdb(Path(bindir)):
            return Path(bindir)
    conda = os.environ.get("CONDA_PREFIX")
    if conda and _has_initdb(Path(conda) / "bin"):
        return Path(conda) / "bin"
    debian = _debian_bindirs()
    return debian[0] if debian else None


def _version_of(bindir: Path) -> tuple[str, str]:
    """(full version, major) from ``postgres --version``, e.g. ("15.18", "15")."""
    out = _run([bindir / "postgres", "--version"], timeout=30).stdout
    m = re.search(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?", out)
    if not m:
        raise ClusterError(f"cannot parse PostgreSQL version from: {out.strip()!r}")
    first, second = int(m.group(1)), m.group(2)
    major = f"{first}.{second}" if first < 10 and second else str(first)
    full = f"{first}.{second}" if second else str(first)
    return full, major


def _sharedir(bindir: Path, major: str) -> Path:
    """``pg_config --sharedir`` of the chosen installation (with layout fallbacks)."""
    own = bindir / "pg_config"
    if own.is_file():
        value = _pg_config_value(own, "--sharedir")
        if value:
            return Path(value)
    on_path = shutil.which("pg_config")
    if on_path and _pg_config_value(on_path, "--bindir") == str(bindir):
        value = _pg_config_value(on_path, "--sharedir")
        if value:
            return Path(value)
    if str(bindir).startswith("/usr/lib/postgresql/"):
        return Path("/usr/share/postgresql") / major
    return bindir.parent / "share"  # conda and source installs


def _binaries() -> tuple[Path, str, str]:
    """Cached (bindir, full version, major) or ClusterError; no installing."""
    if "bindir" not in _bin_cache:
        bindir = _find_bindir()
        if bindir is None:
            raise ClusterError(
                "PostgreSQL server binaries not found.\n"
                + _install_hint(None)
                + "\nor point QUANYU_PG_BIN at a directory containing initdb."
            )
        full, major = _version_of(bindir)
        _bin_cache.update(bindir=bindir, full=full, major=major)
    return _bin_cache["bindir"], _bin_cache["full"], _bin_cache["major"]  # type: ignore[return-value]


def can_apt() -> bool:
    return _is_root() and shutil.which("apt-get") is not None


def _install_hint(major: str | None) -> str:
    pkg = f"postgresql-{major}-postgis-3" if major else "postgresql postgresql-<NN>-postgis-3"
    lines = [f"  Debian/Ubuntu: sudo apt-get install {pkg}"]
    lines.append("  conda: conda env create -f environment.yml (then conda activate it)")
    lines.append("  or set DATABASE_URL to an existing PostGIS-enabled database.")
    return "Install it with one of:\n" + "\n".join(lines)


_apt_updated = False


def apt_install(package: str) -> None:
    """``apt-get install -y`` with one ``apt-get update`` retry on failure."""
    global _apt_updated
    env = dict(_clean_env(), DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", package]
    _log("running: " + " ".join(cmd))
    proc = _run(cmd, check=False, timeout=1800, env=env)
    if proc.returncode != 0 and not _apt_updated:
        _log("install failed; running: apt-get update")
        _run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update"], check=False, timeout=900, env=env)
        _apt_updated = True
        _log("retrying: " + " ".join(cmd))
        proc = _run(cmd, check=False, timeout=1800, env=env)
    if proc.returncode != 0:
        raise ClusterError(f"apt-get install {package} failed (exit {proc.returncode}):\n" + _tail(proc.stdout + proc.stderr, 20))
    _log(f"installed {package}")


def ensure_postgis() -> Path:
    """Make sure PostgreSQL and the PostGIS extension are installed.

    Returns the path of ``postgis.control``.  As root with apt-get we install
    what is missing (the usual container/CI case); otherwise we raise a
    ClusterError naming exactly what to install, because failing later with
    'extension "postgis" is not available' would be far less helpful.
    """
    try:
        bindir, _, major = _binaries()
    except ClusterError:
        if not can_apt() or os.environ.get("QUANYU_PG_BIN"):
            raise  # an explicit QUANYU_PG_BIN is a user choice, not ours to "fix"
        apt_install("postgresql")
        _bin_cache.clear()
        bindir, _, major = _binaries()
    control = _sharedir(bindir, major) / "extension" / "postgis.control"
    if control.is_file():
        return control
    if can_apt() and str(bindir).startswith("/usr/lib/postgresql/"):
        apt_install(f"postgresql-{major}-postgis-3")
        if control.is_file():
            return control
    conda = os.environ.get("CONDA_PREFIX")
    if conda and str(bindir).startswith(conda):
        hint = (
            "Install it with: conda env create -f environment.yml "
            "(or conda install -c conda-forge postgis),\n"
            "  or set DATABASE_URL to an existing PostGIS-enabled database."
        )
    else:
        hint = _install_hint(major)
    raise ClusterError(f"PostGIS is not installed for PostgreSQL {major} at {bindir} (missing {control}).\n{hint}")


def _postgis_available() -> bool:
    try:
        bindir, _, major = _binaries()
    except ClusterError:
        return False
    return (_sharedir(bindir, major) / "extension" / "postgis.control").is_file()


# --------------------------------------------------------------------------
# server user, locations, locking
# --------------------------------------------------------------------------


def _ensure_server_user() -> None:
    """Create the ``quanyu`` system account (root only); reuse it if present."""
    try:
        pwd.getpwnam(SERVER_USER)
        return
    except KeyError:
        pass
    shell = next((s for s in ("/usr/sbin/nologin", "/sbin/nologin") if os.path.exists(s)), "/bin/false")
    _log(f"creating system user {SERVER_USER!r} to own the embedded cluster")
    proc = _run(
        ["useradd", "--system", "--no-create-home", "--user-group", "--shell", shell, SERVER_USER], check=False, timeout=60
    )
    try:
        pwd.getpwnam(SERVER_USER)  # may have been created concurrently
    except KeyError:
        raise ClusterError(f"could not create system user {SERVER_USER!r}:\n" + _tail(proc.stdout + proc.stderr, 10)) from None


def _chown_server(path: Path) -> None:
    if _is_root():
        pw = pwd.getpwnam(SERVER_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _server_can_traverse(path: Path) -> bool:
    """Whether the server user can reach ``path`` (every parent searchable)."""
    if not _is_root():
        return True
    return _run(["test", "-x", str(path)], as_server=True, check=False, timeout=30).returncode == 0


def _prepare_layout() -> Path:
    """Create the directory tree with correct owners; pick the base dir.

    Must be called with the lock held.  The relocation decision is made only
    once (before initdb) and then pinned by ``var/pg/LOCATION``.
    """
    if _is_root():
        _ensure_server_user()
        # The var/pg tree belongs to the server user: it writes the log there
        # and initdb reads the password file.
        for p in [VAR_PG, *VAR_PG.iterdir()]:
            if p.name != "data":
                with contextlib.suppress(FileNotFoundError):
                    _chown_server(p)
    base = _base_dir()
    if base == VAR_PG and not (VAR_PG / "data").exists() and not _server_can_traverse(VAR_PG):
        # e.g. repo under /root (0700): don't loosen the user's home directory.
        digest = hashlib.sha1(str(REPO_ROOT).encode()).hexdigest()[:12]
        base = RELOCATED_ROOT / digest
        RELOCATED_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
        _log(f"server user cannot reach {REPO_ROOT}; using {base} for the data directory")
        _write_file(_LOCATION_FILE, f"{base}\n", 0o644)
    for d in (base, base / "run"):
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        _chown_server(d)
    return base


def _write_file(path: Path, text: str, mode: int) -> None:
    """Atomically write a file with ``mode``, owned by the server user."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    _chown_server(tmp)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked():
    """Exclusive flock on var/pg/.lock: concurrent start/stop (xdist workers,
    the app and the CLI) must not race on initdb or pg_ctl."""
    VAR_PG.mkdir(parents=True, exist_ok=True)
    var = VAR_PG.parent
    if _is_root() and not os.stat(var).st_mode & 0o001:
        os.chmod(var, os.stat(var).st_mode | 0o011)  # our own dir; server needs +x
    try:
        fd = os.open(_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        fd = os.open(_LOCK_FILE, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --------------------------------------------------------------------------
# running-state detection
# --------------------------------------------------------------------------


def _is_postgres_pid(pid: int) -> bool:
    """Is ``pid`` alive and a postgres process?  Guards against pid reuse
    after a container restart, which would make a stale postmaster.pid look
    live forever."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no procfs: trust kill()
    except PermissionError:
        return True
    return "postgres" in comm or "postmaster" in comm or "postgres" in cmdline


def _pidfile_info() -> dict | None:
    """Parse postmaster.pid if it names a live postgres; None otherwise."""
    pidfile = _data_dir() / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
    except FileNotFoundError:
        return None
    except PermissionError:
        return _pidfile_via_pg_ctl()
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return None  # being written right now, or garbage: pg_ctl will sort it out
    if not _is_postgres_pid(pid):
        return None
    info = {"pid": pid, "port": None, "state": None}
    with contextlib.suppress(IndexError, ValueError):
        info["port"] = int(lines[3])
    with contextlib.suppress(IndexError):
        info["state"] = lines[7].strip() or None
    return info


def _pidfile_via_pg_ctl() -> dict | None:
    """Fallback when we may not read the data dir (another non-root user)."""
    try:
        bindir, _, _ = _binaries()
    except ClusterError:
        return None
    proc = _run([bindir / "pg_ctl", "status", "-D", _data_dir()], check=False, timeout=30)
    m = re.search(r"PID: (\d+)", proc.stdout)
    if proc.returncode != 0 or not m:
        return None
    return {"pid": int(m.group(1)), "port": None, "state": "ready"}


def _remove_stale_locks() -> None:
    """Delete postmaster.pid / socket lock files whose pid is not a postgres.

    pg_ctl copes with a dead pid, but not with one reused by an unrelated
    process (common after a container restart); the postmaster would then
    refuse to start with 'lock file already exists'.
    """
    candidates = [_data_dir() / "postmaster.pid", *_run_dir().glob(".s.PGSQL.*.lock")]
    for lock in candidates:
        try:
            pid = int(lock.read_text().splitlines()[0])
        except (OSError, IndexError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue  # dead pid: postgres/pg_ctl clean that up themselves
        except PermissionError:
            pass
        if not _is_postgres_pid(pid):
            _log(f"removing stale {lock.name} (pid {pid} is alive but not postgres)")
            lock.unlink(missing_ok=True)


def _port_in_use(p: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", p)) == 0


# --------------------------------------------------------------------------
# initdb / configuration
# --------------------------------------------------------------------------


def _password() -> str:
    try:
        return _PASSWORD_FILE.read_text().strip()
    except FileNotFoundError:
        raise ClusterError("embedded cluster not initialised (no var/pg/password); call geo.pgserver.start()") from None


def _initdb(bindir: Path, base: Path) -> None:
    """Create the cluster with a random superuser password (scram-sha-256).

    Peer auth would tie access to the OS user, which breaks as soon as root
    runs the app but ``quanyu`` owns the server; a password works for both.
    """
    data = base / "data"
    if _PASSWORD_FILE.exists():
        password = _password()
    else:
        password = secrets.token_urlsafe(24)
        _write_file(_PASSWORD_FILE, password + "\n", 0o600)
    # initdb (as the server user) may not be able to read var/pg when the
    # cluster was relocated, so hand it a short-lived copy inside base.
    pwfile = base / ".pwfile"
    _write_file(pwfile, password + "\n", 0o600)
    errors = []
    try:
        for locale in ("C.UTF-8", "C"):
            if data.exists():
                shutil.rmtree(data)
            data.mkdir(mode=0o700)
            _chown_server(data)
            _log(f"initdb -D {data} (locale {locale})")
            proc = _run(
                [
                    bindir / "initdb",
                    "-D",
                    data,
                    "-U",
                    SUPERUSER,
                    "-E",
                    "UTF8",
                    f"--locale={locale}",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                ],
                as_server=True,
                check=False,
                timeout=300,
                cwd=base,
            )
            if proc.returncode == 0:
                return
            errors.append(f"--locale={locale}: " + _tail(proc.stdout + proc.stderr, 15))
        shutil.rmtree(data, ignore_errors=True)
        raise ClusterError("initdb failed:\n" + "\n".join(errors))
    finally:
        pwfile.unlink(missing_ok=True)


def _write_conf(data: Path, p: int, major: str) -> None:
    """(Re)write the managed settings included from postgresql.conf.

    Rewritten on every start so QUANYU_PG_PORT changes and repo moves (socket
    path) take effect without editing postgresql.conf by hand.
    """
    run_dir = str(_run_dir())
    # unix socket paths are limited to ~107 bytes; we always connect over TCP,
    # so in a very deep checkout just go without the socket.
    if len(run_dir) + len(f"/.s.PGSQL.{p}") > 100:
        run_dir = ""
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(p),
        "unix_socket_directories": "'" + run_dir.replace("'", "''") + "'",
        "shared_buffers": "256MB",
        "work_mem": "32MB",
        "maintenance_work_mem": "256MB",
        "max_connections": "100",
        "fsync": "on",
        # Streaming replicas (geo/replica.py): PostgreSQL's defaults, written down so that a
        # cluster whose postgresql.conf lowered them still feeds a standby after a restart.
        "wal_level": "replica",
        "max_wal_senders": "10",
        "max_replication_slots": "10",
    }
    if float(major) >= 11:
        settings["jit"] = "off"  # JIT costs more than it saves on short GIS queries
    text = "# Managed by geo/pgserver.py; rewritten on every start.\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    _write_file(data / _CONF_NAME, text, 0o600)
    conf = data / "postgresql.conf"
    if _CONF_INCLUDE.strip() not in conf.read_text():
        with open(conf, "a") as fh:
            fh.write("\n" + _CONF_INCLUDE)


_HBA_REPLICATION = "host    replication     all             127.0.0.1/32            scram-sha-256\n"


def _ensure_replication_hba(data: Path) -> None:
    """Let a standby on this machine connect for replication (pg_basebackup, walreceiver).

    initdb writes this line itself; clusters made otherwise (or edited) get it appended, with
    the password authentication of every other line. Existing lines are never changed."""
    hba = data / "pg_hba.conf"
    try:
        text = hba.read_text()
    except FileNotFoundError:
        return
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 4 and fields[0] == "host" and fields[1] == "replication" and fields[3] in ("127.0.0.1/32", "all"):
            return
    with open(hba, "a") as fh:
        fh.write(
            ("" if text.endswith("\n") else "\n") + "# added by geo/pgserver.py: replicas on this machine\n" + _HBA_REPLICATION
        )


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


def url(dbname: str = "quanyu") -> str:
    """URL for ``dbname`` on the embedded cluster (does not start it).

    Uses the port of the running server when there is one, so a changed
    QUANYU_PG_PORT cannot produce a URL that points nowhere.
    """
    info = _pidfile_info()
    p = info["port"] if info and info.get("port") else port()
    return f"postgresql://{SUPERUSER}:{quote(_password(), safe='')}@127.0.0.1:{p}/{quote(dbname, safe='')}"


def _wait_ready(timeout: float) -> dict | None:
    """Wait out a postmaster that is starting/stopping; return its final info."""
    deadline = time.monotonic() + timeout
    info = _pidfile_info()
    while info and info.get("state") not in (None, "ready", "standby") and time.monotonic() < deadline:
        time.sleep(0.5)
        info = _pidfile_info()
    return info


def _ensure_databases() -> None:
    """CREATE DATABASE quanyu / quanyu_test if missing (once per postmaster)."""
    global _dbs_ensured_for
    info = _pidfile_info()
    key = (str(_data_dir()), info and info["pid"])
    if _dbs_ensured_for == key:
        return
    try:
        import psycopg2
        from psycopg2 import errors, sql
    except ImportError as exc:
        raise ClusterError(f"psycopg2 is required to use the embedded cluster: {exc}") from None
    try:
        conn = psycopg2.connect(url("postgres"), connect_timeout=10)
    except psycopg2.Error as exc:
        raise ClusterError(f"cannot connect to embedded cluster: {exc}".strip()) from None
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in DATABASES:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone():
                    continue
                _log(f"creating database {name}")
                with contextlib.suppress(errors.DuplicateDatabase):
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    _dbs_ensured_for = key


def pg_ctl_start(bindir: Path, data: Path, log: Path, cwd: Path):
    """`pg_ctl start` of a data directory as the server's user, waiting up to START_TIMEOUT,
    in a session of its own (a server must outlive the command that started it)."""
    return _run(
        [bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", str(START_TIMEOUT), "start"],
        as_server=True,
        check=False,
        timeout=START_TIMEOUT + 30,
        cwd=cwd,
        start_new_session=True,
    )


def start() -> str:
    """Start (initialising on first use) the embedded cluster; idempotent.

    Returns the URL of the ``quanyu`` database.
    """
    with _locked():
        info = _wait_ready(START_TIMEOUT)
        if info is None:
            ensure_postgis()
            bindir, _, major = _binaries()
            base = _prepare_layout()
            data = base / "data"
            if not (data / "PG_VERSION").exists():
                _initdb(bindir, base)
            else:
                cluster_major = (data / "PG_VERSION").read_text().strip()
                if cluster_major != major:
                    raise ClusterError(
                        f"{data} was created by PostgreSQL {cluster_major} but the binaries "
                        f"found are {major} ({bindir}). Set QUANYU_PG_BIN to the "
                        f"PostgreSQL {cluster_major} bin directory, or remove {data} to recreate it."
                    )
            p = port()
            _remove_stale_locks()
            if _port_in_use(p):
                raise ClusterError(
                    f"port {p} on 127.0.0.1 is in use by another process; "
                    "set QUANYU_PG_PORT to a free port (or stop that process)."
                )
            _write_conf(data, p, major)
            _ensure_replication_hba(data)
            _log(f"starting PostgreSQL {major} on 127.0.0.1:{p} (data {data})")
            log = _log_file()
            if not log.exists():
                log.touch()
                _chown_server(log)
            proc = pg_ctl_start(bindir, data, log, base)
            info = _pidfile_info()
            if proc.returncode != 0 or info is None:
                raise ClusterError(
                    f"PostgreSQL failed to start (pg_ctl exit {proc.returncode}). Last lines of {log}:\n{_log_tail(20)}"
                )
        elif info.get("port") and info["port"] != port():
            _log(f"note: cluster already running on port {info['port']} (QUANYU_PG_PORT={port()} applies after stop/start)")
        _ensure_databases()
        return url("quanyu")


def stop() -> bool:
    """Fast-stop the embedded cluster; returns False if it was not running."""
    with _locked():
        info = _pidfile_info()
        if info is None:
            return False
        bindir, _, _ = _binaries()
        proc = _run(
            [bindir / "pg_ctl", "-D", _data_dir(), "stop", "-m", "fast", "-w", "-t", str(START_TIMEOUT)],
            as_server=True,
            check=False,
            timeout=START_TIMEOUT + 30,
        )
        if proc.returncode != 0 and _pidfile_info() is not None:
            raise ClusterError(f"pg_ctl stop failed:\n{_tail(proc.stdout + proc.stderr, 20)}\nLog:\n{_log_tail(20)}")
        global _dbs_ensured_for
        _dbs_ensured_for = None
        return True


def status() -> dict:
    """Snapshot of the embedded cluster; never starts anything or raises for
    a missing installation (it reports it instead)."""
    info = _pidfile_info()
    try:
        _, full, _ = _binaries()
    except ClusterError:
        full = None
    try:
        current_url = url("quanyu") if info else None
    except ClusterError:
        current_url = None
    return {
        "running": info is not None,
        "port": (info or {}).get("port") or port(),
        "pid": (info or {}).get("pid"),
        "data_dir": str(_data_dir()),
        "log": str(_log_file()),
        "pg_version": full,
        "postgis_available": _postgis_available(),
        "url": current_url,
    }


def database_url(test: bool = False) -> str:
    """The database URL the project should use.

    Production/dev: ``$DATABASE_URL`` or the embedded ``quanyu`` database.
    Tests: ``$TEST_DATABASE_URL`` or the embedded ``quanyu_test`` database;
    DATABASE_URL is deliberately never used for tests so a test run can
    never wipe a real database.
    """
    var = "TEST_DATABASE_URL" if test else "DATABASE_URL"
    explicit = os.environ.get(var, "").strip()
    if explicit:
        return explicit
    start()
    return url("quanyu_test" if test else "quanyu")


def _main(argv: list[str]) -> int:
    import json

    cmd = argv[0] if argv else "status"
    try:
        if cmd == "start":
            print(start())
        elif cmd == "stop":
            print("stopped" if stop() else "not running")
        elif cmd == "status":
            print(json.dumps(status(), indent=2))
        elif cmd == "url":
            print(database_url(test=len(argv) > 1 and argv[1] == "--test"))
        else:
            print("usage: python -m geo.pgserver {start|stop|status|url [--test]}", file=sys.stderr)
            return 2
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))


def client_tool(name: str) -> str:
    """Path of a PostgreSQL client program (pg_dump, pg_restore, psql) of the installation
    we run, falling back to PATH: a dump must come from a pg_dump at least as new as the server."""
    try:
        bindir, _, _ = _binaries()
        if (bindir / name).is_file():
            return str(bindir / name)
    except ClusterError:
        pass
    found = shutil.which(name)
    if not found:
        raise ClusterError(f"{name} not found; install the PostgreSQL client (Debian: postgresql-client)")
    return found
