"""Duplicate reports: the same problem reported twice (a patrol and a resident, two
neighbours, the hotline and the mini-program) must become one case, or two departments
work on it and the statistics double.

A candidate is an open incident of the same minor category (or, if asked, the same major
one) within RADIUS_M metres and WINDOW_HOURS hours, ranked by distance then time; the
operator decides, and `merge` cancels the duplicate with a link to the case kept.
"""

from __future__ import annotations

from geo import db
from geo.incidents import lifecycle

RADIUS_M = 100.0
WINDOW_HOURS = 72.0


def candidates(
    conn, incident_id: int, radius_m: float = RADIUS_M, window_hours: float = WINDOW_HOURS, same: str = "minor", limit: int = 10
) -> list[dict]:
    """Open incidents that may be the same case as `incident_id`, nearest first."""
    row = db.one(
        conn, "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, minor_code, reported_at FROM incident WHERE id = %s", (incident_id,)
    )
    if row is None:
        raise ValueError(f"事件不存在 incident #{incident_id} does not exist")
    return candidates_at(conn, **row, radius_m=radius_m, window_hours=window_hours, same=same, limit=limit, exclude=incident_id)


def candidates_at(
    conn,
    lon: float,
    lat: float,
    minor_code: str,
    reported_at,
    radius_m: float = RADIUS_M,
    window_hours: float = WINDOW_HOURS,
    same: str = "minor",
    limit: int = 10,
    exclude: int | None = None,
) -> list[dict]:
    """Open incidents that a report not yet saved (the operator's form) may duplicate."""
    if same not in ("minor", "major"):
        raise ValueError("same must be 'minor' or 'major'")
    return db.rows(
        conn,
        """WITH n AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g)
           SELECT o.id, o.title, o.minor_code, o.status, o.reported_at, o.grid_code,
                  round(ST_Distance(n.g, o.geom::geography)::numeric, 1)::float AS distance_m,
                  round(abs(extract(epoch FROM o.reported_at - %(at)s::timestamptz)) / 3600.0, 1)::float AS hours_apart
             FROM incident o, n
            WHERE ST_DWithin(n.g, o.geom::geography, %(radius)s)
              AND o.reported_at BETWEEN %(at)s::timestamptz - make_interval(secs => %(window)s * 3600)
                                    AND %(at)s::timestamptz + make_interval(secs => %(window)s * 3600)
              AND (CASE WHEN %(same)s = 'major' THEN left(o.minor_code, 2) = left(%(code)s, 2)
                        ELSE o.minor_code = %(code)s END)
              AND o.status = ANY(%(open)s) AND o.merged_into IS NULL
              AND o.id IS DISTINCT FROM %(exclude)s
            ORDER BY distance_m, hours_apart, o.id
            LIMIT %(limit)s""",
        {
            "lon": float(lon),
            "lat": float(lat),
            "at": reported_at,
            "code": str(minor_code),
            "radius": float(radius_m),
            "window": float(window_hours),
            "same": same,
            "open": sorted(lifecycle.OPEN_STATUSES),
            "limit": int(limit),
            "exclude": exclude,
        },
    )


def check_target(conn, into_id: int) -> None:
    """Refuse (TransitionRefused) a merge target this account cannot see or that is cancelled,
    before the new report is written: a save refused by its merge must leave nothing behind
    (the operator saves again, and a first copy would be a duplicate of its own)."""
    _refuse_target(into_id, db.one(conn, "SELECT id, status, merged_into FROM incident WHERE id = %s", (into_id,)))


def _refuse_target(into_id: int, target) -> None:
    if target is None:
        raise lifecycle.TransitionRefused(f"事件不存在 incident #{into_id} does not exist")
    status, merged_into = (target["status"], target["merged_into"]) if isinstance(target, dict) else (target[1], target[2])
    if status == "cancelled":
        raise lifecycle.TransitionRefused(
            f"不能合并到已撤销的事件 #{into_id} (it is cancelled" + (f", merged into #{merged_into})" if merged_into else ")")
        )


def merge(conn, duplicate_id: int, into_id: int, actor: str) -> dict:
    """Cancel `duplicate_id` as a duplicate of `into_id` (history note "合并至 #id"); returns the duplicate's row."""
    if duplicate_id == into_id:
        raise lifecycle.TransitionRefused(f"不能合并到自身 incident #{duplicate_id} cannot be merged into itself")
    with db.transaction(conn) as cur:
        cur.execute("SELECT id, status, merged_into FROM incident WHERE id = %s FOR UPDATE", (into_id,))
        _refuse_target(into_id, cur.fetchone())
        row = lifecycle.apply_transition(
            cur, duplicate_id, "cancelled", actor, note=f"合并至 #{into_id} (merged into #{into_id})"
        )
        cur.execute("UPDATE incident SET merged_into = %s WHERE id = %s", (into_id, duplicate_id))
        row["merged_into"] = into_id
    return row
