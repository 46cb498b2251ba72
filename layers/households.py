"""Household density in hexagons (1,000 m, 400 m or 150 m across the zoom levels).

Read from the pre-aggregated `household_hex`, whose towns touched by a change since are
recounted here first (0101), so the tile never counts raw households.
"""

from geo import db
from layers import LegendItem, MapLayer


def refresh_if_stale(conn) -> None:
    """Recount the hexagons of the towns whose households changed since (0101): one edit costs
    its town's recount, not the jurisdiction's, before the tile is drawn."""
    if db.scalar(conn, "SELECT household_hex_stale()"):
        db.scalar(conn, "SELECT refresh_household_hex_changed()")
        conn.commit()


LAYER = MapLayer(
    id="households",
    label="layer.households",
    order=20,
    sql="""SELECT geom, households, persons FROM household_hex
            WHERE size_m = (CASE WHEN %(z)s < 11 THEN 1000 WHEN %(z)s < 13 THEN 400 ELSE 150 END)
              AND geom && (SELECT b FROM bbox)""",
    attributes=("households", "persons"),
    style=(
        {
            "type": "fill",
            "paint": {
                "fill-color": [
                    "interpolate",
                    ["linear"],
                    ["get", "households"],
                    1,
                    "#12384f",
                    50,
                    "#1d6a7a",
                    300,
                    "#2fa29a",
                    1500,
                    "#8fd694",
                    5000,
                    "#e9f7b5",
                ],
                "fill-opacity": 0.7,
            },
        },
    ),
    legend=(LegendItem("#12384f,#1d6a7a,#2fa29a,#8fd694,#e9f7b5", "legend.households", "ramp"),),
    depends_on=("household",),
    visible=False,
    simplify=False,
    prepare=refresh_if_stale,
)
