"""The 研判 drill-down page on the Kongtong demo: every level renders with the numbers of
geo.analysis.drill, the callbacks and downloads (in the browser: tests/browser/test_drill.py)."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import date, timedelta

import pytest

from geo import db
from geo.analysis import drill, drill_geo
from tests.support.drill import descend


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


def test_stepped_scale_uses_quantiles(drill_page):
    colors, legend = drill_page.stepped_scale([1, 2, 3, 4, 5, 6, 7, 8, 9, 100, None], "incidents")
    assert colors[0] == drill_page.RAMP[0] and colors[9] == drill_page.RAMP[-1] and colors[10] == drill_page.NO_DATA
    assert len(legend) == 6 and legend[-2]["label"] == "≤ 100"
    good, _ = drill_page.stepped_scale([0.5, 0.99], "resolution_rate")
    assert good == [drill_page.RAMP_GOOD[0], drill_page.RAMP_GOOD[-1]]  # a low resolution rate is the alarming colour


def test_every_level_renders_with_the_numbers_of_geo_drill(drill_page, demo_conn, demo_url):
    end = date.today()
    start = end - timedelta(days=89)
    path = ["620800"] + descend(demo_conn, "620802", start, end)
    incident = drill.incidents(demo_conn, path[-1], start, end, limit=1)[0]
    for code in path:
        layout = drill_page.layout(code=code, start=start.isoformat(), end=end.isoformat())
        words = texts(layout)
        assert not any("无法显示" in w for w in words), code
        summary = drill.summary(demo_conn, code, start, end)
        assert drill_page.kpi_value(summary, "incidents") in words
        assert summary["name"] in words
    with db.pooled(demo_url) as conn:
        view = drill_page.page_view(
            dict(code=path[-1], incident=str(incident["id"]), start=start.isoformat(), end=end.isoformat())
        )
        c = drill_page.contents(conn, view)
    crumbs = texts(c["drill-breadcrumb"])
    assert crumbs[-1].startswith(f"#{incident['id']}") and "事件" in crumbs
    assert any(w == "处置过程" for w in texts(c["drill-detail-body"]))
    assert c["drill-map-data"]["level"] == "grid" and c["drill-map-data"]["points"]["features"]


def test_render_callback_and_hotspot_views(drill_page, demo_url):
    """The callback that redraws after a click gives the same panels for the same URL; the hotspot
    modes colour significant grids, the emerging list only names grids of the unit."""
    search = "?code=620802&map=gi&fdr=1&kde=1"
    out = drill_page.render(search)
    md = out[-2]
    assert md["mode"] == "gi" and md["hot"] and md["density"]["url"].startswith("data:image/png;base64,")
    assert len(md["children"]["features"]) == 20
    view = drill_page.view_of_search(search)
    assert drill_page.view_of_search(drill_page.search_of(view)) == view
    town = "620802001"
    with db.pooled(demo_url) as conn:
        c = drill_page.contents(conn, drill_page.page_view({"code": town, "map": "emerging"}))
    listed = [a.to_plotly_json()["props"]["data-code"] for a in _links(c["drill-emerging"])]
    assert listed and all(code.startswith(town) for code in listed)
    with pytest.raises(ValueError):
        drill_page.page_view({"code": "620802", "map": "nonsense"})


def test_the_quarter_ranking_downloads_as_excel(drill_page, demo_url):
    import base64

    from openpyxl import load_workbook

    download = drill_page.export(1, "?code=620802&end=2026-09-30")
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
