"""Incident density as a heatmap, binned in PostGIS.

Below zoom 12 a grid is smaller than the heatmap's radius, so each grid is one weighted
point (its PointOnSurface) with its count read from the daily aggregate `incident_daily`
(migration 0018): whole days from the aggregate, the two partial edge days of the window
from `incident`, so the count is exact and a tile costs grids x days, not incidents.
Incidents in no grid weigh on their community's point. From zoom 12 on, a tile covers a
few grids and incidents are counted in square bins of 1/128 of the tile (about 2 pixels);
only the bin centres and counts travel. MapLibre's heatmap layer weights each point by its
count. The time window and category filter are tile parameters.

Below zoom 12 the served tile is assembled by geo/analysis/heat.py's `render_low_zoom`
(the layer's `render`) from cached per-grid totals, feature for feature equal to the SQL
here, which stays the reference and serves every other case.
"""

from geo.analysis import heat
from layers import LegendItem, MapLayer

LAYER = MapLayer(
    id="incident_heat",
    label="layer.incident_heat",
    order=30,
    sql="""WITH near AS MATERIALIZED (   -- the grids of this tile: the aggregate is read for them only
               SELECT code FROM grid_current WHERE %(z)s < 12 AND geom && (SELECT b FROM bbox)
           ), low AS (   -- zoom < 12: per grid (or per community for gridless incidents)
               SELECT c.grid_code, c.admin_code, sum(c.n) AS n FROM (
                   SELECT d.grid_code, d.admin_code, d.n FROM incident_daily d
                    WHERE %(z)s < 12 AND d.day > incident_day(%(start)s) AND d.day < incident_day(%(end)s)
                      AND (d.grid_code IN (SELECT code FROM near) OR d.grid_code = '')
                      AND (%(major)s::text IS NULL OR left(d.minor_code, 2) = %(major)s)
                   UNION ALL
                   SELECT COALESCE(i.grid_code, ''), i.admin_code, 1 FROM incident i
                    WHERE %(z)s < 12 AND i.reported_at >= %(start)s AND i.reported_at < %(end)s
                      AND (i.reported_at < incident_day_start(incident_day(%(start)s) + 1)
                           OR i.reported_at >= incident_day_start(incident_day(%(end)s)))
                      AND (%(major)s::text IS NULL OR left(i.minor_code, 2) = %(major)s)) c
                GROUP BY 1, 2)
           SELECT ST_PointOnSurface(g.geom) AS geom, sum(low.n)::int AS n
             FROM low JOIN grid_current g ON g.code = low.grid_code
            WHERE g.geom && (SELECT b FROM bbox) GROUP BY g.code, g.geom
           UNION ALL
           SELECT ST_PointOnSurface(a.geom), sum(low.n)::int
             FROM low JOIN admin_unit a ON a.code = low.admin_code
            WHERE low.grid_code = '' AND a.geom && (SELECT b FROM bbox) GROUP BY a.code, a.geom
           UNION ALL   -- zoom >= 12: raw incidents in bins of 1/128 tile
           SELECT ST_Transform(ST_SetSRID(ST_MakePoint(avg(ST_X(p)), avg(ST_Y(p))), 3857), 4326), count(*)::int
             FROM (SELECT ST_Transform(i.geom, 3857) AS p
                     FROM incident i
                    WHERE %(z)s >= 12 AND i.geom && (SELECT b FROM bbox)
                      AND i.reported_at >= %(start)s AND i.reported_at < %(end)s
                      AND (%(major)s::text IS NULL OR left(i.minor_code, 2) = %(major)s)) s
            GROUP BY floor(ST_X(p) / %(cell_m)s), floor(ST_Y(p) / %(cell_m)s)""",
    attributes=("n",),
    style=(
        {
            "type": "heatmap",
            "paint": {
                "heatmap-weight": ["interpolate", ["linear"], ["get", "n"], 0, 0, 6, 1],
                "heatmap-intensity": ["interpolate", ["linear"], ["zoom"], 8, 1.6, 14, 3],
                "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 8, 14, 12, 26, 15, 38],
                "heatmap-opacity": 0.82,
                "heatmap-color": [
                    "interpolate",
                    ["linear"],
                    ["heatmap-density"],
                    0,
                    "rgba(0,0,0,0)",
                    0.15,
                    "#3b0f70",
                    0.35,
                    "#8c2981",
                    0.55,
                    "#de4968",
                    0.75,
                    "#fe9f6d",
                    1,
                    "#fcfdbf",
                ],
            },
        },
    ),
    legend=(LegendItem("#8c2981,#de4968,#fe9f6d,#fcfdbf", "legend.density", "ramp"),),
    depends_on=("incident",),
    filters=("window", "category"),
    simplify=False,
    render=heat.render_low_zoom,
)
