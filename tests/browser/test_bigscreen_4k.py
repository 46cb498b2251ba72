"""The big screen on a 4K wall: every element is twice its 1080p size at 3840x2160.

Video walls are often 3840x2160. HTML text follows the root font size (rem), but plotly's
charts, native radio buttons and checkboxes, MapLibre's zoom buttons, scale bar and
attribution are drawn in pixels unless scaled (assets/quanyu_scale.js, quanyu.css). The same
page is opened in two real Chromiums, one per size, and the rendered sizes are compared.
"""

from __future__ import annotations

import time

import pytest

from tests.browser.chromium import chromium_driver, severe_console_errors, wait_for
from tests.support.webapp import ROOT, running_app

SHOTS = {
    (1920, 1080): ROOT / "docs" / "screenshots" / "bigscreen-1080p.png",
    (3840, 2160): ROOT / "docs" / "screenshots" / "bigscreen-4k.png",
}

# What is measured: a CSS selector and how (font size of the first match, or its box height).
MEASURES = {
    "category chart axis labels": ("#fig-category .ytick text", "font"),
    "category chart bar values": ("#fig-category text.bartext", "font"),
    "trend chart axis labels": ("#fig-trend .xtick text", "font"),
    "donut labels": ("#fig-level text.slicetext, #fig-level .outsidetext, #fig-level text", "font"),
    "time-window radio button": ("#window input[type=radio]", "height"),
    "layer checkbox": ("#visible-layers input[type=checkbox]", "height"),
    "layer label": ("#visible-layers label", "font"),
    "category dropdown": ("#major", "height"),
    "legend swatch": ("#legend .swatch", "width"),
    "legend text": ("#legend .legend-row span:last-child", "font"),
    "map zoom button": (".maplibregl-ctrl-zoom-in", "height"),
    "map scale bar": (".maplibregl-ctrl-scale", "font"),
    "map attribution": (".maplibregl-ctrl-attrib", "height"),
    "KPI value": (".kpi-value", "font"),
    "panel title": (".panel-title", "font"),
    "feed title": (".feed-title", "font"),
    "alarm sound toggle": ("#alert-sound", "height"),
}
# Drawn only while an alarm is open: compared when the page shows it at both sizes.
WHEN_SHOWN = {
    "alarm card title": (".alert-card .alert-title", "font"),
    "alarm acknowledge button": (".alert-card .alert-ack", "height"),
}

MEASURE_JS = """
const out = {};
for (const [name, [selector, how]] of Object.entries(arguments[0])) {
  const el = document.querySelector(selector);
  if (!el) { out[name] = null; continue; }
  const box = el.getBoundingClientRect();
  out[name] = how === 'font' ? parseFloat(getComputedStyle(el).fontSize) : how === 'height' ? box.height : box.width;
}
return out;
"""


@pytest.fixture(scope="module")
def app_url(demo_url):
    with running_app(demo_url) as url:
        yield url


def measure(app_url, width: int, height: int) -> dict:
    driver = chromium_driver(width, height)
    try:
        driver.get(app_url + "/")
        wait_for(
            lambda: driver.execute_script("return window.quanyuFeatureCounts && window.quanyuFeatureCounts().grid_risk > 0"),
            timeout=90,
            message="the map",
        )
        wait_for(
            lambda: driver.execute_script("return document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3"),
            message="the charts",
        )
        time.sleep(1.5)  # the legend and the charts' last redraw
        sizes = driver.execute_script(MEASURE_JS, MEASURES | WHEN_SHOWN)
        assert severe_console_errors(driver) == []
        shot = SHOTS[(width, height)]
        shot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(shot))
        return sizes
    finally:
        driver.quit()


def test_every_element_is_twice_as_large_on_a_4k_wall(app_url):
    hd = measure(app_url, 1920, 1080)
    uhd = measure(app_url, 3840, 2160)
    missing = [name for name in MEASURES if not hd.get(name) or not uhd.get(name)]
    assert missing == [], f"not found on the page: {missing}"
    shown = [name for name in WHEN_SHOWN if hd.get(name) and uhd.get(name)]
    ratios = {name: uhd[name] / hd[name] for name in [*MEASURES, *shown]}
    off = {name: (hd[name], uhd[name], round(r, 2)) for name, r in ratios.items() if not 1.8 <= r <= 2.2}
    assert off == {}, f"1080p px, 4K px, ratio: {off}"
    for shot in SHOTS.values():
        assert shot.stat().st_size > 50_000
