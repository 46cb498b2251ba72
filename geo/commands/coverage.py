"""`python -m geo coverage [--community CODE] [--json] [--refresh] [--set KEY=VALUE ...]`."""

from __future__ import annotations

HELP = "网格覆盖分析：空白、碎片、重叠、越界、户数、人员、服务半径 (grid coverage analysis)"

LABELS = (  # summary key, Chinese label
    ("coverage_score", "覆盖得分 (恰好一格覆盖的面积占比) coverage score"),
    ("gap", "空白区 gaps"),
    ("gap_m2", "空白面积 m² gap area"),
    ("sliver", "碎片 slivers"),
    ("sliver_m2", "碎片面积 m² sliver area"),
    ("overlap", "重叠网格对 overlapping pairs"),
    ("overlap_m2", "重叠面积 m² overlap area"),
    ("crossing", "跨社区网格 grids crossing their community"),
    ("outside", "超出辖区网格 grids outside the jurisdiction"),
    ("households_outside_grids", "未入格户 households in no grid"),
    ("households_in_two", "重复入格户 households in two grids"),
    ("households_on_edge", "边界上的户 households on a shared edge"),
    ("grids_above_standard", "户数超标网格 grids above the household standard"),
    ("grids_below_standard", "户数不足网格 grids below the household standard"),
    ("grids_over_persons_limit", "人数超限网格 grids over the persons limit"),
    ("grids_no_worker", "无专职网格员 grids without a dedicated worker"),
    ("grids_incomplete_team", "1+1+N 不全 incomplete 1+1+N teams"),
    ("households_beyond_service_radius", "超出服务半径户 households beyond the service radius"),
    ("blocks_cut", "被网格切开的街区 blocks cut in two by a grid boundary (with a road layer)"),
)


def add_arguments(p):
    p.add_argument("--community", metavar="CODE", help="one community (12-digit code); default the whole jurisdiction")
    p.add_argument("--json", action="store_true", help="the full report as JSON")
    p.add_argument("--refresh", action="store_true", help="store the jurisdiction's defects for the map layer (if grids changed)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a planning setting, e.g. --set sliver_width_m=20",
    )
    p.add_argument("--test", action="store_true", help="use the test database")


def parse_settings(pairs: list[str]) -> dict:
    """KEY=VALUE strings to typed overrides (numbers as numbers, 'none' as None)."""
    from geo.cli import CommandError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise CommandError(f"--set wants KEY=VALUE, got {pair!r}")
        if value.lower() in ("none", "null", ""):
            out[key.strip()] = None
            continue
        try:
            out[key.strip()] = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            raise CommandError(f"--set {key}: {value!r} is not a number") from None
    return out


def run(args) -> int:
    import json

    from geo import db
    from geo.cli import CommandError, text_table
    from geo.coverage import report as coverage

    settings = parse_settings(args.set)
    conn = db.connect(test=args.test)
    try:
        report = coverage.analyse(conn, args.community, settings)
        stored = coverage.refresh(conn, settings) if args.refresh else None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str))
        return 0
    summary = report.summary()
    print(f"{report.scope_name} {report.scope_code}: {report.grids} 个网格 grids, {report.seconds['total']:.1f} s")
    rows = []
    for key, label in LABELS:
        value = summary[key]
        rows.append(
            (
                label,
                f"{value:.2%}" if key == "coverage_score" else (f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"),
            )
        )
    print(text_table(rows))
    worst = sorted(report.scores, key=lambda s: s["score"] if s["score"] is not None else 1)[:5]
    if len(report.scores) > 1 and worst:
        print("得分最低的社区 lowest-scoring communities:")
        for s in worst:
            print(f"  {s['admin_code']} {s['name']}: {s['score']:.2%}")
    for b in report.blocks_cut[:5]:
        print(f"  街区 block at {b['lon']},{b['lat']} ({b['block_area_m2']:,.0f} m²) in grids {', '.join(b['grid_codes'])}")
    if stored:
        state = "已更新 recomputed" if stored["refreshed"] else "未变化 unchanged since"
        print(f"coverage_defect: {state} grid version {stored['grid_version']}")
    return 0
