"""督办 lists and reminders, and duplicate suggestions and merging."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from geo import db
from geo.incidents import dispatch as routing
from geo.incidents import duplicates, lifecycle, supervision
from geo.incidents.lifecycle import TransitionRefused
from geo.worktime import CST
from tests.support.loop import IN_SW, IN_VILLAGE

MONDAY_9 = datetime(2026, 11, 16, 9, 0, tzinfo=CST)


def add(conn, where=IN_SW, code="0211", at=MONDAY_9, dlon=0.0):
    return routing.create_incident(conn, lon=where[0] + dlon, lat=where[1], minor_code=code, actor="op", reported_at=at)


def test_due_lists_and_summaries(loop_world):
    # 0211: 1 working hour -> due 10:00; 0201: 2 working hours -> due 11:00; 0103: 7 working days.
    late = add(loop_world, code="0211")
    soon = add(loop_world, code="0201", where=IN_VILLAGE)
    later = add(loop_world, code="0103")
    closed = add(loop_world, code="0211")
    for s in ("registered", "dispatched", "in_progress", "verified", "closed"):
        lifecycle.transition(loop_world, closed, s, "op", at=MONDAY_9 + timedelta(minutes=30))
    now = MONDAY_9 + timedelta(hours=1, minutes=30)  # 10:30
    rows = supervision.due(loop_world, now=now)
    assert [(r["id"], r["kind"], r["hours_past"]) for r in rows] == [(late, "overdue", 0.5), (soon, "due_soon", -0.5)]
    assert (rows[0]["town"], rows[0]["town_name"], rows[0]["department"]) == ("620802001", "东关街道", "派出所")
    assert later not in [r["id"] for r in rows]
    assert [r["id"] for r in supervision.due(loop_world, now=now, department="司法所")] == []
    assert [r["id"] for r in supervision.due(loop_world, now=now, town="620802001")] == [late, soon]
    assert supervision.summary(loop_world, "town", now=now) == [
        {"name": "东关街道", "overdue": 1, "due_soon": 1, "worst_hours_past": 0.5}
    ]
    assert supervision.summary(loop_world, "department", now=now)[0]["name"] == "派出所"
    with pytest.raises(ValueError):
        supervision.summary(loop_world, "grid")


def test_soon_due_counts_working_hours_over_the_weekend(loop_world):
    friday_17 = datetime(2026, 11, 20, 17, 0, tzinfo=CST)
    iid = add(loop_world, code="0201", at=friday_17)  # due Monday 10:30
    assert [r["id"] for r in supervision.due(loop_world, now=friday_17 + timedelta(minutes=10))] == [iid]
    assert supervision.due(loop_world, now=friday_17, soon_hours=1) == []


def test_reminders_once_a_day(loop_world):
    late = add(loop_world, code="0211")
    gapless = add(loop_world, code="0211", where=IN_VILLAGE)
    now = MONDAY_9 + timedelta(hours=3)
    assert supervision.send_reminders(loop_world, now=now) == 2
    assert supervision.send_reminders(loop_world, now=now + timedelta(hours=2)) == 0  # same day
    assert supervision.send_reminders(loop_world, now=now + timedelta(days=1)) == 2
    (first, second) = supervision.reminders(loop_world, late)
    assert (first["channel"], first["kind"], first["to_whom"]) == ("sms", "overdue", "派出所；网格员 李*")
    assert "2026-11-16 10:00" in first["note"] and first["admin_code"] == "620802001001"
    assert supervision.reminders(loop_world, gapless)[0]["to_whom"] == "派出所；无网格员 (no grid worker)"
    assert supervision.due(loop_world, now=now + timedelta(days=1))[0]["reminders"] == 2


def test_duplicate_candidates_ranked_by_distance_then_time(loop_world):
    new = add(loop_world, code="0103", at=MONDAY_9 + timedelta(hours=5))
    near = add(loop_world, code="0103", dlon=0.0003)  # ~27 m, 5 h earlier
    nearer_later = add(loop_world, code="0103", dlon=0.0001, at=MONDAY_9 + timedelta(hours=6))  # ~9 m
    far = add(loop_world, code="0103", dlon=0.002)  # ~180 m
    old = add(loop_world, code="0103", at=MONDAY_9 - timedelta(days=4))
    other_minor = add(loop_world, code="0101", dlon=0.0001)  # same major 01
    other_major = add(loop_world, code="0211", dlon=0.0001)
    got = duplicates.candidates(loop_world, new)
    assert [c["id"] for c in got] == [nearer_later, near]
    assert got[0]["distance_m"] == pytest.approx(9.1, abs=0.3) and got[0]["hours_apart"] == 1.0
    assert [c["id"] for c in duplicates.candidates(loop_world, new, same="major")] == [nearer_later, other_minor, near]
    assert far in [c["id"] for c in duplicates.candidates(loop_world, new, radius_m=200)]
    assert old in [c["id"] for c in duplicates.candidates(loop_world, new, window_hours=24 * 5)]
    assert other_major not in [c["id"] for c in duplicates.candidates(loop_world, new, same="major", radius_m=500)]
    form = duplicates.candidates_at(loop_world, IN_SW[0], IN_SW[1], "0103", MONDAY_9 + timedelta(hours=5))
    assert [c["id"] for c in form] == [new, nearer_later, near]


def test_merge_cancels_and_links(loop_world):
    keep = add(loop_world, code="0103")
    dup = add(loop_world, code="0103", dlon=0.0001, at=MONDAY_9 + timedelta(hours=1))
    row = duplicates.merge(loop_world, dup, keep, "值班员")
    assert (row["status"], row["merged_into"]) == ("cancelled", keep)
    assert db.scalar(loop_world, "SELECT merged_into FROM incident WHERE id = %s", (dup,)) == keep
    last = lifecycle.history(loop_world, dup)[-1]
    assert (last["to_status"], last["actor"]) == ("cancelled", "值班员") and last["note"].startswith(f"合并至 #{keep}")
    assert duplicates.candidates(loop_world, keep) == []  # a merged report is no longer suggested
    with pytest.raises(TransitionRefused, match="cancelled"):
        duplicates.merge(loop_world, keep, dup, "值班员")
    with pytest.raises(TransitionRefused, match="itself"):
        duplicates.merge(loop_world, keep, keep, "值班员")


def test_merge_refused_once_work_started(loop_world):
    keep = add(loop_world, code="0103")
    dup = add(loop_world, code="0103")
    for s in ("registered", "dispatched"):
        lifecycle.transition(loop_world, dup, s, "op")
    with pytest.raises(TransitionRefused, match="dispatched -> cancelled is not allowed"):
        duplicates.merge(loop_world, dup, keep, "op")
    assert db.scalar(loop_world, "SELECT merged_into FROM incident WHERE id = %s", (dup,)) is None
