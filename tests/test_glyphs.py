"""Label glyphs made here from the local CJK font: MapLibre's PBF format, right metrics, a
signed distance field that is inside where the glyph is inked, served only to signed-in pages."""

from __future__ import annotations

import numpy as np
import pytest

from geo import glyphs


def _fields(data: bytes):
    """A minimal protobuf reader (independent of geo.glyphs' writer): (number, wire, value)."""
    i = 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 2:
            n = varint()
            yield number, wire, data[i : i + n]
            i += n
        else:
            raise AssertionError(f"unexpected wire type {wire}")


def _unzigzag(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


def _decode(pbf: bytes) -> tuple[str, str, dict[int, dict]]:
    (stack,) = [v for n, _, v in _fields(pbf) if n == 1]
    name = rng = None
    out = {}
    for n, _, v in _fields(stack):
        if n == 1:
            name = v.decode()
        elif n == 2:
            rng = v.decode()
        elif n == 3:
            g = {num: val for num, _, val in _fields(v)}
            out[g[1]] = dict(
                bitmap=g.get(2, b""), width=g[3], height=g[4], left=_unzigzag(g[5]), top=_unzigzag(g[6]), advance=g[7]
            )
    return name, rng, out


@pytest.fixture(scope="module")
def latin():
    return _decode(glyphs.render_range(0, 255))


def test_range_is_a_fontstack_of_the_cjk_font(latin):
    name, rng, by_code = latin
    assert "CJK" in name and rng == "0-255"
    assert ord("A") in by_code and ord("7") in by_code and ord(" ") in by_code


def test_metrics_and_bitmap_sizes(latin):
    _, _, by_code = latin
    a = by_code[ord("A")]
    assert 10 <= a["width"] <= 24 and 12 <= a["height"] <= 24  # a capital at 24 px
    assert len(a["bitmap"]) == (a["width"] + 2 * glyphs.BUFFER) * (a["height"] + 2 * glyphs.BUFFER)
    assert -30 <= a["top"] <= 0  # tops are measured from the ascender, downwards negative
    space = by_code[ord(" ")]
    assert space["width"] == 0 and space["bitmap"] == b"" and space["advance"] > 0


def test_sdf_is_inside_on_ink_and_outside_on_paper():
    alpha = np.zeros((12, 12), np.uint8)
    alpha[3:9, 3:9] = 255
    field = glyphs.sdf(alpha).reshape(12 + 2 * glyphs.BUFFER, -1)
    b = glyphs.BUFFER
    edge = round(255 * (1 - glyphs.CUTOFF))
    assert field[b + 6, b + 6] > edge  # the middle of the square: inside
    assert field[0, 0] < edge // 2  # the corner of the buffer: far outside
    # distances fall off monotonically outwards along a row through the square
    row = field[b + 6, b + 6 :].astype(int)
    assert all(x >= y for x, y in zip(row, row[1:]))


def test_chinese_range_has_the_characters_of_place_names():
    _, rng, by_code = _decode(glyphs.render_range(0x5300, 0x53FF))
    assert rng == "21248-21503"
    assert ord("区") in by_code and by_code[ord("区")]["advance"] >= 20  # full-width


@pytest.mark.parametrize("bad", ["0-256", "1-256", "abc", "65536-65791", "-1-254"])
def test_only_maplibre_ranges(bad):
    with pytest.raises(glyphs.GlyphError):
        glyphs.parse_range(bad)


def test_endpoint_serves_signed_in_pages_only(tiny_jurisdiction, monkeypatch):
    import app  # the one Dash app of the process
    from geo import pgserver
    from tests.support.webapp import signed_in_client

    url = pgserver.database_url(test=True)
    monkeypatch.setenv("DATABASE_URL", url)  # the app's requests go to the test database
    assert app.server.test_client().get("/glyphs/Noto%20Sans%20CJK%20SC/0-255.pbf").status_code in (302, 401)
    client = signed_in_client(app.server, url)
    resp = client.get("/glyphs/Noto%20Sans%20CJK%20SC%20Regular/19968-20223.pbf")
    assert resp.status_code == 200 and resp.mimetype == "application/x-protobuf"
    assert ord("一") in _decode(resp.data)[2]
    assert client.get("/glyphs/x/0-300.pbf").status_code == 400
