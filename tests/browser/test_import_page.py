"""The 数据导入 page end to end in headless Chromium (issue #14, item 7), with real gestures:
a 12345 ledger as the hotline exports it (Chinese headers, office dates and statuses, 20 bad
rows) is uploaded through the file input; the page shows what the importer reads (format,
coordinate system, mapping, a map of the points, problems per value and per row); an import
without skipping is refused with nothing written; with 跳过有问题的行 ticked it imports the
good rows with a progress bar and a rejected file to download; the batch is undone from the
history. Real PostGIS, the real app in a subprocess."""

from __future__ import annotations

import time

import pytest
import shapely

from geo import db
from geo.risk import tiers as risk
from tests.browser.chromium import chromium_driver, requested_urls, severe_console_errors, wait_for
from tests.support import ledger
from tests.support.webapp import ROOT, running_app

GOOD, BAD = ledger.GOOD, ledger.BAD

SHOTS = ROOT / "docs" / "screenshots"
# Grids over the tiny jurisdiction's west (urban) community, where the ledger's points are.
GRIDS = [
    (f"620802001001{n + 1:03d}", shapely.box(106.65 + c * 0.005, 35.53 + r * 0.005, 106.655 + c * 0.005, 35.535 + r * 0.005))
    for n, (r, c) in enumerate((r, c) for r in range(4) for c in range(2))
]


@pytest.fixture
def county(tiny_jurisdiction, add_grids, conn):
    add_grids([(code, f"{code[-3:]}网格", "urban", box) for code, box in GRIDS])
    risk.load_config(conn)
    return conn


def count(conn, sql: str) -> int:
    n = db.scalar(conn, sql)
    conn.commit()
    return n


def test_a_ledger_is_inspected_imported_and_undone_on_the_page(county, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    conn = county
    path = tmp_path / "12345工单.xlsx"
    ledger.write(path)
    with running_app(_test_url()) as url:
        d = chromium_driver()
        try:
            d.get(url + "/import")
            wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#imp-upload input[type=file]"), 30, message="the upload")
            d.find_element(By.CSS_SELECTOR, "#imp-upload input[type=file]").send_keys(str(path))
            facts = wait_for(
                lambda: (el := d.find_elements(By.ID, "imp-facts")) and "12345工单.xlsx" in el[0].text and el[0].text,
                60,
                message="the inspection",
            )
            assert "xlsx" in facts and f"{GOOD + BAD:,}" in facts
            assert f"新增 {GOOD:,}" in facts and f"有问题 {BAD:,}" in facts
            mapping = {
                r.find_element(By.CSS_SELECTOR, "td[data-dash-column=column]").text: r.find_element(
                    By.CSS_SELECTOR, "td[data-dash-column=field]"
                ).text
                for r in d.find_elements(By.CSS_SELECTOR, "#imp-mapping tbody tr")
                if r.find_elements(By.CSS_SELECTOR, "td")
            }
            assert "reported_at" in mapping["受理时间"] and "external_id" in mapping["工单编号"]
            assert mapping[ledger.FREE_TEXT] == "（不导入）"
            # Map it to the description: click its field cell, type, Enter; the page inspects again.
            cell = next(
                r.find_element(By.CSS_SELECTOR, "td[data-dash-column=field]")
                for r in d.find_elements(By.CSS_SELECTOR, "#imp-mapping tbody tr")
                if r.find_elements(By.CSS_SELECTOR, "td") and r.find_element(By.CSS_SELECTOR, "td").text == ledger.FREE_TEXT
            )
            ActionChains(d).click(cell).pause(0.3).send_keys("description").pause(0.3).send_keys(Keys.ENTER).perform()
            wait_for(
                lambda: any(
                    "description" in r.text and ledger.FREE_TEXT in r.text
                    for r in d.find_elements(By.CSS_SELECTOR, "#imp-mapping tbody tr")
                ),
                60,
                message="the edited mapping inspected again",
            )
            # every row with coordinates is drawn (the 4 without have no geometry)
            wait_for(lambda: d.execute_script("return window.importMapFeatures") == GOOD + BAD - 4, 30, message="the map")
            problems = d.find_element(By.ID, "imp-problems").text
            assert "2025-13-01" in problems  # one line for the bad date, however many rows have it
            assert len(d.find_elements(By.CSS_SELECTOR, "#imp-rows tbody tr")) >= 10
            ActionChains(d).move_to_element(d.find_element(By.CSS_SELECTOR, ".desk-title")).perform()
            time.sleep(1)
            d.save_screenshot(str(SHOTS / "import.png"))

            # Without skipping: refused, nothing written, the whole list of problems shown.
            d.find_element(By.ID, "imp-run").click()
            wait_for(lambda: "导入失败" in d.find_element(By.ID, "imp-result").text, 60, message="the refusal")
            assert "2025-13-01" in d.find_element(By.ID, "imp-result").text
            assert count(conn, "SELECT count(*) FROM incident") == 0

            # Skip the bad rows: the good ones go in, with a progress bar and the rejected rows to download.
            d.find_element(By.CSS_SELECTOR, "#imp-skip input[type=checkbox]").click()
            d.find_element(By.ID, "imp-run").click()
            wait_for(lambda: "导入完成" in d.find_element(By.ID, "imp-result").text, 120, message="the import")
            assert d.find_element(By.ID, "imp-progress-text").text.startswith("100%")
            assert count(conn, "SELECT count(*) FROM incident") == GOOD
            assert count(conn, "SELECT count(*) FROM incident WHERE description LIKE '来电反映第%件事'") == GOOD
            link = d.find_element(By.ID, "imp-rejected").get_attribute("href")
            assert "/import/rejected/" in link and link.endswith(".rejected.xlsx")
            rows = d.find_elements(By.CSS_SELECTOR, "#imp-history tbody tr")
            assert "12345工单.xlsx" in rows[1].text  # the newest batch first (row 0 is the header)
            d.save_screenshot(str(SHOTS / "import-done.png"))

            # Undo it from the history.
            rows[1].find_element(By.CSS_SELECTOR, "input[type=radio]").click()
            d.find_element(By.ID, "imp-undo").click()
            wait_for(lambda: "已撤销批次" in d.find_element(By.ID, "imp-undo-msg").text, 60, message="the undo")
            assert count(conn, "SELECT count(*) FROM incident") == 0
            assert "已撤销" in d.find_elements(By.CSS_SELECTOR, "#imp-history tbody tr")[1].text

            assert severe_console_errors(d) == []
            assert [u for u in requested_urls(d) if not u.startswith((url, "data:", "blob:"))] == []
        finally:
            d.quit()


def _test_url() -> str:
    from geo import pgserver

    return pgserver.database_url(test=True)
