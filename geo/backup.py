"""Back up and restore the whole database with pg_dump/pg_restore.

A custom-format dump holds schema, data, migrations history, the PostGIS extension, and the
grants and row-level security policies that confine each web role, so a restore gives back
exactly the database that was dumped (the roles themselves are cluster-wide: restore makes
any that are missing first). Restore runs in one
transaction: it either replaces everything or changes nothing. The password travels in
the environment, never on a command line other users could read with `ps`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from geo import pgserver as cluster


class BackupError(Exception):
    pass


def _split(url: str) -> tuple[str, dict]:
    """The URL without its password, and an environment carrying it."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
        netloc = parts.netloc.split("@", 1)
        user = parts.username or ""
        parts = parts._replace(netloc=f"{user}@{netloc[1]}")
    return urlunsplit(parts), env


def _run(cmd: list[str], env: dict) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}):\n{proc.stderr.strip()[-2000:]}")


def ensure_roles(url: str) -> None:
    """The database roles the grants name (migration 0016), on a cluster that lacks them."""
    import psycopg2

    from geo.security.access import ROLES

    names = ["quanyu_web", "quanyu_public", "quanyu_unmask"] + [f"quanyu_{r}" for r in ROLES]
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in names:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
                if not cur.fetchone():
                    cur.execute(f'CREATE ROLE "{name}" NOLOGIN')  # names from the code above, never input
            for name in names[3:] + ["quanyu_public"]:
                cur.execute(f'GRANT quanyu_web TO "{name}"')
            cur.execute("GRANT quanyu_unmask TO quanyu_admin, quanyu_operator")
    finally:
        conn.close()


def backup(url: str, path: str | Path) -> Path:
    path = Path(path)
    target, env = _split(url)
    tmp = path.with_name(path.name + ".partial")
    _run([cluster.client_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={tmp}", f"--dbname={target}"], env)
    tmp.replace(path)  # a crash mid-dump never leaves a truncated file under the real name
    return path


def restore(url: str, path: str | Path) -> None:
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    target, env = _split(url)
    # A session still reading the tables would make the restore wait forever: give up after a minute instead.
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c lock_timeout=60000").strip()
    ensure_roles(url)
    # pg_restore --clean drops each partition's primary key on its own before the tables
    # (ALTER TABLE ONLY incident_p2025_03 DROP CONSTRAINT incident_p2025_03_pkey), which
    # PostgreSQL 15 refuses for a constraint inherited from the partitioned table (0090). So
    # the restore script is streamed through psql, one transaction as before, without those
    # statements (the partitions go with their tables a few lines further).
    restore_cmd = [cluster.client_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--file=-", str(path)]
    psql_cmd = [cluster.client_tool("psql"), "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1", f"--dbname={target}"]
    _run_piped(restore_cmd, psql_cmd, env)


# A partition's inherited primary key, dropped by pg_restore --clean before its table.
_INHERITED_DROP = re.compile(
    rb"^ALTER TABLE IF EXISTS ONLY public\.(incident_p[0-9_]+|incident_pdefault) DROP CONSTRAINT IF EXISTS \1_pkey;$"
)


def _run_piped(restore_cmd: list[str], psql_cmd: list[str], env: dict) -> None:
    """restore_cmd | (without _INHERITED_DROP lines) | psql_cmd; fails if either fails."""
    source = subprocess.Popen(restore_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sink = subprocess.Popen(psql_cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        header = True
        for line in source.stdout:
            if header:
                if _INHERITED_DROP.match(line.rstrip(b"\n")):
                    continue
                header = not line.startswith(b"CREATE ")  # the drops all come before the first CREATE
            sink.stdin.write(line)
            if not header:
                shutil.copyfileobj(source.stdout, sink.stdin, 1 << 20)
                break
        sink.stdin.close()
    except BrokenPipeError:
        pass  # psql stopped at an error: its message says which
    source.wait()
    err = source.stderr.read().decode(errors="replace")
    sink.wait()
    serr = sink.stderr.read().decode(errors="replace")
    if source.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {source.returncode}):\n{err.strip()[-2000:]}")
    if sink.returncode != 0:
        raise BackupError(f"psql (restore) failed (exit {sink.returncode}):\n{serr.strip()[-2000:]}")
