"""Shared fixtures: the test database, the tiny jurisdiction and the small worlds built on it,
and the Kongtong demo in a database of its own.

Tests run against the real PostGIS test database (`quanyu_test`, or $TEST_DATABASE_URL),
never mocks: the behaviour under test is mostly SQL. Each test that writes starts from
`clean_db`, which truncates every data table (reference tables such as `category` stay).
The worlds' constants and builders are in tests/support/ (test modules import those, never
each other); browser tests are in tests/browser/ (marker `browser`), fuzz tests in
tests/fuzz/ (marker `fuzz`): `pytest -m "not browser"` runs the fast suite.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from geo import cli, db
from tests.support import coverage as coverage_world
from tests.support import demo, drill, imports, loop, tiny
from tests.support import risk as risk_world

CATEGORIES_CSV = Path(__file__).resolve().parent.parent / "data" / "categories.csv"


@pytest.fixture(scope="session")
def conn():
    connection = db.connect(test=True)
    yield connection
    connection.close()


@pytest.fixture
def clean_db(conn):
    tiny.truncate_data(conn)
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


@pytest.fixture(scope="session")
def tiny_units() -> list[dict]:
    """The tiny jurisdiction's units as dicts with shapely boxes (to build boundary files from)."""
    return tiny.tiny_units()


@pytest.fixture
def tiny_jurisdiction(clean_db, tiny_units) -> list[dict]:
    """An empty database holding only the tiny jurisdiction's units (and its row)."""
    tiny.insert_units(clean_db, tiny_units)
    return tiny_units


@pytest.fixture
def reset_db(conn, tiny_units):
    """A function emptying the database again mid-test (before a re-import, say), with
    the tiny jurisdiction put back unless units=False."""

    def reset(units: bool = True) -> None:
        tiny.truncate_data(conn)
        if units:
            tiny.insert_units(conn, tiny_units)

    return reset


@pytest.fixture
def add_grids(conn):
    """A function inserting grids, each (code, name, kind, shapely polygon), into a layer;
    admin_code is the code's first 12 digits."""

    def add(grids, layer: str = "official") -> None:
        tiny.insert_grids(conn, grids, layer)

    return add


# --------------------------------------------------------------------------- small worlds


@pytest.fixture
def loop_world(tiny_jurisdiction, categories, conn):
    """The incident loop's world: three grids, one with staff (tests/support/loop.py)."""
    loop.add_loop_world(conn)
    return conn


@pytest.fixture
def shell(loop_world, monkeypatch, capsys):
    """A function running `python -m geo ARGS...` in-process on the loop world's database:
    (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", os.environ.get("TEST_DATABASE_URL") or db.cluster.database_url(test=True))

    def run(*argv):
        code = cli.main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def town(tiny_jurisdiction, conn, categories):
    """The drill-down's world: four grids, households and incidents (tests/support/drill.py)."""
    drill.add_town(conn)
    return conn


@pytest.fixture
def world(tiny_jurisdiction, categories, conn):
    """The risk tests' world: two empty grids, the default configuration (tests/support/risk.py)."""
    risk_world.add_risk_world(conn)
    return conn


@pytest.fixture
def gridded(tiny_jurisdiction, conn):
    """The tiny jurisdiction with its three official grids (tests/support/imports.py)."""
    tiny.insert_grids(conn, imports.GRIDS)
    return conn


@pytest.fixture
def layout(conn, tiny_jurisdiction):
    """The coverage tests' world: grids A-D with their defects (tests/support/coverage.py)."""
    coverage_world.add_layout(conn)
    return conn


# --------------------------------------------------------------------------- the demo


@pytest.fixture(scope="session")
def demo_url() -> str:
    """A database holding the Kongtong demo (seed 2026, ending today), loaded once a day."""
    url = demo.demo_database_url()
    demo.ensure_demo(url)
    return url


@pytest.fixture(scope="session")
def demo_conn(demo_url):
    connection = db.connect(demo_url)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def drill_page(demo_url):
    """The 研判 page module (geo/web/pages/drill.py) inside a Dash app with pages, reading the demo."""
    import os

    os.environ["DATABASE_URL"] = demo_url  # db.pooled() reads it per call; pools are keyed by URL
    try:
        # The one Dash app of the process: a second dash.Dash() here would become dash.get_app()
        # for every later test, and the guard would find none of the pages' callbacks in it.
        import app  # noqa: F401
        from geo.web.pages import drill as page

        yield page
    finally:
        os.environ.pop("DATABASE_URL", None)


@pytest.fixture(scope="module")
def demo_server(demo_url):
    """The whole app's Flask server (app.py: guard, pages, callbacks, APIs) reading the demo."""
    import os

    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = demo_url
    import app  # the one Dash app of the process: pages registered their callbacks with it

    yield app.server
    if old is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = old
