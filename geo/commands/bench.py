"""`python -m geo bench --scale district|city|province|smoke [--json FILE] [--reuse] [--baseline FILE]`."""

from __future__ import annotations

HELP = "规模基准测试 (benchmark at district / city / province scale)"


def add_arguments(p):
    p.add_argument(
        "--scale",
        choices=["smoke", "district", "city", "province"],
        default="district",
        help="smoke: seconds (CI); district: the Kongtong demo; city: 20,000 grids, 2M households, 2M incidents "
        "(~8 min to build); province: 10 cities, 200,000 grids, 10M households, 20M incidents (about an hour to "
        "build on 2 cores and ~25 GB of disk: measure it with --only screen)",
    )
    p.add_argument("--json", metavar="FILE", help="write the JSON report here (default var/bench/<scale>.json)")
    p.add_argument("--reuse", action="store_true", help="reuse the bench database when it is already loaded")
    p.add_argument(
        "--only",
        metavar="SECTIONS",
        help="measure only these sections, comma-separated (screen, app, load, replica [only when named: a standby of the whole cluster and the load test again], push, coverage, risk, alerts, hotspots, assignment, "
        "partition, streets, import, history); with --reuse, e.g. --reuse --only load",
    )
    p.add_argument(
        "--load-screens",
        metavar="N,N,…",
        help="wall screens per step of the load test (default 10,25,50,100,150,200,300; stops once p95 passes 1 s)",
    )
    p.add_argument(
        "--baseline",
        metavar="FILE",
        help="district report for the district→city ratio (default var/bench/district.json when scale is city)",
    )


def run(args) -> int:
    import json
    import sys
    import time

    from geo.bench import report as bench_report
    from geo.bench import run as bench

    t0 = time.monotonic()

    def say(msg):
        print(f"[{time.monotonic() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    baseline = bench.load_baseline(args.baseline) if args.scale == "city" or args.baseline else None
    only = tuple(x.strip() for x in args.only.split(",") if x.strip()) if args.only else None
    try:
        steps = tuple(int(x) for x in args.load_screens.split(",")) if args.load_screens else None
    except ValueError:
        print(
            f"--load-screens takes whole numbers separated by commas, e.g. 10,25,50 (not {args.load_screens!r})", file=sys.stderr
        )
        return 2
    try:
        report = bench.run(args.scale, reuse=args.reuse, baseline=baseline, say=say, only=only, load_steps=steps)
    except ValueError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    path = bench.save(report, args.json)
    print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    print(bench_report.table(report))
    say(f"报告 report written to {path}")
    return 0
