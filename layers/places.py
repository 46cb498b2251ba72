"""Dangerous things, sensitive places and service centres as symbols.

Key persons are never drawn on the big screen: their locations are personal data shown
only, masked, to those entitled to see them.
"""

from layers import LegendItem, MapLayer

COLORS = {"dangerous_thing": "#ff5a5f", "sensitive_place": "#b58cff", "service_center": "#38d39f"}

LAYER = MapLayer(
    id="places",
    label="layer.places",
    order=50,
    sql="""SELECT geom, kind, category, name_masked AS name FROM place
            WHERE kind IN ('dangerous_thing', 'sensitive_place', 'service_center') AND geom && (SELECT b FROM bbox)""",
    attributes=("kind", "category", "name"),
    style=(
        {
            "type": "circle",
            "paint": {
                "circle-color": ["match", ["get", "kind"], *[v for kv in COLORS.items() for v in kv], "#ffffff"],
                "circle-radius": ["interpolate", ["linear"], ["zoom"], 8, 1.6, 11, 3.5, 14, 6],
                "circle-opacity": ["interpolate", ["linear"], ["zoom"], 8, 0.7, 11, 1],
                "circle-stroke-color": "#0a1726",
                "circle-stroke-width": ["interpolate", ["linear"], ["zoom"], 8, 0, 11, 1],
            },
        },
    ),
    legend=tuple(LegendItem(c, f"kind.{k}", "circle") for k, c in COLORS.items()),
    depends_on=("place",),
    simplify=False,
)
