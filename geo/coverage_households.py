"""The people side of coverage analysis: households in no grid or in two, grid loads, reach.

Point-in-grid is decided in shapely on the stored lon/lat coordinates with one STRtree
bulk query (157k households against 1,600 grids in a fraction of a second, where the
same join in SQL takes seconds). A household on the shared edge of two grids is not in
two grids: it is reported apart ('on_edge'), because the coverage there is sound and
locate_points already gives it to the smaller code. Distances to service centres come
from a k-d tree (scipy) on metric coordinates: exact, and in this data a thousand times
faster than a per-household KNN query over the mixed `place` index.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo.coverage_config import PlanningConfig


def membership(lon, lat, grid_geoms) -> tuple[np.ndarray, np.ndarray]:
    """(household index, grid index) pairs of every grid each household touches, and a
    flag per pair: True when the household is inside the grid, not on its boundary.

    The households are indexed and the grids query them, so shapely prepares each grid
    once (points querying a tree of grids would test every pair unprepared: 4x slower at
    2 million households). "Inside" matters only where a household touches two or more
    grids (in both, or on their shared edge), so it is decided for those pairs alone; a
    household touching one grid counts as inside it. A second whole-jurisdiction query
    (contains_properly) for the flag cost as much as the first."""
    points = shapely.points(np.column_stack([np.asarray(lon, float), np.asarray(lat, float)]).reshape(-1, 2))
    grids = np.asarray(grid_geoms, dtype=object)
    tree = shapely.STRtree(points)
    g, h = tree.query(grids, predicate="intersects")
    pairs = np.vstack([h, g])  # in the tree's order: every use below counts or sorts
    touching = np.bincount(pairs[0], minlength=len(points))
    inside = np.ones(pairs.shape[1], dtype=bool)
    shared = touching[pairs[0]] >= 2
    if shared.any():
        inside[shared] = shapely.contains_properly(grids[pairs[1][shared]], points[pairs[0][shared]])
    return pairs, inside


def _listing(hh: pd.DataFrame, mask: np.ndarray, config: PlanningConfig, codes: list[list[str]] | None = None) -> dict:
    sel = hh[mask]
    items = [dict(id=int(r.id), admin_code=r.admin_code, lon=float(r.lon), lat=float(r.lat))
             for r in sel.head(config.max_items).itertuples(index=False)]
    if codes is not None:
        for item, c in zip(items, [codes[i] for i in np.flatnonzero(mask)]):
            item["grid_codes"] = c
    return dict(count=int(mask.sum()), persons=int(sel["persons"].sum()),
                by_community={k: int(v) for k, v in sel["admin_code"].value_counts().sort_index().items()},
                items=items)


def household_checks(hh: pd.DataFrame, grid_codes: list[str], grid_geoms, config: PlanningConfig):
    """Households in no grid, inside two or more, and on a shared edge; plus per-grid
    household and persons counts (a household in two grids counts in both)."""
    pairs, inside = membership(hh["lon"].to_numpy(), hh["lat"].to_numpy(), grid_geoms)
    n = len(hh)
    touching = np.bincount(pairs[0], minlength=n)
    within = np.bincount(pairs[0][inside], minlength=n)
    names = np.asarray(grid_codes, dtype=object)
    codes_of = [[] for _ in range(n)]
    several = touching[pairs[0]] >= 2  # only households in two or more grids list their codes
    for h, g in zip(pairs[0][several], pairs[1][several]):
        codes_of[h].append(names[g])
    codes_of = [sorted(c) if c else c for c in codes_of]
    result = dict(
        outside_grids=_listing(hh, touching == 0, config),
        in_two=_listing(hh, within >= 2, config, codes_of),
        on_edge=_listing(hh, (touching >= 2) & (within < 2), config, codes_of),
    )
    persons = hh["persons"].to_numpy()
    load = pd.DataFrame(dict(
        households=np.bincount(pairs[1], minlength=len(grid_codes)),
        persons=np.bincount(pairs[1], weights=persons[pairs[0]], minlength=len(grid_codes)).astype(int),
    ), index=list(grid_codes))
    return result, load


def grid_load_issues(grids: pd.DataFrame, load: pd.DataFrame, config: PlanningConfig) -> list[dict]:
    """Grids off their household standard (±tolerance) or over their persons limit.

    The standard is the grid's own household_standard (a villager group's size for rural
    grids), else the urban default; dedicated grids (schools, parks...) have none.
    """
    out = []
    for g in grids.itertuples(index=False):
        households, persons = int(load.at[g.code, "households"]), int(load.at[g.code, "persons"])
        standard = g.household_standard if pd.notna(g.household_standard) else (
            config.household_standard_urban if g.kind == "urban" else None)
        issues = []
        if standard:
            if households > standard * (1 + config.household_tolerance):
                issues.append("above_standard")
            elif households < standard * (1 - config.household_tolerance):
                issues.append("below_standard")
        limit = config.persons_limit(g.kind)
        if limit and persons > limit:
            issues.append("over_persons_limit")
        if issues:
            out.append(dict(grid_code=g.code, admin_code=g.admin_code, kind=g.kind, households=households,
                            persons=persons, standard=int(standard) if standard else None,
                            persons_limit=limit, issues=issues))
    return out


def staffing_issues(grids: pd.DataFrame, roles: dict[str, set]) -> list[dict]:
    """Grids short of the 1+1+N team: a leader and one dedicated worker, full-time in
    town; in the countryside the villager group's part-time worker is that one."""
    out = []
    for g in grids.itertuples(index=False):
        have = roles.get(g.code, set())
        worker = {"fulltime"} if g.kind != "rural" else {"fulltime", "parttime"}
        missing = (["leader"] if "leader" not in have else []) + ([sorted(worker)[0]] if not have & worker else [])
        if missing:
            issues = (["no_worker"] if not have & worker else []) + ["incomplete_team"]
            out.append(dict(grid_code=g.code, admin_code=g.admin_code, kind=g.kind, roles=sorted(have),
                            missing=missing, issues=issues))
    return out


def service_reach(hh_xy: np.ndarray, hh: pd.DataFrame, urban: np.ndarray, centre_xy: np.ndarray,
                  config: PlanningConfig) -> dict:
    """Households farther than the service radius (urban or rural by their community)
    from the nearest service centre, farthest first."""
    radius = np.where(urban, config.service_radius_urban_m, config.service_radius_rural_m)
    if len(centre_xy):
        dist, _ = cKDTree(centre_xy).query(hh_xy)
    else:
        dist = np.full(len(hh), np.inf)
    beyond = dist > radius
    order = np.argsort(-np.where(beyond, dist, -1), kind="stable")[: min(int(beyond.sum()), config.max_items)]
    ids, admin, lon, lat = (hh[c].to_numpy() for c in ("id", "admin_code", "lon", "lat"))
    items = [dict(id=int(ids[i]), admin_code=admin[i], lon=float(lon[i]), lat=float(lat[i]),
                  distance_m=None if np.isinf(dist[i]) else round(float(dist[i]), 1), radius_m=float(radius[i]))
             for i in order]
    frame = pd.DataFrame(dict(admin_code=hh["admin_code"].to_numpy(), beyond=beyond))
    by_comm = frame.groupby("admin_code")["beyond"].agg(["sum", "count"])
    return dict(
        centres=int(len(centre_xy)), households=int(len(hh)), count=int(beyond.sum()),
        share=round(float(beyond.mean()), 4) if len(hh) else 0.0,
        by_community={k: dict(beyond=int(r["sum"]), households=int(r["count"])) for k, r in by_comm.iterrows() if r["sum"]},
        items=items,
    )
