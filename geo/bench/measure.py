"""The benchmark's database-side measurements: import, assignment, coverage, risk, hotspots.

Each function calls the project's own public functions (geo.io.importer, geo.coverage.report,
geo.risk.tiers, geo.analysis.hotspots), never a copy of their SQL, so a figure moves when the code does.
Timings are wall-clock on a shared 2-core machine: medians over repeats, p95 where there
are enough repeats to mean something.
"""

from __future__ import annotations

import csv
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import numpy as np

from geo import db
from geo.worktime import CST

PROBE_TITLE = "bench-probe"  # incidents the benchmark inserts itself, removed afterwards


def timed(fn: Callable[[], object], repeat: int = 5, budget_s: float = 60.0) -> dict:
    """Run fn up to `repeat` times (fewer once `budget_s` is spent); milliseconds."""
    ms, started, result = [], time.perf_counter(), None
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        result = fn()
        ms.append((time.perf_counter() - t) * 1000)
        if time.perf_counter() - started > budget_s:
            break
    return summary(ms) | {"result": result}


def summary(ms: list[float]) -> dict:
    a = np.asarray(ms, float)
    return {
        "median_ms": round(float(np.median(a)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "max_ms": round(float(a.max()), 2),
        "runs": len(a),
    }


def strip(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "result"}


# --------------------------------------------------------------------------- import


def sample_points(conn, n: int, seed: int = 8) -> np.ndarray:
    """n household locations (lon, lat), a reproducible sample inside the jurisdiction."""
    db.execute(conn, "SELECT setseed(%s)", (seed / 1000,))
    rows = db.rows(
        conn,
        """SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM household
                             TABLESAMPLE SYSTEM (LEAST(100, 100.0 * %(n)s * 3 / GREATEST(1, (SELECT reltuples FROM pg_class WHERE relname = 'household'))))
                             LIMIT %(n)s""",
        {"n": n},
    )
    conn.commit()
    pts = np.array([(r["x"], r["y"]) for r in rows], float).reshape(-1, 2)
    if 0 < len(pts) < n:
        pts = pts[np.random.default_rng(seed).integers(0, len(pts), n)]
    return pts


def write_csv(path: Path, layer: str, pts: np.ndarray, minor_codes: list[str], seed: int = 8) -> None:
    """A clerk's CSV in the Chinese headers the importer accepts."""
    rng = np.random.default_rng(seed)
    now = datetime.now(CST).replace(microsecond=0)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        if layer == "incidents":
            w.writerow(["经度", "纬度", "事件类别", "上报时间", "标题", "涉事人数", "状态"])
            cats = rng.choice(minor_codes, len(pts))
            ages = rng.uniform(0, 30 * 86400, len(pts))
            for (x, y), c, a in zip(pts, cats, ages):
                w.writerow(
                    [
                        f"{x:.7f}",
                        f"{y:.7f}",
                        c,
                        (now - timedelta(seconds=float(a))).strftime("%Y-%m-%d %H:%M:%S"),
                        PROBE_TITLE,
                        1 + int(a) % 3,
                        "结案",
                    ]
                )
        else:
            w.writerow(["经度", "纬度", "地址", "户主", "人数"])
            for i, (x, y) in enumerate(pts):
                w.writerow([f"{x:.7f}", f"{y:.7f}", f"{PROBE_TITLE}-{i}", "张三", 1 + i % 5])


def _stages(marks: list[tuple[float, str]], total: float) -> dict[str, float]:
    """Seconds between the importer's progress lines, named by each line's first words."""
    out: dict[str, float] = {}
    for (t, msg), nxt in zip(marks, [m[0] for m in marks[1:]] + [total]):
        name = " ".join(msg.split(" ")[:2]).rstrip(" …")
        out[name] = round(out.get(name, 0.0) + nxt - t, 3)
    return out


def bare_insert(conn, rows: int) -> dict:
    """Where the insert's time goes: the imported rows copied by one INSERT ... SELECT into a
    table shaped like incident with its check constraints only, then into one that also has
    its eleven indexes (no trigger, no foreign key in either). The importer's insert stage
    minus these is the cost of the triggers (daily aggregate, data version, grid risk), the
    foreign keys and the history rows."""
    out = {}
    columns = db.scalar(
        conn,
        """SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                                  WHERE attrelid = 'incident'::regclass AND attnum > 0 AND NOT attisdropped
                                    AND attgenerated = ''""",
    )
    with db.transaction(conn) as cur:
        for name, like in (("bare", "INCLUDING DEFAULTS INCLUDING CONSTRAINTS"), ("with_indexes", "INCLUDING ALL")):
            cur.execute(f"CREATE TEMP TABLE bench_{name} (LIKE incident {like}) ON COMMIT DROP")
            t = time.perf_counter()
            cur.execute(
                f"INSERT INTO bench_{name} ({columns}) SELECT {columns} FROM incident WHERE title = %s LIMIT %s",
                (PROBE_TITLE, rows),
            )
            n, s = cur.rowcount, time.perf_counter() - t
            out[name] = {"rows": n, "seconds": round(s, 3), "rows_per_s": round(n / s, 1) if s else None}
    return out


def bulk_import(conn, rows: int) -> dict:
    """Rows per second through geo.io.importer.import_file, end to end (read, validate, locate,
    write), with the seconds of each stage, and the bare-insert floor for comparison."""
    from geo.io import importer

    minor = [r["minor_code"] for r in db.rows(conn, "SELECT minor_code FROM category ORDER BY 1")]
    pts = sample_points(conn, rows)
    out = {}
    with tempfile.TemporaryDirectory(prefix="quanyu-bench-") as tmp:
        for layer in ("incidents", "households"):
            path = Path(tmp) / f"{layer}.csv"
            write_csv(path, layer, pts, minor)
            marks: list[tuple[float, str]] = []
            t = time.perf_counter()
            result = importer.import_file(conn, layer, path, progress=lambda msg: marks.append((time.perf_counter() - t, msg)))
            s = time.perf_counter() - t
            out[layer] = {
                "rows": result.rows,
                "seconds": round(s, 2),
                "rows_per_s": round(result.rows / s, 1),
                "stage_seconds": _stages(marks, s),
            }
    out["insert_without_schema"] = bare_insert(conn, rows)
    return out


def unlink_alerts(cur, ids_sql: str, params: tuple) -> None:
    """Probe incidents can raise alarms (the alert triggers of migration 0050 link them in
    alert_incident); the links go before the incidents do. The alarms themselves stay."""
    cur.execute("SELECT to_regclass('alert_incident') IS NOT NULL")
    if cur.fetchone()[0]:
        cur.execute(f"DELETE FROM alert_incident WHERE incident_id IN ({ids_sql})", params)


def remove_probes(conn) -> None:
    """Delete what the benchmark added (history rows are append-only and stay)."""
    from geo.bench.alerts import remove_probe_alerts

    remove_probe_alerts(conn)  # alarms link incidents: they go first
    with db.transaction(conn) as cur:
        cur.execute("SET LOCAL quanyu.risk_defer = 'on'")
        # incident.merged_into references incident without an index: every deleted row would
        # scan the whole table for referrers (minutes at district scale). Index it for the
        # cleanup only, so the measurements see the schema as it ships.
        cur.execute("""SELECT EXISTS (SELECT 1 FROM information_schema.columns
                                       WHERE table_name = 'incident' AND column_name = 'merged_into')""")
        merged = cur.fetchone()[0]
        if merged:
            cur.execute("CREATE INDEX IF NOT EXISTS bench_cleanup_merged_idx ON incident (merged_into)")
        cur.execute("ALTER TABLE incident_history DISABLE TRIGGER incident_history_append_only")
        cur.execute(
            "DELETE FROM incident_history WHERE incident_id IN (SELECT id FROM incident WHERE title = %s)", (PROBE_TITLE,)
        )
        cur.execute("ALTER TABLE incident_history ENABLE TRIGGER incident_history_append_only")
        unlink_alerts(cur, "SELECT id FROM incident WHERE title = %s", (PROBE_TITLE,))
        cur.execute("DELETE FROM incident WHERE title = %s", (PROBE_TITLE,))
        cur.execute("DELETE FROM household WHERE address LIKE %s", (PROBE_TITLE + "-%",))
        if merged:
            cur.execute("DROP INDEX bench_cleanup_merged_idx")


# --------------------------------------------------------------------------- analysis


def coverage_check(conn, repeat: int) -> dict:
    from geo.coverage import report as coverage

    r = timed(lambda: coverage.analyse(conn), repeat, budget_s=60)
    rep = r["result"]
    return strip(r) | {
        "grids": rep.grids,
        "defects": len(rep.defects),
        "stage_seconds": {k: round(v, 2) for k, v in rep.seconds.items()},
    }


def risk_recompute(conn, repeat: int) -> dict:
    """Full recompute of every grid; incremental = one new incident (its statement trigger
    recomputes its grid) and risk.recompute_grids on that one grid."""
    from geo.risk import tiers as risk

    full = timed(lambda: risk.recompute_grids(conn), repeat, budget_s=60)
    code = db.scalar(conn, "SELECT grid_code FROM grid_risk ORDER BY score DESC NULLS LAST, grid_code LIMIT 1")
    cat = db.scalar(conn, "SELECT minor_code FROM category ORDER BY minor_code LIMIT 1")

    def insert_one():
        with db.transaction(conn) as cur:
            cur.execute(
                """INSERT INTO incident (title, minor_code, source, reported_at, grid_code, admin_code, geom, synthetic)
                           SELECT %s, %s, 'patrol', now(), g.code, g.admin_code, ST_PointOnSurface(g.geom), true
                             FROM grid_current g WHERE g.code = %s""",
                (PROBE_TITLE, cat, code),
            )

    # One warm-up of each: a server's pooled connections have planned these statements
    # already (the first call on a fresh connection plans the dynamic SQL, ~50 ms at city).
    insert_one()
    risk.recompute_grids(conn, [code])
    insert = timed(insert_one, repeat * 2, budget_s=30)
    one = timed(lambda: risk.recompute_grids(conn, [code]), repeat * 2, budget_s=30)
    remove_probes(conn)
    risk.recompute_grids(conn, [code])
    return {
        "full": strip(full) | {"grids": full["result"]},
        "incremental_insert_with_trigger": strip(insert),
        "incremental_one_grid": strip(one) | {"grid": code},
    }


def hotspots(conn, repeat: int, days: int = 90) -> dict:
    from geo.analysis import hotspots as hs

    end = datetime.now(CST)
    r = timed(lambda: hs.gi_star(conn, end - timedelta(days=days), end), repeat, budget_s=60)
    frame = r["result"]
    return strip(r) | {"grids": len(frame), "hot_cells": int((frame["bin"] > 0).sum()), "window_days": days}


def forecast(conn, repeat: int, weeks: int = 8) -> dict:
    """Issue #16: the full 7-day forecast of every grid (read, fit, predict, explain), and
    the backtest's figures (hit rate, PAI of the model and the baselines over `weeks`)."""
    from geo.forecast import backtest as bt
    from geo.forecast import model as fc

    fc.forecast(conn, days=7)  # the first run pays the imports (scikit-learn): a process does once
    r = timed(lambda: fc.forecast(conn, days=7), repeat, budget_s=120)
    result = r["result"]
    started = time.perf_counter()
    backtest = bt.backtest(conn, weeks=weeks)
    return strip(r) | {
        "grids": len(result.grids),
        "model": result.model["method"],
        "training_rows": result.model["training_rows"],
        "backtest_seconds": round(time.perf_counter() - started, 1),
        "backtest": {"weeks": weeks, "summary": backtest["summary"], "margins": backtest["margins"]},
    }
