"""Shared fixtures: one connection to the test database and a way to empty it.

Tests run against the real PostGIS test database (`quanyu_test`, or $TEST_DATABASE_URL),
never mocks: the behaviour under test is mostly SQL. Each test that writes starts from
`clean_db`, which truncates every data table (reference tables such as `category` stay).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from geo import db

# audit_log is append-only (a trigger refuses TRUNCATE): tests compare entries by id instead.
KEEP_TABLES = ("schema_migration", "spatial_ref_sys", "category", "audit_log")
CATEGORIES_CSV = Path(__file__).resolve().parent.parent / "data" / "categories.csv"


@pytest.fixture(scope="session")
def conn():
    connection = db.connect(test=True)
    yield connection
    connection.close()


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


@pytest.fixture
def clean_db(conn):
    truncate_data(conn)
    return conn


@pytest.fixture(scope="session")
def categories(conn):
    """The incident categories of data/categories.csv, loaded once if the table is empty."""
    if not db.scalar(conn, "SELECT count(*) FROM category"):
        with CATEGORIES_CSV.open(encoding="utf-8") as fh:
            records = list(csv.DictReader(fh))
        columns = list(records[0])
        with db.transaction(conn) as cur:
            db.copy_rows(cur, "category", columns, ([r[c] for c in columns] for r in records))
    return {r["minor_code"]: r for r in db.rows(conn, "SELECT * FROM category")}


# A tiny jurisdiction near Pingliang (Kongtong, 620802): a ~1.8 x 2.2 km district, one
# town covering it, an urban community in the west half and a village in the east half.
TINY_UNITS = (  # code, level, name, kind, urban, parent, (xmin, ymin, xmax, ymax) in WGS84
    ("620802", "district", "崆峒区", "区", True, None, (106.65, 35.53, 106.67, 35.55)),
    ("620802001", "town", "东关街道", "街道", True, "620802", (106.65, 35.53, 106.67, 35.55)),
    ("620802001001", "community", "新民社区", "社区", True, "620802001", (106.65, 35.53, 106.66, 35.55)),
    ("620802001002", "community", "柳湖村", "村", False, "620802001", (106.66, 35.53, 106.67, 35.55)),
)


@pytest.fixture(scope="session")
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


@pytest.fixture
def tiny_jurisdiction(clean_db, tiny_units) -> list[dict]:
    """An empty database holding only the tiny jurisdiction's units (and its row)."""
    insert_units(clean_db, tiny_units)
    return tiny_units


@pytest.fixture
def reset_db(conn, tiny_units):
    """A function emptying the database again mid-test (before a re-import, say), with
    the tiny jurisdiction put back unless units=False."""

    def reset(units: bool = True) -> None:
        truncate_data(conn)
        if units:
            insert_units(conn, tiny_units)

    return reset


@pytest.fixture
def add_grids(conn):
    """A function inserting grids, each (code, name, kind, shapely polygon), into a layer;
    admin_code is the code's first 12 digits."""

    def add(grids, layer: str = "official") -> None:
        with db.transaction(conn) as cur:
            for code, name, kind, geom in grids:
                cur.execute(
                    """INSERT INTO grid (code, name, kind, layer, admin_code, geom)
                       VALUES (%s, %s, %s, %s, left(%s, 12), ST_Multi(ST_GeomFromText(%s, 4326)))""",
                    (code, name, kind, layer, code, geom.wkt),
                )

    return add


from tests.demo_fixtures import demo_conn, demo_url  # noqa: E402,F401  (fixtures for tests on the demo)
