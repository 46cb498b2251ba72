"""Drill-down aggregates: city → district → town/street → community/village → grid → incident.

A leader clicks down the hierarchy and expects the numbers of the children to add up to the
number of the parent, or the page loses their trust. So every level is computed the same
way, from the incident table grouped by a prefix of its `admin_code` (or by `grid_code` below
a community), and whatever does not fall into a known child (an incident outside every grid,
a code with no admin unit) is returned as an explicit remainder child rather than dropped.

Conventions shared by the analysis modules (hotspots, emerging, density, rankings), defined
once in geo/analysis/filters.py:
  * a time window is half-open [start, end); a `date` end means "up to and including that
    day" (the date picker's meaning), in China Standard Time;
  * cancelled reports are not incidents and are left out everywhere;
  * resolved = closed or followed up, open = anything else (as on the big screen).
"""

from __future__ import annotations

from geo import db
from geo.analysis import indicators
from geo.analysis.filters import INCIDENT_FILTER, OPEN, RESOLVED, filter_params, time_window  # noqa: F401 (part of drill's API)

LEVELS = ("province", "city", "district", "town", "community", "grid", "incident")
BUCKETS = ("day", "week", "month")
RATE_MIN_SAMPLE = indicators.INDICATORS["resolution_rate"].min_sample
REMAINDER_NAME = "未落入下级单元"  # incidents of the parent that belong to no known child

# Per-incident measures, summed by every grouping (one definition for all levels). The
# resolution rate is resolved disputes over disputes (geo.analysis.indicators), so the drill
# page reads the same 化解率 as the big screen and the 季通报 over the same window.
MEASURES_SQL = """
    count(*) AS incidents,
    count(*) FILTER (WHERE i.status = ANY(%(resolved)s)) AS resolved,
    count(*) FILTER (WHERE i.minor_code IN (SELECT minor_code FROM category WHERE is_dispute)) AS disputes,
    count(*) FILTER (WHERE i.status = ANY(%(resolved)s)
                       AND i.minor_code IN (SELECT minor_code FROM category WHERE is_dispute)) AS resolved_disputes,
    count(*) FILTER (WHERE i.status = ANY(%(open)s)) AS open,
    count(*) FILTER (WHERE i.status = ANY(%(open)s) AND i.deadline < now()) AS overdue,
    {high_risk} AS high_risk
"""
MEASURE_KEYS = ("incidents", "resolved", "disputes", "resolved_disputes", "open", "overdue", "high_risk")


def has_risk_tier(conn) -> bool:
    """Whether incident.risk_tier exists (added by a later migration; absent on old schemas)."""
    return bool(
        db.scalar(
            conn,
            """SELECT 1 FROM information_schema.columns
                                    WHERE table_schema = current_schema() AND table_name = 'incident'
                                      AND column_name = 'risk_tier'""",
        )
    )


def measures_sql(conn) -> str:
    high = "count(*) FILTER (WHERE i.risk_tier = 'high')" if has_risk_tier(conn) else "0"
    return MEASURES_SQL.format(high_risk=high)


def level_of(code: str) -> str:
    """The level a code names, from its length (a province's 6 digits end in 0000, a city's in 00)."""
    if not isinstance(code, str) or not code.isdigit() or len(code) not in (6, 9, 12, 15):
        raise ValueError(f"not a unit or grid code (6, 9, 12 or 15 digits): {code!r}")
    if len(code) == 6:
        return "province" if code.endswith("0000") else "city" if code.endswith("00") else "district"
    return {9: "town", 12: "community", 15: "grid"}[len(code)]


def unit_prefix(code: str) -> str:
    """The prefix every code inside the unit starts with (990000 → 99, 990100 → 9901)."""
    return {"province": code[:2], "city": code[:4]}.get(level_of(code), code)


def _scope(code: str) -> tuple[str, str]:
    """(SQL condition selecting the unit's incidents, its bound value)."""
    level = level_of(code)
    if level == "grid":
        return "i.grid_code = %(scope)s", code
    return "i.admin_code LIKE %(scope)s", unit_prefix(code) + "%"


