"""The 研判 drill-down page in a real browser: the URL restores a view, and a leader walks
from the district to one incident in four clicks."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from geo.analysis import dashboard, drill, indicators
from tests.browser.chromium import chromium_driver, requested_urls, severe_console_errors, wait_for
from tests.support.drill import descend
from tests.support.webapp import ROOT, running_app

SCREENSHOT = ROOT / "docs" / "screenshots" / "drill.png"


@pytest.fixture(scope="module")
def browser(demo_url):
    with running_app(demo_url) as url:
        driver = chromium_driver()
        try:
            yield driver, url
        finally:
            driver.quit()


def map_state(driver, level: str | None = None, incident: bool = False):
    def ready():
        s = driver.execute_script("return window.drillMapState && window.drillMapState()")
        if not s or (level and s["level"] != level) or not (s["drawn"] or s["points"]):
            return None
        return s

    return wait_for(ready, timeout=60, message=f"the map at level {level}")


def click_at(driver, what: dict) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    pos = wait_for(
        lambda: driver.execute_script("return window.drillPixelOf(arguments[0])", what), timeout=20, message=f"{what} on the map"
    )
    actions = ActionChains(driver)
    actions.w3c_actions.pointer_action.move_to_location(int(pos["x"]), int(pos["y"]))
    actions.w3c_actions.pointer_action.click()
    actions.perform()


def crumb_codes(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [a.get_attribute("data-code") for a in driver.find_elements(By.CSS_SELECTOR, "#drill-breadcrumb a[data-code]")]


def test_the_url_restores_a_view(browser, demo_conn, drill_page):
    from selenium.webdriver.common.by import By

    driver, url = browser
    end = date.today() - timedelta(days=3)
    start = end - timedelta(days=59)
    town = descend(demo_conn, "620802", start, end, until="town")[-1]
    driver.get(f"{url}/drill?code={town}&start={start}&end={end}&measure=overdue&bucket=week")
    map_state(driver, "town")
    assert crumb_codes(driver) == [c for c, _, _ in drill.breadcrumb(demo_conn, town)]
    checked = driver.find_element(By.CSS_SELECTOR, "#drill-measure input:checked").get_attribute("value")
    assert checked == "overdue"
    assert driver.find_element(By.CSS_SELECTOR, "#drill-legend .legend-title").text == "超期"
    summary = drill.summary(demo_conn, town, start, end)
    for key in ("incidents", "resolution_rate", "households"):
        assert driver.find_element(By.ID, f"drill-kpi-{key}").text == drill_page.kpi_value(summary, key), key
    # 在办 and 超期 are the current ones, the same numbers as the big screen's for the town
    now = indicators.current_open(demo_conn, town)
    screen = dashboard.kpis(demo_conn, town)
    for key in ("open", "overdue"):
        assert driver.find_element(By.ID, f"drill-kpi-{key}").text == f"{now[key]:,}" == f"{screen[key]:,}", key
        assert driver.find_element(By.ID, f"drill-kpi-window-{key}").text == "当前"
    assert driver.find_element(By.ID, "drill-kpi-window-resolution_rate").text == f"{start}至{end}"


def test_district_to_incident_in_four_clicks(browser, demo_conn):
    from selenium.webdriver.common.by import By

    driver, url = browser
    end = date.today()
    start = end - timedelta(days=89)
    district, town, community, grid = descend(demo_conn, "620802", start, end)
    incident = drill.incidents(demo_conn, grid, start, end, limit=1)[0]
    driver.get(f"{url}/drill?code={district}")
    map_state(driver, "district")
    time.sleep(1.5)  # let the first paint settle before the screenshot
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOT))
    started = time.perf_counter()
    for code, level in ((town, "town"), (community, "community"), (grid, "grid")):
        click_at(driver, {"code": code})  # clicks 1-3: down the map
        map_state(driver, level)
        wait_for(lambda: crumb_codes(driver)[-1:] == [code], timeout=30, message=f"breadcrumb at {code}")
    click_at(driver, {"incident": incident["id"]})  # click 4: the incident
    wait_for(lambda: driver.find_element(By.ID, "drill-detail").is_displayed(), timeout=30, message="incident detail")
    walk_seconds = time.perf_counter() - started
    assert driver.find_element(By.ID, "crumb-incident").text.startswith(f"#{incident['id']}")
    assert driver.find_elements(By.CSS_SELECTOR, "#drill-history tr"), "the status history is shown"
    assert f"incident={incident['id']}" in driver.current_url and f"code={grid}" in driver.current_url
    assert driver.find_element(By.ID, "drill-why-gi-z").text != "—"  # why hot: Gi* of the grid beside its incidents
    # the breadcrumb goes back up
    driver.find_element(By.CSS_SELECTOR, f"#drill-breadcrumb a[data-code='{town}']").click()
    map_state(driver, "town")
    assert f"code={town}" in driver.current_url
    assert severe_console_errors(driver) == []
    assert [u for u in requested_urls(driver) if not u.startswith((url, "data:", "blob:"))] == []
    print(f"four clicks district → incident in {walk_seconds:.1f} s")


def test_each_unit_is_named_once_on_the_map(browser, demo_conn):
    """The units are labelled by the page (children-label); the basemap's place names of the
    same units were drawn too, so 香莲乡 read twice and 崆峒区 stood inside 崆峒区 as if it were
    one of its parts. Place names the page already shows (the units drawn and the trail above
    them) are left to the page; other places keep their names."""
    driver, url = browser
    driver.get(f"{url}/drill?code=620802")
    map_state(driver, "district")
    time.sleep(2)  # the basemap's tiles and their labels

    def drawn(filter_places: bool) -> list[str]:
        return driver.execute_script(
            """const m = window.drillMap;
               const ids = m.getStyle().layers.filter((l) => arguments[0] ? l.source === 'street_names'
                   : l.id === 'children-label').map((l) => l.id);
               return m.queryRenderedFeatures({layers: ids}).filter((f) => !arguments[0] || f.properties.kind === 'places')
                   .map((f) => f.properties.name);""",
            filter_places,
        )

    labels = wait_for(lambda: drawn(False), timeout=30, message="the units' labels")
    assert len(labels) == len(set(labels)), sorted(n for n in labels if labels.count(n) > 1)  # a unit of two parts: one name
    units = set(labels)
    wait_for(
        lambda: driver.execute_script(
            "const m = window.drillMap; return m.loaded() && m.getStyle().layers.some((l) => l.source === 'street_names');"
        ),
        timeout=30,
        message="the basemap's names loaded",
    )
    time.sleep(1)
    places = drawn(True)
    assert "香莲乡" in units
    assert not (set(places) & (units | {"崆峒区", "平凉市"})), sorted(set(places) & (units | {"崆峒区"}))

    # 柳湖镇's villages 杏家洼村 and 新家庄村 are each two parts: each is named once
    driver.get(f"{url}/drill?code=620802104")
    map_state(driver, "town")
    time.sleep(1)
    labels = wait_for(lambda: drawn(False), timeout=30, message="the villages' labels")
    assert "杏家洼村" in labels and len(labels) == len(set(labels)), sorted(n for n in labels if labels.count(n) > 1)
