"""The app as the tests meet it: a real process (`python app.py`) on a free port, test
accounts made through geo.security.accounts, and a Flask test client signed in through the
real sign-in form. Browser tests (tests/browser/) drive the process with Chromium; the
others use the client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


app_databases: dict[str, str] = {}  # app URL -> its DATABASE_URL, for the browser's sign-in
TEST_PASSWORD = "Test-pass-2026!"


def ensure_account(database_url: str, role: str = "admin", unit: str | None = None) -> str:
    """A test account of `role` bound to `unit` (default: the jurisdiction); its user name."""
    import psycopg2

    from geo import db
    from geo.security import accounts

    conn = db.connect(database_url)
    try:
        unit = unit or db.scalar(conn, "SELECT code FROM jurisdiction ORDER BY code LIMIT 1")
        username = f"test-{role}-{unit}".replace("_", "-")
        if not db.scalar(conn, "SELECT 1 FROM app_user WHERE username = %s", (username,)):
            try:
                accounts.create_user(conn, username, TEST_PASSWORD, role, unit, f"测试{role}")
            except (accounts.AccountError, psycopg2.IntegrityError):
                conn.rollback()  # made meanwhile by a parallel test
        accounts.set_active(conn, username, True)  # forgives failures left by a throttling test
        # ... and the loopback address every test client signs in from must not reach the per-address limit
        db.execute(conn, "DELETE FROM login_attempt WHERE NOT ok AND ip IN ('127.0.0.1', '::1')")
        conn.commit()
        return username
    finally:
        conn.close()


@contextmanager
def running_app(database_url: str, **env):
    port = free_port()
    environ = dict(os.environ, DATABASE_URL=database_url, QUANYU_HOST="127.0.0.1", QUANYU_PORT=str(port), **env)
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/login", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"app did not start:\n{log.read()[-3000:]}")
                time.sleep(0.3)
        app_databases[url] = database_url
        yield url
    finally:
        app_databases.pop(url, None)
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        os.unlink(log.name)


def signed_in_client(server, database_url: str, role: str = "admin", unit: str | None = None):
    """A Flask test client of the whole app, signed in through the real form; its
    `csrf` attribute holds the token state-changing requests must send."""
    import re

    username = ensure_account(database_url, role, unit)
    client = server.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    resp = client.post("/login", data={"username": username, "password": TEST_PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    client.csrf = client.get_cookie("_csrf_token").value
    client.username = username
    return client


@contextmanager
def app_serving(database_url: str):
    """The process's one Dash app (its Flask server) reading `database_url`: DATABASE_URL is
    set while it is in use and restored after (for Flask test clients of the whole app)."""
    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = database_url
    import app  # pages register their callbacks with the one app of the process

    try:
        yield app.server
    finally:
        if old is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = old
