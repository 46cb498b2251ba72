"""Town/street and community/village boundaries drawn over everything, so the eye can
always tell whose area a hotspot is in."""

from layers import LegendItem, MapLayer

LAYER = MapLayer(
    id="admin_boundaries",
    label="layer.admin",
    order=90,
    sql="""SELECT geom, code, name, level FROM admin_unit
            WHERE level IN ('district', 'town', 'community') AND geom && (SELECT b FROM bbox)""",
    attributes=("code", "name", "level"),
    style=(
        {
            "type": "line",
            "filter": ["==", ["get", "level"], "community"],
            "minzoom": 10,
            "paint": {"line-color": "#8fb3d9", "line-opacity": 0.55, "line-width": 0.8, "line-dasharray": [3, 2]},
        },
        {
            "type": "line",
            "filter": ["==", ["get", "level"], "town"],
            "paint": {
                "line-color": "#e6f0ff",
                "line-opacity": 0.85,
                "line-width": ["interpolate", ["linear"], ["zoom"], 8, 1.2, 13, 2.6],
            },
        },
        {
            "type": "line",
            "filter": ["==", ["get", "level"], "district"],
            "paint": {"line-color": "#5fd3ff", "line-width": 3.2, "line-blur": 1.5},
        },
    ),
    legend=(
        LegendItem("#5fd3ff", "legend.district", "line"),
        LegendItem("#e6f0ff", "legend.town", "line"),
        LegendItem("#8fb3d9", "legend.community", "dashed"),
    ),
    depends_on=("admin_unit",),
)
