"""The operator's desk (事件受理): what the intake page reads and the one way it saves a report.

Why a module of its own: the page must stay free of SQL, and the form's checks (a category
chosen, a point inside the jurisdiction, a photo that really is an image) must run before
anything is written, the same way in a callback and in a test. Creation itself is
geo.incidents.dispatch.create_incident, so a form report is routed exactly like an Open311 one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geo import crs as crs_mod
from geo import db
from geo.incidents import duplicates, lifecycle
from geo.incidents import media as intake_media
from geo.incidents.dispatch import create_incident, route, work_calendar
from geo.incidents.supervision import SOON_WORKING_HOURS
from geo.security.personal import incident_columns
from geo.worktime import add_working_time

COORDINATE_SYSTEMS = ("wgs84", "gcj02")
QUEUE_LIMIT = 200
# Sortable queue columns -> SQL (whitelist: a DataTable's sort_by never reaches SQL as text).
SORTS = {
    "id": "i.id",
    "reported_at": "i.reported_at",
    "deadline": "i.deadline",
    "status": "i.status",
    "title": "i.title",
    "town_name": "t.name",
    "department": "c.department",
    "assigned_to": "i.assigned_to",
    "risk_tier": "array_position(ARRAY['high','medium','low'], i.risk_tier)",
}


class IntakeError(ValueError):
    """A form that cannot be saved as it is; the message says what to fix."""


def categories(conn) -> list[dict]:
    return db.rows(
        conn,
        """SELECT major_code, major_name, minor_code, minor_name, department, time_limit, time_unit
                              FROM category ORDER BY minor_code""",
    )


def towns(conn) -> list[dict]:
    return db.rows(conn, "SELECT code, name FROM admin_unit WHERE level = 'town' ORDER BY code")


def to_wgs84(lon, lat, system: str) -> tuple[float, float]:
    """Typed coordinates in WGS84 (GPS) or GCJ-02 (AMap/Tencent) to WGS84 degrees."""
    if system not in COORDINATE_SYSTEMS:
        raise IntakeError(f"坐标系须为 {'/'.join(COORDINATE_SYSTEMS)} (unknown coordinate system {system!r})")
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise IntakeError("请输入数字经纬度 (lon/lat must be numbers)") from None
    x, y = crs_mod.to_wgs84(lon, lat, system)
    return round(float(x), 7), round(float(y), 7)


def preview(conn, lon: float, lat: float, minor_code: str | None, at: datetime | None = None):
    """(routing, duplicate candidates) for a point not yet saved. Without a category only the
    place half of the routing (grid, staff, community, town) means anything: any category
    stands in, and the page hides department and deadline."""
    at = at or db.scalar(conn, "SELECT now()")
    routing = route(conn, lon, lat, minor_code or _any_category(conn), at)
    dups = duplicates.candidates_at(conn, lon, lat, minor_code, at) if minor_code else []
    return routing, dups


def _any_category(conn) -> str:
    return db.scalar(conn, "SELECT min(minor_code) FROM category") or "0000"


@dataclass(frozen=True)
class Report:
    """What the operator typed; strings as the form holds them."""

    lon: float | None
    lat: float | None
    minor_code: str | None
    description: str | None = None
    address: str | None = None
    people_involved: int | None = 1
    duration_days: int | None = 0
    conflict_intensity: int | None = 0
    behaviour_risk: int | None = 0
    actor: str = "operator"
    merge_into: int | None = None


def submit(conn, report: Report, photo: intake_media.Photo | None = None, base_url: str = "") -> int:
    """Check the form, create and route the incident, store the photo, merge if asked; its id.

    Nothing is written when a check fails (IntakeError / RoutingError)."""
    if not report.minor_code:
        raise IntakeError("请选择事件类别（大类→小类） (choose a category)")
    if report.lon is None or report.lat is None:
        raise IntakeError("请在地图上点选位置或输入经纬度 (click the map or type the coordinates)")
    if report.merge_into:
        duplicates.check_target(conn, int(report.merge_into))
    factors = {
        k: (0 if getattr(report, k) in (None, "") else getattr(report, k))
        for k in ("people_involved", "duration_days", "conflict_intensity", "behaviour_risk")
    }
    incident_id = create_incident(
        conn,
        lon=report.lon,
        lat=report.lat,
        minor_code=report.minor_code,
        actor=report.actor,
        source="operator",
        description=(report.description or "").strip() or None,
        address=(report.address or "").strip() or None,
        **factors,
    )
    if photo is not None:
        name = intake_media.store(incident_id, photo)
        attach_media(conn, incident_id, base_url.rstrip("/") + intake_media.url_path(incident_id, name))
    if report.merge_into:
        duplicates.merge(conn, incident_id, int(report.merge_into), report.actor)
    return incident_id


def attach_media(conn, incident_id: int, url: str) -> None:
    with db.transaction(conn) as cur:
        cur.execute("UPDATE incident SET media_url = %s WHERE id = %s", (url, incident_id))


_DETAIL_SQL = """
    SELECT {columns}, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, c.major_name, c.minor_name, c.department,
           c.time_limit, c.time_unit, cm.name AS community_name, t.code AS town, t.name AS town_name,
           g.name AS grid_name, (i.status = ANY(%(open)s) AND i.deadline < now()) AS overdue
      FROM incident i
      JOIN category c USING (minor_code)
      LEFT JOIN admin_unit cm ON cm.code = i.admin_code
      LEFT JOIN admin_unit t ON t.code = left(i.admin_code, 9)
      LEFT JOIN grid_current g ON g.code = i.grid_code