def _finish(row: dict) -> dict:
    """Add the derived rates to a row of summed measures."""
    row = {**row, **{k: int(row.get(k) or 0) for k in MEASURE_KEYS}}
    households = row.get("households")
    row["resolution_rate"] = indicators.ratio(row["resolved_disputes"], row["disputes"], RATE_MIN_SAMPLE)
    row["per_1000_households"] = 1000 * row["incidents"] / households if households else None
    return row


def summary(conn, code: str, start, end, major_code: str | None = None) -> dict:
    """The KPIs of one unit or grid over the window."""
    where, scope = _scope(code)
    params = filter_params(start, end, major_code, scope=scope)
    row = db.one(conn, f"SELECT {measures_sql(conn)} FROM incident i WHERE {where} AND {INCIDENT_FILTER}", params)
    hh_where = where.replace("i.", "h.")
    row["households"] = db.scalar(conn, f"SELECT count(*) FROM household h WHERE {hh_where}", params)
    crumbs = breadcrumb(conn, code)
    name = crumbs[-1][1] if crumbs and crumbs[-1][0] == code else code
    return _finish(dict(code=code, name=name, level=level_of(code), **row))


def children(conn, code: str, start, end, major_code: str | None = None) -> list[dict]:
    """The units one level below `code` with their measures; for a grid, its incidents.

    Their measures sum to summary(code): any incident not in a listed child goes to a
    remainder row (code None, name REMAINDER_NAME), present only when non-empty.
    """
    level = level_of(code)
    if level == "grid":
        return [_finish(dict(r, households=None)) for r in _incident_rows(conn, code, start, end, major_code, None)]
    where, scope = _scope(code)
    params = filter_params(start, end, major_code, scope=scope, code=code)
    if level == "community":
        key, units = (
            "i.grid_code",
            db.rows(
                conn,
                """
            SELECT code, name, 'grid' AS level FROM grid_current WHERE admin_code = %(code)s ORDER BY code""",
                params,
            ),
        )
    else:
        params["n"] = {"province": 4, "city": 6, "district": 9, "town": 12}[level]
        key, units = (
            "left(i.admin_code, %(n)s)" + (" || '00'" if level == "province" else ""),  # a city: 9901 → 990100
            db.rows(
                conn,
                """
            SELECT code, name, level FROM admin_unit WHERE parent_code = %(code)s ORDER BY code""",
                params,
            ),
        )
    counted = {
        r["key"]: r
        for r in db.rows(
            conn,
            f"""
        SELECT {key} AS key, {measures_sql(conn)} FROM incident i
         WHERE {where} AND {INCIDENT_FILTER} GROUP BY 1""",
            params,
        )
    }
    households = {
        r["key"]: r["n"]
        for r in db.rows(
            conn,
            f"""
        SELECT {key.replace("i.", "h.")} AS key, count(*) AS n FROM household h
         WHERE {where.replace("i.", "h.")} GROUP BY 1""",
            params,
        )
    }
    out = []
    for unit in units:
        row = counted.pop(unit["code"], {})
        out.append(_finish(dict(unit, households=households.pop(unit["code"], 0), **{k: row.get(k, 0) for k in MEASURE_KEYS})))
    if any(r["incidents"] for r in counted.values()) or any(households.values()):
        rest = {k: sum(r[k] for r in counted.values()) for k in MEASURE_KEYS}
        out.append(
            _finish(
                dict(
                    code=None,
                    name=REMAINDER_NAME,
                    level=LEVELS[LEVELS.index(level) + 1],
                    households=sum(households.values()),
                    **rest,
                )
            )
        )
    return out


