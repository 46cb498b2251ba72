"""Tests for the embedded PostgreSQL/PostGIS cluster (geo/pgserver.py).

These use the shared embedded cluster and never leave it stopped: other test
modules depend on it.  The stop/start round trip only runs when
QUANYU_TEST_RESTART=1, because it briefly interrupts anyone else using it.
"""

import os
from urllib.parse import unquote, urlparse

import psycopg2
import pytest

from geo import pgserver as cluster


@pytest.fixture
def no_url_env(monkeypatch):
    """Force the embedded cluster even if the developer has URLs exported."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.delenv("QUANYU_PG_PORT", raising=False)


def test_start_is_idempotent(no_url_env):
    first = cluster.start()
    second = cluster.start()
    assert first == second == cluster.url("quanyu")
    parsed = urlparse(first)
    assert parsed.scheme == "postgresql"
    assert parsed.hostname == "127.0.0.1"
    assert parsed.username == "quanyu"
    assert parsed.path == "/quanyu"


def test_status_reports_running(no_url_env):
    cluster.start()
    st = cluster.status()
    assert st["running"] is True
    assert st["postgis_available"] is True
    assert st["port"] == urlparse(st["url"]).port
    assert st["pg_version"]
    assert os.path.isabs(st["data_dir"])


def test_postgis_in_test_database(no_url_env):
    dsn = cluster.database_url(test=True)
    assert urlparse(dsn).path == "/quanyu_test"
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute("SELECT postgis_full_version()")
            assert "POSTGIS=" in cur.fetchone()[0]
    finally:
        conn.close()


def test_url_quotes_password(no_url_env):
    password = unquote(urlparse(cluster.url()).password)
    assert password == (cluster.VAR_PG / "password").read_text().strip()
    assert cluster.url("quanyu_test").endswith("/quanyu_test")


def test_test_database_url_env_wins(monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://u:p@db.example:5432/t")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:5432/prod")
    assert cluster.database_url(test=True) == "postgresql://u:p@db.example:5432/t"


def test_database_url_env_wins(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:5432/prod")
    assert cluster.database_url() == "postgresql://u:p@db.example:5432/prod"


def test_tests_never_use_database_url(monkeypatch):
    """DATABASE_URL alone must not leak into tests (they may wipe the DB)."""
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.delenv("QUANYU_PG_PORT", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:5432/prod")
    got = cluster.database_url(test=True)
    assert "db.example" not in got
    assert urlparse(got).path == "/quanyu_test"


def test_bad_port_env_is_a_readable_error(monkeypatch):
    monkeypatch.setenv("QUANYU_PG_PORT", "not-a-port")
    with pytest.raises(cluster.ClusterError, match="QUANYU_PG_PORT"):
        cluster.port()


@pytest.mark.skipif(
    os.environ.get("QUANYU_TEST_RESTART") != "1", reason="interrupts the shared cluster; set QUANYU_TEST_RESTART=1"
)
def test_stop_start_round_trip(no_url_env):
    cluster.start()
    try:
        assert cluster.stop() is True
        assert cluster.stop() is False  # idempotent
        assert cluster.status()["running"] is False
    finally:
        url = cluster.start()  # always leave it running for other tests
    assert cluster.status()["running"] is True
    psycopg2.connect(url).close()
