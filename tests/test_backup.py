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


def test_round_trip_loses_nothing(tiny_jurisdiction, add_grids, conn, tmp_path):
    import shapely

    add_grids([("620802001001001", "一网格", "urban", shapely.box(106.650, 35.530, 106.655, 35.535))])
    before = db.one(conn, CHECKSUM)
    security = db.one(conn, SECURITY)
    assert security["policies"] >= 15 and security["grants"] > 0 and security["columns"] > 0
    conn.rollback()
    path = tmp_path / "q.dump"
    assert main(["backup", str(path), "--test"]) == 0
    assert path.stat().st_size > 10_000
    # Damage the database, then restore.
    db.execute(conn, "TRUNCATE grid, admin_unit CASCADE")
    conn.commit()
    assert db.scalar(conn, "SELECT count(*) FROM grid") == 0
    conn.rollback()  # no open transaction may hold a lock the restore's DROP TABLE waits for
    assert main(["backup", str(path), "--restore", "--test"]) == 0
    conn.rollback()
    assert db.one(conn, CHECKSUM) == before
    assert db.one(conn, SECURITY) == security  # the row-level security and grants came back too


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
