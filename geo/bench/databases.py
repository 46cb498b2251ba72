"""The benchmark's own databases: `quanyu_bench_<scale>` on the server of the main database.

A benchmark truncates and fills whole tables, so it never runs in `quanyu` (someone's demo)
or a test database: its database is derived from the main URL with only the name changed,
and is created when missing.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

SCALES = ("smoke", "district", "city", "province", "province_smoke")  # province_smoke: tests/test_bench.py


def name_for(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
    # QUANYU_BENCH_DB_PREFIX: a bench database of one's own on a shared cluster (default quanyu_bench_)
    return os.environ.get("QUANYU_BENCH_DB_PREFIX", "quanyu_bench_") + scale


def url_for(scale: str, base_url: str | None = None) -> str:
    """The main database's URL (DATABASE_URL or the embedded cluster) with the bench name."""
    from geo import pgserver as cluster

    base = urlsplit(base_url or cluster.database_url())
    return urlunsplit(base._replace(path="/" + name_for(scale)))


def ensure(scale: str, base_url: str | None = None) -> str:
    """Create the bench database if missing; returns its URL."""
    import psycopg2
    from psycopg2 import sql

    from geo import pgserver as cluster

    base = base_url or cluster.database_url()
    admin = psycopg2.connect(urlunsplit(urlsplit(base)._replace(path="/postgres")))
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name_for(scale),))
            if not cur.fetchone():
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name_for(scale))))
    finally:
        admin.close()
    return url_for(scale, base)


def is_loaded(conn) -> bool:
    from geo import db

    return bool(db.scalar(conn, "SELECT EXISTS (SELECT 1 FROM grid) AND EXISTS (SELECT 1 FROM incident)"))
