"""下周预警 on the big screen (issue #16): the layer draws the weekly forecast's top grids,
a click on one opens its card with the expected count and the reasons, and the KPI strip
shows how last week's forecast did (预测命中率), all in a real Chromium on the demo."""

from __future__ import annotations

import pytest

from geo import db
from geo.forecast import store as forecast_store
from tests.browser.chromium import chromium_driver, click_map_at, wait_for
from tests.support.webapp import running_app


@pytest.fixture(scope="module")
def page(demo_url):
    with running_app(demo_url) as url:
        driver = chromium_driver()
        driver.get(url + "/")
        wait_for(
            lambda: driver.execute_script("return window.quanyuFeatureCounts && window.quanyuFeatureCounts().grid_risk > 0"),
            timeout=90,
            message="the map",
        )
        # 下周预警 is off by default (the wall draws enough): the operator switches it on.
        from selenium.webdriver.common.by import By

        box = driver.find_element(By.CSS_SELECTOR, "#visible-layers input[value=forecast]")
        assert not box.is_selected()
        box.click()
        wait_for(
            lambda: driver.execute_script("return window.quanyuFeatureCounts().forecast > 0"),
            timeout=60,
            message="the forecast layer",
        )
        yield driver
        driver.quit()


def test_the_top_grids_are_drawn_and_a_click_shows_why(page, demo_conn):
    from selenium.webdriver.common.by import By

    demo_conn.rollback()
    run = forecast_store.latest_run(demo_conn)
    assert run is not None and run["as_of"] == forecast_store.week_start()
    top = forecast_store.top_grids(demo_conn, run["id"])
    assert len(top) == db.scalar(demo_conn, "SELECT ceil(0.05 * count(*)) FROM grid_current")
    # The largest top grid: easy to hit with the mouse at the district's zoom.
    code, lon, lat = db.one(
        demo_conn,
        """SELECT code, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
             FROM grid_current WHERE code = ANY(%s) ORDER BY ST_Area(geom) DESC LIMIT 1""",
        ([g["grid_code"] for g in top],),
    ).values()
    click_map_at(page, lon, lat)
    card = wait_for(lambda: (el := page.find_element(By.ID, "grid-card")).is_displayed() and el, message="the grid card")
    wait_for(lambda: code in card.text and "下周预警" in card.text, message=f"grid {code}'s forecast in the card")
    mine = next(g for g in top if g["grid_code"] == code)
    assert f"全辖第 {mine['rank']} 位" in card.text
    assert mine["reasons"][0] in card.text and "长期水平" in card.text


def test_the_kpi_strip_shows_last_weeks_hit_rate(page, demo_conn):
    from selenium.webdriver.common.by import By

    demo_conn.rollback()
    last = forecast_store.last_week(demo_conn)
    assert last is not None and last["incidents"] > 0
    kpi = page.find_element(By.ID, "kpi-forecast")
    assert "预测命中率" in kpi.text
    assert kpi.find_element(By.CLASS_NAME, "kpi-value").text == f"{last['hit_rate'] * 100:.1f}%"
    assert f"{last['hits']:,}/{last['incidents']:,}" in kpi.text


def test_the_drill_page_draws_the_forecast_and_a_grid_says_why(demo_url, demo_conn):
    from selenium.webdriver.common.by import By

    demo_conn.rollback()
    run = forecast_store.latest_run(demo_conn)
    grid = forecast_store.top_grids(demo_conn, run["id"], limit=1)[0]
    with running_app(demo_url) as url:
        driver = chromium_driver()
        try:
            driver.get(f"{url}/drill?code={grid['grid_code']}")
            why = wait_for(
                lambda: (els := driver.find_elements(By.CLASS_NAME, "card-forecast")) and els[0],
                timeout=60,
                message="the grid's 下周预警 in its detail",
            )
            assert f"全辖第 {grid['rank']} 位" in why.text
            assert grid["reasons"][0] in driver.find_element(By.TAG_NAME, "body").text
            box = driver.find_element(By.CSS_SELECTOR, "#drill-forecast input[value=forecast]")
            assert driver.execute_script("return window.drillForecastDrawn()") == 0
            box.click()
            wait_for(
                lambda: driver.execute_script("return window.drillForecastDrawn()") > 0,
                timeout=60,
                message="the forecast on the map",
            )
        finally:
            driver.quit()
