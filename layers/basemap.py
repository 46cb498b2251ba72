"""The county's own reference layers (底图): roads, water, residential blocks and place names,
drawn under everything so that an operator can tell which street a red grid lies on.

They come from the local surveying office's DLG files (`python -m geo import reference FILE
--kind roads|water|blocks|places`), never from an outside host. A feature's `rank` (1 major ...
4 minor) decides from which zoom it shows, so a whole county at zoom 9 is its highways and
rivers, not 200,000 alleys; tiles simplify lines to half a pixel. Their names are drawn over
everything by layers/street_names.py.
"""

from layers import LegendItem, MapLayer

# Dark wall screen: roads light on dark, majors warm so they read from the operators' desks.
ROAD_COLOURS = ["match", ["get", "rank"], 1, "#e0a458", 2, "#c3ccd8", 3, "#8593a6", "#5f6e82"]

# Ranks by zoom: a county at zoom 9 is its highways and rivers; every alley from zoom 14. One
# branch per zoom band, each with its rank bound written out, so that PostgreSQL uses the partial
# index of that band (migration 0071) and skips the other branches (z is bound as a constant).
_BAND = """SELECT geom, kind, class, rank, name FROM basemap_feature
            WHERE geom && (SELECT b FROM bbox) AND rank <= {rank} AND {zoom}"""
BY_RANK = (
    "SELECT * FROM ("
    + " UNION ALL ".join(
        _BAND.format(rank=rank, zoom=zoom)
        for rank, zoom in (
            (1, "%(z)s < 10"),
            (2, "%(z)s >= 10 AND %(z)s < 12"),
            (3, "%(z)s >= 12 AND %(z)s < 14"),
            (4, "%(z)s >= 14"),
        )
    )
    + ") AS by_rank WHERE true"
)


LAYER = MapLayer(
    id="basemap",
    label="layer.basemap",
    order=1,
    sql=BY_RANK + " AND kind <> 'places' AND (kind <> 'blocks' OR %(z)s >= 13)",
    attributes=("kind", "class", "rank"),
    style=(
        {
            "type": "fill",
            "filter": ["all", ["==", ["get", "kind"], "blocks"], ["==", ["geometry-type"], "Polygon"]],
            "paint": {"fill-color": "#0e2034", "fill-opacity": 0.7, "fill-outline-color": "#1a324d"},
        },
        {
            "type": "fill",
            "filter": ["all", ["==", ["get", "kind"], "water"], ["==", ["geometry-type"], "Polygon"]],
            "paint": {"fill-color": "#123a5c", "fill-opacity": 0.9},
        },
        {
            "type": "line",
            "filter": ["all", ["==", ["get", "kind"], "water"], ["==", ["geometry-type"], "LineString"]],
            "paint": {"line-color": "#1f5f8f", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 0.8, 15, 3]},
        },
        {
            "type": "line",
            "filter": ["==", ["get", "kind"], "roads"],
            "layout": {"line-cap": "round", "line-join": "round"},
            "paint": {
                "line-color": ROAD_COLOURS,
                "line-opacity": 0.85,
                "line-width": [
                    "interpolate",
                    ["linear"],
                    ["zoom"],
                    9,
                    ["match", ["get", "rank"], 1, 1.6, 0.6],
                    16,
                    ["match", ["get", "rank"], 1, 7, 2, 5, 3, 3.2, 2],
                ],
            },
        },
    ),
    legend=(
        LegendItem("#e0a458", "legend.road_major", "line"),
        LegendItem("#8593a6", "legend.road", "line"),
        LegendItem("#123a5c", "legend.water"),
    ),
    depends_on=("basemap_feature",),
)
