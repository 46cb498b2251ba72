"""The numbers of the big screen, each one query in PostGIS.

Incident counts read the daily aggregate `incident_daily` (migration 0018, kept current by
statement triggers), so a refresh costs in proportion to days x grids, not to incidents;
rolling windows take their partial first day from `incident` (incident_counts_since), so
every figure equals the count over raw incidents exactly.

Definitions (the tests recompute each from these words):
- today / this month: incidents reported since local midnight / the first of the month (CST);
- open (在办): not closed, followed up or cancelled; overdue (超期督办): open and past deadline;
- resolution rate (化解率): disputes reported in the last 365 days, not cancelled, that are
  closed or followed up;
- "小事不出村": of the incidents resolved in the last 365 days, the share handled at
  village/community level;
- coverage: share of the jurisdiction's area inside at least one current official grid;
- full-time staffing: share of urban grids with a 专职网格员 (rural grids are staffed by
  part-time workers by design, so they are reported apart).

Everything is scoped by an administrative code prefix (`scope`), so a town's screen shows
only its town; the default is the whole database.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from geo import db
from geo.lifecycle import OPEN_STATUSES, RESOLVED_STATUSES
from geo.worktime import CST

OPEN = tuple(sorted(OPEN_STATUSES))
RESOLVED = RESOLVED_STATUSES

_coverage_cache: dict[tuple, float] = {}


def versions(conn) -> dict[str, int]:
    return {r["name"]: r["version"] for r in db.rows(conn, "SELECT name, version FROM data_version")}


def jurisdiction(conn) -> dict:
    row = db.one(conn, """
        SELECT j.code, j.name, j.metric_srid,
               ST_XMin(b) AS xmin, ST_YMin(b) AS ymin, ST_XMax(b) AS xmax, ST_YMax(b) AS ymax,
               (SELECT value FROM setting WHERE key = 'demo') IS NOT NULL AS synthetic
          FROM jurisdiction j
          LEFT JOIN LATERAL (SELECT ST_Extent(geom)::geometry AS b FROM admin_unit WHERE code = j.code) e ON true
         LIMIT 1""")
    return row or {"code": "", "name": "", "xmin": None, "synthetic": False}


def kpis(conn, scope: str = "", now: datetime | None = None) -> dict:
    now = now or datetime.now(CST)
    today = now.astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    year_ago = now - timedelta(days=365)
    params = dict(scope=scope + "%", now=now, today=today, month=month, year_ago=year_ago,
                  open=list(OPEN), resolved=list(RESOLVED))
    # Counts come from the daily aggregate incident_daily (migration 0018; today and this
    # month start at local midnight, so whole days suffice); "open" and "overdue" depend on
    # the clock, not on writes, so they read the open rows (partial index incident_open_idx).
    params.update(today_day=today.date(), month_day=month.date())
    row = db.one(conn, """
        SELECT COALESCE(sum(n) FILTER (WHERE day >= %(today_day)s), 0)::bigint AS today, COALESCE(sum(n), 0)::bigint AS month
          FROM incident_daily WHERE day >= %(month_day)s AND admin_code LIKE %(scope)s""", params)
    row.update(db.one(conn, """
        SELECT count(*) AS open, count(*) FILTER (WHERE deadline < %(now)s) AS overdue
          FROM incident
         WHERE closed_at IS NULL AND status <> 'cancelled' AND status = ANY(%(open)s)
           AND admin_code LIKE %(scope)s""", params))
    rate = db.one(conn, """
        SELECT sum(d.n) FILTER (WHERE d.bucket = 'resolved')::float / nullif(sum(d.n), 0) AS rate
          FROM incident_counts_since(%(year_ago)s) d JOIN category c USING (minor_code)
         WHERE c.is_dispute AND d.bucket <> 'cancelled' AND d.admin_code LIKE %(scope)s""", params)
    levels = level_shares(conn, scope, now)
    grids = db.one(conn, """
        SELECT count(*) FILTER (WHERE g.kind = 'urban') AS urban,
               count(*) FILTER (WHERE g.kind = 'urban' AND EXISTS (
                   SELECT 1 FROM grid_staff s WHERE s.grid_code = g.code AND s.role = 'fulltime')) AS urban_fulltime,
               count(*) AS total,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM grid_staff s WHERE s.grid_code = g.code AND s.role = 'fulltime')) AS fulltime
          FROM grid_current g WHERE g.admin_code LIKE %(scope)s""", params)
    high = db.scalar(conn, """SELECT count(*) FROM grid_risk r JOIN grid_current g ON g.code = r.grid_code
                              WHERE r.tier = 'high' AND g.admin_code LIKE %(scope)s""", params)
    return dict(
        today=row["today"], month=row["month"], open=row["open"], overdue=row["overdue"],
        resolution_rate=rate["rate"], village_share=levels.get("community"),
        high_risk_grids=high, coverage=coverage_share(conn, scope),
        fulltime_urban=(grids["urban_fulltime"] / grids["urban"]) if grids["urban"] else None,
        fulltime_all=(grids["fulltime"] / grids["total"]) if grids["total"] else None,
    )


def level_shares(conn, scope: str = "", now: datetime | None = None) -> dict[str, float]:
    now = now or datetime.now(CST)
    rows = db.rows(conn, """
        SELECT level_handled AS level, sum(n)::float / sum(sum(n)) OVER () AS share
          FROM incident_counts_since(%(since)s)
         WHERE bucket = 'resolved' AND admin_code LIKE %(scope)s AND level_handled <> ''
         GROUP BY level_handled""", dict(since=now - timedelta(days=365), scope=scope + "%"))
    return {r["level"]: r["share"] for r in rows}


def coverage_share(conn, scope: str = "") -> float | None:
    """Covered share of the scope's area; the union is costly, so it is kept per grid version."""
    key = (scope, db.scalar(conn, "SELECT version FROM data_version WHERE name = 'grid'"), conn.dsn, db.scope_key())
    if key not in _coverage_cache:
        _coverage_cache[key] = db.scalar(conn, """
            WITH area AS (
                SELECT ST_Union(geom) AS geom FROM admin_unit
                 WHERE level = (CASE WHEN length(%(scope)s) >= 12 THEN 'community'
                                     WHEN length(%(scope)s) = 9 THEN 'town' ELSE 'district' END)
                   AND code LIKE %(prefix)s)
            SELECT ST_Area(ST_Intersection(area.geom, (SELECT ST_Union(geom) FROM grid_current WHERE geom && area.geom))::geography)
                   / nullif(ST_Area(area.geom::geography), 0)
              FROM area""", dict(scope=scope, prefix=scope + "%"))
    return _coverage_cache[key]


