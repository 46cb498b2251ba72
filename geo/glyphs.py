"""Map label glyphs (SDF glyph PBFs, as MapLibre asks for them) made here from a local font.

MapLibre draws text from signed-distance-field glyphs that it fetches per font stack and range
of 256 code points (`/glyphs/{fontstack}/{start}-{end}.pbf`). Tile hosts build them with
node-fontnik or build_pbf_glyphs; a command center's intranet has neither and must not ask an
outside host. So this module renders them from the CJK font that `python -m geo doctor
--install` puts on the machine (Noto Sans CJK from Debian's fonts-noto-cjk), with FreeType
(freetype-py) and scipy's Euclidean distance transform, and keeps each range on disk under
var/glyphs once made. The numbers are the ecosystem's: 24 px glyphs, a 3 px buffer, distances
out to 8 px, a quarter of the byte range for the inside (MapLibre's shader expects exactly these).

Whatever font stack a style names, the same face answers: there is one label font here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

from geo import config

SIZE = 24  # px: the size MapLibre assumes for SDF glyphs
BUFFER = 3  # px around each glyph bitmap
RADIUS = 8  # px: how far out distances are recorded
CUTOFF = 0.25  # share of the byte range used for the inside of a glyph
RANGE = re.compile(r"^(\d+)-(\d+)$")
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
CACHE_DIR = config.VAR_DIR / "glyphs"
_lock = threading.Lock()


class GlyphError(ValueError):
    """A range that is not one of MapLibre's, or no CJK font on this machine."""


def font_path() -> Path:
    """The label font: a known path first, then whatever fontconfig calls a Chinese sans."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    if shutil.which("fc-match"):
        out = subprocess.run(["fc-match", "-f", "%{file}", "sans-serif:lang=zh-cn"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and Path(out.stdout.strip()).is_file():
            return Path(out.stdout.strip())
    raise GlyphError("no CJK font found for map labels: run `python -m geo doctor --install` (installs fonts-noto-cjk)")


def parse_range(text: str) -> tuple[int, int]:
    """'256-511' -> (256, 511); only MapLibre's aligned ranges of 256 below U+10000."""
    m = RANGE.match(text)
    if not m:
        raise GlyphError(f"glyph range {text!r} is not START-END")
    start, end = int(m[1]), int(m[2])
    if start % 256 or end != start + 255 or end > 0xFFFF:
        raise GlyphError(f"glyph range {text!r} is not an aligned range of 256 code points")
    return start, end


def glyph_range(start: int, end: int) -> bytes:
    """The PBF of code points start..end (cached on disk: a range is made once per machine)."""
    path = CACHE_DIR / f"{start}-{end}.pbf"
    if path.is_file():
        return path.read_bytes()
    with _lock:
        if path.is_file():
            return path.read_bytes()
        data = render_range(start, end)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # never a half-written range for another worker to read
        return data


def render_range(start: int, end: int, font: Path | None = None) -> bytes:
    """Render every code point of the range that the font has, as one `glyphs` message."""
    face = _face(str(font or font_path()))
    name = f"{face.family_name.decode()} {face.style_name.decode()}"
    glyphs = [g for g in (_glyph(face, cp) for cp in range(start, end + 1)) if g is not None]
    stack = _string(1, name) + _string(2, f"{start}-{end}") + b"".join(_message(3, g) for g in glyphs)
    return _message(1, stack)


@lru_cache(maxsize=2)
def _face(path: str):
    import freetype  # freetype-py: FreeType's own rasteriser, the one fontnik uses

    face = freetype.Face(path)  # the first face of a .ttc: Noto Sans CJK JP covers Simplified too
    face.set_char_size(SIZE * 64)
    return face


def _glyph(face, code_point: int) -> bytes | None:
    """One glyph message: SDF bitmap and metrics; None where the font has no such glyph."""
    import freetype

    index = face.get_char_index(code_point)
    if index == 0 and code_point != 0:
        return None
    face.load_glyph(index, freetype.FT_LOAD_RENDER | freetype.FT_LOAD_NO_HINTING)
    slot = face.glyph
    bitmap = slot.bitmap
    width, height = bitmap.width, bitmap.rows
    alpha = np.array(bitmap.buffer, dtype=np.uint8).reshape(height, bitmap.pitch)[:, :width] if width and height else None
    ascender = face.size.ascender >> 6
    fields = _varint_field(1, code_point)
    if alpha is not None:
        fields += _bytes(2, sdf(alpha).tobytes())
    fields += (
        _varint_field(3, width)
        + _varint_field(4, height)
        + _varint_field(5, _zigzag(slot.bitmap_left))
        + _varint_field(6, _zigzag(slot.bitmap_top - ascender))
        + _varint_field(7, slot.metrics.horiAdvance >> 6)
    )
    return fields


def sdf(alpha: np.ndarray) -> np.ndarray:
    """The signed distance field of an antialiased glyph bitmap, buffered, as bytes.

    Distances are measured to the 50% coverage edge, which lies halfway between an inside
    and an outside pixel centre: a pixel the edge passes through (partly covered) takes its
    distance from its own coverage, every other pixel from the distance transform."""
    padded = np.pad(alpha.astype(np.float64) / 255.0, BUFFER)
    inside = padded >= 0.5
    far = float(RADIUS)
    d_out = ndimage.distance_transform_edt(~inside) - 0.5 if inside.any() else np.full(padded.shape, far)
    d_in = ndimage.distance_transform_edt(inside) - 0.5 if (~inside).any() else np.full(padded.shape, far)
    partial = (padded > 0) & (padded < 1)
    d_out = np.where(partial & ~inside, 0.5 - padded, d_out)
    d_in = np.where(partial & inside, padded - 0.5, d_in)
    signed = np.where(inside, -d_in, d_out) / RADIUS
    values = 255.0 - 255.0 * (np.clip(signed, -1.0, 1.0) + CUTOFF)
    return np.clip(values, 0, 255).astype(np.uint8)


# Protocol buffers by hand: the glyph message has seven scalar fields, not worth a code generator.
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _bytes(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _string(number: int, text: str) -> bytes:
    return _bytes(number, text.encode("utf-8"))


def _message(number: int, data: bytes) -> bytes:
    return _bytes(number, data)
