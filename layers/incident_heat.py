"""Incident density as a heatmap, binned in PostGIS.

Incidents are counted in square bins of 1/128 of the tile (about 2 pixels) and only the
bin centres and counts travel, whatever the number of incidents; MapLibre's heatmap layer
weights each bin by its count. The time window and category filter are tile parameters.
"""
from layers import LegendItem, MapLayer

LAYER = MapLayer(
    id="incident_heat",
    label="layer.incident_heat",
    order=30,
    sql="""SELECT ST_Transform(ST_SetSRID(ST_MakePoint(avg(ST_X(p)), avg(ST_Y(p))), 3857), 4326) AS geom, count(*) AS n
             FROM (SELECT ST_Transform(i.geom, 3857) AS p
                     FROM incident i
                    WHERE i.geom && (SELECT b FROM bbox)
                      AND i.reported_at >= %(start)s AND i.reported_at < %(end)s
                      AND (%(major)s::text IS NULL OR left(i.minor_code, 2) = %(major)s)) s
            GROUP BY floor(ST_X(p) / %(cell_m)s), floor(ST_Y(p) / %(cell_m)s)""",
    attributes=("n",),
    style=(
        {"type": "heatmap", "paint": {
            "heatmap-weight": ["interpolate", ["linear"], ["get", "n"], 0, 0, 6, 1],
            "heatmap-intensity": ["interpolate", ["linear"], ["zoom"], 8, 1.6, 14, 3],
            "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 8, 14, 12, 26, 15, 38],
            "heatmap-opacity": 0.82,
            "heatmap-color": ["interpolate", ["linear"], ["heatmap-density"],
                              0, "rgba(0,0,0,0)", 0.15, "#3b0f70", 0.35, "#8c2981",
                              0.55, "#de4968", 0.75, "#fe9f6d", 1, "#fcfdbf"]}},
    ),
    legend=(LegendItem("#8c2981,#de4968,#fe9f6d,#fcfdbf", "legend.density", "ramp"),),
    depends_on=("incident",),
    filters=("window", "category"),
    simplify=False,
)
