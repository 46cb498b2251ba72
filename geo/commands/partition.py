"""`python -m geo partition --community CODE [--target 300] [--persons-limit N] [--json]`."""

from __future__ import annotations

HELP = "自动划分网格建议：按户数目标切分社区 (propose grids for a community)"


def add_arguments(p):
    p.add_argument("--community", required=True, metavar="CODE", help="community / village code (12 digits)")
    p.add_argument("--target", type=int, default=300, help="households per grid (default 300, the urban standard)")
    p.add_argument("--persons-limit", type=int, default=None, help="most residents per grid (default: urban 2500, rural none)")
    p.add_argument("--json", action="store_true", help="the proposal as JSON with GeoJSON grids (lon/lat, EPSG:4326)")
    p.add_argument("--test", action="store_true", help="use the test database")


def run(args) -> int:
    import json

    from geo import db
    from geo.cli import CommandError
    from geo.cli import text_table as table
    from geo.planning import partition

    conn = db.connect(test=args.test)
    try:
        proposal = partition.partition(conn, args.community, args.target, args.persons_limit)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()
    if args.json:
        print(json.dumps(proposal.to_dict(), ensure_ascii=False))
        return 0
    new, now = proposal.metrics["proposal"], proposal.metrics["current"]
    print(
        f"{proposal.community_name} {proposal.community_code}: 目标 target {proposal.target} 户/格, "
        f"{proposal.seconds:.2f} s, 覆盖有效 exact tiling: {'是 yes' if proposal.valid_coverage else '否 NO'}"
    )
    rows = (
        ("网格数 grids", "grids", "{:d}"),
        ("户数均值 mean households", "mean", "{:.1f}"),
        ("最少 min", "min", "{:d}"),
        ("最多 max", "max", "{:d}"),
        ("标准差 std", "std", "{:.1f}"),
        ("偏离目标最大 max |n-target|/target", "max_dev_target", "{:.1%}"),
        ("紧凑度均值 Polsby-Popper mean", "polsby_popper_mean", "{:.3f}"),
        ("紧凑度最小 Polsby-Popper min", "polsby_popper_min", "{:.3f}"),
        ("最多人数 max persons", "max_persons", "{:d}"),
    )
    print(
        table(
            [("", "建议 proposal", "现状 current")]
            + [(label, fmt.format(new[key]), fmt.format(now[key])) for label, key, fmt in rows]
        )
    )
    return 0
