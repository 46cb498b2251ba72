"""The 研判 drill-down page on the Kongtong demo: every level renders, the URL restores a view,
and a leader walks from the district to one incident in four clicks in a real browser."""

from __future__ import annotations

import io
import struct
import time
import zlib
from datetime import date, timedelta

import pytest

from geo import db
from geo.analysis import dashboard, drill, drill_geo, indicators
from tests.browser import ROOT, chromium_driver, requested_urls, running_app, severe_console_errors, wait_for

SCREENSHOT = ROOT / "docs" / "screenshots" / "drill.png"


@pytest.fixture(scope="module")
def page_module(demo_url):
    """The page module inside a Dash app with pages, reading the demo database."""
    import os

    import dash

    os.environ["DATABASE_URL"] = demo_url  # db.pooled() reads it per call; pools are keyed by URL
    try:
        dash.Dash(__name__, use_pages=True, pages_folder="")
        from geo.web.pages import drill as drill_page

        yield drill_page
    finally:
        os.environ.pop("DATABASE_URL", None)


def descend(conn, code: str, start, end, until: str = "grid") -> list[str]:
    """Codes from `code` down to `until`, always into the child with the most incidents."""
    path = [code]
    while drill.level_of(path[-1]) != until:
        kids = [c for c in drill.children(conn, path[-1], start, end) if c["code"]]
        path.append(max(kids, key=lambda c: (c["incidents"], c["code"]))["code"])
    return path


def texts(component) -> list[str]:
    """Every string inside a Dash component tree."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [s for c in component for s in texts(c)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


# --------------------------------------------------------------------------- without a browser


def decode_png(png: bytes):
    """A strict little PNG reader (signature, chunk CRCs, IHDR, unfiltered RGBA rows), so the
    test needs no imaging library: returns (width, height, colour type, pixel(x, y))."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + n]
        assert zlib.crc32(kind + data) & 0xFFFFFFFF == struct.unpack(">I", png[pos + 8 + n : pos + 12 + n])[0]
        if kind == b"IHDR":
            header = struct.unpack(">IIBB", data[:10])
        elif kind == b"IDAT":
            idat += data
        pos += 12 + n
    width, height, depth, colour = header
    assert depth == 8
    raw = zlib.decompress(idat)
    stride = 1 + 4 * width
    rows = [raw[i * stride : (i + 1) * stride] for i in range(height)]
    assert all(row[0] == 0 for row in rows)  # filter type 0
    return width, height, colour, lambda x, y: tuple(rows[y][1 + 4 * x : 5 + 4 * x])


def test_png_is_a_valid_image():
    png = drill_geo.density_png([[0, 1, 2], [3, 4, 100]])
    width, height, colour, pixel = decode_png(png)
    assert (width, height, colour) == (3, 2, 6)  # RGBA
    assert pixel(0, 1)[3] == 0  # empty cell (south-west; rows are flipped to north-up) is transparent
    assert pixel(2, 0)[3] > 200  # the densest cell is opaque


def test_stepped_scale_uses_quantiles(page_module):
    colors, legend = page_module.stepped_scale([1, 2, 3, 4, 5, 6, 7, 8, 9, 100, None], "incidents")
    assert colors[0] == page_module.RAMP[0] and colors[9] == page_module.RAMP[-1] and colors[10] == page_module.NO_DATA
    assert len(legend) == 6 and legend[-2]["label"] == "≤ 100"
    good, _ = page_module.stepped_scale([0.5, 0.99], "resolution_rate")
    assert good == [page_module.RAMP_GOOD[0], page_module.RAMP_GOOD[-1]]  # a low resolution rate is the alarming colour


def test_every_level_renders_with_the_numbers_of_geo_drill(page_module, demo_conn, demo_url):
    end = date.today()
    start = end - timedelta(days=89)
    path = ["620800"] + descend(demo_conn, "620802", start, end)
    incident = drill.incidents(demo_conn, path[-1], start, end, limit=1)[0]
    for code in path:
        layout = page_module.layout(code=code, start=start.isoformat(), end=end.isoformat())
        words = texts(layout)
        assert not any("无法显示" in w for w in words), code
        summary = drill.summary(demo_conn, code, start, end)
        assert page_module.kpi_value(summary, "incidents") in words
        assert summary["name"] in words
    with db.pooled(demo_url) as conn:
        view = page_module.page_view(
            dict(code=path[-1], incident=str(incident["id"]), start=start.isoformat(), end=end.isoformat())
        )
        c = page_module.contents(conn, view)
    crumbs = texts(c["drill-breadcrumb"])
    assert crumbs[-1].startswith(f"#{incident['id']}") and "事件" in crumbs
    assert any(w == "处置过程" for w in texts(c["drill-detail-body"]))
    assert c["drill-map-data"]["level"] == "grid" and c["drill-map-data"]["points"]["features"]


def test_render_callback_and_hotspot_views(page_module, demo_url):
    """The callback that redraws after a click gives the same panels for the same URL; the hotspot
    modes colour significant grids, the emerging list only names grids of the unit."""
    search = "?code=620802&map=gi&fdr=1&kde=1"
    out = page_module.render(search)
    md = out[-2]
    assert md["mode"] == "gi" and md["hot"] and md["density"]["url"].startswith("data:image/png;base64,")
    assert len(md["children"]["features"]) == 20
    view = page_module.view_of_search(search)
    assert page_module.view_of_search(page_module.search_of(view)) == view
    town = "620802001"
    with db.pooled(demo_url) as conn:
        c = page_module.contents(conn, page_module.page_view({"code": town, "map": "emerging"}))
    listed = [a.to_plotly_json()["props"]["data-code"] for a in _links(c["drill-emerging"])]
    assert listed and all(code.startswith(town) for code in listed)
    with pytest.raises(ValueError):
        page_module.page_view({"code": "620802", "map": "nonsense"})


def test_the_quarter_ranking_downloads_as_excel(page_module, demo_url):
    import base64

    from openpyxl import load_workbook

    download = page_module.export(1, "?code=620802&end=2026-09-30")
    assert download["filename"] == "季通报_2026Q3.xlsx"
    book = load_workbook(io.BytesIO(base64.b64decode(download["content"])))
    assert book.sheetnames[:2] == ["2026Q3乡镇街道", "2026Q3部门"] and "2026-09月调度" in book.sheetnames
    towns = list(book["2026Q3乡镇街道"].iter_rows(values_only=True))
    assert len(towns) == 21 and "末位" in [cell for row in towns for cell in row]


def _links(component):
    """The drill links (html.A with data-code) inside a component tree."""
    found = []
    if isinstance(component, (list, tuple)):
        for c in component:
            found += _links(c)
    elif component is not None and not isinstance(component, str):
        if "data-code" in component.to_plotly_json()["props"]:
            found.append(component)
        found += _links(getattr(component, "children", None))
    return found


# --------------------------------------------------------------------------- in the browser


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


def test_the_url_restores_a_view(browser, demo_conn, page_module):
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
        assert driver.find_element(By.ID, f"drill-kpi-{key}").text == page_module.kpi_value(summary, key), key
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
