"""`python -m geo archive list | detach MONTH | attach MONTH | ensure [--ahead N]`: months of incidents."""

from __future__ import annotations

HELP = "事件归档：按月分离/挂回旧月份 (incident months: list, detach, attach, ensure)"


def add_arguments(p):
    p.description = (
        "事件按月分区 (migration 0090). list: every month, attached or detached, with its rows and size; "
        "detach MONTH: a closed month whose cases are all closed leaves the live table (its table, rows and ids "
        "stay, aggregates and risk follow); attach MONTH: back again; ensure: make the months ahead "
        "(also done on every migrate; cron it daily)."
    )
    p.add_argument("action", choices=("list", "detach", "attach", "ensure"))
    p.add_argument("month", nargs="?", help="YYYY-MM (detach, attach)")
    p.add_argument("--ahead", type=int, default=3, help="ensure: months made ahead of the current one (default 3)")
    p.add_argument("--test", action="store_true", help="the test database (quanyu_test)")


def run(args) -> int:
    from geo import db
    from geo.cli import CommandError
    from geo.incidents import archive

    if args.action in ("detach", "attach") and not args.month:
        raise CommandError(f"archive {args.action}: give the MONTH as YYYY-MM (see python -m geo archive list)")
    conn = db.connect(test=args.test)
    try:
        if args.action == "list":
            for m in archive.months(conn):
                print(f"{m['month']}  {m['state']:<8}  {m['rows']:>9} rows  {m['bytes'] / 1e6:8.1f} MB  {m['name']}")
            return 0
        if args.action == "ensure":
            made = archive.ensure(conn, args.ahead)
            print(f"made {len(made)} month(s): {', '.join(made)}" if made else "every month is there")
            return 0
        try:
            done = getattr(archive, args.action)(conn, args.month)
        except archive.ArchiveError as exc:
            raise CommandError(str(exc)) from None
        verb = "detached 已分离" if args.action == "detach" else "attached 已挂回"
        print(f"{verb} {done['month']} ({done['partition']}): {done['rows']} incident(s), {done['grids']} grid(s) re-scored")
        return 0
    finally:
        conn.close()
