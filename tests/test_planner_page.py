"""The planner's workbench in a real headless Chromium on the demo — the issue's "done when":
every deliberate defect listed and on the map, a gap and an overlap fixed by editing, the
coverage score rising, publish, and the old version on the map. The demo community is put
back afterwards (tests/test_planning_demo.restore)."""
from __future__ import annotations

import time

import pytest

from geo import db, planning
from geo.planning_publish import grids_at
from tests.browser import ROOT, chromium_driver, requested_urls, running_app, severe_console_errors, wait_for
from tests.test_planning_demo import fixable_community, restore

SCREENSHOT = ROOT / "docs" / "screenshots" / "planner.png"


@pytest.fixture(scope="module")
def app_url(demo_url):
    with running_app(demo_url) as url:
        yield url


def score(driver) -> float:
    return float(driver.find_element("id", "pl-score-value").text.rstrip("%"))


def test_fix_a_gap_and_an_overlap_publish_and_see_the_old_version(app_url, demo_url):
    from selenium.webdriver.common.by import By

    conn = db.connect(demo_url)
    code, plan_id, found = fixable_community(conn)
    old = grids_at(conn, code)
    driver = chromium_driver()
    try:
        driver.get(f"{app_url}/planner?community={code}")
        state = wait_for(lambda: driver.execute_script("return window.plannerState && window.plannerState()"),
                         timeout=60, message="the planner map")
        assert state["grids"] == len(found["own"]) and state["defects"] == len(found["check"].defects)
        items = driver.find_elements(By.CSS_SELECTOR, "#pl-defects .pl-item")
        assert len(items) >= len(found["check"].defects)  # spatial defects, then loads and staffing
        assert f"#{plan_id}" in driver.find_element(By.ID, "pl-plan-label").text
        # A click on a defect flies the map to it.
        driver.find_element(By.CSS_SELECTOR, "#pl-defects .pl-overlap .pl-fly").click()
        wait_for(lambda: driver.execute_script("return window.plannerState().flown") >= 1, message="fly to the defect")
        time.sleep(1)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        start = score(driver)

        def click_fix(selector):
            before = score(driver)
            buttons = driver.find_elements(By.CSS_SELECTOR, selector)
            assert buttons, selector
            buttons[0].click()
            return wait_for(lambda: score(driver) > before and score(driver), timeout=60, message=f"score rise after {selector}")

        gap_code = sorted(found["own"] & set(found["gap"].grid_codes))[0]
        after_gap = click_fix(f"#pl-defects .pl-{found['gap'].kind} .pl-fix")
        # Give the overlap between two of the community's own grids to its first grid.
        a, b = found["overlap"].grid_codes
        overlap_items = [i for i in driver.find_elements(By.CSS_SELECTOR, "#pl-defects .pl-overlap")
                         if f"{a[-3:]} / {b[-3:]}" in i.text]
        assert overlap_items
        before = score(driver)
        overlap_items[0].find_element(By.CSS_SELECTOR, ".pl-fix").click()
        after_overlap = wait_for(lambda: score(driver) > before and score(driver), timeout=60, message="score rise")
        assert start < after_gap < after_overlap
        assert "→" in driver.find_element(By.ID, "pl-score").text
        assert gap_code
        # Undo and redo are live; undo once and redo restores the same score.
        driver.find_element(By.ID, "pl-undo").click()
        wait_for(lambda: score(driver) == after_gap, timeout=60, message="undo")
        driver.find_element(By.ID, "pl-redo").click()
        wait_for(lambda: score(driver) == after_overlap, timeout=60, message="redo")
        driver.execute_script("window.plannerFit()")
        time.sleep(1.5)
        driver.save_screenshot(str(SCREENSHOT))
        # Publish: a new draft opens; the old version is one choice away.
        driver.find_element(By.ID, "pl-publish").click()
        wait_for(lambda: "已发布" in driver.find_element(By.ID, "pl-msg").text, timeout=90, message="publish")
        assert planning.get(conn, plan_id)["status"] == "published"
        driver.find_element(By.CSS_SELECTOR, "#pl-diff").click()
        option = wait_for(lambda: [o for o in driver.find_elements(By.CSS_SELECTOR, "#pl-diff [role=option], #pl-diff .Select-option, .dash-dropdown-option")
                                   if f"#{plan_id}" in o.text], timeout=20, message="the plan in the version list")
        option[0].click()
        state = wait_for(lambda: (s := driver.execute_script("return window.plannerState()"))["diff"] > 0 and s,
                         timeout=60, message="the difference on the map")
        assert state["diff"] >= len(old)  # the old version's outlines plus the changed pieces
        assert "新增" in driver.find_element(By.ID, "pl-diff-summary").text
        assert severe_console_errors(driver) == []
        assert [u for u in requested_urls(driver) if not u.startswith((app_url, "data:", "blob:"))] == []
    finally:
        driver.quit()
        restore(conn, code, old)
        conn.close()
    assert SCREENSHOT.stat().st_size > 50_000


def test_draw_in_the_browser_goes_through_the_server_check(app_url, demo_url):
    """Clicks on the map sketch a polygon; 应用 sends it; the server snaps and checks it: a
    grid drawn over existing grids is refused for its overlap, with 仍然应用 offered."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    conn = db.connect(demo_url)
    code = "620802001009"
    plan_id = planning.open_draft(conn, code)
    driver = chromium_driver()
    try:
        driver.get(f"{app_url}/planner?community={code}")
        wait_for(lambda: driver.execute_script("return window.plannerState && window.plannerState()"), timeout=60, message="map")
        driver.find_element(By.CSS_SELECTOR, "#pl-mode input[value=draw]").click()
        wait_for(lambda: driver.execute_script("return window.plannerState().mode") == "draw", message="draw mode")
        canvas = driver.find_element(By.CSS_SELECTOR, "#planner-map canvas")
        for dx, dy in ((-40, -40), (40, -40), (40, 40), (-40, 40)):
            ActionChains(driver).move_to_element_with_offset(canvas, dx, dy).click().perform()
            time.sleep(0.3)
        driver.find_element(By.ID, "pl-apply").click()
        msg = wait_for(lambda: driver.find_element(By.ID, "pl-msg").text, timeout=60, message="the check's answer")
        assert "未应用" in msg and "重叠" in msg
        assert driver.find_element(By.ID, "pl-force").is_displayed()
        assert planning.history(conn, plan_id)["undo"] == 0
        assert severe_console_errors(driver) == []
    finally:
        driver.quit()
        conn.close()
