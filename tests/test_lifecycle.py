"""Every allowed and every refused transition, the side effects, and the database guard."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

import psycopg2
import pytest

from geo import db
from geo.incidents import dispatch as routing
from geo.incidents import lifecycle
from geo.incidents.lifecycle import STATUSES, TRANSITIONS, TransitionRefused
from geo.worktime import CST
from tests.support.loop import IN_SW

T0 = datetime(2026, 11, 16, 9, 30, tzinfo=CST)


def path_to(status: str) -> list[str]:
    """The shortest walk from 'received' to `status` through TRANSITIONS."""
    seen, queue = {"received": []}, deque(["received"])
    while queue:
        s = queue.popleft()
        for nxt in sorted(TRANSITIONS[s]):
            if nxt not in seen:
                seen[nxt] = seen[s] + [nxt]
                queue.append(nxt)
    return seen[status]


def new_incident_at(conn, status: str) -> int:
    iid = routing.create_incident(conn, lon=IN_SW[0], lat=IN_SW[1], minor_code="0103", actor="op", reported_at=T0)
    for s in path_to(status):
        lifecycle.transition(conn, iid, s, "op", satisfaction=4 if s == "followed_up" else None)
    return iid


def test_every_status_is_reachable():
    assert all(s == "received" or path_to(s) for s in STATUSES)


@pytest.mark.parametrize("from_status", STATUSES)
def test_every_transition_from(loop_world, from_status):
    """All ten targets from one status: the allowed ones move and record, the others are refused."""
    for to_status in STATUSES:
        iid = new_incident_at(loop_world, from_status)
        before = len(lifecycle.history(loop_world, iid))
        sat = 5 if to_status == "followed_up" else None
        if to_status in TRANSITIONS[from_status]:
            row = lifecycle.transition(loop_world, iid, to_status, "李四", note="测试", satisfaction=sat)
            assert row["status"] == to_status
            last = lifecycle.history(loop_world, iid)[-1]
            assert (last["from_status"], last["to_status"], last["actor"], last["note"]) == (
                from_status,
                to_status,
                "李四",
                "测试",
            )
        else:
            with pytest.raises(TransitionRefused) as err:
                lifecycle.transition(loop_world, iid, to_status, "李四", satisfaction=sat)
            assert f"{from_status} -> {to_status} is not allowed" in str(err.value)
            assert lifecycle.status_label(from_status) in str(err.value)  # 中文 + code
            assert db.scalar(loop_world, "SELECT status FROM incident WHERE id = %s", (iid,)) == from_status
            assert len(lifecycle.history(loop_world, iid)) == before


def test_refusal_names_the_allowed_moves(loop_world):
    iid = new_incident_at(loop_world, "received")
    with pytest.raises(TransitionRefused, match="allowed from received: cancelled、registered"):
        lifecycle.transition(loop_world, iid, "closed", "op")
    fin = new_incident_at(loop_world, "followed_up")
    with pytest.raises(TransitionRefused, match="终态 final"):
        lifecycle.transition(loop_world, fin, "closed", "op")


def test_database_function_has_the_same_edges(loop_world):
    got = {
        (r["a"], r["b"])
        for r in db.rows(
            loop_world,
            "SELECT a, b FROM unnest(%(s)s::text[]) a, unnest(%(s)s::text[]) b WHERE incident_transition_allowed(a, b)",
            {"s": list(STATUSES)},
        )
    }
    assert got == {(a, b) for a, nexts in TRANSITIONS.items() for b in nexts}


def test_database_refuses_an_illegal_update(loop_world):
    iid = new_incident_at(loop_world, "received")
    with pytest.raises(psycopg2.errors.CheckViolation, match="received -> closed is not an allowed transition"):
        db.execute(loop_world, "UPDATE incident SET status = 'closed' WHERE id = %s", (iid,))
    loop_world.rollback()


def test_database_refuses_a_status_change_without_history(loop_world):
    iid = new_incident_at(loop_world, "received")
    db.execute(loop_world, "UPDATE incident SET status = 'registered' WHERE id = %s", (iid,))
    with pytest.raises(psycopg2.errors.CheckViolation, match="without an incident_history row"):
        loop_world.commit()
    assert db.scalar(loop_world, "SELECT status FROM incident WHERE id = %s", (iid,)) == "received"


def test_whole_loop_sets_level_closing_time_and_rating(loop_world):
    iid = new_incident_at(loop_world, "received")
    steps = [
        ("registered", None),
        ("dispatched", None),
        ("in_progress", None),
        ("verified", None),
        ("in_progress", None),
        ("verified", None),
        ("closed", None),
        ("followed_up", 5),
    ]
    for k, (s, sat) in enumerate(steps):
        row = lifecycle.transition(
            loop_world, iid, s, f"actor{k}", note=f"step {k}", satisfaction=sat, at=T0 + timedelta(hours=k + 1)
        )
    assert (row["status"], row["level_handled"], row["satisfaction"]) == ("followed_up", "community", 5)
    assert row["closed_at"] == T0 + timedelta(hours=7)
    hist = lifecycle.history(loop_world, iid)
    assert [h["to_status"] for h in hist] == ["received"] + [s for s, _ in steps]
    assert [h["from_status"] for h in hist][1:] == [h["to_status"] for h in hist][:-1]
    with pytest.raises(psycopg2.Error, match="append-only"):
        db.execute(loop_world, "DELETE FROM incident_history WHERE incident_id = %s", (iid,))
    loop_world.rollback()


def test_escalation_climbs_one_level_at_a_time(loop_world):
    iid = new_incident_at(loop_world, "registered")
    assert lifecycle.transition(loop_world, iid, "escalated", "op")["level_handled"] == "town"
    lifecycle.transition(loop_world, iid, "dispatched", "op")
    assert lifecycle.transition(loop_world, iid, "escalated", "op")["level_handled"] == "district"
    lifecycle.transition(loop_world, iid, "dispatched", "op")
    with pytest.raises(TransitionRefused, match="already at district level"):
        lifecycle.transition(loop_world, iid, "escalated", "op")
    lifecycle.transition(loop_world, iid, "in_progress", "op")
    lifecycle.transition(loop_world, iid, "verified", "op")
    assert lifecycle.transition(loop_world, iid, "closed", "op")["level_handled"] == "district"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(to_status="followed_up"), "needs the resident's rating"),
        (dict(to_status="followed_up", satisfaction=6), "needs the resident's rating"),
        (dict(to_status="in_progress", satisfaction=3), "only on followed_up"),
        (dict(to_status="nonsense"), "unknown status"),
        (dict(to_status="escalated", level="village"), "unknown level"),
        (dict(to_status="registered", actor=""), "actor is required"),
        (dict(to_status="registered", at=T0 - timedelta(days=1)), "before the report"),
    ],
)
def test_refused_arguments(loop_world, kwargs, message):
    start = (
        "closed"
        if kwargs["to_status"] == "followed_up"
        else ("dispatched" if kwargs["to_status"] in ("in_progress", "escalated") else "received")
    )
    iid = new_incident_at(loop_world, start)
    kwargs.setdefault("actor", "op")
    with pytest.raises(TransitionRefused, match=message):
        lifecycle.transition(loop_world, iid, **kwargs)


def test_unknown_incident(loop_world):
    with pytest.raises(TransitionRefused, match="does not exist"):
        lifecycle.transition(loop_world, 999, "registered", "op")
