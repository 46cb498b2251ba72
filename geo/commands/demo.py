"""`python -m geo demo`: build the Kongtong demo jurisdiction and load it, all or nothing."""

from __future__ import annotations

import sys
import time
from datetime import date

HELP = "生成崆峒区演示数据 (build the Kongtong demo jurisdiction)"


def add_arguments(p):
    p.add_argument("--seed", type=int, default=2026, help="random seed (same seed and end date, same data)")
    p.add_argument("--end", type=date.fromisoformat, default=None, help="last day of incidents (default: today)")
    p.add_argument("--years", type=int, default=3, help="years of incident history (default 3)")
    p.add_argument("--if-empty", action="store_true", help="do nothing when a jurisdiction is already loaded")


def run(args) -> int:
    from geo import db
    from geo.demo import loader

    t0 = time.monotonic()
    if args.if_empty:
        conn = db.connect()
        loaded = loader.loaded_jurisdiction(conn)
        conn.close()
        if loaded:
            print(f"已有数据 {loaded}: demo not reloaded (run without --if-empty to replace it)")
            print_accounts()
            return 0

    def progress(msg):
        print(f"[{time.monotonic() - t0:5.1f}s] {msg}", file=sys.stderr, flush=True)

    from geo.demo import generator as demo

    world = demo.generate(seed=args.seed, end=args.end, years=args.years, progress=progress)
    conn = db.connect()
    try:
        loader.load(conn, world, progress)
    finally:
        conn.close()
    progress("完成 done")
    print(summary(world))
    print_accounts()
    return 0


def print_accounts() -> None:
    """The demo's sign-in accounts (made on first run, kept in var/demo-accounts.txt)."""
    from geo import db
    from geo.demo import accounts as demo_accounts
    from geo.demo import loader

    conn = db.connect()
    try:
        if loader.holds_demo(conn):
            text = demo_accounts.ensure(conn)
            print(f"\n登录账号 sign-in accounts (also in {demo_accounts.ACCOUNTS_FILE}):")
            for line in text.splitlines()[1:]:
                print("  " + "  ".join(line.split("\t")))
    finally:
        conn.close()


def summary(world) -> str:
    au, g = world.admin_units, world.grids
    off = g[g["layer"] == "official"]
    inc = world.incidents
    disputes = inc["minor_code"].str.startswith("01").sum()
    lines = [
        "崆峒区演示数据 Kongtong demo (synthetic inside the real boundary):",
        f"  街道/乡镇 towns: {(au['level'] == 'town').sum()}  社区/村 communities: {(au['level'] == 'community').sum()}",
        f"  网格 grids: {len(off)} (urban {(off['kind'] == 'urban').sum()}, rural {(off['kind'] == 'rural').sum()});"
        f" departmental {len(g) - len(off)}",
        f"  户 households: {len(world.households)}  网格员 staff: {len(world.staff)}",
        f"  重点人/危险物/敏感地/服务中心 places: {world.places['kind'].value_counts().to_dict()}",
        f"  事件 incidents: {len(inc)} ({disputes} disputes) over {world.incidents['reported_at'].min():%Y-%m-%d}"
        f" .. {world.incidents['reported_at'].max():%Y-%m-%d}",
        "  deliberate defects: " + ", ".join(f"{k} {len(v)}" for k, v in world.defects.items()),
    ]
    return "\n".join(lines)