def trend(conn, code: str, start, end, major_code: str | None = None, bucket: str = "day") -> list[dict]:
    """Incidents and resolved per day/week/month (CST calendar) over the window, every
    period of it, the empty ones as zeros: with the empty periods left out, a chart drew a
    daily bar a week wide and the line ran straight over days without a case."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}, not {bucket!r}")
    where, scope = _scope(code)
    params = filter_params(start, end, major_code, scope=scope, bucket=bucket)
    counted = {
        r["period"]: r
        for r in db.rows(
            conn,
            f"""
        SELECT date_trunc(%(bucket)s, i.reported_at AT TIME ZONE 'Asia/Shanghai')::date AS period,
               {measures_sql(conn)}
          FROM incident i WHERE {where} AND {INCIDENT_FILTER}
         GROUP BY 1 ORDER BY 1""",
            params,
        )
    }
    periods = db.rows(
        conn,
        """SELECT p::date AS period FROM generate_series(
                  date_trunc(%(bucket)s, %(start)s AT TIME ZONE 'Asia/Shanghai'),
                  (%(end)s - interval '1 microsecond') AT TIME ZONE 'Asia/Shanghai',
                  ('1 ' || %(bucket)s)::interval) p""",
        params,
    )
    return [_finish(counted.get(p["period"], p)) for p in periods]


def top_categories(conn, code: str, start, end, n: int = 10) -> list[dict]:
    """The n most frequent minor categories in the unit (ties by code, so stable)."""
    where, scope = _scope(code)
    params = filter_params(start, end, None, scope=scope, n=int(n))
    return [
        _finish(r)
        for r in db.rows(
            conn,
            f"""
        SELECT c.minor_code, c.minor_name, c.major_code, c.major_name, c.department, {measures_sql(conn)}
          FROM incident i JOIN category c ON c.minor_code = i.minor_code
         WHERE {where} AND {INCIDENT_FILTER}
         GROUP BY c.minor_code ORDER BY incidents DESC, c.minor_code LIMIT %(n)s""",
            params,
        )
    ]


def incidents(conn, code: str, start, end, major_code: str | None = None, limit: int = 200) -> list[dict]:
    """The unit's incidents, newest first, each with the same measure columns (0/1)."""
    return _incident_rows(conn, code, start, end, major_code, limit)


def _incident_rows(conn, code, start, end, major_code, limit) -> list[dict]:
    where, scope = _scope(code)
    params = filter_params(start, end, major_code, scope=scope, limit=limit)
    tier = "i.risk_tier" if has_risk_tier(conn) else "NULL::text"
    return db.rows(
        conn,
        f"""
        SELECT i.id::text AS code, i.title AS name, 'incident' AS level, i.id, i.title, i.minor_code,
               c.minor_name, i.status, i.reported_at, i.deadline, i.closed_at, i.grid_code, i.admin_code,
               {tier} AS risk_tier, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, {measures_sql(conn)}
          FROM incident i JOIN category c ON c.minor_code = i.minor_code
         WHERE {where} AND {INCIDENT_FILTER}
         GROUP BY i.id, i.reported_at, c.minor_name ORDER BY i.reported_at DESC, i.id DESC LIMIT %(limit)s""",
        params,
    )


def breadcrumb(conn, code: str) -> list[tuple[str, str, str]]:
    """(code, name, level) from the city down to `code` (a unit or a grid)."""
    level = level_of(code)
    trail: list[tuple[str, str, str]] = []
    unit = code
    if level == "grid":
        grid = db.one(conn, "SELECT code, name, admin_code FROM grid_current WHERE code = %s", (code,))
        if grid is None:
            raise LookupError(f"no current grid {code}")
        trail.append((grid["code"], grid["name"], "grid"))
        unit = grid["admin_code"]
    units = db.rows(
        conn,
        """
        WITH RECURSIVE up AS (
            SELECT code, name, level, parent_code, 0 AS depth FROM admin_unit WHERE code = %s
            UNION ALL
            SELECT a.code, a.name, a.level, a.parent_code, up.depth + 1
              FROM admin_unit a JOIN up ON a.code = up.parent_code)
        SELECT code, name, level FROM up ORDER BY depth DESC""",
        (unit,),
    )
    if not units and level != "grid":
        raise LookupError(f"no administrative unit {code}")
    return [(u["code"], u["name"], u["level"]) for u in units] + trail
