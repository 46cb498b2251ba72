"""多网合一: where departmental grids (police beats, urban management, ...) disagree with the
official grid of a community, and adopting a department's boundary into a draft, piece by piece.

The honest simple version: for each departmental polygon entering the community, the
official grids it cuts through (a share of the grid on each side above a tolerance) and
the area where the two layers disagree (the symmetric difference between the department's
polygon and the official grids it mostly holds). Adopting the polygon gives its area (inside
the community) to the official grid that already holds most of it and takes it out of the
others, so the official boundary follows the department's there. Not done: matching
boundary segments one by one, and layers that disagree with each other (only with the
official one).
"""
from __future__ import annotations

import shapely

from geo import db
from geo.coverage_geometry import polygon_parts
from geo.planning import EditResult, PlanError, _draft, apply, context, grids

MIN_SHARE = 0.05  # a grid is "cut" when at least 5 % of it lies on each side
MIN_AREA_M2 = 500.0  # and each side holds at least this much


def departmental(conn, admin_code: str) -> list[dict]:
    """Current departmental polygons (layer <> 'official') entering the community."""
    return [dict(r, geom=shapely.from_wkb(bytes(r.pop("wkb")))) for r in db.rows(conn, """
        SELECT g.layer, g.code, g.name, ST_AsBinary(g.geom) AS wkb FROM grid g, admin_unit a
         WHERE a.code = %s AND g.valid_to IS NULL AND g.layer <> 'official' AND ST_Intersects(g.geom, a.geom)
           AND NOT ST_Touches(g.geom, a.geom)
         ORDER BY g.layer, g.code""", (admin_code,))]


def disagreements(conn, plan_id: int) -> list[dict]:
    """Per departmental polygon: the plan's grids it cuts and the disagreeing area (m²)."""
    ctx = context(conn, plan_id)
    plan_grids = grids(conn, plan_id)
    out = []
    for d in departmental(conn, ctx.admin_code):
        inside = shapely.intersection(d["geom"], ctx.area)
        if not polygon_parts(inside):
            continue
        cut, held = [], []
        for code, g in plan_grids.items():
            a_in = float(ctx.meter.area(shapely.intersection(g["geom"], inside)))
            if a_in <= 0:
                continue
            a_out = float(ctx.meter.area(shapely.difference(g["geom"], inside)))
            whole = a_in + a_out
            if a_in >= whole / 2:
                held.append(g["geom"])
            if min(a_in, a_out) >= max(MIN_AREA_M2, MIN_SHARE * whole):
                cut.append(dict(code=code, name=g["name"], inside_m2=round(a_in, 1), outside_m2=round(a_out, 1)))
        official = shapely.union_all(held) if held else shapely.GeometryCollection()
        mismatch = float(ctx.meter.area(shapely.intersection(shapely.symmetric_difference(inside, official), ctx.area)))
        if cut or mismatch >= MIN_AREA_M2:
            where = shapely.point_on_surface(inside)
            out.append(dict(layer=d["layer"], code=d["code"], name=d["name"], cuts=cut, mismatch_m2=round(mismatch, 1),
                            lon=round(where.x, 7), lat=round(where.y, 7),
                            geometry=shapely.geometry.mapping(inside)))
    return out


def adopt(conn, plan_id: int, layer: str, code: str, force: bool = False) -> EditResult:
    """Make the official grids follow a departmental polygon's boundary inside the community."""
    _draft(conn, plan_id)
    ctx = context(conn, plan_id)
    found = [d for d in departmental(conn, ctx.admin_code) if d["layer"] == layer and d["code"] == code]
    if not found:
        raise PlanError(f"no current {layer} grid {code} enters this community")
    piece = shapely.intersection(found[0]["geom"], ctx.area)
    live = grids(conn, plan_id)
    share = {c: shapely.intersection(g["geom"], piece).area for c, g in live.items()}
    if not live or max(share.values()) <= 0:
        raise PlanError(f"{layer} {code} touches no grid of this plan")
    owner = max(share, key=share.get)
    changes = {owner: dict(live[owner], geom=shapely.union(live[owner]["geom"], piece))}
    for c, g in live.items():
        if c != owner and share[c] > 0:
            rest = shapely.difference(g["geom"], piece)
            changes[c] = dict(g, geom=rest) if polygon_parts(rest) else None
    return apply(conn, plan_id, "adopt", changes, note=f"{layer} {code}", force=force, ctx=ctx)
