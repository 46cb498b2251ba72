"""A headless Chromium for the browser tests, signed in through the real sign-in form.

Chromium is Debian's, driven by Selenium through Debian's chromedriver, with the flags this
closed network needs (no background networking, no component updates). The browser's
performance log records every request, so a test can prove the page asks no other host.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

import pytest

from tests.support.webapp import TEST_PASSWORD, app_databases, ensure_account


def sign_in(driver, url: str, role: str = "admin", unit: str | None = None, path: str = "/") -> str:
    """Sign the browser in through the real sign-in form, then open `path`."""
    from selenium import webdriver
    from selenium.webdriver.common.by import By

    username = ensure_account(app_databases[url], role, unit)
    from urllib.parse import quote

    webdriver.Chrome.get(driver, f"{url}/login?next={quote(path, safe='')}")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(TEST_PASSWORD)
    driver.find_element(By.ID, "sign-in").click()
    wait_for(lambda: "/login" not in driver.current_url, timeout=20, message="sign-in did not leave the form")
    return username


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
            app = next((a for a in app_databases if url.startswith(a)), None)
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


def click_map_at(driver, lon: float, lat: float, double: bool = False) -> None:
    """A real mouse click (or double click) on the big screen's map at a longitude/latitude."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.CSS_SELECTOR, "#map canvas")
    x, y = driver.execute_script("const p = window.quanyuMap.project([arguments[0], arguments[1]]); return [p.x, p.y];", lon, lat)
    chain = ActionChains(driver).move_to_element_with_offset(
        canvas, round(x - canvas.size["width"] / 2), round(y - canvas.size["height"] / 2)
    )
    (chain.double_click() if double else chain.click()).perform()


def wait_for(predicate, timeout: float = 30, interval: float = 0.25, message: str = "condition"):
    """Polls `predicate` until it is truthy.

    A stale element means Dash re-rendered the node between finding it and reading it: the
    page is still changing, so that poll counts as "not yet", never as a failure.
    """
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
