"""Routing a new incident to its grid, staff, community, town, department and deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from geo import db
from geo.incidents import dispatch as routing
from geo.incidents import lifecycle
from geo.worktime import CST
from tests.support.loop import GRID_SW, GRID_VILLAGE, IN_GAP, IN_SW, IN_VILLAGE, OUTSIDE

FRIDAY_1630 = datetime(2026, 11, 20, 16, 30, tzinfo=CST)


def test_route_finds_grid_staff_community_town_and_department(loop_world):
    r = routing.route(loop_world, *IN_SW, "0103", FRIDAY_1630)
    assert (r.grid_code, r.grid_name) == (GRID_SW, "新民社区第一网格")
    assert (r.community, r.community_name) == ("620802001001", "新民社区")
    assert (r.town, r.town_name) == ("620802001", "东关街道")
    assert r.department == "社区（村）委会"
    assert [(s["role"], s["name"], s["phone"]) for s in r.staff] == [
        ("leader", "张三", "138****1234"),
        ("fulltime", "李四", "137****5678"),
        ("parttime", "赵六", "139****1111"),
    ]


def test_route_in_village_grid_has_no_staff(loop_world):
    r = routing.route(loop_world, *IN_VILLAGE, "0211", FRIDAY_1630)
    assert (r.grid_code, r.community, r.department, r.staff) == (GRID_VILLAGE, "620802001002", "派出所", [])


def test_route_in_a_gap_keeps_the_community(loop_world):
    r = routing.route(loop_world, *IN_GAP, "0103", FRIDAY_1630)
    assert (r.grid_code, r.community, r.town) == (None, "620802001002", "620802001")


@pytest.mark.parametrize(
    "lon, lat, code, message",
    [
        (*OUTSIDE, "0103", "outside the jurisdiction"),
        (*IN_SW, "9999", "unknown category"),
        ("east", 35.5, "0103", "must be numbers"),
        (35.535, 106.655, "0103", "out of range"),  # lat/lon swapped
    ],
)
def test_route_refuses_bad_input(loop_world, lon, lat, code, message):
    with pytest.raises(routing.RoutingError, match=message):
        routing.route(loop_world, lon, lat, code, FRIDAY_1630)


def test_deadlines_cross_the_weekend(loop_world):
    # 0211 打架斗殴: 1 working hour; 0201: 2 working hours; 0103 邻里纠纷: 7 working days.
    assert routing.route(loop_world, *IN_SW, "0211", FRIDAY_1630).deadline == datetime(2026, 11, 20, 17, 30, tzinfo=CST)
    assert routing.route(loop_world, *IN_SW, "0201", FRIDAY_1630).deadline == datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    assert routing.route(loop_world, *IN_SW, "0103", FRIDAY_1630).deadline == datetime(2026, 12, 1, 17, 30, tzinfo=CST)


def test_deadline_skips_configured_holidays(loop_world):
    db.execute(
        loop_world,
        "INSERT INTO setting (key, value) VALUES ('work_calendar', %s)",
        ('{"holidays": ["2026-11-23"], "workdays": []}',),
    )
    loop_world.commit()
    assert routing.route(loop_world, *IN_SW, "0201", FRIDAY_1630).deadline == datetime(2026, 11, 24, 10, 0, tzinfo=CST)


def test_create_incident_routes_and_records_first_history_row(loop_world):
    iid = routing.create_incident(
        loop_world,
        lon=IN_SW[0],
        lat=IN_SW[1],
        minor_code="0201",
        actor="值班员王",
        source="operator",
        description="扬言报复",
        reported_at=FRIDAY_1630,
        people_involved=2,
        conflict_intensity=2,
        reporter_phone="13800000000",
    )
    row = db.one(loop_world, "SELECT *, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM incident WHERE id = %s", (iid,))
    assert (row["status"], row["grid_code"], row["admin_code"], row["title"], row["source"]) == (
        "received",
        GRID_SW,
        "620802001001",
        "个人极端倾向线索",
        "operator",
    )
    assert row["deadline"] == datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    assert (row["lon"], row["lat"], row["people_involved"], row["conflict_intensity"]) == (*IN_SW, 2, 2)
    assert row["level_handled"] is None and row["closed_at"] is None
    hist = lifecycle.history(loop_world, iid)
    assert [(h["from_status"], h["to_status"], h["actor"], h["at"]) for h in hist] == [
        (None, "received", "值班员王", FRIDAY_1630)
    ]
    assert "派出所" in hist[0]["note"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("conflict_intensity", 4, "between 0 and 3"),
        ("people_involved", "many", "must be an integer"),
        ("source", "twitter", "unknown source"),
        ("media_url", "file:///etc/passwd", "http"),
        ("actor", " ", "actor is required"),
    ],
)
def test_create_incident_refuses_bad_fields_and_writes_nothing(loop_world, field, value, message):
    fields = dict(lon=IN_SW[0], lat=IN_SW[1], minor_code="0103", actor="op")
    fields[field] = value
    with pytest.raises(routing.RoutingError, match=message):
        routing.create_incident(loop_world, **fields)
    assert db.scalar(loop_world, "SELECT count(*) FROM incident") == 0


def test_create_outside_writes_nothing(loop_world):
    with pytest.raises(routing.RoutingError, match="outside"):
        routing.create_incident(loop_world, lon=OUTSIDE[0], lat=OUTSIDE[1], minor_code="0103", actor="op")
    assert db.scalar(loop_world, "SELECT count(*) FROM incident_history") == 0


def test_overdue_flag():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=CST)
    past, future = now - timedelta(minutes=1), now + timedelta(minutes=1)
    assert routing.is_overdue("in_progress", past, now)
    assert routing.is_overdue("verified", past, now)
    assert not routing.is_overdue("in_progress", future, now)
    assert not routing.is_overdue("closed", past, now)
    assert not routing.is_overdue("cancelled", past, now)


def test_level_shares(loop_world):
    ids = [
        routing.create_incident(loop_world, lon=IN_SW[0], lat=IN_SW[1], minor_code="0103", actor="op", reported_at=FRIDAY_1630)
        for _ in range(4)
    ]
    walk = ["registered", "dispatched", "in_progress", "verified", "closed"]
    for k, iid in enumerate(ids):
        steps = walk[:1] + (["escalated"] if k == 3 else []) + walk[1:]
        for s in steps:
            lifecycle.transition(loop_world, iid, s, "op", at=FRIDAY_1630 + timedelta(hours=1))
    shares = routing.level_shares(loop_world, FRIDAY_1630, FRIDAY_1630 + timedelta(days=1))
    assert [(s["level"], s["resolved"], s["share"]) for s in shares] == [
        ("community", 3, 0.75),
        ("town", 1, 0.25),
        ("district", 0, 0.0),
    ]
    assert routing.level_shares(loop_world, FRIDAY_1630 - timedelta(days=2), FRIDAY_1630)[0]["share"] is None
