"""`/api/basemap-style`: the reference layers' style for maps that draw their own overlays.

The drill-down and the planner build their MapLibre styles in their own scripts; they ask
here for the basemap (source, style layers, glyphs) so that its look is written once, in
layers/basemap.py, for every map.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from layers import basemap_style

bp = Blueprint("basemap", __name__)


@bp.get("/api/basemap-style")
def style():
    resp = jsonify(basemap_style())
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp
