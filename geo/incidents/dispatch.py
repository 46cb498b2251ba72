"""Where a new incident goes: its grid, the grid's workers, community and town (by location)
and the responsible department and deadline (by category); and the one way to create an
incident, shared by Open311, the CLI and the operator form.

Why one creator: validation, routing, the row and the first history entry must happen in
one transaction whatever the channel, or the big screen would show incidents without a
grid, a deadline or an audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from geo import db
from geo.incidents import lifecycle
from geo.labels import t
from geo.security.masking import mask_phone
from geo.worktime import add_working_time

SOURCES = ("patrol", "resident", "hotline", "police", "open311", "operator", "import")
ROLE_ORDER = ("leader", "fulltime", "parttime", "mobile")
MAX_DESCRIPTION = 4000


class RoutingError(ValueError):
    """Bad input for a new incident (outside the jurisdiction, unknown category...)."""


@dataclass(frozen=True)
class Routing:
    grid_code: str | None
    grid_name: str | None
    community: str  # 12-digit code
    community_name: str
    town: str | None  # 9-digit code
    town_name: str | None
    staff: list[dict] = field(default_factory=list)  # role, name, phone (masked)
    department: str = ""
    time_limit: int = 0
    time_unit: str = "working_days"
    deadline: datetime | None = None


def route(conn, lon: float, lat: float, minor_code: str, reported_at: datetime) -> Routing:
    """The grid and department responsible for an incident at (lon, lat), WGS84."""
    lon, lat = _coordinates(lon, lat)
    cat = db.one(conn, "SELECT department, time_limit, time_unit FROM category WHERE minor_code = %s", (str(minor_code),))
    if cat is None:
        raise RoutingError(f"未知事件类别 unknown category {minor_code!r} (4-digit minor code, see table category)")
    place = db.one(
        conn,
        """WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS geom),
                g AS (SELECT g.code, g.name, g.admin_code FROM grid_current g, p
                       WHERE ST_Intersects(g.geom, p.geom) ORDER BY g.code LIMIT 1),
                c AS (SELECT a.code FROM admin_unit a, p
                       WHERE a.level = 'community' AND ST_Intersects(a.geom, p.geom) ORDER BY a.code LIMIT 1)
           SELECT g.code AS grid_code, g.name AS grid_name, cm.code AS community, cm.name AS community_name,
                  t.code AS town, t.name AS town_name
             FROM (SELECT 1) one
             LEFT JOIN g ON true
             LEFT JOIN admin_unit cm ON cm.code = COALESCE(g.admin_code, (SELECT code FROM c))
             LEFT JOIN admin_unit t ON t.code = cm.parent_code""",
        {"lon": lon, "lat": lat},
    )
    if place["community"] is None:
        name = db.scalar(conn, "SELECT string_agg(name, '、') FROM jurisdiction") or "本辖区"
        raise RoutingError(f"坐标 ({lon:.6f}, {lat:.6f}) 不在{name}辖区内 (the point is outside the jurisdiction)")
    staff = (
        db.rows(
            conn,
            """SELECT role, name, phone FROM grid_staff WHERE grid_code = %s
            ORDER BY array_position(%s::text[], role), id""",
            (place["grid_code"], list(ROLE_ORDER)),
        )
        if place["grid_code"]
        else []
    )
    for s in staff:
        s["phone"] = mask_phone(s["phone"])
    deadline = add_working_time(reported_at, cat["time_limit"], cat["time_unit"], **work_calendar(conn))
    return Routing(staff=staff, deadline=deadline, **place, **cat)


def work_calendar(conn) -> dict[str, list[date]]:
    """Holidays and make-up working days (调休) from setting 'work_calendar', if configured:
    {"holidays": ["2026-10-01", ...], "workdays": ["2026-09-27", ...]}."""
    value = db.scalar(conn, "SELECT value FROM setting WHERE key = 'work_calendar'") or {}
    return {k: [date.fromisoformat(d) for d in value.get(k, [])] for k in ("holidays", "workdays")}


def create_incident(
    conn,
    *,
    lon: float,
    lat: float,
    minor_code: str,
    actor: str,
    source: str = "operator",
    description: str | None = None,
    title: str | None = None,
    reported_at: datetime | None = None,
    people_involved: int = 1,
    duration_days: int = 0,
    conflict_intensity: int = 0,
    behaviour_risk: int = 0,
    address: str | None = None,
    reporter_name: str | None = None,
    reporter_phone: str | None = None,
    reporter_email: str | None = None,
    media_url: str | None = None,
    note: str | None = None,
) -> int:
    """Validate, route and insert a new incident with its first history row; returns its id."""
    if not actor or not str(actor).strip():
        raise RoutingError("必须注明录入人 an actor is required")
    if source not in SOURCES:
        raise RoutingError(f"未知来源 unknown source {source!r}; sources: {', '.join(SOURCES)}")
    factors = {
        "people_involved": _int_in(people_involved, "people_involved 涉事人数", 0, 100_000),
        "duration_days": _int_in(duration_days, "duration_days 持续天数", 0, 36_500),
        "conflict_intensity": _int_in(conflict_intensity, "conflict_intensity 冲突程度", 0, 3),
        "behaviour_risk": _int_in(behaviour_risk, "behaviour_risk 当事人行为风险", 0, 3),
    }
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise RoutingError(f"描述过长 description longer than {MAX_DESCRIPTION} characters")
    if media_url and not str(media_url).lower().startswith(("http://", "https://")):
        raise RoutingError("media_url 须为 http(s) 地址 (media_url must be an http(s) URL)")
    with db.transaction(conn) as cur:
        when = reported_at or db.scalar(conn, "SELECT now()")
        if when.tzinfo is None:
            raise RoutingError("reported_at must carry a time zone")
        r = route(conn, lon, lat, minor_code, when)
        name = db.scalar(conn, "SELECT minor_name FROM category WHERE minor_code = %s", (str(minor_code),))
        cur.execute(
            """INSERT INTO incident (title, description, minor_code, source, reported_at, people_involved,
                                     duration_days, conflict_intensity, behaviour_risk, status, deadline,
                                     address, reporter_name, reporter_phone, reporter_email, media_url,
                                     grid_code, admin_code, geom)
               VALUES (%(title)s, %(description)s, %(minor_code)s, %(source)s, %(reported_at)s, %(people_involved)s,
                       %(duration_days)s, %(conflict_intensity)s, %(behaviour_risk)s, 'received', %(deadline)s,
                       %(address)s, %(reporter_name)s, %(reporter_phone)s, %(reporter_email)s, %(media_url)s,
                       %(grid_code)s, %(admin_code)s, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))
               RETURNING id""",
            dict(
                factors,
                title=(title or name)[:200],
                description=description,
                minor_code=str(minor_code),
                source=source,
                reported_at=when,
                deadline=r.deadline,
                address=address,
                reporter_name=reporter_name,
                reporter_phone=reporter_phone,
                reporter_email=reporter_email,
                media_url=media_url,
                grid_code=r.grid_code,
                admin_code=r.community,
                lon=float(lon),
                lat=float(lat),
            ),
        )
        incident_id = cur.fetchone()[0]
        # the source in words, as the detail shows it (the code read "来源 operator" in a Chinese history)
        cur.execute(
            """INSERT INTO incident_history (incident_id, from_status, to_status, at, actor, note, admin_code)
               VALUES (%s, NULL, 'received', %s, %s, %s, %s)""",
            (incident_id, when, actor.strip(), note or f"来源 {t('source.' + source)}；责任单位 {r.department}", r.community),
        )
    return incident_id


def level_shares(conn, start: datetime, end: datetime) -> list[dict]:
    """Share of incidents resolved (closed in [start, end)) at each level: 小事不出村、大事不出乡.

    Kongtong reports 97.2% at village/community level and 2.3% at town/street level."""
    counts = {
        r["level_handled"]: r["n"]
        for r in db.rows(
            conn,
            """SELECT level_handled, count(*) AS n FROM incident
            WHERE closed_at >= %s AND closed_at < %s AND status IN ('closed', 'followed_up')
            GROUP BY 1""",
            (start, end),
        )
    }
    total = sum(counts.values())
    return [
        {
            "level": lv,
            "label": lifecycle.LEVEL_LABELS[lv],
            "resolved": counts.get(lv, 0),
            "share": counts.get(lv, 0) / total if total else None,
        }
        for lv in lifecycle.LEVELS
    ]


def is_overdue(status: str, deadline: datetime | None, now: datetime) -> bool:
    """Overdue (超期, to be 督办) = still open and past its deadline."""
    return status in lifecycle.OPEN_STATUSES and deadline is not None and deadline < now


def _coordinates(lon: Any, lat: Any) -> tuple[float, float]:
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise RoutingError(f"经纬度须为数字 lon/lat must be numbers, not {lon!r}, {lat!r}") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise RoutingError(f"经纬度越界 lon/lat out of range: ({lon}, {lat}); WGS84 degrees, lon first")
    return lon, lat


def _int_in(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RoutingError(f"{name} 须为整数 must be an integer, not {value!r}") from None
    if str(value).strip() not in (str(number), f"{number}.0") and not isinstance(value, int):
        raise RoutingError(f"{name} 须为整数 must be an integer, not {value!r}")
    if not low <= number <= high:
        raise RoutingError(f"{name} 须在 {low}-{high} 之间 must be between {low} and {high}, not {number}")
    return number
