"""`python -m geo simulate`: new incidents arriving as on a working day (geo/demo/simulator.py)."""

from __future__ import annotations

HELP = "模拟实时上报事件 (simulate incidents arriving, for demos)"


def add_arguments(p):
    p.add_argument("--every", type=float, default=20.0, help="seconds between incidents on average (default 20)")
    p.add_argument("--count", type=int, default=0, help="stop after this many (default: run until interrupted)")
    p.add_argument("--seed", type=int, default=None)


def run(args) -> int:
    import sys
    import time

    from geo import db
    from geo.demo.simulator import Simulator

    conn = db.connect()
    try:
        try:
            sim = Simulator(conn, args.seed)
        except ValueError as exc:
            print(f"错误 error: {exc}", file=sys.stderr)
            return 1
        made = 0
        while not args.count or made < args.count:
            new = sim.report()
            made += 1
            print(f"#{new['id']} {new['minor_name']} @ {new['address']}", flush=True)
            if not args.count or made < args.count:
                time.sleep(sim.pause(args.every))
    finally:
        conn.close()
    return 0
