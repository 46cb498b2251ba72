"""The numbers of the big screen, each one query in PostGIS.

Incident counts read the daily aggregate `incident_daily` (migration 0018, kept current by
statement triggers), so a refresh costs in proportion to days x grids, not to incidents;
rolling windows take their partial first day from `incident` (incident_counts_since), so
every figure equals the count over raw incidents exactly.

Definitions (the tests recompute each from these words):
Each indicator is defined once in geo.analysis.indicators (its window, numerator,
denominator and minimum sample); this module is the big screen's fast path to the same
numbers (the tests compare both):
- today / this month: incidents reported since local midnight / the first of the month (CST),
  cancelled reports left out;
- open (在办): not closed, followed up or cancelled; overdue (超期督办): open and past deadline;
- resolution rate (化解率): disputes reported in the last 365 local days (today included),
  not cancelled, that are closed or followed up; None ("样本不足") under the minimum sample;
- "小事不出村": of the incidents resolved in the same window, the share handled at
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
from geo.analysis import indicators
from geo.cache import LRU, Days, day_versions
from geo.incidents.lifecycle import OPEN_STATUSES, RESOLVED_STATUSES
from geo.worktime import CST

OPEN = tuple(sorted(OPEN_STATUSES))
RESOLVED = RESOLVED_STATUSES

# The covered share per scope and grid version (the union is costly; old versions fall out).
_coverage = LRU(64)

# Whole-day counts cached in-process per local day (issue #8): at city scale a year of
# incident_daily is about two million rows (0.27 incidents per grid-day does not compress),
# so a panel costs seconds cold. Each local day's counts are kept with the day's version
# from the change log incident_day_version (migration 0024, bumped by the same statements
# that change incident_daily), so a write re-reads only the days it touched (today, mostly)
# and a year of untouched days is served from memory. A family of days is keyed by the
# query (scope, grouping), the category fingerprint, database, login, the request's role
# scope (db.scope_key) and the log's generation (TRUNCATE). Days after today and the
# partial first day of a rolling window are read live; "overdue" depends on the clock and
# is counted against `now` from the open rows, themselves kept per reported day.
_families = LRU(64)
# Small results keyed by every data version (grid counts, high-risk grids, towns).
_cache = LRU(256)
# Partial first days of rolling windows, per exact instant: apart, so that they never push
# the long-lived entries out.
_edges = LRU(16)

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
_CATEGORY_DIMS = ("major", "major_name", "dispute")


# The year's counts behind both the resolution rate and the level shares: one scan, one entry.
_YEAR_DIMS = ("dispute", "bucket", "level")


def _database(conn) -> tuple:
    """Which database a connection reads: a pooled connection and a direct one to the same
    database share cached counts (the role's scope is keyed apart, by db.scope_key)."""
    return (conn.info.host, conn.info.port, conn.info.dbname, conn.info.user)


def _state(conn) -> tuple:
    """Everything a cached count depends on besides its own arguments."""
    row = db.one(
        conn,
        """
        SELECT (SELECT array_agg(name || '=' || version ORDER BY name) FROM data_version) AS v,
               (SELECT md5(string_agg(minor_code || major_code || major_name || is_dispute::text, ',' ORDER BY minor_code))
                  FROM category) AS c""",
    )
    return (tuple(row["v"] or ()), row["c"], _database(conn), db.scope_key())


def _cached(conn, key: tuple, compute):
    return _cache.get(key + _state(conn), compute)


def _cached_on(conn, key: tuple, names: tuple[str, ...], compute):
    """Cached under the versions of the named tables only (a count of grids does not change
    with incidents)."""
    v = db.rows(conn, "SELECT name, version FROM data_version WHERE name = ANY(%s) ORDER BY name", (list(names),))
    return _cache.get(key + (tuple((r["name"], r["version"]) for r in v), _database(conn), db.scope_key()), compute)


def _category_fingerprint(conn) -> str:
    return db.scalar(
        conn,
        """SELECT md5(string_agg(minor_code || major_code || major_name || is_dispute::text, ','
                                                    ORDER BY minor_code)) FROM category""",
    )


def _family(conn, key: tuple, generation: int, empty, max_days: int | None = 800) -> Days:
    """The per-day store of one query family (see _families)."""
    full = key + (_database(conn), db.scope_key(), generation)
    return _families.get(full, lambda: Days(empty, max_days, persist=full))


def clear_cache() -> None:
    _families.clear()
    _cache.clear()
    _edges.clear()


def _today() -> date:
    """The local day up to which whole days are cached; later days are read live."""
    return datetime.now(CST).date()


def _per_day(conn, scope: str, dims: tuple[str, ...], lo: date) -> dict[date, dict[tuple, int]]:
    """Counts by `dims` of every local day from `lo` on: days up to today from the per-day
    cache (re-read only when their version changed), later days live."""
    versions = day_versions(conn)  # before the counts they tag
    cat = any(d in _CATEGORY_DIMS for d in dims)
    key = ("days", scope, dims) + ((_category_fingerprint(conn),) if cat else ())
    fam = _family(conn, key, versions[0], {})
    cols = "".join(f", {_DIMS[d][0]} AS {d}" for d in dims)
    join = "JOIN category c USING (minor_code)" if cat else ""

    def group(rows) -> dict[date, dict[tuple, int]]:
        out: dict[date, dict[tuple, int]] = {}
        for r in rows:
            out.setdefault(r["day"], {})[tuple(r[d] for d in dims)] = r["n"]
        return out

    def fetch(days):
        # a run of days (the first read) as a range only: `= ANY` of hundreds of dates
        # makes the planner expect a handful of rows
        contiguous = (max(days) - min(days)).days + 1 == len(days)
        return group(
            db.rows(
                conn,
                f"""
            SELECT d.day{cols}, sum(d.n)::bigint AS n FROM incident_daily d {join}
             WHERE d.day BETWEEN %(lo)s AND %(hi)s {"" if contiguous else "AND d.day = ANY(%(days)s::date[])"}
               AND d.admin_code LIKE %(scope)s
             GROUP BY d.day{"".join(", " + d for d in dims)}""",
                dict(days=days, lo=min(days), hi=max(days), scope=scope + "%"),
            )
        )

    today = _today()
    days = [lo + timedelta(days=k) for k in range((today - lo).days + 1)]
    out = fam.get(days, versions[1], fetch, conn) if days else {}
    later = group(
        db.rows(
            conn,
            f"""
        SELECT d.day{cols}, sum(d.n)::bigint AS n FROM incident_daily d {join}
         WHERE d.day > %(today)s AND d.day >= %(lo)s AND d.admin_code LIKE %(scope)s
         GROUP BY d.day{"".join(", " + d for d in dims)}""",
            dict(today=today, lo=lo, scope=scope + "%"),
        )
    )
    out.update(later)
    return out


def _add(total: dict, part: dict) -> dict:
    for k, n in part.items():
        total[k] = total.get(k, 0) + n
    return total


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NO_DEADLINE = np.iinfo(np.int64).max  # NULL deadline: never "deadline < now"


_OPEN_RECORD = np.dtype([("town", ">i4"), ("deadline", ">i8"), ("reported", ">i8"), ("unclosed", "u1")])


def _towns(conn, scope: str) -> list[dict]:
    return _cached_on(
        conn,
        ("towns", scope),
        ("admin_unit",),
        lambda: db.rows(
            conn,
            """
        SELECT code, name FROM admin_unit WHERE level = 'town' AND code LIKE %(scope)s ORDER BY code""",
            dict(scope=scope + "%"),
        ),
    )


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def _open_rows(conn, scope: str) -> dict:
    """The open incidents (status in OPEN) of a scope as arrays: town, not closed, deadline
    and report time in microseconds. Which rows are open changes only with a write; whether
    one is overdue changes with the clock, so "overdue" is counted from these arrays against
    the caller's `now` (exact) instead of re-reading the rows on every refresh. Kept per
    reported day: the change log (0024) bumps a day on any change of status, deadline or
    closed_at of its incidents, so a write re-reads the open rows of its days only."""
    versions = day_versions(conn)
    towns = tuple(t["code"] for t in _towns(conn, scope))
    fam = _family(conn, ("open", scope, towns), versions[0], None, max_days=None)

    def fetch(days):
        # one row per reported day, its open rows packed as fixed 21-byte records (town's
        # index in `towns` or -1, deadline, report time, not closed): parsing 118,000 rows
        # of arrays cost more than reading them
        sql = """
            WITH t AS (SELECT code, (o - 1)::int AS j FROM unnest(%(towns)s::text[]) WITH ORDINALITY u (code, o))
            SELECT incident_day(i.reported_at) AS day,
                   string_agg(int4send(COALESCE(t.j, -1))
                              || int8send(COALESCE((extract(epoch FROM i.deadline) * 1000000)::bigint, %(none)s))
                              || int8send((extract(epoch FROM i.reported_at) * 1000000)::bigint)
                              || CASE WHEN i.closed_at IS NULL THEN '\\x01'::bytea ELSE '\\x00'::bytea END, ''::bytea) AS packed
              FROM incident i LEFT JOIN t ON t.code = left(i.admin_code, 9)
             WHERE i.admin_code LIKE %(scope)s {where} GROUP BY 1"""
        params = dict(open=list(OPEN), scope=scope + "%", none=int(_NO_DEADLINE), days=days, towns=list(towns))
        if days is None:  # every day: an index-only scan of incident_open_rows_idx (migration 0023)
            where = "AND i.status = ANY(%(open)s)"
        elif len(days) > 31:
            where = "AND i.status = ANY(%(open)s) AND incident_day(i.reported_at) = ANY(%(days)s::date[])"
        else:  # a few days: each one's reported_at range (incident_reported_idx; the
            # status test is made on `status || ''`, which keeps the planner from
            # intersecting with all 118,000 entries of the status index)
            params.update((f"d{k}", d) for k, d in enumerate(days))
            where = (
                "AND (i.status || '') = ANY(%(open)s) AND ("
                + " OR ".join(
                    f"(i.reported_at >= incident_day_start(%(d{k})s::date) AND i.reported_at < incident_day_start(%(d{k})s::date + 1))"
                    for k in range(len(days))
                )
                + ")"
            )
        rows = db.rows(conn, sql.format(where=where), params)
        out = {}
        for r in rows:
            a = np.frombuffer(bytes(r["packed"]), dtype=_OPEN_RECORD)
            out[r["day"]] = (
                a["town"].astype(np.int64),
                a["unclosed"].astype(bool),
                a["deadline"].astype(np.int64),
                a["reported"].astype(np.int64),
            )
        return out

    parts = list(fam.every_day(versions[1], fetch, conn).values())
    if not parts:
        return dict(
            towns=list(towns),
            town_idx=np.zeros(0, np.int64),
            unclosed=np.zeros(0, bool),
            deadline=np.zeros(0, np.int64),
            reported=np.zeros(0, np.int64),
        )
    return dict(
        towns=list(towns),
        town_idx=np.concatenate([p[0] for p in parts]),
        unclosed=np.concatenate([p[1] for p in parts]),
        deadline=np.concatenate([p[2] for p in parts]),
        reported=np.concatenate([p[3] for p in parts]),
    )


def counts_since(conn, scope: str, since: datetime, dims: tuple[str, ...]) -> dict[tuple, int]:
    """Incidents reported at or after `since`, counted by `dims` (keys of _DIMS): the whole
    local days after since's day from incident_daily (cached per day), since's own partial
    day from incident (live), exactly as incident_counts_since (migration 0018) splits them."""
    first = since.astimezone(CST).date()
    out: dict[tuple, int] = {}
    for counts in _per_day(conn, scope, dims, first + timedelta(days=1)).values():
        _add(out, counts)
    for k, n in _edge_day(conn, scope, since, dims).items():
        out[k] = out.get(k, 0) + n
    return out


def _edge_day(conn, scope: str, since: datetime, dims: tuple[str, ...]) -> dict[tuple, int]:
    """Counts of since's own partial day, from incident; kept for the exact instant and
    incident version (the KPIs and the level shares of one refresh share it)."""
    cat = any(d in _CATEGORY_DIMS for d in dims)
    cols = ", ".join(f"{_DIMS[d][1]} AS {d}" for d in dims)

    def compute():
        return {
            tuple(r[d] for d in dims): r["n"]
            for r in db.rows(
                conn,
                f"""
            SELECT {cols + "," if cols else ""} count(*) AS n FROM incident i {"JOIN category c USING (minor_code)" if cat else ""}
             WHERE i.reported_at >= %(since)s AND i.reported_at < incident_day_start(incident_day(%(since)s) + 1)
               AND i.admin_code LIKE %(scope)s {"GROUP BY " + ", ".join(dims) if dims else ""}""",
                dict(since=since, scope=scope + "%"),
            )
            if r["n"]
        }

    key = ("edge", scope, since, dims) + ((_category_fingerprint(conn),) if cat else ())
    return _edges.get(
        key + (db.scalar(conn, "SELECT version FROM data_version WHERE name = 'incident'"), _database(conn), db.scope_key()),
        compute,
    )


def versions(conn) -> dict[str, int]:
    return {r["name"]: r["version"] for r in db.rows(conn, "SELECT name, version FROM data_version")}


def newest_versions(a: dict | None, b: dict | None) -> dict:
    """Name by name the newer of two versions dicts (versions only grow)."""
    out = dict(a or {})
    for name, v in (b or {}).items():
        if v is not None and (out.get(name) is None or v > out[name]):
            out[name] = v
    return out


def jurisdiction(conn) -> dict:
    row = db.one(
        conn,
        """
        SELECT j.code, j.name, j.metric_srid,
               ST_XMin(b) AS xmin, ST_YMin(b) AS ymin, ST_XMax(b) AS xmax, ST_YMax(b) AS ymax,
               (SELECT value FROM setting WHERE key = 'demo') IS NOT NULL AS synthetic
          FROM jurisdiction j
          LEFT JOIN LATERAL (SELECT ST_Extent(geom)::geometry AS b FROM admin_unit WHERE code = j.code) e ON true
         LIMIT 1""",
    )
    return row or {"code": "", "name": "", "xmin": None, "synthetic": False}


YEAR_DAYS = 365  # the window of 化解率 and 小事不出村 on the big screen
RANKING_DAYS = 90  # the window of the big screen's town ranking


def year_start(now: datetime) -> datetime:
    """Local midnight opening the 365-day window that ends today (indicators.last_days)."""
    return indicators.day_start(indicators.last_days(YEAR_DAYS, now)[0])


def kpis(conn, scope: str = "", now: datetime | None = None) -> dict:
    now = now or datetime.now(CST)
    today = now.astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    params = dict(scope=scope + "%", open=list(OPEN), resolved=list(RESOLVED))
    # Counts come from the daily aggregate incident_daily (migration 0018; today and this
    # month start at local midnight, so whole days suffice), cached per day (_per_day);
    # "open" and "overdue" depend on the clock, not on writes, so they are counted against
    # `now` from the open rows (_open_rows, covering index incident_open_rows_idx of 0023).
    month_days = _per_day(conn, scope, ("bucket",), month.date())

    def reported(days) -> int:
        return sum(n for d, c in days for (bucket,), n in c.items() if bucket != "cancelled")

    row = dict(today=reported((d, c) for d, c in month_days.items() if d >= today.date()), month=reported(month_days.items()))
    # open: not closed, not cancelled (OPEN excludes it), status open; overdue: also past deadline
    o = _open_rows(conn, scope)
    row.update(open=int(o["unclosed"].sum()), overdue=int((o["unclosed"] & (o["deadline"] < _us(now))).sum()))
    by = counts_since(conn, scope, year_start(now), _YEAR_DIMS)
    valid = sum(n for (dispute, bucket, _), n in by.items() if dispute and bucket != "cancelled")
    resolved = sum(n for (dispute, bucket, _), n in by.items() if dispute and bucket == "resolved")
    leveled = sum(n for (_, bucket, level), n in by.items() if bucket == "resolved" and level != "")
    village = sum(n for (_, bucket, level), n in by.items() if bucket == "resolved" and level == "community")
    grids = _cached_on(
        conn,
        ("grids", scope),
        ("grid", "grid_staff"),
        lambda: db.one(
            conn,
            """
        SELECT count(*) FILTER (WHERE g.kind = 'urban') AS urban,
               count(*) FILTER (WHERE g.kind = 'urban' AND EXISTS (
                   SELECT 1 FROM grid_staff s WHERE s.grid_code = g.code AND s.role = 'fulltime')) AS urban_fulltime,
               count(*) AS total,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM grid_staff s WHERE s.grid_code = g.code AND s.role = 'fulltime')) AS fulltime
          FROM grid_current g WHERE g.admin_code LIKE %(scope)s""",
            params,
        ),
    )
    high = _cached(
        conn,
        ("high", scope),
        lambda: db.scalar(
            conn,
            """
        SELECT count(*) FROM grid_risk r JOIN grid_current g ON g.code = r.grid_code
         WHERE r.tier = 'high' AND g.admin_code LIKE %(scope)s""",
            params,
        ),
    )
    return dict(
        today=row["today"],
        month=row["month"],
        open=row["open"],
        overdue=row["overdue"],
        resolution_rate=indicators.ratio(resolved, valid, indicators.INDICATORS["resolution_rate"].min_sample),
        resolution_base=valid,
        resolution_resolved=resolved,
        village_share=indicators.ratio(village, leveled, indicators.INDICATORS["village_share"].min_sample),
        village_base=leveled,
        high_risk_grids=high,
        coverage=coverage_share(conn, scope),
        fulltime_urban=(grids["urban_fulltime"] / grids["urban"]) if grids["urban"] else None,
        fulltime_all=(grids["fulltime"] / grids["total"]) if grids["total"] else None,
    )


def level_shares(conn, scope: str = "", now: datetime | None = None) -> dict[str, float]:
    now = now or datetime.now(CST)
    by = counts_since(conn, scope, year_start(now), _YEAR_DIMS)
    levels: dict[str, int] = {}
    for (_, bucket, level), n in by.items():
        if bucket == "resolved" and level != "":
            levels[level] = levels.get(level, 0) + n
    total = sum(levels.values())
    return {level: n / total for level, n in levels.items()}


def coverage_share(conn, scope: str = "") -> float | None:
    """Covered share of the scope's area; the union is costly, so it is kept per grid version."""
    key = (scope, db.scalar(conn, "SELECT version FROM data_version WHERE name = 'grid'"), _database(conn), db.scope_key())
    return _coverage.get(
        key,
        lambda: db.scalar(
            conn,
            """
            WITH area AS (
                SELECT ST_Union(geom) AS geom FROM admin_unit
                 WHERE level = (CASE WHEN length(%(scope)s) >= 12 THEN 'community'
                                     WHEN length(%(scope)s) = 9 THEN 'town' ELSE 'district' END)
                   AND code LIKE %(prefix)s)
            SELECT ST_Area(ST_Intersection(area.geom, (SELECT ST_Union(geom) FROM grid_current WHERE geom && area.geom))::geography)
                   / nullif(ST_Area(area.geom::geography), 0)
              FROM area""",
            dict(scope=scope, prefix=scope + "%"),
        ),
    )


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
    by_day = _per_day(conn, scope, ("dispute",), first)
    out = []
    for k in range((last - first).days + 1):
        day = first + timedelta(days=k)
        counts = by_day.get(day, {})
        out.append(dict(day=day, disputes=counts.get((True,), 0), events=counts.get((False,), 0)))
    return out


def town_ranking(conn, scope: str = "", days: int = RANKING_DAYS, now: datetime | None = None) -> list[dict]:
    """Towns/streets with incidents in the last `days` local days, by 化解率 (resolved disputes
    over disputes, as indicators defines it), then by volume; towns with no case are left out
    (ranking them last would blame them for being quiet)."""
    now = now or datetime.now(CST)
    since = indicators.day_start(indicators.last_days(days, now)[0])
    by = counts_since(conn, scope, since, ("town", "bucket", "dispute"))
    towns = _towns(conn, scope)
    # overdue depends on the clock: open rows past deadline now, reported in the window
    o = _open_rows(conn, scope)
    late = np.bincount(
        o["town_idx"][o["unclosed"] & (o["deadline"] < _us(now)) & (o["reported"] >= _us(since)) & (o["town_idx"] >= 0)],
        minlength=len(o["towns"]),
    )
    overdue = {town: int(n) for town, n in zip(o["towns"], late) if n}
    by_town: dict[str, dict[tuple, int]] = {}
    for (town, bucket, dispute), n in by.items():
        by_town.setdefault(town, {})[(bucket, dispute)] = n
    out = []
    min_sample = indicators.INDICATORS["resolution_rate"].min_sample
    for t in towns:
        mine = by_town.get(t["code"], {})
        found = sum(n for (bucket, _), n in mine.items() if bucket != "cancelled")
        if not found:
            continue
        disputes = sum(n for (bucket, dispute), n in mine.items() if dispute and bucket != "cancelled")
        resolved = sum(n for (bucket, dispute), n in mine.items() if dispute and bucket == "resolved")
        rate = indicators.ratio(resolved, disputes, min_sample)
        out.append(
            dict(code=t["code"], name=t["name"], found=found, rate=rate, disputes=disputes, overdue=overdue.get(t["code"], 0))
        )
    return sorted(out, key=lambda r: (r["rate"] is None, -(r["rate"] or 0.0), -r["found"], r["code"]))


def feed(conn, scope: str = "", limit: int = 20) -> list[dict]:
    """The newest incidents by report time (an imported ledger's old rows never rise above a
    report of today however late they were inserted), each with where it is and its status
    now: the screen re-reads this list whenever incidents change, so a case closed in the
    work queue reads 已办结 on the wall at the next poll."""
    return db.rows(
        conn,
        """
        SELECT i.id, i.title, i.reported_at, i.status, i.source, i.risk_tier, i.grid_code,
               coalesce(c.name, '') AS community, coalesce(t.name, '') AS town
          FROM incident i
          LEFT JOIN admin_unit c ON c.code = i.admin_code
          LEFT JOIN admin_unit t ON t.code = left(i.admin_code, 9)
         WHERE i.admin_code LIKE %(scope)s
         ORDER BY i.reported_at DESC, i.id DESC LIMIT %(limit)s""",
        dict(scope=scope + "%", limit=limit),
    )


def feed_time(at: datetime, now: datetime | None = None) -> str:
    """When an incident was reported, as the feed says it: the time alone today, the date
    too on another day, and the year too in another year."""
    now = (now or datetime.now(CST)).astimezone(CST)
    at = at.astimezone(CST)
    if at.date() == now.date():
        return f"{at:%H:%M}"
    if at.year == now.year:
        return f"{at:%m-%d %H:%M}"
    return f"{at:%Y-%m-%d %H:%M}"


def grid_card(conn, code: str) -> dict | None:
    """What the operator sees on clicking a grid: who, how many, what is open, and why its tier."""
    grid = db.one(
        conn,
        """
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
         WHERE g.code = %(code)s""",
        dict(code=code, open=list(OPEN)),
    )
    if grid is None:
        return None
    grid["staff"] = grid_staff(conn, code)
    return grid


def grid_staff(conn, code: str) -> list[dict]:
    """Who answers for a grid (1+1+N): 网格长 first, then 专职, 兼职, 流动."""
    return db.rows(
        conn,
        """
        SELECT role, name, phone FROM grid_staff WHERE grid_code = %s
         ORDER BY array_position(ARRAY['leader', 'fulltime', 'parttime', 'mobile'], role), id""",
        (code,),
    )