def by_category(conn, scope: str = "", days: int = 30, now: datetime | None = None) -> list[dict]:
    now = now or datetime.now(CST)
    return db.rows(conn, """
        SELECT c.major_code, c.major_name, sum(d.n)::bigint AS n
          FROM incident_counts_since(%(since)s) d JOIN category c USING (minor_code)
         WHERE d.admin_code LIKE %(scope)s
         GROUP BY c.major_code, c.major_name ORDER BY n DESC, c.major_code""",
                   dict(since=now - timedelta(days=days), scope=scope + "%"))


def trend(conn, scope: str = "", days: int = 30, now: datetime | None = None) -> list[dict]:
    """Daily counts (disputes and other events) for the last `days` local days, zeros included."""
    now = now or datetime.now(CST)
    first = (now.astimezone(CST) - timedelta(days=days - 1)).date()
    return db.rows(conn, """
        SELECT d::date AS day,
               COALESCE(sum(i.n) FILTER (WHERE c.is_dispute), 0)::bigint AS disputes,
               COALESCE(sum(i.n) FILTER (WHERE NOT c.is_dispute), 0)::bigint AS events
          FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d
          LEFT JOIN incident_daily i ON i.day = d::date AND i.day >= %(first)s AND i.day <= %(last)s
                                     AND i.admin_code LIKE %(scope)s
          LEFT JOIN category c ON c.minor_code = i.minor_code
         GROUP BY d ORDER BY d""",
                   dict(first=first, last=now.astimezone(CST).date(), scope=scope + "%"))


