"""Label glyphs for the maps: `/glyphs/<fontstack>/<start>-<end>.pbf`, made here (geo.glyphs).

A style's `glyphs` URL points here, so text on the maps (road and place names, grid codes)
needs no outside host. A range never changes for a given font, so browsers may keep it a day.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort

from geo import glyphs

bp = Blueprint("glyphs", __name__)
MAX_AGE = 86400


@bp.get("/glyphs/<fontstack>/<span>.pbf")
def glyph_range(fontstack: str, span: str):
    if len(fontstack) > 200:
        abort(400, "font stack name too long")
    try:
        start, end = glyphs.parse_range(span)
        data = glyphs.glyph_range(start, end)
    except glyphs.GlyphError as exc:
        abort(404 if "font" in str(exc) else 400, str(exc))
    return Response(
        data,
        mimetype="application/x-protobuf",
        headers={"Cache-Control": f"private, max-age={MAX_AGE}"},
    )
