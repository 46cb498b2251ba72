"""An alarm's life: new → acknowledged (who, when) → handling (its incidents dispatched
through the closed loop) → closed (with a note); reading alarms for the screen, the desk
page, the CLI and the Excel export.

Why every step here: each moves the row and appends its history (which the database also
copies into the audit log) in one transaction, under the caller's row-level security, so
a town's operator can neither see nor acknowledge another town's alarm.
"""

from __future__ import annotations

from datetime import datetime

from geo import db
from geo.alerts import rules
from geo.incidents import lifecycle as incident_lifecycle

STATUSES = ("new", "acknowledged", "handling", "closed")
OPEN = ("new", "acknowledged", "handling")
# Which step may follow which (closing straight from new is allowed: a false alarm).
NEXT = {"new": ("acknowledged", "closed"), "acknowledged": ("handling", "closed"), "handling": ("closed",), "closed": ()}
# Incident statuses the 处置 step moves on towards 派遣 (dispatched), edge by edge.
_DISPATCH_PATH = {"received": ("registered", "dispatched"), "registered": ("dispatched",), "returned": ("dispatched",)}


class AlertError(ValueError):
    """A step the alarm's state does not allow, or an alarm not found (the message says which)."""


_COLUMNS = """a.id, a.rule, a.level, a.base_level, a.status, a.subject, a.detail, a.grid_code, a.admin_code,
              ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat, a.raised_at, a.updated_at, a.ack_due, a.escalations,
              a.escalated_at, a.acked_by, a.acked_at, a.handled_by, a.handled_at, a.closed_by, a.closed_at,
              a.close_note, cm.name AS community, tw.name AS town, g.name AS grid_name"""
_FROM = """alert a LEFT JOIN admin_unit cm ON cm.code = a.admin_code
           LEFT JOIN admin_unit tw ON tw.code = left(a.admin_code, 9)
           LEFT JOIN grid_current g ON g.code = a.grid_code"""


def _render(row: dict) -> dict:
    row["title"] = rules.title(row)
    row["reasons"] = rules.reasons(row)
    row["level_name"] = rules.level_name(row["level"])
    return row


def list_alerts(
    conn,
    *,
    status: str | None = "open",
    rule: str | None = None,
    level: int | None = None,
    escalated_only: bool = False,
    limit: int = 500,
) -> list[dict]:
    """Alarms the caller may see, most severe first, then oldest first (the desk's order).

    status: 'open' (not closed), one of STATUSES, or None for all."""
    if status not in (None, "open", *STATUSES):
        raise AlertError(f"未知状态 unknown status {status!r}; use open, {', '.join(STATUSES)} or all")
    if rule is not None and rule not in rules.RULES:
        raise AlertError(f"未知规则 unknown rule {rule!r}; rules: {', '.join(rules.RULES)}")
    rows = db.rows(
        conn,
        f"""SELECT {_COLUMNS},
                   (SELECT array_agg(ai.incident_id ORDER BY ai.incident_id) FROM alert_incident ai
                     WHERE ai.alert_id = a.id AND ai.alert_admin_code = a.admin_code) AS incident_ids
              FROM {_FROM}
             WHERE (%(status)s::text IS NULL OR (%(status)s = 'open' AND a.status <> 'closed') OR a.status = %(status)s)
               AND (%(rule)s::text IS NULL OR a.rule = %(rule)s)
               AND (%(level)s::int IS NULL OR a.level = %(level)s)
               AND (NOT %(esc)s OR a.escalations > 0)
             ORDER BY (a.status = 'closed'), a.level, a.raised_at, a.id
             LIMIT %(limit)s""",
        {"status": status, "rule": rule, "level": level, "esc": escalated_only, "limit": limit},
    )
    return [_render(r) for r in rows]


def get(conn, alert_id: int) -> dict:
    row = db.one(conn, f"SELECT {_COLUMNS} FROM {_FROM} WHERE a.id = %s", (int(alert_id),))
    if row is None:
        raise AlertError(f"预警 #{alert_id} 不存在或不在本辖区 (alarm #{alert_id} not found in your jurisdiction)")
    row["incidents"] = db.rows(
        conn,
        """SELECT i.id, i.title, i.source, i.status, i.risk_tier, i.reported_at, i.address
             FROM alert_incident ai JOIN incident i ON i.id = ai.incident_id AND i.admin_code = ai.admin_code
            WHERE ai.alert_id = %s ORDER BY i.reported_at, i.id""",
        (int(alert_id),),
    )
    return _render(row)


