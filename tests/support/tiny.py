"""The tiny jurisdiction near Pingliang (Kongtong, 620802) and the way to empty the test
database: a ~1.8 x 2.2 km district, one town covering it, an urban community in the west
half and a village in the east half. conftest.py's fixtures are built from these."""

from __future__ import annotations

from geo import db

# audit_log is append-only (a trigger refuses TRUNCATE): tests compare entries by id instead.
KEEP_TABLES = ("schema_migration", "spatial_ref_sys", "category", "audit_log")

TINY_UNITS = (  # code, level, name, kind, urban, parent, (xmin, ymin, xmax, ymax) in WGS84
    ("620802", "district", "崆峒区", "区", True, None, (106.65, 35.53, 106.67, 35.55)),
    ("620802001", "town", "东关街道", "街道", True, "620802", (106.65, 35.53, 106.67, 35.55)),
    ("620802001001", "community", "新民社区", "社区", True, "620802001", (106.65, 35.53, 106.66, 35.55)),
    ("620802001002", "community", "柳湖村", "村", False, "620802001", (106.66, 35.53, 106.67, 35.55)),
)


def truncate_data(connection) -> None:
    """Empty every table of the public schema except KEEP_TABLES (ids restart at 1)."""
    connection.rollback()
    tables = [
        r["tablename"]
        for r in db.rows(
            connection,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND NOT (tablename = ANY(%s))",
            (list(KEEP_TABLES),),
        )
    ]
    if tables:
        db.execute(connection, "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    connection.commit()


def tiny_units() -> list[dict]:
    """TINY_UNITS as dicts with shapely boxes (to build boundary files from)."""
    import shapely

    keys = ("code", "level", "name", "kind", "urban", "parent_code")
    return [dict(zip(keys, u[:6]), geom=shapely.box(*u[6])) for u in TINY_UNITS]


def insert_units(connection, units: list[dict]) -> None:
    """Insert admin units (dicts as tiny_units gives) and make the first one the jurisdiction."""
    with db.transaction(connection) as cur:
        for u in units:
            cur.execute(
                """INSERT INTO admin_unit (code, level, name, kind, urban, parent_code, geom)
                   VALUES (%s, %s, %s, %s, %s, %s, ST_Multi(ST_GeomFromText(%s, 4326)))""",
                (u["code"], u["level"], u["name"], u["kind"], u["urban"], u["parent_code"], u["geom"].wkt),
            )
        cur.execute(
            "INSERT INTO jurisdiction (code, name, metric_srid) VALUES (%s, %s, 4545)", (units[0]["code"], units[0]["name"])
        )


def insert_grids(connection, grids, layer: str = "official") -> None:
    """Insert grids, each (code, name, kind, shapely polygon), into a layer; admin_code is
    the code's first 12 digits."""
    with db.transaction(connection) as cur:
        for code, name, kind, geom in grids:
            cur.execute(
                """INSERT INTO grid (code, name, kind, layer, admin_code, geom)
                   VALUES (%s, %s, %s, %s, left(%s, 12), ST_Multi(ST_GeomFromText(%s, 4326)))""",
                (code, name, kind, layer, code, geom.wkt),
            )
