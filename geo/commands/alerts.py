"""`python -m geo alerts list|show|ack|handle|close|tick|config`: the alarm desk on the command line."""

from __future__ import annotations

import json

HELP = "预警：列出、签收、处置、关闭预警，定时检查 (alarms: list|show|ack|handle|close|tick|config)"


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    ls = sub.add_parser("list", help="预警列表，按级别与时间 (default: open alarms)")
    ls.add_argument("--status", default="open", help="open (default), new, acknowledged, handling, closed or all")
    ls.add_argument("--rule", help="one rule: " + ", ".join(_rule_names()))
    ls.add_argument("--json", action="store_true")
    sh = sub.add_parser("show", help="一条预警：依据、关联事件、处置记录")
    sh.add_argument("id", type=int)
    sh.add_argument("--json", action="store_true")
    for name, text in (("ack", "签收 acknowledge"), ("handle", "处置: take on, dispatch its incidents"), ("close", "关闭")):
        q = sub.add_parser(name, help=text)
        q.add_argument("id", type=int)
        q.add_argument("--actor", required=True, help="who does it (recorded in the history and the audit log)")
        q.add_argument("--note", required=name == "close", help="how it ended (required to close)")
    tk = sub.add_parser("tick", help="超期与升级检查 (overdue high-tier incidents, escalation, forecast warnings; for cron)")
    tk.add_argument("--json", action="store_true")
    cfg = sub.add_parser("config", help="预警规则 (show, or --load a TOML file)")
    cfg.add_argument("--load", nargs="?", const="", metavar="FILE", help="load FILE (default data/alerts.toml)")


def _rule_names():
    from geo.alerts.rules import RULES

    return list(RULES)


def run(args) -> int:
    from geo import db
    from geo.alerts import lifecycle, rules
    from geo.cli import CommandError
    from geo.incidents.lifecycle import TransitionRefused

    conn = db.connect()
    try:
        action = args.action or "list"
        try:
            if action == "config":
                return _config(conn, args)
            rules.ensure_config(conn)
            return {"list": _list, "show": _show, "ack": _step, "handle": _step, "close": _step, "tick": _tick}[action](
                conn, args
            )
        except (rules.AlertConfigError, lifecycle.AlertError, TransitionRefused) as exc:
            raise CommandError(str(exc)) from None
    finally:
        conn.close()


def _print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _local(ts) -> str:
    from geo.worktime import CST

    return ts.astimezone(CST).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _list(conn, args) -> int:
    from geo.alerts import lifecycle

    status = None if getattr(args, "status", "open") == "all" else getattr(args, "status", "open")
    rows = lifecycle.list_alerts(conn, status=status, rule=getattr(args, "rule", None))
    if getattr(args, "json", False):
        _print_json(rows)
        return 0
    if not rows:
        print("暂无预警 no alarms" + ("" if status is None else f" ({status})"))
        return 0
    for r in rows:
        who = f"  签收 {r['acked_by']} {_local(r['acked_at'])}" if r["acked_by"] else ""
        print(
            f"#{r['id']:<6} {r['level_name']} {r['status']:<12} {_local(r['raised_at'])}  {r['title']}"
            f"  [{r['town'] or ''}{r['community'] or ''}]{who}"
        )
    print(f"{len(rows)} 条 alarm(s)")
    return 0


def _show(conn, args) -> int:
    from geo.alerts import lifecycle

    alarm = lifecycle.get(conn, args.id)
    alarm["history"] = lifecycle.history(conn, args.id)
    if args.json:
        _print_json(alarm)
        return 0
    print(f"#{alarm['id']} {alarm['level_name']}预警 · {alarm['status']} · {alarm['title']}")
    print(f"  地点 {alarm['town'] or ''}{alarm['community'] or ''} {alarm['grid_name'] or ''}")
    for reason in alarm["reasons"]:
        print(f"  依据 {reason}")
    for i in alarm["incidents"]:
        print(f"  事件 #{i['id']} {_local(i['reported_at'])} {i['source']} {i['status']} {i['title']}")
    for h in alarm["history"]:
        print(
            f"  {_local(h['at'])} {h['action']:<9} {h['from_status'] or '-'} -> {h['to_status']}  {h['actor']}  {h['note'] or ''}"
        )
    return 0


def _step(conn, args) -> int:
    from geo.alerts import lifecycle

    fn = {"ack": lifecycle.acknowledge, "handle": lifecycle.handle, "close": lifecycle.close}[args.action]
    alarm = fn(conn, args.id, args.actor, args.note)
    print(f"#{alarm['id']} -> {alarm['status']} ({alarm['title']})")
    return 0


def _tick(conn, args) -> int:
    from geo.alerts import evaluation

    result = evaluation.tick(conn)
    if args.json:
        _print_json(result)
    else:
        print(
            f"新预警 raised {result['raised']} (超期), 升级 escalated {result['escalated']}, 下周预警 forecast {result['forecast']}"
        )
    return 0


def _config(conn, args) -> int:
    from geo.alerts import rules

    if args.load is not None:
        path = args.load or rules.DEFAULT_CONFIG
        rules.load_config(conn, path)
        print(f"已加载 loaded {path}")
        return 0
    rules.ensure_config(conn)
    _print_json(rules.active_config(conn))
    return 0
