"""Benchmark of the alarm rules (issue #16 item 5): evaluation per new incident, p95 <= 50 ms.

Each probe is a new incident at the place of a recent one (where the rules have the most
to look at: the joint, repeat and cluster rules search 100 m / 50 m / 500 m around it over
72 h / 30 days / 24 h), with a rotating source and, every other time, the phone of a
recent reporter (the same-party path). The incident is written with the alarm trigger
deferred, then alert_evaluate_incidents() is timed alone in the same transaction: the
evaluation's own cost. The whole INSERT with every trigger (risk, daily counts, alarms) is
timed too, as an operator's save sees it. Probes, their alarms and their grids' risk are
put back afterwards.
"""

from __future__ import annotations

import time

from geo import db
from geo.bench.measure import PROBE_TITLE, summary

SOURCES = ("hotline", "police", "patrol", "open311", "operator", "resident")


def _spots(conn, n: int, seed: int) -> list[dict]:
    """n recent incidents (their place, category and phone) to report again; any incidents
    when the data has none from the last 30 days."""
    db.execute(conn, "SELECT setseed(%s)", (seed / 1000,))
    rows = db.rows(
        conn,
        """SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, minor_code, grid_code, admin_code, reporter_phone
             FROM incident WHERE reported_at > now() - interval '30 days' AND title <> %s
            ORDER BY random() LIMIT %s""",
        (PROBE_TITLE, n),
    ) or db.rows(
        conn,
        """SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, minor_code, grid_code, admin_code, reporter_phone
             FROM incident TABLESAMPLE SYSTEM (1) LIMIT %s""",
        (n,),
    )
    conn.commit()
    return rows


def evaluation(conn, repeat: int = 40, seed: int = 16) -> dict:
    """Milliseconds per new incident: the rules alone, and the INSERT with all its triggers."""
    from geo.alerts import rules

    rules.ensure_config(conn)
    spots = _spots(conn, repeat, seed)
    if not spots:
        return {"error": "no incidents to sample"}
    phones = [s["reporter_phone"] for s in spots if s["reporter_phone"]] or ["13800001234"]
    rules_ms, insert_ms, raised = [], [], 0
    for i, s in enumerate(spots * (1 + (repeat - 1) // len(spots))):
        if i >= repeat:
            break
        params = dict(
            s,
            title=PROBE_TITLE,
            source=SOURCES[i % len(SOURCES)],
            phone=phones[i % len(phones)] if i % 2 else None,
        )
        sql = """INSERT INTO incident (title, minor_code, source, reported_at, reporter_phone, grid_code, admin_code,
                                       geom, synthetic)
                 VALUES (%(title)s, %(minor_code)s, %(source)s, now(), %(phone)s, %(grid_code)s, %(admin_code)s,
                         ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), true) RETURNING id"""
        with db.transaction(conn) as cur:
            cur.execute("SET LOCAL quanyu.alerts_defer = 'on'")
            cur.execute(sql, params)
            iid = cur.fetchone()[0]
            cur.execute("SET LOCAL quanyu.alerts_defer = 'off'")
            t = time.perf_counter()
            cur.execute("SELECT alert_evaluate_incidents(ARRAY[%s]::bigint[])", (iid,))
            raised += cur.fetchone()[0]
            rules_ms.append((time.perf_counter() - t) * 1000)
        with db.transaction(conn) as cur:
            t = time.perf_counter()
            cur.execute(sql, params)
            insert_ms.append((time.perf_counter() - t) * 1000)
    from geo.bench.measure import remove_probes
    from geo.risk import tiers as risk

    remove_probes(conn)  # the probes, their alarms and history
    touched = sorted({sp["grid_code"] for sp in spots if sp["grid_code"]})
    if touched:
        risk.recompute_grids(conn, touched)  # the probes' grids as they were
    return {
        "rules_per_incident": summary(rules_ms),
        "insert_with_triggers": summary(insert_ms),
        "alarms_raised_or_joined": raised,
        "incidents_in_30_days_sampled": len(spots),
    }


def remove_probe_alerts(conn) -> None:
    """Remove what the probes did to the alarms before the probes go: alarms a probe raised
    (its id in the trigger key, or probes only linked) are deleted, and probes that joined a
    real alarm are unlinked from it (the real alarm stays)."""
    with db.transaction(conn) as cur:
        cur.execute("CREATE TEMP TABLE bench_probes ON COMMIT DROP AS SELECT id FROM incident WHERE title = %s", (PROBE_TITLE,))
        cur.execute(
            """CREATE TEMP TABLE bench_probe_alerts ON COMMIT DROP AS
               SELECT a.id FROM alert a
                WHERE split_part(a.trigger_key, ':', 2) IN (SELECT id::text FROM bench_probes)
                   OR (EXISTS (SELECT 1 FROM alert_incident ai WHERE ai.alert_id = a.id)
                       AND NOT EXISTS (SELECT 1 FROM alert_incident ai WHERE ai.alert_id = a.id
                                          AND ai.incident_id NOT IN (SELECT id FROM bench_probes)))"""
        )
        cur.execute(
            """DELETE FROM alert_incident WHERE alert_id IN (SELECT id FROM bench_probe_alerts)
                   OR incident_id IN (SELECT id FROM bench_probes)"""
        )
        cur.execute("ALTER TABLE alert_history DISABLE TRIGGER alert_history_append_only")
        cur.execute("DELETE FROM alert_history WHERE alert_id IN (SELECT id FROM bench_probe_alerts)")
        cur.execute("ALTER TABLE alert_history ENABLE TRIGGER alert_history_append_only")
        cur.execute("DELETE FROM alert WHERE id IN (SELECT id FROM bench_probe_alerts)")
