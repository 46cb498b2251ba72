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

from datetime import date, datetime, timedelta, timezone

import numpy as np

from geo import db
from geo.lifecycle import OPEN_STATUSES, RESOLVED_STATUSES
from geo.memo import LRU
from geo.worktime import CST

OPEN = tuple(sorted(OPEN_STATUSES))
RESOLVED = RESOLVED_STATUSES

_coverage_cache: dict[tuple, float] = {}

# Whole-day counts cached in-process (issue #8): at city scale a year of incident_daily is
# about two million rows (0.27 incidents per grid-day does not compress), so a panel costs
# seconds cold. Whole local days cannot change without a write, and every write bumps a
# data version, so the whole-day part of a window is cached under (every data version,
# the category fingerprint, database, role scope, scope, days); the partial first day of a
# rolling window and everything that depends on the clock (open, overdue) are read live.
# A refresh of an unchanged screen therefore reads only the edge day; the first refresh
# after a write pays the full scan once per process.
_cache = LRU(256)

# Dimensions a windowed count can be grouped by: the expression on incident_daily (d, with
# category c) and the same on incident (i, with category c) for the live edge day. Only
# these fixed expressions are ever spliced into SQL; every value is a bound parameter.
_DIMS = {
    "town": ("left(d.admin_code, 9)", "left(i.admin_code, 9)"),
    "bucket": ("d.bucket", "incident_bucket(i.status)"),
    "level": ("d.level_handled", "COALESCE(i.level_handled, '')"),
    "major": ("c.major_code", "c.major_code"),
    "major_name": ("c.major_name", "c.major_name"),
    "dispute": ("c.is_dispute", "c.is_dispute"),
}


# The year's counts behind both the resolution rate and the level shares: one scan, one entry.
_YEAR_DIMS = ("dispute", "bucket", "level")


def _database(conn) -> tuple:
    """Which database a connection reads: a pooled connection and a direct one to the same
    database share cached counts (the role's scope is keyed apart, by db.scope_key)."""
    return (conn.info.host, conn.info.port, conn.info.dbname, conn.info.user)


def _state(conn) -> tuple:
    """Everything a cached count depends on besides its own arguments."""
    row = db.one(conn, """
        SELECT (SELECT array_agg(name || '=' || version ORDER BY name) FROM data_version) AS v,
               (SELECT md5(string_agg(minor_code || major_code || major_name || is_dispute::text, ',' ORDER BY minor_code))
                  FROM category) AS c""")
    return (tuple(row["v"] or ()), row["c"], _database(conn), db.scope_key())


def _cached(conn, key: tuple, compute):
    return _cache.get(key + _state(conn), compute)


def clear_cache() -> None:
    _cache.clear()


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NO_DEADLINE = np.iinfo(np.int64).max  # NULL deadline: never "deadline < now"


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def _open_rows(conn, scope: str) -> dict:
    """The open incidents (status in OPEN) of a scope as arrays: town, not closed, deadline
    and report time in microseconds. Which rows are open changes only with a write; whether
    one is overdue changes with the clock, so "overdue" is counted from these arrays against
    the caller's `now` (exact) instead of re-reading the rows on every refresh."""
    def compute():   # an index-only scan of incident_open_rows_idx (migration 0023)
        rows = db.rows(conn, """
            SELECT left(admin_code, 9) AS town, array_agg(closed_at IS NULL) AS unclosed,
                   array_agg((extract(epoch FROM deadline) * 1000000)::bigint) AS deadline,
                   array_agg((extract(epoch FROM reported_at) * 1000000)::bigint) AS reported
              FROM incident WHERE status = ANY(%(open)s) AND admin_code LIKE %(scope)s GROUP BY 1 ORDER BY 1""",
                       dict(open=list(OPEN), scope=scope + "%"))
        def column(key, dtype, none=None):
            parts = [np.array([none if v is None else v for v in r[key]] if none is not None else r[key], dtype=dtype)
                     for r in rows]
            return np.concatenate(parts) if parts else np.zeros(0, dtype)

        return dict(towns=[r["town"] for r in rows],
                    town_idx=np.repeat(np.arange(len(rows)), [len(r["unclosed"]) for r in rows]).astype(np.int64),
                    unclosed=column("unclosed", bool), deadline=column("deadline", np.int64, _NO_DEADLINE),
                    reported=column("reported", np.int64))
    return _cached(conn, ("open", scope), compute)


