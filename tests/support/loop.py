"""The incident loop's tiny world (routing, lifecycle, Open311; conftest's `loop_world`).

The tiny jurisdiction (tests/support/tiny.py) gets three official grids and one grid's staff:

    lon 106.65      106.66      106.67
    35.55 +----------+----------+
          | ...001002|  (gap)   |   community 620802001001 west, village 620802001002 east
    35.545|          +----------+
    35.54 +----------+ ...002001|
          | ...001001|          |
    35.53 +----------+----------+
"""

from __future__ import annotations

import shapely

from geo import db
from tests.support.tiny import insert_grids

GRID_SW = "620802001001001"
GRID_NW = "620802001001002"
GRID_VILLAGE = "620802001002001"
IN_SW = (106.655, 35.535)
IN_NW = (106.655, 35.545)
IN_VILLAGE = (106.665, 35.535)
IN_GAP = (106.665, 35.548)  # in the village, in no grid
OUTSIDE = (106.70, 35.60)


def add_loop_world(conn) -> None:
    """The three grids and the south-west grid's staff (on the tiny jurisdiction)."""
    insert_grids(
        conn,
        [
            (GRID_SW, "新民社区第一网格", "urban", shapely.box(106.65, 35.53, 106.66, 35.54)),
            (GRID_NW, "新民社区第二网格", "urban", shapely.box(106.65, 35.54, 106.66, 35.55)),
            (GRID_VILLAGE, "柳湖村一组", "rural", shapely.box(106.66, 35.53, 106.67, 35.545)),
        ],
    )
    with db.transaction(conn) as cur:
        cur.executemany(
            "INSERT INTO grid_staff (grid_code, role, name, phone, admin_code) VALUES (%s, %s, %s, %s, left(%s, 12))",
            [
                (GRID_SW, "parttime", "赵六", "13900001111", GRID_SW),
                (GRID_SW, "leader", "张三", "13812341234", GRID_SW),
                (GRID_SW, "fulltime", "李四", "13712345678", GRID_SW),
            ],
        )
