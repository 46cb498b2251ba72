"""`python -m geo hotspots [--days 90] [--category MAJOR] [--fdr] [--json]`."""

from __future__ import annotations

HELP = "网格热点分析 Getis-Ord Gi* (grid hotspots)"


def add_arguments(p):
    p.add_argument("--days", type=int, default=90, help="the last N days up to today (default 90)")
    p.add_argument("--end", help="last day of the window, YYYY-MM-DD (default today)")
    p.add_argument("--category", metavar="MAJOR", help="only this major category (2 digits)")
    p.add_argument("--weights", choices=["queen", "distance"], default="queen")
    p.add_argument("--distance", type=float, metavar="METRES", help="distance band for --weights distance")
    p.add_argument("--rate", action="store_true", help="incidents per 1,000 households instead of counts")
    p.add_argument("--fdr", action="store_true", help="False Discovery Rate correction (Benjamini-Hochberg)")
    p.add_argument("--json", action="store_true", help="per grid: code, count, z, p, bin")


def run(args) -> int:
    import json
    import time
    from datetime import date, datetime, timedelta

    from geo import db
    from geo.analysis import hotspots
    from geo.cli import CommandError
    from geo.worktime import CST

    if args.days < 1:
        raise CommandError("--days must be at least 1")
    try:
        end = date.fromisoformat(args.end) if args.end else datetime.now(CST).date()
    except ValueError as exc:
        raise CommandError(f"--end: {exc}") from None
    start = end - timedelta(days=args.days - 1)
    conn = db.connect()
    try:
        weights_started = time.perf_counter()
        w = hotspots.grid_weights(conn, args.weights, args.distance)
        weights_seconds = time.perf_counter() - weights_started
        started = time.perf_counter()
        result = hotspots.gi_star(conn, start, end, args.category, args.weights, args.distance, args.rate, args.fdr)
        seconds = time.perf_counter() - started
    except (ValueError, LookupError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()
    if args.json:
        print(json.dumps(result.to_dict(orient="records"), ensure_ascii=False))
        return 0
    counts = result["bin"].value_counts()
    total = "" if args.rate else f"{int(result['count'].sum())} incidents, "
    print(
        f"{start} .. {end}: {len(result)} grids, {total}"
        f"weights {weights_seconds:.2f} s, Gi* {seconds:.2f} s, islands {len(w.islands)}" + (", FDR" if args.fdr else "")
    )
    for value in range(3, -4, -1):
        print(f"  {hotspots.BIN_LABELS[value]:<6} {int(counts.get(value, 0)):>6}")
    return 0
