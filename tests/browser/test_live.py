"""Push on the real big screen (issue #17), in headless Chromium on the demo: with polling
slowed to two minutes a committed incident still reaches the screen in seconds (only the
push stream can bring it); when the stream's listener loses the database the page falls
back to polling and returns to push by itself; with push off it polls, and a new incident
still arrives."""

from __future__ import annotations

import time

import pytest

from geo import db
from tests.browser.chromium import chromium_driver, wait_for
from tests.support.webapp import running_app


def _add_incident(demo_conn) -> tuple[int, float]:
    """A new incident committed now through the intake's own function; (its id, commit time)."""
    from geo.incidents import dispatch

    demo_conn.rollback()
    lon, lat = db.one(demo_conn, "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM household ORDER BY id LIMIT 1").values()
    new_id = dispatch.create_incident(
        demo_conn, lon=lon, lat=lat, minor_code="0102", actor="test", description="推送测试：邻里纠纷"
    )
    demo_conn.commit()
    return new_id, time.monotonic()


def _open_screen(url: str):
    from selenium.webdriver.common.by import By

    driver = chromium_driver()
    driver.get(url + "/")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#feed .feed-item"), timeout=60, message="the big screen")
    return driver


def _mode(driver) -> str | None:
    return driver.execute_script("return document.body.dataset.live || null")


@pytest.fixture(scope="module")
def push_app(demo_url):
    with running_app(demo_url, QUANYU_LIVE_SECONDS="120") as url:
        yield url


def test_a_commit_reaches_the_screen_by_push_and_the_screen_survives_a_lost_listener(push_app, demo_conn):
    from selenium.webdriver.common.by import By

    driver = _open_screen(push_app)
    try:
        wait_for(lambda: _mode(driver) == "push", timeout=20, message="the push stream open")
        new_id, committed = _add_incident(demo_conn)
        wait_for(lambda: driver.find_elements(By.ID, f"feed-{new_id}"), timeout=30, message="the pushed incident in the feed")
        assert time.monotonic() - committed < 30  # the page polls every 120 s: only push brings it this soon
        # the app's listener loses its database connection: the page polls meanwhile ...
        dbname = db.scalar(demo_conn, "SELECT current_database()")
        db.scalar(
            demo_conn,
            """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE application_name = 'quanyu-listen' AND datname = %s""",
            (dbname,),
        )
        demo_conn.commit()
        wait_for(lambda: _mode(driver) == "poll", timeout=20, message="the page falling back to polling")
        # ... and is pushed to again once the listener is back (the page retries every 15 s)
        wait_for(lambda: _mode(driver) == "push", timeout=40, message="push again")
        new_id, committed = _add_incident(demo_conn)
        wait_for(lambda: driver.find_elements(By.ID, f"feed-{new_id}"), timeout=30, message="the next incident, pushed")
    finally:
        driver.quit()


def test_with_push_off_the_screen_polls_and_still_gets_new_incidents(demo_url, demo_conn):
    from selenium.webdriver.common.by import By

    with running_app(demo_url, QUANYU_LIVE_SECONDS="1", QUANYU_PUSH="0") as url:
        driver = _open_screen(url)
        try:
            wait_for(lambda: _mode(driver) == "poll", timeout=20, message="the page polling (push refused)")
            new_id, _ = _add_incident(demo_conn)
            wait_for(lambda: driver.find_elements(By.ID, f"feed-{new_id}"), timeout=15, message="the polled incident")
        finally:
            driver.quit()
