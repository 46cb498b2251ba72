"""First run in a browser (issue #14, item 9): `make serve` on a database with a boundary
but no account lands on the steps, with the next one named."""

from __future__ import annotations

from geo import pgserver
from tests.browser.chromium import chromium_driver, wait_for
from tests.support.tiny import insert_units
from tests.support.webapp import ROOT, running_app


def test_the_welcome_page_in_a_browser(clean_db, tiny_units):
    """What `make serve` on an empty database shows: the browser lands on the steps."""
    from selenium.webdriver.common.by import By

    insert_units(clean_db, tiny_units)  # the boundary imported; no account yet
    with running_app(pgserver.database_url(test=True)) as url:
        d = chromium_driver(sign_in_as=None)
        try:
            d.get(url + "/")
            wait_for(lambda: d.current_url.endswith("/welcome"), 30, message="the welcome page")
            assert d.find_element(By.CSS_SELECTOR, "#step-admin .step-status").text == "下一步"
            assert "--unit 620802" in d.find_element(By.CSS_SELECTOR, "#step-admin code").text
            d.save_screenshot(str(ROOT / "docs" / "screenshots" / "welcome.png"))
        finally:
            d.quit()