def history(conn, alert_id: int) -> list[dict]:
    return db.rows(
        conn,
        "SELECT action, from_status, to_status, at, actor, note FROM alert_history WHERE alert_id = %s ORDER BY at, id",
        (int(alert_id),),
    )


def version(conn) -> int:
    """The alarms' data version (bumped in the writer's transaction): the screen polls it."""
    return db.scalar(conn, "SELECT version FROM data_version WHERE name = 'alert'") or 0


def open_count(conn, escalated_only: bool = False) -> int:
    return db.scalar(
        conn,
        "SELECT count(*) FROM alert WHERE status <> 'closed' AND (NOT %s OR escalations > 0)",
        (escalated_only,),
    )


def acknowledge(conn, alert_id: int, actor: str, note: str | None = None, at: datetime | None = None) -> dict:
    """签收: the operator has seen it; the alarm leaves the big screen's banner."""
    return _step(conn, alert_id, "acknowledged", "ack", actor, note, at)


def handle(conn, alert_id: int, actor: str, note: str | None = None, at: datetime | None = None) -> dict:
    """处置: take the alarm on, and dispatch its linked incidents that wait for it
    (received/registered/returned → dispatched), each edge through the incident's closed loop."""
    alarm = _step(conn, alert_id, "handling", "handle", actor, note, at, commit=False)
    try:
        with conn.cursor() as cur:
            for inc in alarm["incidents"]:
                for to_status in _DISPATCH_PATH.get(inc["status"], ()):
                    incident_lifecycle.apply_transition(cur, inc["id"], to_status, actor, f"预警 #{alert_id} 处置：{note or ''}")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return get(conn, alert_id)


def close(conn, alert_id: int, actor: str, note: str, at: datetime | None = None) -> dict:
    """关闭, with a note saying how it ended (a false alarm, handled, merged ...)."""
    if not note or not str(note).strip():
        raise AlertError("关闭预警须填写说明 (closing an alarm needs a note: how it ended)")
    return _step(conn, alert_id, "closed", "close", actor, note.strip(), at)


def _step(conn, alert_id, to_status, action, actor, note, at, commit: bool = True) -> dict:
    if not actor or not str(actor).strip():
        raise AlertError("必须注明操作人 an actor is required")
    actor = str(actor).strip()
    try:
        cur = conn.cursor()
        cur.execute("SELECT status, admin_code FROM alert WHERE id = %s FOR UPDATE", (int(alert_id),))
        row = cur.fetchone()
        if row is None:
            raise AlertError(f"预警 #{alert_id} 不存在或不在本辖区 (alarm #{alert_id} not found in your jurisdiction)")
        current, admin_code = row
        if to_status not in NEXT[current]:
            allowed = "、".join(NEXT[current]) or "无 none (已关闭 closed)"
            raise AlertError(
                f"预警 #{alert_id} 不能从「{current}」转为「{to_status}」 "
                f"(alarm #{alert_id}: {current} -> {to_status} is not allowed; allowed: {allowed})"
            )
        cur.execute("SELECT COALESCE(%s::timestamptz, now())", (at,))
        when = cur.fetchone()[0]
        sets = {
            "acknowledged": "acked_by = %(actor)s, acked_at = %(at)s",
            "handling": "handled_by = %(actor)s, handled_at = %(at)s",
            "closed": "closed_by = %(actor)s, closed_at = %(at)s, close_note = %(note)s",
        }[to_status]
        if to_status == "closed" and current == "new":  # closed unseen: the acknowledgement is the closing
            sets += ", acked_by = %(actor)s, acked_at = %(at)s"
        cur.execute(
            f"UPDATE alert SET status = %(to)s, updated_at = %(at)s, {sets} WHERE id = %(id)s",
            {"to": to_status, "actor": actor, "at": when, "note": note, "id": int(alert_id)},
        )
        cur.execute(
            """INSERT INTO alert_history (alert_id, action, from_status, to_status, at, actor, note, admin_code)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            (int(alert_id), action, current, to_status, when, actor, note, admin_code),
        )
        cur.close()
        if commit:
            conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return get(conn, alert_id)
