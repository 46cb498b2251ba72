"""督办: incidents past or near their deadline, by town and by department, and the
reminders sent about them.

Why a reminder table and not just a query: assessment (考核) asks not only what was late
but whether the centre chased it; each reminder is recorded (who, when, how) and at most
one per incident per day is sent, so a job may run as often as it likes. No SMS gateway is
wired yet: channel 'sms' records what would be sent.
"""

from __future__ import annotations

from datetime import datetime

from geo import db
from geo.incidents import lifecycle
from geo.incidents.dispatch import work_calendar
from geo.security.masking import mask_name
from geo.worktime import CST, add_working_time

SOON_WORKING_HOURS = 4  # "soon due": within half an office day

_OPEN_SQL = """
    SELECT i.id, i.title, i.minor_code, c.department, i.status, i.level_handled, i.reported_at, i.deadline,
           i.grid_code, i.admin_code AS community, cm.name AS community_name,
           left(i.admin_code, 9) AS town, t.name AS town_name,
           CASE WHEN i.deadline < %(now)s THEN 'overdue' ELSE 'due_soon' END AS kind,
           round(extract(epoch FROM (%(now)s - i.deadline)) / 3600.0, 1)::float AS hours_past,
           (SELECT max(r.sent_at) FROM reminder r WHERE r.incident_id = i.id) AS last_reminder,
           (SELECT count(*) FROM reminder r WHERE r.incident_id = i.id) AS reminders
      FROM incident i
      JOIN category c USING (minor_code)
      LEFT JOIN admin_unit cm ON cm.code = i.admin_code
      LEFT JOIN admin_unit t ON t.code = left(i.admin_code, 9)
     WHERE i.status = ANY(%(open)s) AND i.deadline < %(soon)s
"""


def _params(conn, now: datetime | None, soon_hours: float) -> dict:
    now = now or db.scalar(conn, "SELECT now()")
    soon = add_working_time(now, soon_hours, "working_hours", **work_calendar(conn))
    return {"now": now, "soon": soon, "open": sorted(lifecycle.OPEN_STATUSES)}


def due(
    conn,
    now: datetime | None = None,
    soon_hours: float = SOON_WORKING_HOURS,
    town: str | None = None,
    department: str | None = None,
) -> list[dict]:
    """Open incidents overdue or due within `soon_hours` working hours, most overdue first;
    each with kind 'overdue' or 'due_soon', its town and department and reminders so far."""
    params = _params(conn, now, soon_hours) | {"town": town, "dept": department}
    return db.rows(
        conn,
        _OPEN_SQL
        + """
           AND (%(town)s::text IS NULL OR left(i.admin_code, 9) = %(town)s)
           AND (%(dept)s::text IS NULL OR c.department = %(dept)s)
         ORDER BY i.deadline, i.id""",
        params,
    )


def summary(conn, by: str = "town", now: datetime | None = None, soon_hours: float = SOON_WORKING_HOURS) -> list[dict]:
    """Counts of overdue and soon-due incidents per town or per department, worst first."""
    column = {"town": "town_name", "department": "department"}.get(by)
    if column is None:
        raise ValueError("by must be 'town' or 'department'")
    rows = db.rows(
        conn,
        f"""
        SELECT {column} AS name, count(*) FILTER (WHERE kind = 'overdue') AS overdue,
               count(*) FILTER (WHERE kind = 'due_soon') AS due_soon,
               max(hours_past) FILTER (WHERE kind = 'overdue') AS worst_hours_past
          FROM ({_OPEN_SQL}) d GROUP BY 1 ORDER BY 2 DESC, 3 DESC, 1""",
        _params(conn, now, soon_hours),
    )
    return rows


def send_reminders(conn, now: datetime | None = None, channel: str = "sms", soon_hours: float = SOON_WORKING_HOURS) -> int:
    """Record one reminder per overdue or soon-due incident and day (idempotent); returns how many are new.

    The reminder goes to the grid's full-time worker (or its leader) and the department."""
    params = _params(conn, now, soon_hours) | {"channel": channel}
    with db.transaction(conn) as cur:
        cur.execute(
            f"""
            WITH d AS ({_OPEN_SQL}),
                 worker AS (SELECT DISTINCT ON (grid_code) grid_code, name FROM grid_staff
                             WHERE role IN ('fulltime', 'leader') ORDER BY grid_code, role = 'fulltime' DESC, id)
            SELECT d.id, d.kind, d.department, d.community, d.deadline, w.name
              FROM d LEFT JOIN worker w USING (grid_code)""",
            params,
        )
        records = cur.fetchall()
        inserted = 0
        for incident_id, kind, department, community, deadline, worker in records:
            who = department + (f"；网格员 {mask_name(worker)}" if worker else "；无网格员 (no grid worker)")
            note = (
                "已超期，请立即办理" if kind == "overdue" else "即将到期，请按时办结"
            ) + f"（时限 {deadline.astimezone(CST):%Y-%m-%d %H:%M}）"
            cur.execute(
                """INSERT INTO reminder (incident_id, sent_at, channel, kind, to_whom, note, admin_code)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (incident_id, sent_on) DO NOTHING""",
                (incident_id, params["now"], channel, kind, who, note, community),
            )
            inserted += cur.rowcount
    return inserted


def reminders(conn, incident_id: int) -> list[dict]:
    return db.rows(conn, "SELECT * FROM reminder WHERE incident_id = %s ORDER BY sent_at, id", (incident_id,))