def counts_since(conn, scope: str, since: datetime, dims: tuple[str, ...]) -> dict[tuple, int]:
    """Incidents reported at or after `since`, counted by `dims` (keys of _DIMS): the whole
    local days after since's day from incident_daily (cached), since's own partial day from
    incident (live), exactly as incident_counts_since (migration 0018) splits them."""
    first = since.astimezone(CST).date()
    cat = any(d in ("major", "major_name", "dispute") for d in dims)
    params = dict(first=first, since=since, scope=scope + "%")

    def whole():
        cols = ", ".join(f"{_DIMS[d][0]} AS {d}" for d in dims)
        rows = db.rows(conn, f"""
            SELECT {cols}, sum(d.n)::bigint AS n FROM incident_daily d
                   {"JOIN category c USING (minor_code)" if cat else ""}
             WHERE d.day > %(first)s AND d.admin_code LIKE %(scope)s GROUP BY {", ".join(dims)}""", params)
        return {tuple(r[d] for d in dims): r["n"] for r in rows}

    out = dict(_cached(conn, ("since", scope, first, dims), whole))
    cols = ", ".join(f"{_DIMS[d][1]} AS {d}" for d in dims)
    for r in db.rows(conn, f"""
            SELECT {cols}, count(*) AS n FROM incident i {"JOIN category c USING (minor_code)" if cat else ""}
             WHERE i.reported_at >= %(since)s AND i.reported_at < incident_day_start(incident_day(%(since)s) + 1)
               AND i.admin_code LIKE %(scope)s GROUP BY {", ".join(dims)}""", params):
        k = tuple(r[d] for d in dims)
        out[k] = out.get(k, 0) + r["n"]
    return out


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
    # the clock, not on writes, so they are counted against `now` from the open rows, read
    # once per data version (_open_rows, covering index incident_open_rows_idx of 0023).
    params.update(today_day=today.date(), month_day=month.date())
    row = dict(_cached(conn, ("days", scope, params["month_day"], params["today_day"]), lambda: db.one(conn, """
        SELECT COALESCE(sum(n) FILTER (WHERE day >= %(today_day)s), 0)::bigint AS today, COALESCE(sum(n), 0)::bigint AS month
          FROM incident_daily WHERE day >= %(month_day)s AND admin_code LIKE %(scope)s""", params)))
    # open: not closed, not cancelled (OPEN excludes it), status open; overdue: also past deadline
    o = _open_rows(conn, scope)
    row.update(open=int(o["unclosed"].sum()), overdue=int((o["unclosed"] & (o["deadline"] < _us(now))).sum()))
    by = counts_since(conn, scope, year_ago, _YEAR_DIMS)
    valid = [n for (dispute, bucket, _), n in by.items() if dispute and bucket != "cancelled"]
    resolved = [n for (dispute, bucket, _), n in by.items() if dispute and bucket == "resolved"]
    rate = {"rate": (sum(resolved) / sum(valid)) if resolved and sum(valid) else None}
    levels = level_shares(conn, scope, now)
    grids = _cached(conn, ("grids", scope), lambda: db.one(conn, """
        SELECT count(*) FILTER (WHERE g.kind = 'urban') AS urban,
               count(*) FILTER (WHERE g.kind = 'urban' AND EXISTS (
                   SELECT 1 FROM grid_staff s WHERE s.grid_code = g.code AND s.role = 'fulltime')) AS urban_fulltime,
               count(*) AS total,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM grid_staff s WHERE s.grid_code = g.code AND s.role = 'fulltime')) AS fulltime
          FROM grid_current g WHERE g.admin_code LIKE %(scope)s""", params))
    high = _cached(conn, ("high", scope), lambda: db.scalar(conn, """
        SELECT count(*) FROM grid_risk r JOIN grid_current g ON g.code = r.grid_code
         WHERE r.tier = 'high' AND g.admin_code LIKE %(scope)s""", params))
    return dict(
        today=row["today"], month=row["month"], open=row["open"], overdue=row["overdue"],
        resolution_rate=rate["rate"], village_share=levels.get("community"),
        high_risk_grids=high, coverage=coverage_share(conn, scope),
        fulltime_urban=(grids["urban_fulltime"] / grids["urban"]) if grids["urban"] else None,
        fulltime_all=(grids["fulltime"] / grids["total"]) if grids["total"] else None,
    )


