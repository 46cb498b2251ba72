"""`python -m geo risk [--json] | recompute | config --load [FILE] | ledger | list | notice | keylist | grid CODE`."""

from __future__ import annotations

import json

HELP = "风险分级 高/中/低：网格与事件风险、重点清单、台账与提示函 (risk tiers)"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="JSON output")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("summary", help="网格风险分布与前列网格 (default)").add_argument("--top", type=int, default=10)
    rc = sub.add_parser("recompute", help="重算全部事件与网格风险等级 (recompute every tier)")
    rc.add_argument("--grids-only", action="store_true", help="only grid tiers (daily decay)")
    cfg = sub.add_parser("config", help="风险参数 (show, or --load a TOML file and recompute)")
    cfg.add_argument("--load", nargs="?", const="", metavar="FILE", help="load FILE (default data/risk.toml)")
    led = sub.add_parser("ledger", help="工作台账 Excel of one tier")
    led.add_argument("--tier", required=True, choices=["high", "medium", "low"])
    led.add_argument("--town", help="9-digit town/street code (default: all)")
    led.add_argument("--days", type=int, default=365, help="incidents of the last DAYS days plus all unresolved")
    led.add_argument("file")
    for name, text in (
        ("list", "风险隐患问题清单 of a town (.xlsx, .html or .pdf)"),
        ("notice", "风险提示函 to a town (.xlsx, .html or .pdf)"),
    ):
        q = sub.add_parser(name, help=text)
        q.add_argument("--town", required=True, help="9-digit town/street code")
        q.add_argument("--week-end", help="last day of the week, YYYY-MM-DD (default today)")
        q.add_argument("file")
    kl = sub.add_parser("keylist", help="重点清单: unresolved high-tier incidents")
    kl.add_argument("--town")
    kl.add_argument("--json", action="store_true", dest="json_sub")
    gr = sub.add_parser("grid", help="one grid's tier, factor by factor")
    gr.add_argument("code")
    gr.add_argument("--json", action="store_true", dest="json_sub")


def run(args) -> int:
    from geo import db
    from geo.cli import CommandError
    from geo.risk import tiers as risk

    conn = db.connect()
    try:
        action = args.action or "summary"
        as_json = args.json or getattr(args, "json_sub", False)
        try:
            if action == "config":
                return _config(conn, args, as_json)
            risk.ensure_config(conn)
            handler = {
                "summary": _summary,
                "recompute": _recompute,
                "ledger": _ledger,
                "list": _weekly,
                "notice": _weekly,
                "keylist": _keylist,
                "grid": _grid,
            }[action]
            return handler(conn, args, as_json)
        except (risk.RiskConfigError, ValueError, RuntimeError) as exc:
            raise CommandError(str(exc)) from None
    finally:
        conn.close()


def _print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _config(conn, args, as_json) -> int:
    from geo.risk import tiers as risk

    if args.load is not None:
        changed = risk.load_config(conn, args.load or risk.DEFAULT_CONFIG)
        print(
            f"已加载 loaded {args.load or risk.DEFAULT_CONFIG}: {changed['incidents']} 件事件等级变化, "
            f"{changed['grids']} 个网格重算"
        )
        return 0
    _print_json(risk.active_config(conn))
    return 0


def _summary(conn, args, as_json) -> int:
    from geo import labels
    from geo.risk import tiers as risk

    s = risk.summary(conn, top=getattr(args, "top", 10))
    if as_json:
        _print_json(s)
        return 0
    total = sum(s["grids"].values())
    print(f"网格风险 grid tiers ({total} 个网格, as of {s['as_of']:%Y-%m-%d %H:%M}):")
    for t in risk.TIERS:
        print(f"  {labels.t('tier.' + t)}  {s['grids'][t]:6d}  ({s['grid_share'][t]:.1%})")
    print(
        "事件风险 incident tiers: "
        + "  ".join(f"{labels.t('tier.' + t)} {s['incidents'][t]}" for t in risk.TIERS)
        + (f"  未评估 {s['incidents']['none']}" if s["incidents"]["none"] else "")
    )
    print(f"重点清单 key list: {s['key_list']} 件未化解高风险事项")
    print("风险最高的网格 top grids:")
    for g in s["top"]:
        print(
            f"  {g['grid_code']} {g['grid_name']:<12} {labels.t('tier.' + g['tier'])} {g['score']:5.1f}  "
            + "；".join(g["reasons"])
        )
    return 0


def _recompute(conn, args, as_json) -> int:
    import time

    from geo.risk import tiers as risk

    t0 = time.monotonic()
    incidents = 0 if args.grids_only else risk.recompute_incidents(conn)
    grids = risk.recompute_grids(conn)
    print(f"重算完成 recomputed: {incidents} 件事件等级变化, {grids} 个网格 ({time.monotonic() - t0:.1f} s)")
    return 0


def _ledger(conn, args, as_json) -> int:
    from geo.risk import excel as risk_excel

    n = risk_excel.write_ledger(conn, args.tier, args.file, args.town, args.days)
    print(f"已写入 {args.file}: {n} 条")
    return 0


def _weekly(conn, args, as_json) -> int:
    from datetime import date
    from pathlib import Path

    from geo.cli import CommandError
    from geo.risk import excel as risk_excel
    from geo.risk import printable as risk_html

    week_end = date.fromisoformat(args.week_end) if args.week_end else None
    suffix = Path(args.file).suffix.lower()
    writers = {
        "list": (risk_excel.write_risk_list, risk_html.risk_list_page),
        "notice": (risk_excel.write_notice, risk_html.notice_page),
    }
    workbook, page = writers[args.action]
    if suffix == ".xlsx":
        counts = workbook(conn, args.town, args.file, week_end)
        print(f"已写入 {args.file}: {counts['items']} 件事项, {counts['grids']} 个网格")
    elif suffix in (".html", ".pdf"):
        html = page(conn, args.town, week_end)
        if suffix == ".pdf":
            risk_html.to_pdf(html, args.file)
        else:
            Path(args.file).write_text(html, encoding="utf-8")
        print(f"已写入 {args.file}")
    else:
        raise CommandError(f"{args.file}: use .xlsx, .html or .pdf")
    return 0


def _keylist(conn, args, as_json) -> int:
    from geo.risk import tiers as risk
    from geo.worktime import CST

    rows = risk.key_list(conn, args.town)
    if as_json:
        _print_json(rows)
        return 0
    print(f"重点清单 key list: {len(rows)} 件")
    for r in rows:
        deadline = f"{r['deadline'].astimezone(CST):%Y-%m-%d}" if r["deadline"] else "未定"
        flag = " 超期" if r["overdue"] else ""
        print(
            f"  #{r['id']} {r['category']} {r['town_name'] or ''} 责任 {r['owner']} 已 {r['days_open']} 天"
            f" 时限 {deadline}{flag}  {'；'.join(r['risk_reasons'] or [])}"
        )
    return 0


def _grid(conn, args, as_json) -> int:
    from geo import labels
    from geo.risk import tiers as risk

    g = risk.grid_risk(conn, args.code)
    if g is None:
        raise ValueError(f"没有这个网格 no current grid {args.code}")
    if as_json:
        _print_json(g)
        return 0
    print(f"{g['grid_code']} {g['grid_name']}: {labels.t('tier.' + (g['tier'] or 'none'))} {g['score'] or 0:.1f} 分")
    for key in risk.GRID_FACTORS if g["factors"] else ():
        f = g["factors"][key]
        print(f"  {f['label']:<6} {f['points']:5.1f} 分  {f['text']}")
    return 0
