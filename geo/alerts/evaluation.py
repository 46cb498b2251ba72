"""When the rules run: after every incident INSERT (a trigger, migration 0050), and for what
time alone sets off (deadlines passing, alarms nobody acknowledged, next week's forecast).

Why a tick and not a scheduler: Quanyu has no job runner, and the big screen already asks
the server every few seconds whether anything changed; the first such poll after a minute
runs the tick (as the database owner, so one town's screen raises alarms for the whole
jurisdiction's deadlines, which row-level security then shows to each unit). A cron line
`python -m geo alerts tick` does the same where no screen is open.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Callable

from geo import db
from geo.alerts import rules
from geo.worktime import CST

TICK_SECONDS = 60
_last_tick = 0.0
_tick_lock = threading.Lock()


def evaluate(conn, incident_ids: list[int]) -> int:
    """Run the incident rules again for these incidents (the trigger already did on INSERT;
    nothing is raised twice). Returns the alarms raised or joined."""
    rules.ensure_config(conn)
    with db.transaction(conn) as cur:
        cur.execute("SELECT alert_evaluate_incidents(%s::bigint[])", (list(incident_ids),))
        return cur.fetchone()[0]


def tick(conn, now: datetime | None = None, forecaster: Callable | None = None) -> dict:
    """Overdue high-tier incidents, escalation of unacknowledged alarms, forecast warnings.

    `now` (default the database's clock) lets tests and reruns evaluate another instant."""
    rules.ensure_config(conn)
    with db.transaction(conn) as cur:
        cur.execute("SELECT alert_tick(COALESCE(%s::timestamptz, now()))", (now,))
        result = dict(cur.fetchone()[0])
    result["forecast"] = forecast_warnings(conn, now=now, forecaster=forecaster)
    return result


def tick_if_due(url: str | None = None) -> dict | None:
    """tick() at most once a minute per process, as the owner; None when not due."""
    global _last_tick
    with _tick_lock:
        if time.monotonic() - _last_tick < TICK_SECONDS:
            return None
        _last_tick = time.monotonic()
    with db.system(url) as conn:
        return tick(conn)


def stored_forecast(conn, share: float, now: datetime | None = None) -> list[dict]:
    """The forecast warning's input from the stored weekly forecast (geo.forecast.store):
    its top-5% grids whose forecast is rising (at least forecast.RISING_RATIO times the last
    28 days' pace), narrowed to the top `share` of grids when that is smaller than 5%."""
    from geo.forecast import store as forecast_store

    rows = forecast_store.rising_top_grids(conn, now)
    if rows and share < 0.05:
        total = db.scalar(conn, "SELECT count(*) FROM grid_current") or 0
        rows = [r for r in rows if r["rank"] <= max(1, round(share * total))]
    return [
        {
            "grid_code": r["grid_code"],
            "expected": r["expected"],
            "previous": r["recent"],
            "rising": True,
            "reasons": r["reasons"],
            "as_of": r["run_as_of"],
        }
        for r in rows
    ]


def forecast_warnings(conn, now: datetime | None = None, forecaster: Callable | None = None) -> int:
    """下周预警: a grid in the top share of the stored forecast whose expectation is rising.

    `forecaster(conn, share, now)` (default stored_forecast) returns the top-share grids as
    rows with grid_code, expected, previous (the level it is compared with, or None),
    optionally rising (else expected > previous), reasons (list of text) and as_of (the
    forecast's cut-off); one alarm per grid and forecast run (trigger key grid + as-of date)."""
    rule = (rules.active_config(conn) or {}).get("rules", {}).get("forecast", {})
    if not rule.get("enabled", True):
        return 0
    rows = (forecaster or stored_forecast)(conn, rule["top_share"], now)
    raised = 0
    with db.transaction(conn) as cur:
        for r in rows:
            rising = r.get("rising")
            if rising is None:
                rising = r.get("previous") is not None and float(r["expected"]) > float(r["previous"])
            if not rising:
                continue
            as_of = r["as_of"].astimezone(CST) if isinstance(r["as_of"], datetime) else r["as_of"]
            detail = {
                "expected": round(float(r["expected"]), 1),
                "previous": None if r.get("previous") is None else round(float(r["previous"]), 1),
                "reasons": list(r.get("reasons") or []),
                "share": rule["top_share"],
                "as_of": as_of.isoformat() if isinstance(as_of, datetime) else str(as_of),
            }
            cur.execute(
                """SELECT alert_raise('forecast', 'forecast:' || g.code || ':' || %(day)s, coalesce(g.name, g.code),
                                      %(detail)s::jsonb, g.code, g.admin_code, ST_PointOnSurface(g.geom), '{}'::bigint[],
                                      COALESCE(%(now)s::timestamptz, now()))
                     FROM grid_current g WHERE g.code = %(grid)s""",
                {
                    "day": str(as_of)[:10],
                    "detail": json.dumps(detail, ensure_ascii=False),
                    "grid": r["grid_code"],
                    "now": now,
                },
            )
            row = cur.fetchone()
            raised += bool(row and row[0])
    return raised