def level_shares(conn, scope: str = "", now: datetime | None = None) -> dict[str, float]:
    now = now or datetime.now(CST)
    by = counts_since(conn, scope, now - timedelta(days=365), _YEAR_DIMS)
    levels: dict[str, int] = {}
    for (_, bucket, level), n in by.items():
        if bucket == "resolved" and level != "":
            levels[level] = levels.get(level, 0) + n
    total = sum(levels.values())
    return {level: n / total for level, n in levels.items()}


def coverage_share(conn, scope: str = "") -> float | None:
    """Covered share of the scope's area; the union is costly, so it is kept per grid version."""
    key = (scope, db.scalar(conn, "SELECT version FROM data_version WHERE name = 'grid'"), _database(conn), db.scope_key())
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
    by = counts_since(conn, scope, now - timedelta(days=days), ("major", "major_name"))
    rows = [dict(major_code=m, major_name=name, n=n) for (m, name), n in by.items()]
    return sorted(rows, key=lambda r: (-r["n"], r["major_code"]))


def trend(conn, scope: str = "", days: int = 30, now: datetime | None = None) -> list[dict]:
    """Daily counts (disputes and other events) for the last `days` local days, zeros included."""
    now = now or datetime.now(CST)
    first = (now.astimezone(CST) - timedelta(days=days - 1)).date()
    last = now.astimezone(CST).date()
    return [dict(r) for r in _cached(conn, ("trend", scope, first, last), lambda: _trend_rows(conn, scope, first, last))]


def _trend_rows(conn, scope: str, first: date, last: date) -> list[dict]:
    return db.rows(conn, """
        SELECT d::date AS day,
               COALESCE(sum(i.n) FILTER (WHERE c.is_dispute), 0)::bigint AS disputes,
               COALESCE(sum(i.n) FILTER (WHERE NOT c.is_dispute), 0)::bigint AS events
          FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d
          LEFT JOIN incident_daily i ON i.day = d::date AND i.day >= %(first)s AND i.day <= %(last)s
                                     AND i.admin_code LIKE %(scope)s
          LEFT JOIN category c ON c.minor_code = i.minor_code
         GROUP BY d ORDER BY d""",
                   dict(first=first, last=last, scope=scope + "%"))


def town_ranking(conn, scope: str = "", days: int = 90, now: datetime | None = None) -> list[dict]:
    """Towns/streets by resolution rate (化解率) of the window's incidents, then by volume."""
    now = now or datetime.now(CST)
    since = now - timedelta(days=days)
    by = counts_since(conn, scope, since, ("town", "bucket"))
    towns = _cached(conn, ("towns", scope), lambda: db.rows(conn, """
        SELECT code, name FROM admin_unit WHERE level = 'town' AND code LIKE %(scope)s""", dict(scope=scope + "%")))
    # overdue depends on the clock: open rows past deadline now, reported in the window
    o = _open_rows(conn, scope)
    late = np.bincount(o["town_idx"][(o["deadline"] < _us(now)) & (o["reported"] >= _us(since))],
                       minlength=len(o["towns"]))
    overdue = {town: int(n) for town, n in zip(o["towns"], late) if n}
    out = []
    for t in towns:
        mine = {bucket: n for (town, bucket), n in by.items() if town == t["code"]}
        valid = [n for bucket, n in mine.items() if bucket != "cancelled"]
        resolved = mine.get("resolved")
        rate = resolved / sum(valid) if resolved is not None and valid and sum(valid) else None
        out.append(dict(code=t["code"], name=t["name"], found=sum(mine.values()), rate=rate,
                        overdue=overdue.get(t["code"], 0)))
    return sorted(out, key=lambda r: (r["rate"] is None, -(r["rate"] or 0.0), -r["found"], r["code"]))


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
