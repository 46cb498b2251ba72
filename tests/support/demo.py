"""The Kongtong demo's own test database (conftest.py's demo_url and demo_conn fixtures).

The demo lives in a database of its own beside the test database: tests that truncate
(`clean_db`) and tests that read the demo must never share one.
"""

from __future__ import annotations

import os
from datetime import datetime

import psycopg2
from psycopg2 import sql

from geo import db
from geo import pgserver as cluster

DEMO_SEED = 2026


def demo_database_url() -> str:
    """$TEST_DEMO_DATABASE_URL, else the test database's name + "_demo", created on first use."""
    if os.environ.get("TEST_DEMO_DATABASE_URL"):
        return os.environ["TEST_DEMO_DATABASE_URL"]
    base = cluster.database_url(test=True)
    head, _, tail = base.rpartition("/")
    name, _, query = tail.partition("?")
    demo_name = f"{name}_demo"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (demo_name,))
        if not cur.fetchone():
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(demo_name)))
    admin.close()
    return f"{head}/{demo_name}" + (f"?{query}" if query else "")


def ensure_demo(url: str) -> None:
    """Load the demo (seed 2026, ending today) into `url` unless it holds that one already.

    Reused across runs while generator version, seed and end date match, so only the
    first run of the day pays the load (about a minute).
    """
    from geo.demo import generator as demo
    from geo.demo.loader import load
    from geo.worktime import CST

    conn = db.connect(url)
    try:
        want = dict(seed=DEMO_SEED, end=datetime.now(CST).date().isoformat(), years=3, generator=demo.GENERATOR_VERSION)
        have = db.scalar(conn, "SELECT value FROM setting WHERE key = 'demo'") or {}
        if {k: have.get(k) for k in want} != want:
            load(conn, demo.generate(seed=DEMO_SEED, progress=lambda m: None))
    finally:
        conn.close()
