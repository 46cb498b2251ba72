"""Issue #8 规模: build (or reuse) a jurisdiction at a given scale in its own database and
measure everything the issue lists, in an order that keeps the figures honest: the screen
and the app first (nothing added yet), then the analyses, then the bulk import, whose rows
are removed afterwards so a reused database stays the same size.

Scales: smoke (seconds, for CI), district (the Kongtong demo), city (20,000 grids,
2,000,000 households, 2,000,000 incidents in a year, see geo.bench.city), province (ten
such cities with 1,000,000 households each: 200,000 grids, 20,000,000 incidents; about an
hour to build on a 2-core machine and about 25 GB of disk; measure it with --only).
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from geo import config, db
from geo.bench import databases as bench_db
from geo.worktime import CST

REPORT_DIR = config.VAR_DIR / "bench"


@dataclass(frozen=True)
class Plan:
    import_rows: int
    assignment_points: int
    repeat: int
    partition_target: int
    partition_units: int
    load_steps: tuple[int, ...] = (10, 25, 50, 100, 150, 200, 300)  # wall screens per load step
    load_step_seconds: float = 30
    load_write_rate: float = 50  # intake writes a second during each step's burst
    load_burst_seconds: float = 10
    push_screens: int = 50  # screens holding the push stream while writes commit
    street_segments: int = 200_000  # road pieces of the streets section (a city's DLG road layer)
    push_writes: int = 10
    history_rows: int = 2_000_000  # incidents of a history load (import incidents --history)


PLANS = {
    "smoke": Plan(
        import_rows=300,
        assignment_points=2_000,
        repeat=2,
        partition_target=100,
        partition_units=25,
        load_steps=(3,),
        load_step_seconds=8,
        load_write_rate=5,
        load_burst_seconds=2,
        push_screens=3,
        push_writes=3,
        street_segments=1_500,
        history_rows=2_000,
    ),
    "district": Plan(
        import_rows=20_000,
        assignment_points=200_000,
        repeat=5,
        partition_target=300,
        partition_units=150,
        street_segments=20_000,
        history_rows=200_000,
    ),
    "city": Plan(import_rows=100_000, assignment_points=500_000, repeat=5, partition_target=300, partition_units=150),
    # Ten cities: the plan of one city (the sections that write or partition work on a city's
    # share); `--only screen` is what the province run measured (docs/scaling.md).
    "province": Plan(import_rows=100_000, assignment_points=500_000, repeat=5, partition_target=300, partition_units=150),
}


def build(conn, scale: str, say) -> dict:
    """Fill the bench database; returns what was built and how long it took."""
    t = time.perf_counter()
    if scale == "district":
        from geo.demo import generator as demo_data
        from geo.demo import loader

        world = demo_data.generate(progress=say)
        loader.load(conn, world, say)
        return {"build_seconds": round(time.perf_counter() - t, 1), "generator": "geo/demo/generator.py"}
    from geo.bench import city as bench_city

    if scale == "province":
        return bench_city.build_province(conn, bench_city.PROVINCE, say=say) | {"generator": "geo/bench/city.py"}
    return bench_city.build(conn, bench_city.SMOKE if scale == "smoke" else bench_city.CITY, say=say) | {
        "generator": "geo/bench/city.py"
    }


def data_counts(conn) -> dict:
    return db.one(
        conn,
        """SELECT (SELECT count(*) FROM grid_current WHERE layer = 'official') AS grids,
                                  (SELECT count(*) FROM household) AS households,
                                  (SELECT count(*) FROM incident) AS incidents,
                                  (SELECT count(*) FROM admin_unit WHERE level = 'community') AS communities,
                                  pg_database_size(current_database()) AS database_bytes""",
    )


def largest_relations(conn, n: int = 12) -> list[dict]:
    """The biggest tables with their indexes, a partitioned table counted with all its months."""
    return db.rows(
        conn,
        """SELECT c.relname AS relation, s.bytes, s.index_bytes
             FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
            -- pg_partition_tree() of a plain table is empty: its own size then
            CROSS JOIN LATERAL (
                  SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(c.oid)),
                                  pg_total_relation_size(c.oid))::bigint AS bytes,
                         coalesce((SELECT sum(pg_indexes_size(relid)) FROM pg_partition_tree(c.oid)),
                                  pg_indexes_size(c.oid))::bigint AS index_bytes) s
            WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            ORDER BY s.bytes DESC LIMIT %s""",
        (n,),
    )


# Sections measured only when named in `only`: `replica` copies the whole cluster (every
# database on it) with pg_basebackup and runs the load ramp a second time.
OPT_IN = ("replica",)


def run(
    scale: str,
    reuse: bool = False,
    baseline: dict | None = None,
    say=print,
    only: tuple[str, ...] | None = None,
    load_steps: tuple[int, ...] | None = None,
) -> dict:
    """Build (or reuse) and measure; `only` names the sections to measure (all by default),
    `load_steps` the screen counts of the load test (the plan's by default)."""
    from geo.bench import alerts as bench_alerts
    from geo.bench import history as bench_history
    from geo.bench import load as bench_load
    from geo.bench import measure as m
    from geo.bench import peers as bench_peers
    from geo.bench import push as bench_push
    from geo.bench import report as bench_report
    from geo.bench import screen as bench_screen
    from geo.bench import streets as bench_streets

    plan = PLANS[scale]
    url = bench_db.ensure(scale)
    os.environ["DATABASE_URL"] = url  # db.pooled() inside the page functions: the bench database only
    conn = db.connect(url)
    report = {
        "scale": scale,
        "database": bench_db.name_for(scale),
        "started": datetime.now(CST).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "shared": True,
            "postgres": db.scalar(conn, "SHOW server_version"),
            "postgis": db.scalar(conn, "SELECT postgis_lib_version()"),
        },
    }
    if reuse and bench_db.is_loaded(conn):
        say("复用 reusing the bench database")
        report["build"] = {"reused": True}
    else:
        say(f"构建 building the {scale} jurisdiction …")
        report["build"] = build(conn, scale, say)
    m.remove_probes(conn)  # a run interrupted earlier may have left some
    report["data"] = data_counts(conn)
    if scale == "province":  # where its size goes (the city's figure is one line in docs/scaling.md)
        report["data"]["largest_relations"] = largest_relations(conn)
    load_plan = dict(
        steps=load_steps or plan.load_steps,
        step_seconds=plan.load_step_seconds,
        write_rate=plan.load_write_rate,
        burst_s=plan.load_burst_seconds,
        say=say,
    )
    steps = [
        ("screen", lambda: bench_screen.interactions(url, plan.repeat)),
        ("app", lambda: bench_screen.app_run(url)),
        (
            "load",
            lambda: bench_load.run(url, **load_plan),
        ),
        (
            "replica",  # the load test again with the screens' reads on a standby: on/off in one run
            lambda: bench_load.run_with_replica(url, **load_plan),
        ),
        ("push", lambda: bench_push.run(url, screens=plan.push_screens, writes=plan.push_writes)),
        ("coverage", lambda: m.coverage_check(conn, plan.repeat)),
        ("risk", lambda: m.risk_recompute(conn, plan.repeat)),
        ("alerts", lambda: bench_alerts.evaluation(conn, max(20, plan.repeat * 8))),
        ("hotspots", lambda: m.hotspots(conn, plan.repeat)),
        ("forecast", lambda: m.forecast(conn, min(plan.repeat, 3))),
        ("assignment", lambda: bench_peers.assignment(conn, plan.assignment_points, plan.repeat)),
        ("partition", lambda: bench_peers.partition_peers(conn, plan.partition_target, plan.partition_units)),
        ("streets", lambda: bench_streets.run(conn, plan.street_segments, plan.partition_target, plan.repeat)),
        ("import", lambda: m.bulk_import(conn, plan.import_rows)),
        ("history", lambda: bench_history.run(conn, plan.history_rows)),
    ]
    unknown = set(only or ()) - {name for name, _ in steps}
    if unknown:
        raise ValueError(f"no such section {', '.join(sorted(unknown))}; sections: {', '.join(n for n, _ in steps)}")
    for name, fn in steps:
        if (only and name not in only) or (name in OPT_IN and name not in (only or ())):
            continue
        conn.commit()  # no transaction left open across a step: a step's cleanup may need the locks it holds
        say(f"测量 measuring {name} …")
        t = time.perf_counter()
        try:
            report[name] = fn()
        except Exception as exc:  # one broken measurement must not hide the others
            conn.rollback()
            report[name] = {"error": repr(exc)}
        say(f"  {name}: {time.perf_counter() - t:.1f}s")
    m.remove_probes(conn)
    conn.close()
    report["targets"] = bench_report.targets(report, baseline)
    report["targets_met"] = sum(1 for t in report["targets"] if t["met"])
    report["targets_missed"] = [t["name"] for t in report["targets"] if t["met"] is False]
    return report


def save(report: dict, path: Path | None = None) -> Path:
    path = Path(path) if path else REPORT_DIR / f"{report['scale']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return path


def load_baseline(path: Path | None) -> dict | None:
    path = Path(path) if path else REPORT_DIR / "district.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
