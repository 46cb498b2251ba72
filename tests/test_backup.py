"""Backup and restore: a round trip gives back every row and every geometry exactly."""

from __future__ import annotations

import pytest

from geo import backup, db
from geo import pgserver as cluster
from geo.cli import main

CHECKSUM = """SELECT (SELECT count(*) FROM admin_unit), (SELECT count(*) FROM grid),
                     (SELECT md5(string_agg(code || ST_AsEWKB(geom)::text, ',' ORDER BY code, version)) FROM grid),
                     (SELECT count(*) FROM schema_migration)"""


SECURITY = r"""
SELECT (SELECT count(*) FROM pg_policies WHERE schemaname = 'public') AS policies,
       (SELECT count(*) FROM information_schema.role_table_grants WHERE grantee LIKE 'quanyu\_%') AS grants,
       (SELECT count(*) FROM information_schema.column_privileges WHERE grantee LIKE 'quanyu\_%') AS columns,
       (SELECT count(*) FROM pg_class WHERE relrowsecurity AND relnamespace = 'public'::regnamespace) AS rls_tables"""


@pytest.fixture
def scratch_url():
    """An empty database beside the test database to restore into: a restore recreates the
    PostGIS extension, and the suite's shared connection would keep its stale type ids."""
    import psycopg2
    from psycopg2 import sql

    base = cluster.database_url(test=True)
    head, _, tail = base.rpartition("/")
    name, _, query = tail.partition("?")
    name += "_restore"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield f"{head}/{name}" + (f"?{query}" if query else "")
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


def test_round_trip_loses_nothing(tiny_jurisdiction, add_grids, conn, tmp_path, scratch_url):
    import psycopg2
    import shapely

    add_grids([("620802001001001", "一网格", "urban", shapely.box(106.650, 35.530, 106.655, 35.535))])
    before = db.one(conn, CHECKSUM)
    security = db.one(conn, SECURITY)
    assert security["policies"] >= 15 and security["grants"] > 0 and security["columns"] > 0
    conn.rollback()
    path = tmp_path / "q.dump"
    assert main(["backup", str(path), "--test"]) == 0
    assert path.stat().st_size > 10_000
    backup.restore(scratch_url, path)
    copy = psycopg2.connect(scratch_url)
    try:
        assert db.one(copy, CHECKSUM) == before
        assert db.one(copy, SECURITY) == security  # the row-level security and grants came back too
        # Damage the copy, then restore over it.
        db.execute(copy, "TRUNCATE grid, admin_unit CASCADE")
        copy.commit()
        assert db.scalar(copy, "SELECT count(*) FROM grid") == 0
        copy.rollback()  # no open transaction may hold a lock the restore's DROP TABLE waits for
    finally:
        copy.close()
    backup.restore(scratch_url, path)
    copy = psycopg2.connect(scratch_url)
    try:
        assert db.one(copy, CHECKSUM) == before
        assert db.one(copy, SECURITY) == security
    finally:
        copy.close()


def test_restore_of_a_missing_or_broken_file_changes_nothing(conn, tmp_path, capsys):
    before = db.one(conn, CHECKSUM)
    security = db.one(conn, SECURITY)
    assert security["policies"] >= 15 and security["grants"] > 0 and security["columns"] > 0
    conn.rollback()
    assert main(["backup", str(tmp_path / "nope.dump"), "--restore", "--test"]) == 1
    assert "no such backup file" in capsys.readouterr().err
    bad = tmp_path / "bad.dump"
    bad.write_bytes(b"PGDMP this is not a dump")
    with pytest.raises(backup.BackupError):
        backup.restore(cluster.database_url(test=True), bad)
    assert db.one(conn, CHECKSUM) == before
