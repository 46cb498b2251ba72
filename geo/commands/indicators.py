"""`python -m geo indicators [--unit CODE] [--days 365 | --from D --to D] [--json]`."""

from __future__ import annotations

HELP = "指标口径与数值 (each KPI by its one definition, with its window)"


def add_arguments(p):
    p.add_argument("--unit", default="", metavar="CODE", help="a unit (6/9/12 digits) or grid (15 digits); default everything")
    p.add_argument("--days", type=int, default=365, help="the window: the N local days ending today (default 365)")
    p.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day of the window (with --to)")
    p.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day of the window, included")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    import json
    from datetime import date

    from geo import db
    from geo.analysis import indicators
    from geo.cli import CommandError

    try:
        if args.start or args.end:
            if not (args.start and args.end):
                raise ValueError("--from and --to go together (both days included), e.g. --from 2026-07-01 --to 2026-09-30")
            start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
            if end < start:
                raise ValueError(f"--to {end} is before --from {start}")
        else:
            start, end = indicators.last_days(args.days)
        conn = db.connect()
        try:
            values = indicators.compute(conn, args.unit, start, end)
        finally:
            conn.close()
    except ValueError as exc:
        raise CommandError(f"{exc} (see python -m geo indicators --help)") from None
    if args.json:
        print(json.dumps(dict(unit=args.unit, start=start, end=end, **values), ensure_ascii=False, default=str))
        return 0
    for key, ind in indicators.INDICATORS.items():
        window = indicators.caption(key, start, end)
        print(
            f"{ind.name:<8} {indicators.fmt(key, values[key]):>10}  [{window}]  {ind.numerator}"
            + (f" ÷ {ind.denominator}" if ind.denominator else "")
        )
    return 0
