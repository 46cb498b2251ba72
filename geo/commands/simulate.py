"""`python -m geo simulate`: new incidents arriving as on a working day, for demos and drills.

A command center is judged on how its screen reacts to what happens now; on a demo
database nothing happens, so this feeds it: every few seconds a grid worker reports an
incident at a real household's door, routed like any other (grid, department, deadline,
risk tier). Every incident it makes is marked synthetic and names the simulator as actor.
"""

from __future__ import annotations

HELP = "模拟实时上报事件 (simulate incidents arriving, for demos)"


def add_arguments(p):
    p.add_argument("--every", type=float, default=20.0, help="seconds between incidents on average (default 20)")
    p.add_argument("--count", type=int, default=0, help="stop after this many (default: run until interrupted)")
    p.add_argument("--seed", type=int, default=None)


def run(args) -> int:
    import time

    import numpy as np

    from geo import db
    from geo.incidents import dispatch as routing

    rng = np.random.default_rng(args.seed)
    conn = db.connect()
    cats = db.rows(conn, "SELECT minor_code, minor_name, is_dispute FROM category ORDER BY minor_code")
    weights = np.array([3.0 if c["is_dispute"] else 1.0 for c in cats])
    households = max(1, db.scalar(conn, "SELECT count(*) FROM household"))
    made = 0
    try:
        while not args.count or made < args.count:
            home = db.one(
                conn,
                "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, address FROM household OFFSET %s LIMIT 1",
                (int(rng.integers(0, households)),),
            )
            cat = cats[int(rng.choice(len(cats), p=weights / weights.sum()))]
            people = int(rng.geometric(0.45) + 1)
            new_id = routing.create_incident(
                conn,
                lon=home["lon"] + rng.normal(0, 0.0002),
                lat=home["lat"] + rng.normal(0, 0.0002),
                minor_code=cat["minor_code"],
                actor="simulator",
                source=str(rng.choice(["patrol", "resident", "hotline"])),
                description=f"{home['address']}：{cat['minor_name']}（模拟上报）",
                address=home["address"],
                people_involved=people,
                conflict_intensity=int(rng.choice(4, p=[0.5, 0.3, 0.15, 0.05])),
                behaviour_risk=int(rng.choice(4, p=[0.6, 0.25, 0.11, 0.04])),
            )
            db.execute(conn, "UPDATE incident SET synthetic = true WHERE id = %s", (new_id,))
            conn.commit()
            made += 1
            print(f"#{new_id} {cat['minor_name']} @ {home['address']}", flush=True)
            if not args.count or made < args.count:
                time.sleep(float(rng.exponential(args.every)))
    finally:
        conn.close()
    return 0
