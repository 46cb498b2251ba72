"""A town leader in a real browser: signs in through the form, sees the town (and only the
town) on the big screen and the drill-down, has no planner or intake in the menu, and
signs out. Anonymous, the browser only ever reaches the sign-in page."""

from __future__ import annotations

import pytest

from geo import db
from tests.browser.chromium import chromium_driver, severe_console_errors, sign_in, wait_for
from tests.support.webapp import ROOT, running_app

SCREENSHOT = ROOT / "docs" / "screenshots" / "login.png"


@pytest.fixture(scope="module")
def app_url(demo_url):
    with running_app(demo_url) as url:
        yield url


@pytest.fixture(scope="module")
def town(demo_conn):
    row = db.one(
        demo_conn,
        """SELECT u.code, u.name FROM admin_unit u WHERE u.level = 'town'
                                ORDER BY (SELECT count(*) FROM incident i WHERE i.admin_code LIKE u.code || '%%') DESC, u.code
                                LIMIT 1""",
    )
    demo_conn.commit()
    return row


def test_anonymous_browser_reaches_only_the_sign_in_page(app_url):
    from selenium.webdriver.common.by import By

    driver = chromium_driver(sign_in_as=None)
    try:
        for path in ("/", "/drill", "/planner", "/audit"):
            driver.get(app_url + path)
            wait_for(lambda: "/login" in driver.current_url, 20, message=f"redirect of {path}")
            assert driver.find_element(By.ID, "sign-in").text == "登录"
        driver.find_element(By.ID, "username").send_keys("nobody")
        driver.find_element(By.ID, "password").send_keys("wrong-password-1")
        driver.find_element(By.ID, "sign-in").click()
        error = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".login-error"), 20, message="the refusal")
        assert "用户名或密码错误" in error[0].text
        driver.save_screenshot(str(SCREENSHOT))
    finally:
        driver.quit()


def test_a_town_leader_sees_the_town_and_signs_out(app_url, demo_url, town):
    from selenium.webdriver.common.by import By

    driver = chromium_driver(sign_in_as=None)
    try:
        sign_in(driver, app_url, "leader", town["code"])
        title = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".hdr h1"), 60, message="the big screen")
        assert title[0].text.startswith(town["name"])
        rows = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#ranking tbody tr"), 30, message="the ranking")
        assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == [town["name"]]
        wait_for(
            lambda: driver.execute_script("return window.quanyuFeatureCounts && window.quanyuFeatureCounts()"),
            60,
            message="the map",
        )
        driver.get(app_url + "/drill")
        crumbs = wait_for(
            lambda: driver.find_elements(By.CSS_SELECTOR, "#drill-breadcrumb .crumb.current"), 60, message="the drill-down"
        )
        assert crumbs[0].text == town["name"]  # opens on the town, not the district
        nav = [a.text for a in driver.find_elements(By.CSS_SELECTOR, ".desk-nav a")]
        assert nav == ["指挥大屏", "研判分析", "预警台"]  # a leader looks at the alarm desk (acknowledging is the operators')
        assert not severe_console_errors(driver)
        driver.find_element(By.ID, "sign-out").click()
        wait_for(lambda: "/login" in driver.current_url, 20, message="the sign-in page after signing out")
        driver.get(app_url + "/drill")
        wait_for(lambda: "/login" in driver.current_url, 20, message="no way back without signing in")
    finally:
        driver.quit()
