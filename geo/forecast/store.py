"""Stored forecasts: the weekly run, how last week's did (预测命中率), rising top grids.

Every Monday 00:00 China time (the 周分析 rhythm) a 7-day forecast is stored
(`forecast_run`, `forecast_grid`, migration 0055). The big screen's 下周预警 layer draws
the latest stored run, and a week later the same run is held against what happened: the
share of that week's incidents that fell in its top 5 % of grids. A missing weekly run is
computed when first needed (the layer's prepare hook, `python -m geo forecast weekly`, the
demo loader) with the owner's connection, so it always covers the whole jurisdiction; a
run computed late still reads only incidents reported before its as-of instant.

`rising_top_grids` is the forecast warning's source for the alarm rules (issue #16 item 1):
grids in the top 5 % of the current weekly forecast whose forecast is rising.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from geo import db
from geo.forecast import model as fc
from geo.worktime import CST

WEEK_DAYS = 7


def week_start(at: datetime | None = None) -> datetime:
    """Monday 00:00 China time of the week holding `at` (default now)."""
    local = (at or datetime.now(CST)).astimezone(CST)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=CST)


def store(conn, result: fc.Forecast) -> int:
    """Store a forecast (replacing a run of the same as-of and horizon); its run id."""
    import json

    with db.transaction(conn) as cur:
        cur.execute("DELETE FROM forecast_run WHERE as_of = %s AND days = %s", (result.as_of, result.days))
        cur.execute(
            "INSERT INTO forecast_run (as_of, days, model, seconds) VALUES (%s, %s, %s::jsonb, %s) RETURNING id",
            (result.as_of, result.days, json.dumps(result.model), result.seconds),
        )
        run_id = cur.fetchone()[0]
        db.copy_rows(
            cur,
            "forecast_grid",
            ("run_id", "grid_code", "admin_code", "expected", "recent", "rank", "tier", "rising", "reasons"),
            (
                (
                    run_id,
                    g["grid_code"],
                    g["grid_code"][:12],
                    g["expected"],
                    g["recent"],
                    g["rank"],
                    g["tier"],
                    g["rising"],
                    g["reasons"],
                )
                for g in result.grids
            ),
        )
    return run_id


def ensure_weekly(conn, at: datetime | None = None) -> list[datetime]:
    """Make sure this week's and last week's Monday runs exist; the as-of of each run made.

    Run as the owner (a system connection): a forecast made under a town's scope would
    rank the town's grids only and must never be stored for everyone.
    """
    made = []
    this_week = week_start(at)
    for as_of in (this_week - timedelta(days=WEEK_DAYS), this_week):
        if not db.scalar(conn, "SELECT 1 FROM forecast_run WHERE as_of = %s AND days = %s", (as_of, WEEK_DAYS)):
            if not db.scalar(conn, "SELECT 1 FROM grid_current LIMIT 1"):
                return made
            store(conn, fc.forecast(conn, as_of, WEEK_DAYS))
            made.append(as_of)
    return made


def has_current_run(conn, at: datetime | None = None) -> bool:
    """Are this week's and last week's Monday runs both stored?"""
    this_week = week_start(at)
    weeks = [this_week - timedelta(days=WEEK_DAYS), this_week]
    return db.scalar(conn, "SELECT count(*) FROM forecast_run WHERE as_of = ANY(%s) AND days = %s", (weeks, WEEK_DAYS)) == 2


def latest_run(conn, at: datetime | None = None, days: int = WEEK_DAYS) -> dict | None:
    """The newest stored run of `days` days made as of `at` or earlier (default now)."""
    return db.one(
        conn,
        "SELECT id, as_of, days, model, created_at FROM forecast_run WHERE days = %s AND as_of <= %s ORDER BY as_of DESC LIMIT 1",
        (days, at or datetime.now(CST)),
    )


def last_week(conn, at: datetime | None = None) -> dict | None:
    """How the forecast made last Monday for the week just ended did (预测命中率): the
    share of that week's incidents (in the visible grids) that fell in its top-5 % grids.
    None when that run was not stored, or the week has not ended."""
    as_of = week_start(at) - timedelta(days=WEEK_DAYS)
    run = db.one(conn, "SELECT id, as_of FROM forecast_run WHERE as_of = %s AND days = %s", (as_of, WEEK_DAYS))
    if run is None:
        return None
    row = db.one(
        conn,
        """
        SELECT count(*) FILTER (WHERE f.tier = 'high') AS flagged,
               coalesce(sum(c.n), 0) AS incidents,
               coalesce(sum(c.n) FILTER (WHERE f.tier = 'high'), 0) AS hits
          FROM forecast_grid f
          LEFT JOIN (SELECT grid_code, sum(n) AS n FROM incident_daily
                      WHERE day >= incident_day(%(as_of)s) AND day < incident_day(%(as_of)s) + %(days)s
                        AND bucket <> 'cancelled' AND grid_code <> ''
                      GROUP BY grid_code) c ON c.grid_code = f.grid_code
         WHERE f.run_id = %(run)s""",
        {"as_of": run["as_of"], "days": WEEK_DAYS, "run": run["id"]},
    )
    incidents, hits = int(row["incidents"]), int(row["hits"])
    return {
        "as_of": run["as_of"],
        "flagged": int(row["flagged"]),
        "incidents": incidents,
        "hits": hits,
        "hit_rate": hits / incidents if incidents else None,
    }


def top_grids(conn, run_id: int, limit: int | None = None) -> list[dict]:
    """The run's top-5 % grids (tier high), most expected first, with names and reasons."""
    return db.rows(
        conn,
        """
        SELECT f.grid_code, g.name, f.expected, f.recent, f.rank, f.tier, f.rising, f.reasons
          FROM forecast_grid f JOIN grid_current g ON g.code = f.grid_code
         WHERE f.run_id = %s AND f.tier = 'high'
         ORDER BY f.rank LIMIT %s""",
        (run_id, limit),
    )


def grid_forecast(conn, grid_code: str, at: datetime | None = None) -> dict | None:
    """One grid's row of the latest weekly run (for the grid card)."""
    run = latest_run(conn, at)
    if run is None:
        return None
    row = db.one(
        conn,
        "SELECT expected, recent, rank, tier, rising, reasons FROM forecast_grid WHERE run_id = %s AND grid_code = %s",
        (run["id"], grid_code),
    )
    return None if row is None else dict(row, as_of=run["as_of"])


def rising_top_grids(conn, as_of: datetime | None = None) -> list[dict]:
    """The forecast warning (预测预警) for the alarm rules: grids in the top 5 % of the latest
    weekly forecast made at or before `as_of` whose forecast is rising (forecast.is_rising: at
    least 15 % and half an incident a week above the last 28 days' pace).

    Each: grid_code, name, admin_code, expected, recent, rank, reasons, run_as_of. Empty
    when no weekly run is stored yet (ensure_weekly makes them). A trigger's natural key
    for "never twice" is (grid_code, run_as_of).
    """
    run = latest_run(conn, as_of)
    if run is None:
        return []
    return db.rows(
        conn,
        """
        SELECT f.grid_code, g.name, f.admin_code, f.expected, f.recent, f.rank, f.reasons, r.as_of AS run_as_of
          FROM forecast_grid f
          JOIN forecast_run r ON r.id = f.run_id
          JOIN grid_current g ON g.code = f.grid_code
         WHERE f.run_id = %s AND f.tier = 'high' AND f.rising
         ORDER BY f.rank""",
        (run["id"],),
    )
