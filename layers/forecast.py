"""下周预警: the grids the weekly forecast expects the most incidents in (issue #16).

Drawn from the latest stored 7-day run (geo/forecast/store.py): the top 5 % of
grids filled violet with a bright edge, the next 15 % outlined, and a dashed white edge
where the forecast is rising (at least 15 % and half an incident a week above the last 28 days'
pace: the forecast warning of the alarm rules). Violet is used by no other layer, so it reads as "forecast",
not as a risk tier, over the tier fill. A click opens the grid card with the expected
count and the reasons. Off by default (the wall already draws six layers; the operator
switches it on in 图层), on the drill page a checkbox of its own. A missing weekly run is made on the first tile request of the week
(with the owner's connection: the run covers the whole jurisdiction, row-level security
then shows each unit its own grids).
"""

from geo import db
from layers import LegendItem, MapLayer

TOP_COLOR = "#b46cff"
EDGE_COLOR = "#e3c8ff"


def ensure_weekly_run(conn) -> None:
    from geo.forecast import store as forecast_store

    if forecast_store.has_current_run(conn):
        return
    with db.system(db.url_of(conn)) as owner:
        forecast_store.ensure_weekly(owner)


LAYER = MapLayer(
    id="forecast",
    label="layer.forecast",
    order=35,  # above the heat (30), so the top grids show through it; below coverage defects and places
    sql="""SELECT g.geom, g.code, g.name, f.tier, f.expected, f.rank, f.rising
             FROM forecast_grid f JOIN grid_current g ON g.code = f.grid_code
            WHERE f.run_id = (SELECT id FROM forecast_run WHERE days = 7 AND as_of <= now() ORDER BY as_of DESC LIMIT 1)
              AND f.tier IN ('high', 'medium')
              AND g.geom && (SELECT b FROM bbox)""",
    attributes=("code", "name", "tier", "expected", "rank", "rising"),
    style=(
        {"type": "fill", "filter": ["==", ["get", "tier"], "high"], "paint": {"fill-color": TOP_COLOR, "fill-opacity": 0.45}},
        {
            "type": "line",
            "paint": {
                "line-color": ["match", ["get", "tier"], "high", EDGE_COLOR, TOP_COLOR],
                "line-width": ["match", ["get", "tier"], "high", 2.2, 1.2],
                "line-opacity": ["match", ["get", "tier"], "high", 0.95, 0.75],
            },
        },
        {
            "type": "line",
            "filter": ["all", ["==", ["get", "tier"], "high"], ["get", "rising"]],
            "paint": {"line-color": "#ffffff", "line-width": 1.6, "line-dasharray": [2, 1.5]},
        },
        # Medium grids are outlines only: a transparent fill makes them clickable inside too.
        {"type": "fill", "filter": ["==", ["get", "tier"], "medium"], "paint": {"fill-color": TOP_COLOR, "fill-opacity": 0.01}},
    ),
    legend=(
        LegendItem(TOP_COLOR, "legend.forecast.top"),
        LegendItem(TOP_COLOR, "legend.forecast.next", "line"),
        LegendItem("#ffffff", "legend.forecast.rising", "dashed"),
    ),
    depends_on=("grid", "forecast_run"),
    clickable=True,
    simplify=True,
    prepare=ensure_weekly_run,
    visible=False,
)
