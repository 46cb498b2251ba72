"""The check every plan edit passes through: gaps, overlaps, crossings, loads and the score.

It judges a set of draft grids in memory, with the same rules and the same functions as
coverage analysis (geo.coverage.geometry), so that the score a planner sees on the
workbench is the score `python -m geo coverage` will report once the plan is published:
the share of the community covered by exactly one grid. Neighbouring communities' grids
that enter this community take part as they are (a draft cannot change them), so an edit
that pushes into a neighbour shows up as an overlap at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from geo.coverage.geometry import AdminLocator, Defect, Meter, gap_defects, grid_union, make_defect
from geo.coverage.standards import PlanningConfig

SPATIAL_KINDS = ("gap", "sliver", "overlap", "crossing")


@dataclass
class Context:
    """What does not change while a plan is edited: the community, its neighbours' grids, households."""

    admin_code: str
    area: shapely.Geometry
    neighbours: dict  # code -> geometry of other communities' current grids entering this one
    lon: np.ndarray
    lat: np.ndarray
    persons: np.ndarray
    meter: Meter
    config: PlanningConfig
    urban: bool = True
    roads: shapely.Geometry | None = None  # the road layer over the community: edits snap onto streets too


@dataclass
class Check:
    score: float | None
    area_m2: float
    gap_m2: float
    overlap_m2: float
    defects: list[Defect]
    loads: list[dict]  # per draft grid: code, households, persons, standard, deviation, off
    outside_households: int
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(
            score=self.score,
            area_m2=round(self.area_m2, 1),
            gap_m2=round(self.gap_m2, 1),
            overlap_m2=round(self.overlap_m2, 1),
            outside_households=self.outside_households,
            defects=[dict(d.to_dict(), id=i) for i, d in enumerate(self.defects)],
            loads=self.loads,
            summary=self.summary,
        )


def _overlap_defects(
    codes: list[str], geoms, own: set[str], admin_code: str, meter: Meter, config: PlanningConfig
) -> list[Defect]:
    """Pairs sharing area, at least one of them a draft grid (neighbours among themselves
    are their own community's business)."""
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    out = []
    for i, j in zip(left, right):
        if i >= j or (codes[i] not in own and codes[j] not in own):
            continue
        if shapely.touches(geoms[i], geoms[j]):
            continue
        d = make_defect("overlap", [codes[i], codes[j]], admin_code, shapely.intersection(geoms[i], geoms[j]), meter, config)
        if d:
            out.append(d)
    return out


def loads(ctx: Context, grids: dict[str, dict]) -> tuple[list[dict], int]:
    """Households and persons per draft grid against its standard (±tolerance), and how
    many of the community's households no draft grid holds."""
    out, held = [], np.zeros(len(ctx.lon), bool)
    for code, g in sorted(grids.items()):
        inside = shapely.contains_xy(g["geom"], ctx.lon, ctx.lat) if len(ctx.lon) else np.zeros(0, bool)
        held |= inside
        n, persons = int(inside.sum()), int(ctx.persons[inside].sum())
        standard = g.get("household_standard") or ctx.config.household_standard_urban
        deviation = n / standard - 1.0
        limit = ctx.config.persons_limit(g.get("kind", "urban"))
        out.append(
            dict(
                code=code,
                name=g.get("name", code),
                households=n,
                persons=persons,
                standard=standard,
                deviation=round(deviation, 4),
                off=abs(deviation) > ctx.config.household_tolerance,
                over_persons=bool(limit and persons > limit),
                action=g.get("action", "keep"),
                kind=g.get("kind", "urban"),
                own_standard=g.get("household_standard"),
            )
        )
    return out, int((~held).sum())


def check(ctx: Context, grids: dict[str, dict]) -> Check:
    """The draft `grids` (code -> {geom, kind, household_standard, name, action}) judged in `ctx`."""
    own_codes = sorted(grids)
    codes = own_codes + sorted(c for c in ctx.neighbours if c not in grids)
    geoms = np.array([grids[c]["geom"] for c in own_codes] + [ctx.neighbours[c] for c in codes[len(own_codes) :]], dtype=object)
    locator = AdminLocator([ctx.admin_code], [ctx.area], ctx.admin_code)
    tree = shapely.STRtree(geoms) if len(geoms) else shapely.STRtree([shapely.Point()])
    defects = gap_defects(ctx.area, grid_union(geoms), locator, (codes, tree), ctx.meter, ctx.config) if len(geoms) else []
    if not len(geoms):
        d = make_defect("gap", [], ctx.admin_code, ctx.area, ctx.meter, ctx.config)
        defects = [d] if d else []
    defects += _overlap_defects(codes, geoms, set(own_codes), ctx.admin_code, ctx.meter, ctx.config) if len(geoms) else []
    for code in own_codes:
        d = make_defect(
            "crossing", [code], ctx.admin_code, shapely.difference(grids[code]["geom"], ctx.area), ctx.meter, ctx.config
        )
        if d:
            defects.append(d)
    defects = [d for d in defects if d.kind != "noise"]
    area = float(ctx.meter.area(ctx.area))
    gap = sum(d.area_m2 for d in defects if d.kind in ("gap", "sliver"))
    overlaps = [d.geom for d in defects if d.kind == "overlap"]
    over = float(ctx.meter.area(shapely.intersection(ctx.area, shapely.union_all(overlaps)))) if overlaps else 0.0
    load, outside = loads(ctx, grids)
    defects.sort(key=lambda d: (SPATIAL_KINDS.index(d.kind), -d.area_m2))
    summary = {k: sum(d.kind == k for d in defects) for k in SPATIAL_KINDS}
    summary.update(grids_off_standard=sum(r["off"] for r in load), grids_over_persons=sum(r["over_persons"] for r in load))
    score = round(max(area - gap - over, 0.0) / area, 6) if area else None
    return Check(score, area, gap, over, defects, load, outside, summary)


RELATIVE_TOLERANCE = 1e-4


def worsened(before: Check, after: Check, tolerance_m2: float = 1.0) -> list[str]:
    """What an edit made worse (message keys): more gap or more overlap area than before.

    Areas are measured by projecting vertices to the metric CRS, and a straight lon/lat edge
    is slightly curved there: a vertex added on a defect's edge (a split line crossing the
    edge of a gap, say) changes its measured area by metres without moving anything (4 m² on
    a 100,000 m² gap with a 1.7 km slanted edge). So a defect may grow by 0.01 % of its size
    (and at least `tolerance_m2`) before the edit counts as making it worse."""
    out = []

    def grew(a: float, b: float) -> bool:
        return b > a + max(tolerance_m2, RELATIVE_TOLERANCE * a)

    if grew(before.gap_m2, after.gap_m2):
        out.append("gap")
    if grew(before.overlap_m2, after.overlap_m2):
        out.append("overlap")
    crossing = lambda c: sum(d.area_m2 for d in c.defects if d.kind == "crossing")  # noqa: E731
    if grew(crossing(before), crossing(after)):
        out.append("crossing")
    return out
