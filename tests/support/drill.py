"""The drill-down's tiny world (conftest's `town`): lattices of grids, incidents and
households placed by the database's own locate_points; shared by the drill, hotspot,
emerging-trend and ranking tests."""

from __future__ import annotations

from datetime import datetime, timedelta

import shapely

from geo import db
from geo.analysis import drill
from geo.worktime import CST
from tests.support.tiny import insert_grids

COMMUNITY = "620802001001"  # the tiny jurisdiction's urban community: lon 106.65-106.66, lat 35.53-35.55
VILLAGE = "620802001002"  # its village: lon 106.66-106.67


def lattice(
    n: int = 5, community: str = COMMUNITY, x0: float = 106.65, y0: float = 35.53, dx: float = 0.002, dy: float = 0.004
) -> list[tuple]:
    """n x n square grids tiling the community, coded row by row from the south-west (row-major,
    as libpysal's lat2W numbers a lattice)."""
    return [
        (
            f"{community}{r * n + c + 1:03d}",
            f"网格{r * n + c + 1}",
            "urban",
            shapely.box(x0 + c * dx, y0 + r * dy, x0 + (c + 1) * dx, y0 + (r + 1) * dy),
        )
        for r in range(n)
        for c in range(n)
    ]


def add_incidents(
    conn,
    points,
    minor_code: str = "0103",
    status: str = "followed_up",
    reported_at: datetime | None = None,
    deadline_days: float = 7,
    **extra,
) -> None:
    """Insert one incident per (lon, lat), located in grids by the database's own locate_points."""
    reported_at = reported_at or datetime(2026, 7, 15, 10, 0, tzinfo=CST)
    with db.transaction(conn) as cur:
        for lon, lat in points:
            cur.execute(
                """INSERT INTO incident (title, minor_code, source, reported_at, status, deadline, closed_at,
                                         admin_code, geom)
                   VALUES ('测试事件', %s, 'patrol', %s, %s, %s, %s, left(community_of(ST_SetSRID(ST_Point(%s, %s), 4326)), 12),
                           ST_SetSRID(ST_Point(%s, %s), 4326))""",
                (
                    minor_code,
                    reported_at,
                    status,
                    reported_at + timedelta(days=deadline_days),
                    reported_at + timedelta(days=1) if status in drill.RESOLVED else None,
                    lon,
                    lat,
                    lon,
                    lat,
                ),
            )
        cur.execute("SELECT locate_points('incident')")


def add_households(conn, points) -> None:
    with db.transaction(conn) as cur:
        for lon, lat in points:
            cur.execute(
                """INSERT INTO household (address, admin_code, geom)
                           VALUES ('测试地址', community_of(ST_SetSRID(ST_Point(%s, %s), 4326)),
                                   ST_SetSRID(ST_Point(%s, %s), 4326))""",
                (lon, lat, lon, lat),
            )
        cur.execute("SELECT locate_points('household')")


def add_town(conn) -> None:
    """Four grids in the urban community (2 x 2), none in the village; incidents in both."""
    insert_grids(conn, lattice(2, dx=0.005, dy=0.01))
    add_households(conn, [(106.652, 35.532), (106.652, 35.533), (106.657, 35.545), (106.665, 35.54)])
    add_incidents(conn, [(106.652, 35.532)] * 3 + [(106.657, 35.532)] + [(106.657, 35.545)] * 2)
    add_incidents(conn, [(106.652, 35.545)], status="in_progress", deadline_days=1)  # open, overdue
    add_incidents(conn, [(106.652, 35.545)], status="dispatched", deadline_days=10_000)  # open, not due
    add_incidents(conn, [(106.665, 35.54)] * 2, minor_code="0701")  # village, no grid
    add_incidents(conn, [(106.665, 35.54)], status="cancelled")  # not counted
    add_incidents(conn, [(106.652, 35.532)], reported_at=datetime(2026, 9, 1, 9, tzinfo=CST))  # outside window


def descend(conn, code: str, start, end, until: str = "grid") -> list[str]:
    """Codes from `code` down to `until`, always into the child with the most incidents."""
    path = [code]
    while drill.level_of(path[-1]) != until:
        kids = [c for c in drill.children(conn, path[-1], start, end) if c["code"]]
        path.append(max(kids, key=lambda c: (c["incidents"], c["code"]))["code"])
    return path
