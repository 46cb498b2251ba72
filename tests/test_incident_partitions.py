"""`incident` partitioned by local month (migration 0090) on real PostGIS: the integrity the
plain table had (unique ids and 工单编号, foreign keys of history, reminders and alarm links),
the month maintenance, the in-place conversion of a populated database (the demo), and the
archive (`python -m geo archive detach|attach|list`)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest

from geo import db
from geo.incidents import archive
from geo.worktime import CST
from tests.support import risk as risk_world

MONTH0 = datetime.now(CST).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def months_before(n: int) -> datetime:
    m = MONTH0
    for _ in range(n):
        m = (m - timedelta(days=1)).replace(day=1)
    return m


@pytest.fixture(autouse=True)
def recent_months(conn):
    """The months these tests write to (three before this one): a fresh database has only
    this month and three ahead, and the months other tests' imports made (or dropped again)
    must not decide whether these pass."""
    with db.transaction(conn) as cur:
        archive.make_months(cur, months_before(3), MONTH0)


def partitions(conn) -> set[str]:
    found = {
        r["relname"]
        for r in db.rows(
            conn,
            """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'incident'::regclass""",
        )
    }
    conn.commit()
    return found


def add(conn, at: datetime, **kw) -> int:
    return risk_world.add_incident(conn, reported_at=at, **kw)


def test_incident_is_partitioned_by_month_with_months_ahead(conn):
    assert db.scalar(conn, "SELECT relkind FROM pg_class WHERE oid = 'incident'::regclass") == "p"
    names = partitions(conn)
    assert "incident_pdefault" in names
    m = MONTH0
    for _ in range(4):  # this month and three ahead, made by every migrate
        assert f"incident_p{m:%Y_%m}" in names
        m = (m + timedelta(days=32)).replace(day=1)
    # local months: the partition of this month starts at 00:00 China time on the 1st
    lower = db.scalar(
        conn,
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = %s",
        (f"incident_p{MONTH0:%Y_%m}",),
    )
    assert f"FROM ('{MONTH0.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}+00')" in lower
    conn.rollback()


def test_ids_and_external_ids_stay_unique_across_months(world):
    conn = world
    a = add(conn, months_before(2))
    b = add(conn, months_before(0) + timedelta(hours=3))
    db.execute(conn, "UPDATE incident SET external_id = 'GD-1' WHERE id = %s", (a,))
    conn.commit()
    with pytest.raises(psycopg2.errors.UniqueViolation, match="incident_key_external_id_key"):
        db.execute(conn, "UPDATE incident SET external_id = 'GD-1' WHERE id = %s", (b,))
    conn.rollback()
    with pytest.raises(psycopg2.errors.UniqueViolation, match="incident_key_pkey"):
        db.execute(
            conn,
            """INSERT INTO incident (id, title, minor_code, source, reported_at, admin_code, geom)
               SELECT id, 'dup', minor_code, source, reported_at - interval '40 days', admin_code, geom FROM incident WHERE id = %s""",
            (a,),
        )
    conn.rollback()


def test_foreign_keys_to_incidents_still_hold(world):
    conn = world
    a = add(conn, months_before(1))
    conn.commit()
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        db.execute(
            conn,
            "INSERT INTO incident_history (incident_id, to_status, actor, admin_code) VALUES (%s, 'received', 't', '620802001001')",
            (a + 1000,),
        )
    conn.rollback()
    db.execute(
        conn,
        "INSERT INTO incident_history (incident_id, to_status, actor, admin_code) VALUES (%s, 'received', 't', '620802001001')",
        (a,),
    )
    conn.commit()
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):  # an incident with a history stays
        db.execute(conn, "DELETE FROM incident WHERE id = %s", (a,))
    conn.rollback()
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        db.execute(conn, "UPDATE incident SET merged_into = %s WHERE id = %s", (a + 1000, a))
    conn.rollback()


def test_moving_a_row_to_another_month_keeps_its_key_and_history(world):
    conn = world
    a = add(conn, months_before(1) + timedelta(days=3))
    db.execute(
        conn,
        "INSERT INTO incident_history (incident_id, to_status, actor, admin_code) VALUES (%s, 'received', 't', '620802001001')",
        (a,),
    )
    conn.commit()
    db.execute(conn, "UPDATE incident SET reported_at = %s WHERE id = %s", (months_before(3) + timedelta(days=5), a))
    conn.commit()
    assert db.scalar(conn, "SELECT tableoid::regclass::text FROM incident WHERE id = %s", (a,)) == (
        f"incident_p{months_before(3):%Y_%m}"
    )
    assert db.scalar(conn, "SELECT reported_at FROM incident_key WHERE id = %s", (a,)) == months_before(3) + timedelta(days=5)
    assert db.scalar(conn, "SELECT sum(n) FROM incident_daily") == 1
    conn.rollback()


def test_a_month_without_partition_waits_in_the_default_until_made(world):
    conn = world
    far = (MONTH0 + timedelta(days=31 * 8)).replace(day=10)
    db.execute(conn, f'DROP TABLE IF EXISTS "incident_p{far:%Y_%m}"')  # an earlier run made it
    conn.commit()
    a = add(conn, far)
    db.execute(
        conn,
        "INSERT INTO incident_history (incident_id, to_status, actor, admin_code) VALUES (%s, 'received', 't', '620802001001')",
        (a,),
    )
    conn.commit()
    assert db.scalar(conn, "SELECT tableoid::regclass::text FROM incident WHERE id = %s", (a,)) == "incident_pdefault"
    made = archive.ensure(conn, months_ahead=2)
    assert f"incident_p{far:%Y_%m}" in made
    assert db.scalar(conn, "SELECT tableoid::regclass::text FROM incident WHERE id = %s", (a,)) == f"incident_p{far:%Y_%m}"
    assert db.scalar(conn, "SELECT count(*) FROM incident_key WHERE id = %s", (a,)) == 1  # moved, not deleted
    assert db.scalar(conn, "SELECT count(*) FROM incident_pdefault") == 0
    assert db.scalar(conn, "SELECT sum(n) FROM incident_daily") == 1
    conn.rollback()


def test_archive_detach_and_attach_a_month(world):
    conn = world
    old = months_before(3) + timedelta(days=2, hours=5)
    ids = [add(conn, old, status="closed") for _ in range(3)]
    keep = add(conn, months_before(0) + timedelta(hours=1))
    conn.commit()
    month = f"{old:%Y-%m}"
    daily = db.scalar(conn, "SELECT sum(n) FROM incident_daily")
    version = db.scalar(conn, "SELECT version FROM data_version WHERE name = 'incident'")
    day_version = db.scalar(conn, "SELECT version FROM incident_day_version WHERE day = %s", (old.date(),))
    conn.commit()

    done = archive.detach(conn, month)
    assert done["rows"] == 3
    assert db.scalar(conn, "SELECT count(*) FROM incident WHERE id = ANY(%s)", (ids,)) == 0
    assert db.scalar(conn, "SELECT count(*) FROM incident WHERE id = %s", (keep,)) == 1
    assert db.scalar(conn, "SELECT sum(n) FROM incident_daily") == daily - 3
    assert db.scalar(conn, "SELECT version FROM data_version WHERE name = 'incident'") > version
    assert db.scalar(conn, "SELECT version FROM incident_day_version WHERE day = %s", (old.date(),)) > (day_version or 0)
    assert db.scalar(conn, "SELECT count(*) FROM incident_key WHERE id = ANY(%s)", (ids,)) == 3  # history still points at them
    listed = {m["month"]: m for m in archive.months(conn)}
    assert listed[month]["state"] == "detached" and listed[month]["rows"] == 3
    with pytest.raises(archive.ArchiveError, match="already detached"):
        archive.detach(conn, month)

    done = archive.attach(conn, month)
    assert done["rows"] == 3
    assert db.scalar(conn, "SELECT count(*) FROM incident WHERE id = ANY(%s)", (ids,)) == 3
    assert db.scalar(conn, "SELECT sum(n) FROM incident_daily") == daily
    assert {m["month"]: m["state"] for m in archive.months(conn)}[month] == "attached"
    conn.rollback()


def test_archive_refuses_open_cases_and_the_current_month(world):
    conn = world
    old = months_before(2) + timedelta(days=4)
    add(conn, old, status="in_progress")
    add(conn, months_before(0) + timedelta(hours=2), status="closed")
    conn.commit()
    with pytest.raises(archive.ArchiveError, match="still being worked on"):
        archive.detach(conn, f"{old:%Y-%m}")
    with pytest.raises(archive.ArchiveError, match="only months before the current one"):
        archive.detach(conn, f"{MONTH0:%Y-%m}")
    with pytest.raises(archive.ArchiveError, match="YYYY-MM"):
        archive.detach(conn, "last spring")
    assert f"incident_p{old:%Y_%m}" in partitions(conn)


def test_archive_cli(shell, conn):
    old = months_before(2) + timedelta(days=1)
    risk_world.add_incident(conn, reported_at=old, status="closed")
    conn.commit()
    code, out, err = shell("archive", "detach", f"{old:%Y-%m}")
    assert code == 0, err
    assert "detached" in out and "1 incident(s)" in out
    code, out, _ = shell("archive", "list")
    assert f"{old:%Y-%m}  detached" in out
    code, out, _ = shell("archive", "attach", f"{old:%Y-%m}")
    assert code == 0 and "attached" in out
    code, _, err = shell("archive", "detach")
    assert code != 0 and "MONTH" in err


def test_the_demo_was_converted_in_place(demo_conn):
    """The demo database was built before 0090 (or by it): every incident has its key, ids
    and the sequence carried over, its history rows point at existing incidents."""
    conn = demo_conn
    assert db.scalar(conn, "SELECT relkind FROM pg_class WHERE oid = 'incident'::regclass") == "p"
    n = db.scalar(conn, "SELECT count(*) FROM incident")
    assert n > 1000
    assert db.scalar(conn, "SELECT count(*) FROM incident_key") == n
    assert db.scalar(conn, "SELECT count(*) FROM incident i JOIN incident_key k USING (id, reported_at)") == n
    assert db.scalar(conn, "SELECT last_value >= (SELECT max(id) FROM incident) FROM incident_id_seq")
    assert db.scalar(conn, "SELECT count(*) FROM incident_pdefault") == 0
    assert db.scalar(conn, "SELECT sum(n) FROM incident_daily") == n
    conn.rollback()


def test_making_a_month_never_waits_for_a_reader(world):
    """A session that read incident and kept its transaction open holds a share of the
    default partition's lock: making a month gives up after 2 s (rows wait in the default)
    instead of queueing every query of incident behind it (0094)."""
    import time

    conn = world
    far = (MONTH0 + timedelta(days=31 * 9)).replace(day=12)
    name = f"incident_p{far:%Y_%m}"
    db.execute(conn, f'DROP TABLE IF EXISTS "{name}"')
    conn.commit()
    reader = db.connect(os.environ.get("TEST_DATABASE_URL") or db.cluster.database_url(test=True))
    try:
        db.scalar(reader, "SELECT count(*) FROM incident")  # transaction left open
        t = time.monotonic()
        made = db.scalar(conn, "SELECT incident_partitions_make(ARRAY[%s::timestamptz])", (far,))
        assert made == [] and time.monotonic() - t < 10
        assert db.scalar(conn, "SELECT to_regclass(%s)", (name,)) is None
        conn.commit()
    finally:
        reader.close()
    assert db.scalar(conn, "SELECT incident_partitions_make(ARRAY[%s::timestamptz])", (far,)) == [name]
    conn.rollback()
