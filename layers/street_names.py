"""Names of streets and places (地名), over every other layer so that no risk tier hides them.

The same features as layers/basemap.py (the county's reference layers), only their names:
road names along the road from zoom 13, place names (towns, communities, landmarks) by rank.
The text comes from the glyphs this server makes from the local CJK font (geo/glyphs.py).
"""

from layers import MapLayer
from layers.basemap import BY_RANK

LABEL = {"text-color": "#e8eef6", "text-halo-color": "#06111f", "text-halo-width": 1.8}

LAYER = MapLayer(
    id="street_names",
    label="layer.street_names",
    order=95,
    sql=BY_RANK + " AND name IS NOT NULL AND kind IN ('roads', 'places')",
    attributes=("kind", "rank", "name"),
    style=(
        {
            "type": "symbol",
            "filter": ["all", ["==", ["get", "kind"], "roads"], ["has", "name"]],
            "minzoom": 13,
            "layout": {
                "symbol-placement": "line",
                "text-field": ["get", "name"],
                "text-font": ["Noto Sans CJK SC"],
                "text-size": ["interpolate", ["linear"], ["zoom"], 13, 11, 17, 14],
                "text-max-angle": 30,
                "symbol-spacing": 320,
            },
            "paint": LABEL,
        },
        {
            "type": "symbol",
            "filter": ["all", ["==", ["get", "kind"], "places"], ["has", "name"]],
            "layout": {
                "text-field": ["get", "name"],
                "text-font": ["Noto Sans CJK SC"],
                "text-size": ["match", ["get", "rank"], 1, 16, 2, 14, 12],
                "text-padding": 4,
            },
            "paint": LABEL,
        },
    ),
    depends_on=("basemap_feature",),
)
