"""`python -m geo rankings --quarter 2026Q3 [--month 2026-09] [--excel FILE] [--json]`."""

from __future__ import annotations

HELP = "季通报排名与月调度 (quarterly rankings, monthly dispatch review)"


def add_arguments(p):
    p.add_argument("--quarter", required=True, help="e.g. 2026Q3")
    p.add_argument("--month", help="also the 月调度 summary of this month, e.g. 2026-09")
    p.add_argument("--last", type=int, default=3, help="how many last places to flag (default 3)")
    p.add_argument("--rate-below", type=float, help="also flag a 化解率 under this (0-1)")
    p.add_argument("--excel", metavar="FILE", help="write the report to this .xlsx file")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    import json

    from geo import db
    from geo.analysis import rankings
    from geo.cli import CommandError

    conn = db.connect()
    try:
        report = rankings.quarterly(conn, args.quarter, last_n=args.last, rate_below=args.rate_below)
        month = rankings.monthly(conn, args.month) if args.month else None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()
    if args.excel:
        rankings.to_excel(args.excel, report, month)
    if args.json:
        print(json.dumps(dict(report, month=month), ensure_ascii=False, default=str))
        return 0
    for title, rows in (("乡镇街道 towns/streets", report["towns"]), ("部门 departments", report["departments"])):
        print(f"{report['quarter']} {title}")
        for r in rows:
            rate = f"{r['resolution_rate']:.1%}" if r["resolution_rate"] is not None else "—"
            flags = " ".join(f for f, on in (("排查量末位", r["last_found"]), ("化解率末位", r["last_rate"])) if on)
            print(
                f"  {r['rank_found']:>3} {r['name']:<14} 排查量 {r['found']:>6}  化解率 {rate:>6} "
                f"(第{r['rank_rate'] or '—'}名) {flags}"
            )
    if month:
        print(
            f"{month['month']} 月调度: 排查量 {month['found']} (上月 {month['previous_found']}), "
            f"超期 {month['overdue']}, 村(社区)化解占比 {month['share_at_community'] or 0:.1%}"
        )
    if args.excel:
        print(f"written: {args.excel}")
    return 0
