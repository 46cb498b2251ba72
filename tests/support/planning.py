"""The planner tests on the demo: a community with defects to fix, and putting it back
afterwards so the demo stays reusable (shared by the library and browser tests)."""

from __future__ import annotations

import pytest

from geo import db
from geo.coverage import report as coverage
from geo.planning import drafts as planning
from geo.planning.publish import grids_at, publish


def fixable_community(conn) -> tuple[str, int, dict]:
    """A community whose draft check has a gap/sliver bordering its own grid and an overlap
    between two of its own grids (the demo's deliberate defects)."""
    candidates = [
        r["admin_code"]
        for r in db.rows(
            conn,
            """
        SELECT admin_code FROM coverage_defect GROUP BY admin_code
        HAVING bool_or(kind IN ('gap', 'sliver')) AND bool_or(kind = 'overlap') ORDER BY admin_code""",
        )
    ]
    if not candidates:
        coverage.refresh(conn, force=True)
        return fixable_community(conn)
    for code in candidates:
        plan_id = planning.create(conn, code, name="test: fix a gap and an overlap", created_by="pytest")
        check = planning.evaluate(conn, plan_id)
        own = set(planning.grids(conn, plan_id))
        gap = next((d for d in check.defects if d.kind in ("gap", "sliver") and own & set(d.grid_codes)), None)
        over = next((d for d in check.defects if d.kind == "overlap" and set(d.grid_codes) <= own), None)
        if gap and over:
            return code, plan_id, dict(gap=gap, overlap=over, check=check, own=own)
        planning.abandon(conn, plan_id)
    pytest.skip("no community of the demo has both a fixable gap and an overlap")


def restore(conn, code: str, old: dict) -> None:
    """Publish the community's old geometry again (as new versions) if it changed."""
    now = grids_at(conn, code)
    if {c: g.wkb for c, g in now.items()} == {c: g.wkb for c, g in old.items()}:
        return
    plan_id = planning.create(conn, code, name="test: restore the demo", created_by="pytest")
    live = planning.grids(conn, plan_id)
    changes = {
        c: dict(live.get(c) or {}, code=c, geom=g) for c, g in old.items() if c not in live or live[c]["geom"].wkb != g.wkb
    }
    changes.update({c: None for c in live if c not in old})
    planning.apply(conn, plan_id, "restore", changes, force=True)
    publish(conn, plan_id, by="pytest")
