"""`python -m geo incident add|move|overdue|history|duplicates|merge`: the incident loop from the shell."""

from __future__ import annotations

HELP = "事件闭环 add|move|overdue|history|duplicates|merge (incident lifecycle)"


def add_arguments(p):
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="登记新事件并显示分派结果 (create and route an incident)")
    add.add_argument("--lon", type=float, required=True, help="WGS84 longitude")
    add.add_argument("--lat", type=float, required=True, help="WGS84 latitude")
    add.add_argument("--category", required=True, help="4-digit minor category code, e.g. 0103")
    add.add_argument("--description", default=None)
    add.add_argument("--address", default=None)
    add.add_argument("--source", default="operator")
    add.add_argument("--actor", default="cli")
    add.add_argument("--people", type=int, default=1, help="涉事人数")
    move = sub.add_parser("move", help="变更状态 (move an incident to a new status)")
    move.add_argument("id", type=int)
    move.add_argument("status")
    move.add_argument("--actor", required=True)
    move.add_argument("--note")
    move.add_argument("--level", choices=["community", "town", "district"])
    move.add_argument("--satisfaction", type=int, help="1-5, with followed_up")
    move.add_argument("--assignee", help="派遣给: whom a dispatch sends the case to (with dispatched)")
    overdue = sub.add_parser("overdue", help="超期与临期事件 (overdue and soon-due incidents)")
    overdue.add_argument("--json", action="store_true")
    overdue.add_argument("--remind", action="store_true", help="record today's reminders (no SMS is sent)")
    hist = sub.add_parser("history", help="事件流转记录 (an incident's history)")
    hist.add_argument("id", type=int)
    dup = sub.add_parser("duplicates", help="疑似重复 (possible duplicates of an incident)")
    dup.add_argument("id", type=int)
    merge = sub.add_parser("merge", help="合并重复事件 (merge a duplicate into another incident)")
    merge.add_argument("id", type=int, help="the duplicate")
    merge.add_argument("into", type=int)
    merge.add_argument("--actor", required=True)


def run(args) -> int:
    from geo import db
    from geo.cli import CommandError
    from geo.incidents.dispatch import RoutingError
    from geo.incidents.lifecycle import TransitionRefused

    conn = db.connect()
    try:
        return ACTIONS[args.action](conn, args)
    except (RoutingError, TransitionRefused, ValueError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()


def _add(conn, args) -> int:
    from geo.incidents import dispatch as routing
    from geo.incidents import intake

    iid = routing.create_incident(
        conn,
        lon=args.lon,
        lat=args.lat,
        minor_code=args.category,
        actor=args.actor,
        source=args.source,
        description=args.description,
        address=args.address,
        people_involved=args.people,
    )
    row = intake.incident(conn, iid)
    r = routing.route(conn, args.lon, args.lat, args.category, row["reported_at"])
    print(f"事件 incident #{iid} 已接收 received")
    print(f"  网格 grid:        {r.grid_code or '（不在任何网格 in no grid）'} {r.grid_name or ''}")
    print(f"  社区 community:   {r.community} {r.community_name}")
    print(f"  街道 town:        {r.town} {r.town_name}")
    staff = "、".join(f"{s['name']}({s['role']}) {s['phone'] or ''}".strip() for s in r.staff) or "无 none"
    print(f"  网格员 staff:     {staff}")
    print(f"  责任单位 dept:    {r.department}（时限 {r.time_limit} {r.time_unit}）")
    print(f"  办理时限 deadline: {_local(row['deadline'])}")
    return 0


def _move(conn, args) -> int:
    from geo.incidents import lifecycle

    row = lifecycle.transition(
        conn,
        args.id,
        args.status,
        args.actor,
        note=args.note,
        level=args.level,
        satisfaction=args.satisfaction,
        assignee=args.assignee,
    )
    print(f"#{args.id}: {lifecycle.status_label(row['status'])}（层级 level {row['level_handled'] or '-'}）")
    return 0


def _overdue(conn, args) -> int:
    import json

    from geo.incidents import supervision

    if args.remind:
        print(f"reminders recorded: {supervision.send_reminders(conn)}")
    rows = supervision.due(conn)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, default=str, indent=1))
        return 0
    from geo.analysis.indicators import duration_text

    for r in rows:
        label = "超期 overdue " if r["kind"] == "overdue" else "临期 due soon"
        past = ("超期 " if r["hours_past"] >= 0 else "剩 ") + duration_text(abs(r["hours_past"]))
        print(
            f"{label} #{r['id']}\t{r['title']}\t{r['town_name'] or '-'}\t{r['department']}\t"
            f"时限 {_local(r['deadline'])}\t{past}\t催办 {r['reminders']}"
        )
    print(f"{sum(r['kind'] == 'overdue' for r in rows)} overdue, {sum(r['kind'] == 'due_soon' for r in rows)} due soon")
    return 0


def _history(conn, args) -> int:
    from geo.incidents import lifecycle

    for h in lifecycle.history(conn, args.id):
        # the last column: whom a dispatch sent it to (派遣给), empty on other rows
        print(
            f"{_local(h['at'])}\t{h['from_status'] or '-'} -> {h['to_status']}\t{h['actor']}\t{h['note'] or ''}"
            f"\t{h.get('assigned_to') or ''}"
        )
    return 0


def _duplicates(conn, args) -> int:
    from geo.incidents import duplicates

    for c in duplicates.candidates(conn, args.id):
        print(f"#{c['id']}\t{c['title']}\t{c['status']}\t{c['distance_m']} m\t{c['hours_apart']} h")
    return 0


def _merge(conn, args) -> int:
    from geo.incidents import duplicates

    duplicates.merge(conn, args.id, args.into, args.actor)
    print(f"#{args.id} 合并至 merged into #{args.into}")
    return 0


def _local(value) -> str:
    from geo.worktime import CST

    return f"{value.astimezone(CST):%Y-%m-%d %H:%M}" if value else "-"


ACTIONS = {"add": _add, "move": _move, "overdue": _overdue, "history": _history, "duplicates": _duplicates, "merge": _merge}
