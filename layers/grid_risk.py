"""Every current grid, filled by its risk tier (the command center's first question: where to look).

Colours differ in lightness as well as hue (deep blue, amber, red), so the three tiers stay
apart for colour-blind viewers and on a washed-out wall display.
"""

from layers import LegendItem, MapLayer

TIER_COLORS = {"high": "#e8412c", "medium": "#f5b82e", "low": "#2f6fa8", "none": "#4a5a6a"}

LAYER = MapLayer(
    id="grid_risk",
    label="layer.grid_risk",
    order=10,
    sql="""SELECT g.geom, g.code, g.name, coalesce(r.tier, 'none') AS tier
             FROM grid_current g LEFT JOIN grid_risk r ON r.grid_code = g.code
            WHERE g.geom && (SELECT b FROM bbox)""",
    attributes=("code", "name", "tier"),
    style=(
        {
            "type": "fill",
            "paint": {
                "fill-color": [
                    "match",
                    ["get", "tier"],
                    "high",
                    TIER_COLORS["high"],
                    "medium",
                    TIER_COLORS["medium"],
                    "low",
                    TIER_COLORS["low"],
                    TIER_COLORS["none"],
                ],
                "fill-opacity": ["match", ["get", "tier"], "high", 0.78, "medium", 0.62, 0.42],
            },
        },
        {
            "type": "line",
            "paint": {
                "line-color": "#c9d6e3",
                "line-opacity": 0.35,
                "line-width": ["interpolate", ["linear"], ["zoom"], 9, 0.2, 14, 1.2],
            },
        },
    ),
    legend=(
        LegendItem(TIER_COLORS["high"], "tier.high"),
        LegendItem(TIER_COLORS["medium"], "tier.medium"),
        LegendItem(TIER_COLORS["low"], "tier.low"),
    ),
    depends_on=("grid", "grid_risk"),
    clickable=True,
)
