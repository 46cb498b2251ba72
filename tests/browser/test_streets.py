"""The county's streets on the wall: an operator double-clicks into the city and reads street
and place names over the risk tiers, drawn from this server's own tiles and glyphs only."""

from __future__ import annotations

import time

from tests.browser.chromium import chromium_driver, requested_urls, severe_console_errors, wait_for
from tests.support.webapp import ROOT, running_app

SCREENSHOT = ROOT / "docs" / "screenshots" / "bigscreen-streets.png"
CITY = (106.668, 35.540)  # Pingliang's old town, inside the demo's urban streets


def _idle(driver):
    wait_for(
        lambda: driver.execute_script("const m = window.quanyuMap; return m && m.loaded() && !m.isMoving()"), message="map idle"
    )


def _double_click_on(driver, lon, lat):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.CSS_SELECTOR, "#map canvas")
    x, y = driver.execute_script("const p = window.quanyuMap.project([arguments[0], arguments[1]]); return [p.x, p.y];", lon, lat)
    ActionChains(driver).move_to_element_with_offset(
        canvas, round(x - canvas.size["width"] / 2), round(y - canvas.size["height"] / 2)
    ).double_click().perform()


def test_streets_and_names_under_and_over_the_risk_tiers(demo_url):
    with running_app(demo_url) as url:
        driver = chromium_driver()
        try:
            driver.get(url + "/")
            wait_for(
                lambda: driver.execute_script("return window.quanyuFeatureCounts && window.quanyuFeatureCounts()"), timeout=60
            )
            _idle(driver)
            while driver.execute_script("return window.quanyuMap.getZoom()") < 14:  # a person's double-clicks
                _double_click_on(driver, *CITY)
                time.sleep(0.6)
                _idle(driver)
            names = wait_for(
                lambda: driver.execute_script(
                    """const m = window.quanyuMap;
                       const ids = m.getStyle().layers.filter(l => l.id.startsWith('street_names-')).map(l => l.id);
                       return m.queryRenderedFeatures({layers: ids}).map(f => f.properties.name);"""
                ),
                timeout=60,
                message="street names on the map",
            )
            roads = driver.execute_script(
                """const m = window.quanyuMap;
                   const ids = m.getStyle().layers.filter(l => l.id.startsWith('basemap-')).map(l => l.id);
                   return m.queryRenderedFeatures({layers: ids}).filter(f => f.properties.kind === 'roads').length;"""
            )
            assert roads > 10 and len(set(names)) >= 5  # streets drawn, several of them named
            order = driver.execute_script("return window.quanyuMap.getStyle().layers.map(l => l.id.split('-')[0]);")
            assert order.index("basemap") < order.index("grid_risk") < order.index("street_names")  # under / over the tiers
            from selenium.common.exceptions import WebDriverException
            from selenium.webdriver.common.by import By

            close = driver.find_element(By.ID, "card-close")  # the double-clicks opened a grid's card: close it
            try:
                if close.is_displayed():
                    close.click()
            except WebDriverException:  # an alarm card over it: the wall as it is
                pass
            time.sleep(1.5)
            driver.save_screenshot(str(SCREENSHOT))
            foreign = [u for u in requested_urls(driver) if not u.startswith((url, "data:", "blob:"))]
            assert foreign == []  # tiles and glyphs from this server only (CJK drawn by the browser's own font)
            assert severe_console_errors(driver) == []
        finally:
            driver.quit()
