"""Running the app and a headless Chromium for browser tests.

The app runs as a real process (`python app.py`) against the demo database, and Chromium
is Debian's, driven by Selenium through Debian's chromedriver, with the flags this
closed network needs (no background networking, no component updates). The browser's
performance log records every request, so a test can prove the page asks no other host.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_app_databases: dict[str, str] = {}  # app URL -> its DATABASE_URL, for sign_in()
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


def sign_in(driver, url: str, role: str = "admin", unit: str | None = None, path: str = "/") -> str:
    """Sign the browser in through the real sign-in form, then open `path`."""
    from selenium import webdriver
    from selenium.webdriver.common.by import By

    username = ensure_account(_app_databases[url], role, unit)
    from urllib.parse import quote

    webdriver.Chrome.get(driver, f"{url}/login?next={quote(path, safe='')}")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(TEST_PASSWORD)
    driver.find_element(By.ID, "sign-in").click()
    wait_for(lambda: "/login" not in driver.current_url, timeout=20, message="sign-in did not leave the form")
    return username


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
        _app_databases[url] = database_url
        yield url
    finally:
        _app_databases.pop(url, None)
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        os.unlink(log.name)


def chromium_driver(width: int = 1920, height: int = 1080, sign_in_as: str | None = "admin", unit: str | None = None):
    """A headless Chromium, or a skip (a failure under CI, where `make test` installs it).

    Every page needs an account: unless `sign_in_as` is None, the first visit to an app of
    running_app() goes through its sign-in form as a test account of that role and unit."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (binary and driver_path):
        message = "Debian's chromium and chromium-driver are needed (make browser-deps)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--lang=zh-CN",
    ):
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='quanyu-chromium-')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = _SigningChrome(service=Service(driver_path), options=opts)
    driver.sign_in_as, driver.sign_in_unit, driver.signed_in = sign_in_as, unit, set()
    # The viewport itself at the wall screen's size (the window size includes browser chrome).
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    )
    return driver


def _signing_chrome():
    from selenium import webdriver

    class SigningChrome(webdriver.Chrome):
        def get(self, url: str) -> None:
            app = next((a for a in _app_databases if url.startswith(a)), None)
            if app and self.sign_in_as and app not in self.signed_in:
                self.signed_in.add(app)
                path = url[len(app) :] or "/"
                sign_in(self, app, self.sign_in_as, self.sign_in_unit, path=path)
                if self.current_url.rstrip("/") == url.rstrip("/"):
                    return
            super().get(url)

    return SigningChrome


def _SigningChrome(**kwargs):  # noqa: N802  (a class made on first use: selenium is a test extra)
    return _signing_chrome()(**kwargs)


def requested_urls(driver) -> list[str]:
    """Every network request the page made (http, https, ws; the browser's own chrome:// pages are not network)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url.startswith(("http:", "https:", "ws:", "wss:")):
                urls.append(url)
    return urls


def severe_console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_for(predicate, timeout: float = 30, interval: float = 0.25, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


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