""".replace("{columns}", incident_columns("i"))  # never i.*: the raw reporter columns are not granted


def incident(conn, incident_id: int) -> dict | None:
    """One incident with its place, category, department and overdue flag (no geometry object)."""
    row = db.one(conn, _DETAIL_SQL + " WHERE i.id = %(id)s", {"id": int(incident_id), "open": sorted(lifecycle.OPEN_STATUSES)})
    if row:
        row.pop("geom", None)
    return row


def find_incident(conn, text) -> int | None:
    """The incident a user typed: an external ticket number (工单编号, kept by imports) first,
    since those are often digits too, else our own id. None if neither is visible."""
    value = str(text or "").strip()
    if not value:
        return None
    found = db.scalar(conn, "SELECT id FROM incident WHERE external_id = %s", (value,))
    if found is None and value.isdigit() and len(value) < 18:
        found = db.scalar(conn, "SELECT id FROM incident WHERE id = %s", (int(value),))
    return found


_QUEUE_WHERE = """
         WHERE (%(statuses)s::text[] IS NULL OR i.status = ANY(%(statuses)s))
           AND (%(town)s::text IS NULL OR left(i.admin_code, 9) = %(town)s)
           AND (%(due)s::text IS NULL OR (i.status = ANY(%(open)s) AND CASE WHEN %(due)s = 'overdue'
                THEN i.deadline < %(now)s ELSE i.deadline >= %(now)s AND i.deadline < %(soon)s END))"""


def _queue_params(conn, statuses, town, due, now) -> dict:
    if due not in (None, "", "overdue", "due_soon"):
        raise ValueError("due must be 'overdue' or 'due_soon'")
    now = now or db.scalar(conn, "SELECT now()")
    soon = add_working_time(now, SOON_WORKING_HOURS, "working_hours", **work_calendar(conn))
    return {
        "statuses": statuses or None,
        "town": town or None,
        "due": due or None,
        "now": now,
        "soon": soon,
        "open": sorted(lifecycle.OPEN_STATUSES),
    }


def queue(
    conn,
    statuses: list[str] | None = None,
    town: str | None = None,
    due: str | None = None,
    sort: list[dict] | None = None,
    limit: int = QUEUE_LIMIT,
    now: datetime | None = None,
    offset: int = 0,
) -> list[dict]:
    """The work queue: incidents filtered by status, town and 督办 state ('overdue' or
    'due_soon': open and due within SOON_WORKING_HOURS working hours), newest first unless
    `sort` (DataTable sort_by: [{'column_id', 'direction'}]) says otherwise; one page of
    `limit` rows from `offset` (queue_count says how many there are in all)."""
    params = _queue_params(conn, statuses, town, due, now)
    order = [
        f"{SORTS[s['column_id']]} {'DESC' if s.get('direction') == 'desc' else 'ASC'} NULLS LAST"
        for s in (sort or [])
        if s.get("column_id") in SORTS
    ] or ["i.reported_at DESC"]
    return db.rows(
        conn,
        f"""
        SELECT i.id, i.title, i.status, i.reported_at, i.deadline, i.risk_tier, i.source, c.department, i.assigned_to,
               t.name AS town_name, cm.name AS community_name,
               (i.status = ANY(%(open)s) AND i.deadline < %(now)s) AS overdue
          FROM incident i
          JOIN category c USING (minor_code)
          LEFT JOIN admin_unit cm ON cm.code = i.admin_code
          LEFT JOIN admin_unit t ON t.code = left(i.admin_code, 9)
          {_QUEUE_WHERE}
         ORDER BY {", ".join(order)}, i.id DESC
         LIMIT %(limit)s OFFSET %(offset)s""",
        dict(params, limit=int(limit), offset=max(int(offset), 0)),
    )


def queue_count(conn, statuses=None, town=None, due=None, now: datetime | None = None) -> int:
    """How many incidents the work queue's filters match, on every page together."""
    return db.scalar(conn, f"SELECT count(*) FROM incident i {_QUEUE_WHERE}", _queue_params(conn, statuses, town, due, now))
