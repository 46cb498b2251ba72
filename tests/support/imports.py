"""The import tests' tiny world (conftest's `gridded`): three official grids, and the row
count of every table that proves a refused import wrote nothing; shared by the import and
import-fuzzing tests."""

from __future__ import annotations

import shapely

from geo import db

WEST, EAST = "620802001001", "620802001002"
GRID_NW, GRID_SW, GRID_E = WEST + "001", WEST + "002", EAST + "001"
# Official grids: the west community cut at lat 35.54 into north (001) and south (002);
# the village is one grid.
GRIDS = (
    (GRID_NW, "新民社区第1网格", "urban", shapely.box(106.65, 35.54, 106.66, 35.55)),
    (GRID_SW, "新民社区第2网格", "urban", shapely.box(106.65, 35.53, 106.66, 35.54)),
    (GRID_E, "柳湖村第1网格", "rural", shapely.box(106.66, 35.53, 106.67, 35.55)),
)


def counts(conn) -> dict[str, int]:
    """Row count of every table: the 'nothing was written' check."""
    tables = [r["tablename"] for r in db.rows(conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    found = {t: db.scalar(conn, f'SELECT count(*) FROM "{t}"') for t in tables}
    conn.rollback()  # no transaction left open: a later test's TRUNCATE would wait for it
    return found
