"""Plausibility and speed on the Kongtong demo (read-only: nothing is written to it)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import flask
import pytest

from geo import db
from geo.incidents import dispatch as routing
from geo.incidents import duplicates, supervision
from geo.web.api import open311
from geo.worktime import CST


def test_routing_every_demo_incident_point_agrees_with_stored_grid(demo_conn):
    sample = db.rows(
        demo_conn,
        """SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat, minor_code, reported_at, grid_code, admin_code
                                     FROM incident WHERE grid_code IS NOT NULL ORDER BY id DESC LIMIT 200""",
    )
    t0 = time.perf_counter()
    routed = [routing.route(demo_conn, r["lon"], r["lat"], r["minor_code"], r["reported_at"]) for r in sample]
    per_call = (time.perf_counter() - t0) / len(sample)
    agree = sum(x.grid_code == r["grid_code"] and x.community == r["admin_code"] for x, r in zip(routed, sample))
    assert agree / len(sample) > 0.98  # overlaps may send a point to the smaller code, as locate_points does
    assert all(x.town and x.town_name and x.department for x in routed)
    assert per_call < 0.05, f"route() took {per_call * 1000:.1f} ms"


def test_level_shares_match_kongtong(demo_conn):
    end = datetime.now(CST)
    shares = {s["level"]: s["share"] for s in routing.level_shares(demo_conn, end - timedelta(days=365), end)}
    assert shares["community"] == pytest.approx(0.972, abs=0.01)
    assert shares["town"] == pytest.approx(0.023, abs=0.01)


def test_supervision_lists_on_the_demo(demo_conn):
    t0 = time.perf_counter()
    rows = supervision.due(demo_conn)
    towns = supervision.summary(demo_conn, "town")
    elapsed = time.perf_counter() - t0
    overdue = [r for r in rows if r["kind"] == "overdue"]
    expected = db.scalar(
        demo_conn,
        """SELECT count(*) FROM incident
                                        WHERE status NOT IN ('closed', 'followed_up', 'cancelled') AND deadline < now()""",
    )
    assert len(overdue) == expected > 0
    assert sum(t["overdue"] for t in towns) == expected and len(towns) > 10
    assert elapsed < 3, f"supervision lists took {elapsed:.2f} s"


def test_duplicate_candidates_are_fast(demo_conn):
    iid = db.scalar(demo_conn, "SELECT id FROM incident WHERE status = 'in_progress' ORDER BY id DESC LIMIT 1")
    t0 = time.perf_counter()
    duplicates.candidates(demo_conn, iid, radius_m=500)
    assert time.perf_counter() - t0 < 0.5


def test_open311_requests_on_the_demo(demo_url):
    app = flask.Flask("open311-demo")
    app.config["QUANYU_DATABASE_URL"] = demo_url
    app.register_blueprint(open311.bp)
    client = app.test_client()
    t0 = time.perf_counter()
    resp = client.get("/open311/v2/requests.json")
    elapsed = time.perf_counter() - t0
    assert resp.status_code == 200 and len(resp.get_json()) == open311.MAX_RESULTS
    assert elapsed < 2, f"GET requests.json took {elapsed:.2f} s"
