"""The closed loop of an incident (受理→立案→派遣→处置→核查→结案→回访): which status may
follow which, and the one function that moves an incident along an edge.

Why one function: the history of an incident is the evidence the centre is assessed on
(考核), so every move locks the row, checks the edge, writes the side effects (level
handled, closing time, the resident's rating) and appends the history row in the same
transaction. Migration 0007 repeats the edges in a trigger so that no other path can move
a status without them (tests keep both lists equal).
"""

from __future__ import annotations

from datetime import datetime

from geo import db, labels
from geo.security.personal import incident_columns

TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"registered", "cancelled"}),
    "registered": frozenset({"dispatched", "escalated", "cancelled"}),
    "dispatched": frozenset({"in_progress", "returned", "escalated"}),
    "in_progress": frozenset({"verified", "returned", "escalated"}),
    "verified": frozenset({"closed", "in_progress"}),  # a failed check sends it back to work
    "closed": frozenset({"followed_up"}),
    "followed_up": frozenset(),
    "returned": frozenset({"dispatched", "escalated", "cancelled"}),  # 退回: the centre re-dispatches
    "escalated": frozenset({"dispatched", "in_progress", "cancelled"}),  # the higher level takes it on
    "cancelled": frozenset(),
}
STATUSES = tuple(TRANSITIONS)
# Open = still owed an outcome; only open incidents can be overdue (督办).
CLOSED_STATUSES = frozenset({"closed", "followed_up", "cancelled"})
OPEN_STATUSES = frozenset(STATUSES) - CLOSED_STATUSES
RESOLVED_STATUSES = ("closed", "followed_up")  # 化解: an outcome reached (the numerator of 化解率)
LEVELS = ("community", "town", "district")  # 小事不出村、大事不出乡
LEVEL_LABELS = {"community": "村（社区）", "town": "乡镇（街道）", "district": "区县"}


class TransitionRefused(ValueError):
    """A move the workflow does not allow; the message names from, to and the allowed ones."""


def allowed(from_status: str) -> list[str]:
    return sorted(TRANSITIONS.get(from_status, ()))


def status_label(status: str) -> str:
    """'处置中 in_progress': the Chinese label with the code, for notes and Open311."""
    return f"{labels.t('status.' + status)} {status}"


def transition(
    conn,
    incident_id: int,
    to_status: str,
    actor: str,
    note: str | None = None,
    level: str | None = None,
    satisfaction: int | None = None,
    at: datetime | None = None,
    assignee: str | None = None,
) -> dict:
    """Move one incident to `to_status` and record it; returns the updated incident row.
    `assignee` (派遣给) is whom a dispatch sends the case to: kept on the case and on the
    history row of that dispatch."""
    with db.transaction(conn) as cur:
        return apply_transition(cur, incident_id, to_status, actor, note, level, satisfaction, at, assignee)


def apply_transition(
    cur,
    incident_id: int,
    to_status: str,
    actor: str,
    note: str | None = None,
    level: str | None = None,
    satisfaction: int | None = None,
    at: datetime | None = None,
    assignee: str | None = None,
) -> dict:
    """transition() inside a caller's transaction (merging duplicates moves two rows at once)."""
    if not actor or not str(actor).strip():
        raise TransitionRefused("必须注明操作人 an actor is required for every transition")
    if to_status not in TRANSITIONS:
        raise TransitionRefused(f"未知状态 unknown status {to_status!r}; statuses: {', '.join(STATUSES)}")
    cur.execute("SELECT id, status, level_handled, reported_at FROM incident WHERE id = %s FOR UPDATE", (incident_id,))
    row = cur.fetchone()
    if row is None:
        raise TransitionRefused(f"事件不存在 incident #{incident_id} does not exist")
    _, current, current_level, reported_at = row
    if to_status not in TRANSITIONS[current]:
        ok = "、".join(allowed(current)) or "无 none (终态 final)"
        raise TransitionRefused(
            f"事件 #{incident_id} 不能从「{status_label(current)}」转为「{status_label(to_status)}」"
            f" (incident #{incident_id}: {current} -> {to_status} is not allowed; allowed from {current}: {ok})"
        )
    new_level = _level_after(incident_id, to_status, current_level, level)
    if satisfaction is not None and to_status != "followed_up":
        raise TransitionRefused("满意度只在回访时记录 satisfaction is recorded only on followed_up")
    if to_status == "followed_up" and (satisfaction is None or not 1 <= int(satisfaction) <= 5):
        raise TransitionRefused("回访须记录群众满意度 1-5 (followed_up needs the resident's rating, 1-5)")
    assignee = (assignee or "").strip() or None
    if assignee is not None and to_status != "dispatched":
        raise TransitionRefused("派遣对象只在派遣时记录 an assignee is recorded only on dispatched")
    if assignee is not None and len(assignee) > 80:
        raise TransitionRefused("派遣对象过长 the assignee is longer than 80 characters")
    cur.execute("SELECT COALESCE(%s::timestamptz, now())", (at,))
    when = cur.fetchone()[0]
    if when < reported_at:
        raise TransitionRefused(f"时间早于上报时间 {when.isoformat()} is before the report ({reported_at.isoformat()})")
    cur.execute(
        """UPDATE incident
              SET status = %(to)s,
                  level_handled = %(level)s,
                  closed_at = CASE WHEN %(to)s = 'closed' THEN %(at)s ELSE closed_at END,
                  satisfaction = COALESCE(%(sat)s, satisfaction),
                  assigned_to = CASE WHEN %(to)s = 'dispatched' THEN %(who)s ELSE assigned_to END
            WHERE id = %(id)s""",
        {"to": to_status, "level": new_level, "at": when, "sat": satisfaction, "id": incident_id, "who": assignee},
    )
    cur.execute(
        """INSERT INTO incident_history (incident_id, from_status, to_status, at, actor, note, admin_code, assigned_to)
           SELECT id, %s, status, %s, %s, %s, admin_code, %s FROM incident WHERE id = %s""",
        (current, when, actor.strip(), note, assignee, incident_id),
    )
    cur.execute(f"SELECT {incident_columns()} FROM incident WHERE id = %s", (incident_id,))
    return dict(zip([d.name for d in cur.description], cur.fetchone()))


def _level_after(incident_id: int, to_status: str, current: str | None, requested: str | None) -> str | None:
    """The level handling the case: set when registered (the community by default), one up
    on each escalation, otherwise kept, so a closed case says where it was resolved."""
    if requested is not None and requested not in LEVELS:
        raise TransitionRefused(f"未知层级 unknown level {requested!r}; levels: {', '.join(LEVELS)}")
    if to_status == "escalated":
        rank = LEVELS.index(current) if current in LEVELS else 0
        if rank == len(LEVELS) - 1 and requested is None:
            raise TransitionRefused(f"事件 #{incident_id} 已在区县层级，不能再上报 (already at district level)")
        target = requested or LEVELS[rank + 1]
        if LEVELS.index(target) <= rank:
            raise TransitionRefused(f"上报须到更高层级 escalation must go above {current}, not to {target}")
        return target
    if requested is not None:
        return requested
    if current is None and to_status not in ("received", "cancelled"):
        return "community"
    return current


def history(conn, incident_id: int) -> list[dict]:
    return db.rows(conn, "SELECT * FROM incident_history WHERE incident_id = %s ORDER BY at, id", (incident_id,))
