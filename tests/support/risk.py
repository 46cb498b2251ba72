"""The risk tests' tiny world (conftest's `world`): two grids and a way to add an incident
with its four risk factors; shared by the risk tier and risk report tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import shapely

from geo import db
from geo.risk import tiers as risk
from tests.support.tiny import insert_grids

# Two grids side by side in the urban community of the tiny jurisdiction.
GRID_A = "620802001001001"
GRID_B = "620802001001002"
BOX_A = shapely.box(106.650, 35.530, 106.655, 35.535)
BOX_B = shapely.box(106.655, 35.530, 106.660, 35.535)
NOW = datetime.now(timezone.utc)


def add_risk_world(conn) -> None:
    """Two empty grids and the default configuration loaded."""
    insert_grids(conn, [(GRID_A, "A网格", "urban", BOX_A), (GRID_B, "B网格", "urban", BOX_B)])
    risk.load_config(conn)


def add_incident(
    conn,
    grid_code=GRID_A,
    *,
    minor_code="0101",
    people=1,
    duration=0,
    intensity=0,
    behaviour=0,
    status="in_progress",
    reported_at=None,
    geom=None,
) -> int:
    geom = geom or (BOX_A if grid_code == GRID_A else BOX_B).centroid
    with db.transaction(conn) as cur:
        cur.execute(
            """INSERT INTO incident (title, minor_code, source, reported_at, people_involved, duration_days,
                                     conflict_intensity, behaviour_risk, status, grid_code, admin_code, geom, deadline)
               VALUES ('测试事件', %s, 'patrol', %s, %s, %s, %s, %s, %s, %s, left(%s, 12),
                       ST_GeomFromText(%s, 4326), %s) RETURNING id""",
            (
                minor_code,
                reported_at or NOW,
                people,
                duration,
                intensity,
                behaviour,
                status,
                grid_code,
                grid_code,
                geom.wkt,
                (reported_at or NOW) + timedelta(days=15),
            ),
        )
        return cur.fetchone()[0]
