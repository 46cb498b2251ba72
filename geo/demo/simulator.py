"""New incidents arriving as on a working day, for demos and drills (`python -m geo simulate`).

A command center is judged on how its screen reacts to what happens now; on a demo
database nothing happens, so this feeds it: a grid worker reports an incident at a real
household's door, routed like any other (grid, department, deadline, risk tier). Every
incident it makes is marked synthetic and names the simulator as actor.
"""

from __future__ import annotations

import numpy as np

from geo import db
from geo.incidents import dispatch


class Simulator:
    """Draws incidents: disputes three times as likely as other categories, at a random
    household give or take ~20 m, with plausible people and risk factors."""

    def __init__(self, conn, seed: int | None = None):
        self.conn = conn
        self.rng = np.random.default_rng(seed)
        self.categories = db.rows(conn, "SELECT minor_code, minor_name, is_dispute FROM category ORDER BY minor_code")
        if not self.categories:
            raise ValueError("no incident categories: load a jurisdiction first (python -m geo demo)")
        weights = np.array([3.0 if c["is_dispute"] else 1.0 for c in self.categories])
        self.weights = weights / weights.sum()
        self.households = db.scalar(conn, "SELECT count(*) FROM household")
        if not self.households:
            raise ValueError("no households to report from: load a jurisdiction first (python -m geo demo)")

    def report(self) -> dict:
        """One incident reported and committed: its id, category name and address."""
        rng = self.rng
        home = db.one(
            self.conn,
            "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, address FROM household OFFSET %s LIMIT 1",
            (int(rng.integers(0, self.households)),),
        )
        cat = self.categories[int(rng.choice(len(self.categories), p=self.weights))]
        new_id = dispatch.create_incident(
            self.conn,
            lon=home["lon"] + rng.normal(0, 0.0002),
            lat=home["lat"] + rng.normal(0, 0.0002),
            minor_code=cat["minor_code"],
            actor="simulator",
            source=str(rng.choice(["patrol", "resident", "hotline"])),
            description=f"{home['address']}：{cat['minor_name']}（模拟上报）",
            address=home["address"],
            people_involved=int(rng.geometric(0.45) + 1),
            conflict_intensity=int(rng.choice(4, p=[0.5, 0.3, 0.15, 0.05])),
            behaviour_risk=int(rng.choice(4, p=[0.6, 0.25, 0.11, 0.04])),
        )
        db.execute(self.conn, "UPDATE incident SET synthetic = true WHERE id = %s", (new_id,))
        self.conn.commit()
        return {"id": new_id, "minor_name": cat["minor_name"], "address": home["address"]}

    def pause(self, every: float) -> float:
        """Seconds to the next report: exponential around `every`, as arrivals are."""
        return float(self.rng.exponential(every))
