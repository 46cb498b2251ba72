"""The coverage tests' tiny world (conftest's `layout`).

Layout (lon/lat boxes; the urban community 001 is x 106.65-106.66, the village 002 is
x 106.66-106.67, both y 35.53-35.55):
  A 106.650-106.655 x 35.530-35.540   urban, leader + full-time worker
  B 106.655-106.661 x 35.530-35.540   urban, reaches 0.001 deg into the village: overlap with D, crossing
  C 106.650-106.660 x 35.5401-35.550  urban, drawn 0.0001 deg (11 m) short of A and B: a sliver
  D 106.660-106.671 x 35.530-35.545   rural, reaches 0.001 deg beyond the jurisdiction: outside;
                                       leaves the village's top 106.66-106.67 x 35.545-35.55 as a gap
Expected areas are geodesic (pyproj.Geod), independent of the analysis' projected areas.
"""

from __future__ import annotations

import shapely

from geo import db
from tests.support.tiny import insert_grids

URBAN, VILLAGE = "620802001001", "620802001002"
A, B, C, D = (URBAN + "001", URBAN + "002", URBAN + "003", VILLAGE + "001")
BOXES = {
    A: (106.650, 35.530, 106.655, 35.540),
    B: (106.655, 35.530, 106.661, 35.540),
    C: (106.650, 35.5401, 106.660, 35.550),
    D: (106.660, 35.530, 106.671, 35.545),
}


def add_households(conn, rows):
    """rows: (lon, lat, persons, admin_code)."""
    with db.transaction(conn) as cur:
        for i, (lon, lat, persons, admin) in enumerate(rows):
            cur.execute(
                """INSERT INTO household (address, persons, admin_code, geom)
                           VALUES (%s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                (f"h{i + 1}", persons, admin, lon, lat),
            )


CENTRE = (106.651, 35.530)  # the service centre, on A's southern edge
H_A = (106.652, 35.535)  # in A only
H_EDGE = (106.655, 35.535)  # on the shared edge of A and B
H_TWO = (106.6605, 35.535)  # inside the overlap of B and D
H_GAP = (106.665, 35.548)  # in the village's gap
H_SLIVER = (106.655, 35.54005)  # in the sliver between A/B and C


def add_layout(conn) -> None:
    """Grids A-D, five households, staff and a service centre, as the module says."""
    kinds = {A: "urban", B: "urban", C: "urban", D: "rural"}
    insert_grids(conn, [(code, code, kinds[code], shapely.box(*box)) for code, box in BOXES.items()])
    add_households(
        conn, [(*H_A, 5, URBAN), (*H_EDGE, 2, URBAN), (*H_TWO, 3, VILLAGE), (*H_GAP, 4, VILLAGE), (*H_SLIVER, 1, URBAN)]
    )
    with db.transaction(conn) as cur:
        for code, role in ((A, "leader"), (A, "fulltime"), (B, "leader"), (D, "leader"), (D, "parttime")):
            cur.execute(
                "INSERT INTO grid_staff (grid_code, role, name, admin_code) VALUES (%s, %s, 'x', left(%s, 12))",
                (code, role, code),
            )
        cur.execute(
            """INSERT INTO place (kind, category, name, admin_code, geom)
                       VALUES ('service_center', '党群服务中心', 'c', %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
            (URBAN, *CENTRE),
        )


def only(items):
    assert len(items) == 1, items
    return items[0]