def town_ranking(conn, scope: str = "", days: int = 90, now: datetime | None = None) -> list[dict]:
    """Towns/streets by resolution rate (化解率) of the window's incidents, then by volume."""
    now = now or datetime.now(CST)
    return db.rows(conn, """
        WITH n AS (
            SELECT left(admin_code, 9) AS town, sum(n) AS found,
                   sum(n) FILTER (WHERE bucket = 'resolved') AS resolved,
                   sum(n) FILTER (WHERE bucket <> 'cancelled') AS valid
              FROM incident_counts_since(%(since)s) WHERE admin_code LIKE %(scope)s GROUP BY 1
        ), o AS (   -- overdue depends on the clock: the open rows themselves
            SELECT left(admin_code, 9) AS town, count(*) AS overdue FROM incident
             WHERE status = ANY(%(open)s) AND deadline < %(now)s AND reported_at >= %(since)s
               AND admin_code LIKE %(scope)s GROUP BY 1
        )
        SELECT t.code, t.name, COALESCE(n.found, 0)::bigint AS found,
               n.resolved::float / nullif(n.valid, 0) AS rate, COALESCE(o.overdue, 0) AS overdue
          FROM admin_unit t LEFT JOIN n ON n.town = t.code LEFT JOIN o ON o.town = t.code
         WHERE t.level = 'town' AND t.code LIKE %(scope)s
         ORDER BY rate DESC NULLS LAST, found DESC, t.code""",
                   dict(resolved=list(RESOLVED), open=list(OPEN), now=now, since=now - timedelta(days=days),
                        scope=scope + "%"))


def feed(conn, scope: str = "", after_id: int = 0, limit: int = 20) -> list[dict]:
    """Newest incidents (ids above `after_id`), newest first, with where they are."""
    return db.rows(conn, """
        SELECT i.id, i.title, i.reported_at, i.status, i.source, i.risk_tier, i.grid_code,
               coalesce(c.name, '') AS community, coalesce(t.name, '') AS town
          FROM incident i
          LEFT JOIN admin_unit c ON c.code = i.admin_code
          LEFT JOIN admin_unit t ON t.code = left(i.admin_code, 9)
         WHERE i.id > %(after)s AND i.admin_code LIKE %(scope)s
         ORDER BY i.id DESC LIMIT %(limit)s""", dict(after=after_id, scope=scope + "%", limit=limit))


def grid_card(conn, code: str) -> dict | None:
    """What the operator sees on clicking a grid: who, how many, what is open, and why its tier."""
    grid = db.one(conn, """
        SELECT g.code, g.name, g.kind, g.household_standard, c.name AS community, t.name AS town,
               (SELECT count(*) FROM household h WHERE h.grid_code = g.code) AS households,
               (SELECT coalesce(sum(persons), 0) FROM household h WHERE h.grid_code = g.code) AS persons,
               (SELECT count(*) FROM incident i WHERE i.grid_code = g.code AND i.status = ANY(%(open)s)) AS open,
               (SELECT count(*) FROM incident i WHERE i.grid_code = g.code AND i.status = ANY(%(open)s)
                   AND i.deadline < now()) AS overdue,
               r.tier, r.score, r.reasons
          FROM grid_current g
          LEFT JOIN admin_unit c ON c.code = g.admin_code
          LEFT JOIN admin_unit t ON t.code = c.parent_code
          LEFT JOIN grid_risk r ON r.grid_code = g.code
         WHERE g.code = %(code)s""", dict(code=code, open=list(OPEN)))
    if grid is None:
        return None
    grid["staff"] = db.rows(conn, """
        SELECT role, name, phone FROM grid_staff WHERE grid_code = %s
         ORDER BY array_position(ARRAY['leader', 'fulltime', 'parttime', 'mobile'], role), id""", (code,))
    return grid
