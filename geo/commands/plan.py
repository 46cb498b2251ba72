"""`python -m geo plan list|show ID|publish ID|diff --community CODE --from DATE|export ID PATH`."""

from __future__ import annotations

HELP = "网格规划方案：列出、查看、发布、版本对比、导出 (grid plans: list, show, publish, diff, export)"


def add_arguments(p):
    import argparse

    common = argparse.ArgumentParser(add_help=False)  # --json/--test after the action too
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--test", action="store_true", help="use the test database")
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("list", parents=[common], help="plans, newest first")
    s.add_argument("--community", metavar="CODE", help="only this community's plans")
    s = sub.add_parser("show", parents=[common], help="a plan's grids and its check (score, gaps, overlaps, loads)")
    s.add_argument("id", type=int)
    s = sub.add_parser("publish", parents=[common], help="switch the community to the plan's grids (one transaction)")
    s.add_argument("id", type=int)
    s.add_argument("--by", default=None, help="who publishes (kept in grid.edited_by)")
    s = sub.add_parser("diff", parents=[common], help="a community's grids at a date against now (or --to)")
    s.add_argument("--community", required=True, metavar="CODE")
    s.add_argument("--from", dest="at_from", required=True, metavar="DATE", help="YYYY-MM-DD[THH:MM]")
    s.add_argument("--to", dest="at_to", default=None, metavar="DATE")
    s = sub.add_parser("export", parents=[common], help="a plan with its coverage report to .geojson, .gpkg or .xlsx")
    s.add_argument("id", type=int)
    s.add_argument("path")


def _when(text):
    from datetime import datetime

    from geo.cli import CommandError

    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    if when.tzinfo is None:
        from geo.worktime import CST

        when = when.replace(tzinfo=CST)
    return when


def run(args) -> int:
    import json

    from geo import db
    from geo.cli import CommandError, text_table
    from geo.planning import drafts as planning

    def table(rows):
        return text_table([tuple("" if v is None else str(v) for v in r) for r in rows])

    from geo.io.exporter import ExportFailed
    from geo.planning.export import export_plan
    from geo.planning.publish import diff, publish

    conn = db.connect(test=args.test)
    try:
        if args.action == "list":
            out = planning.plans(conn, args.community)
            if args.json:
                print(json.dumps(out, ensure_ascii=False, default=str))
            else:
                print(
                    table(
                        [("id", "社区 community", "名称 name", "状态 status", "改动 changed", "编辑 edits", "发布 published")]
                        + [
                            (
                                p["id"],
                                f"{p['admin_code']} {p['community']}",
                                p["name"],
                                p["status"],
                                p["changed"],
                                p["edits"],
                                p["published_at"] or "",
                            )
                            for p in out
                        ]
                    )
                )
        elif args.action == "show":
            plan = planning.get(conn, args.id)
            check = planning.evaluate(conn, args.id)
            if args.json:
                print(json.dumps(dict(plan=plan, check=check.to_dict()), ensure_ascii=False, default=str))
            else:
                print(f"#{plan['id']} {plan['name']} · {plan['admin_code']} · {plan['status']} · 覆盖率 score {check.score:.4%}")
                print(
                    table(
                        [("编码 code", "名称 name", "改动 action", "户数 households", "人数 persons", "偏离 deviation")]
                        + [
                            (r["code"], r["name"], r["action"], r["households"], r["persons"], f"{r['deviation']:+.0%}")
                            for r in check.loads
                        ]
                    )
                )
                for d in check.defects:
                    print(f"  {d.kind:8s} {d.area_m2:>12,.1f} m²  {'/'.join(d.grid_codes)}  ({d.lon}, {d.lat})")
        elif args.action == "publish":
            result = publish(conn, args.id, by=args.by)
            print(
                json.dumps(result, ensure_ascii=False, default=str)
                if args.json
                else f"published plan {args.id} at {result['published_at']}: {result['closed']} closed, {result['inserted']} new "
                f"versions, relocated {result['relocated']}, coverage score {result.get('coverage_score')}"
            )
        elif args.action == "diff":
            d = diff(conn, args.community, _when(args.at_from), _when(args.at_to))
            if args.json:
                print(json.dumps(d, ensure_ascii=False))
            else:
                print(
                    f"{args.community} {args.at_from} → {args.at_to or 'now'}: added {d['counts']['added']}, "
                    f"removed {d['counts']['removed']}, changed {d['counts']['changed']}; grids {', '.join(d['changed_grids']) or '—'}"
                )
        else:
            print(export_plan(conn, args.id, args.path))
    except (planning.PlanError, ExportFailed, ValueError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()
    return 0
