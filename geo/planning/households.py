"""Households on the planner's workbench: who lies in which draft grid, and moving chosen
households to another grid.

A household's grid is derived from its point (locate_points at publish, coverage
analysis, the big screen's counts), so a move is a boundary move and goes through the one
code path that does it, geo.planning.drafts.move_households: the households' surroundings are
carved out of their grid into the target, checked like every other edit and put on the
undo stack; publish then re-derives household.grid_code inside the same transaction as
the grid switch. The page picks households by id; this module turns ids into points and
the grid they lie in now, and says how many households each grid holds after the move
(exactly the chosen ones move when their Voronoi cells reach the target grid; otherwise
the corridor to it may carry others, and the counts say so).

Names are personal data: the page gets the address and a masked head name only.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo import db
from geo.planning import drafts as planning
from geo.security.masking import mask_name

LIST_LIMIT = 20000  # a community holds a few thousand households at most; beyond this the page would crawl


def _name_column(conn) -> str:
    """The masked head name as the database keeps it (head_name_masked, readable by the web
    roles where the full name is not), else the full name, masked here before it leaves."""
    return (
        "head_name_masked"
        if db.scalar(
            conn,
            """SELECT EXISTS (SELECT 1 FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'household' AND column_name = 'head_name_masked')""",
        )
        else "head_name"
    )


def _points(conn, admin_code: str, area, ids=None) -> list[dict]:
    name = _name_column(conn)  # one of two fixed column names, never user input
    rows = db.rows(
        conn,
        f"""
        SELECT id, address, {name} AS head_name, persons, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM household
         WHERE (admin_code = %(c)s OR ST_Intersects(geom, ST_GeomFromWKB(%(a)s, 4326)))
           AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
         ORDER BY id LIMIT %(n)s""",
        dict(c=admin_code, a=area.wkb, ids=ids, n=LIST_LIMIT),
    )
    if name == "head_name":
        for r in rows:
            r["head_name"] = mask_name(r["head_name"])
    return rows


def draft_grid_of(grids: dict[str, dict], lon, lat) -> list[str | None]:
    """The draft grid holding each point (the first by code when grids overlap; None in a gap)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    out = np.full(len(lon), None, dtype=object)
    for code in sorted(grids, reverse=True):  # the lowest code wins, as locate_points does
        out[shapely.contains_xy(grids[code]["geom"], lon, lat)] = code
    return list(out)


def households(conn, plan_id: int | None, pctx=None, grids=None) -> list[dict]:
    """The community's households with their draft grid: id, lon, lat, persons, label
    (address and masked head name), grid (plan_id None: pctx and grids of the grids in force)."""
    pctx = pctx or planning.context(conn, plan_id)
    grids = grids if grids is not None else planning.grids(conn, plan_id)
    rows = _points(conn, pctx.admin_code, pctx.area)
    where = draft_grid_of(grids, [r["lon"] for r in rows], [r["lat"] for r in rows])
    return [
        dict(
            id=r["id"],
            lon=round(r["lon"], 7),
            lat=round(r["lat"], 7),
            persons=r["persons"],
            grid=g,
            label=" ".join(x for x in (r["address"], r["head_name"]) if x),
        )
        for r, g in zip(rows, where)
    ]


def move(conn, plan_id: int, ids: list[int], to_code: str, force: bool = False) -> planning.EditResult:
    """Hand the households `ids` to grid `to_code` by moving the boundary (one edit).

    They must all lie in one other draft grid now; the edit is refused like any other when
    it would open a gap or overlap, and PlanError says why when it cannot be done at all."""
    plan = planning._draft(conn, plan_id)
    ids = sorted({int(i) for i in ids or []})
    if not ids:
        raise planning.PlanError("先在地图上选择住户（点击住户点，Shift+拖动框选）")
    pctx = planning.context(conn, plan_id)
    grids = planning.grids(conn, plan_id)
    if to_code not in grids:
        raise planning.PlanError(f"grid {to_code} is not in this plan (or was removed)")
    rows = _points(conn, plan["admin_code"], pctx.area, ids)
    if len(rows) != len(ids):
        raise planning.PlanError("some of these households are not in this community")
    where = draft_grid_of(grids, [r["lon"] for r in rows], [r["lat"] for r in rows])
    moving = [(r, g) for r, g in zip(rows, where) if g != to_code]  # those already there stay
    if not moving:
        raise planning.PlanError(f"these households are already in grid {to_code}")
    sources = {g for _, g in moving}
    if None in sources:
        raise planning.PlanError("some of these households lie in no grid: give the gap to a grid instead (并入)")
    if len(sources) != 1:
        raise planning.PlanError("choose households of one grid at a time (they now lie in " + "、".join(sorted(sources)) + ")")
    return planning.move_households(
        conn, plan_id, sources.pop(), to_code, [r["lon"] for r, _ in moving], [r["lat"] for r, _ in moving], force=force
    )


def moved_counts(result: planning.EditResult) -> list[dict]:
    """Household counts of the grids an edit wrote, before and after, against their standard
    (what the page shows for a move: both grids at once)."""
    before = {r["code"]: r for r in result.before.loads}
    out = []
    for r in result.after.loads:
        if r["code"] in result.codes:
            b = before.get(r["code"], {})
            out.append(
                dict(
                    code=r["code"],
                    before=b.get("households", 0),
                    after=r["households"],
                    standard=r["standard"],
                    deviation=r["deviation"],
                    off=r["off"],
                )
            )
    return out
