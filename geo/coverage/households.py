"""The people side of coverage analysis: households in no grid or in two, grid loads, reach.

Point-in-grid is decided in shapely on the stored lon/lat coordinates. A household on the
shared edge of two grids is not in two grids: it is reported apart ('on_edge'), because
the coverage there is sound and locate_points already gives it to the smaller code.

The stored household.grid_code is used as a hint, never as the answer: it is a cache
(locate_points fills it on import and publish; nothing re-derives it when a household is
inserted or moved, or a grid changed, by plain SQL), so each hint is checked against the
geometry. A household strictly inside its hinted grid, when that grid shares area with
no other grid, lies in that grid alone (its interior would otherwise meet another grid's
interior: a non-touching pair); one prepared point-in-polygon test per household settles
those (0.1 s for 2 million at city scale, where building point objects and a tree of them
took 2.9 s). Everything else (no hint, a wrong hint, on a boundary, in a grid that
overlaps another) goes through the full search: an STRtree of those points queried by the
prepared grids. Distances to service centres come from a k-d tree (scipy) on metric
coordinates: exact, and in this data a thousand times faster than a per-household KNN
query over the mixed `place` index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo.coverage.standards import PlanningConfig


@dataclass
class Households:
    """The households of a scope as columns, in ascending id."""

    id: np.ndarray  # int64
    persons: np.ndarray  # int64
    lon: np.ndarray  # float64, as stored
    lat: np.ndarray
    admin: np.ndarray  # int index into admin_codes
    admin_codes: np.ndarray  # object array of the distinct administrative codes
    urban: np.ndarray  # bool: the household's community is urban
    hint: np.ndarray  # int index into the analysed grids of household.grid_code; -1 none

    def __len__(self) -> int:
        return len(self.id)

    @classmethod
    def empty(cls) -> "Households":
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, np.zeros(0), np.zeros(0), none, np.array([], dtype=object), np.zeros(0, bool), none)


def membership(lon, lat, grid_geoms, hint=None, shared=None) -> tuple[np.ndarray, np.ndarray]:
    """(household index, grid index) pairs of every grid each household touches, and a
    flag per pair: True when the household is inside the grid, not on its boundary.

    `hint`: a grid index per household to try first (-1: none); `shared`: per grid, True
    when it shares area with another grid (hints into those are not trusted). Without
    hints every household takes the full search."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    grids = np.asarray(grid_geoms, dtype=object)
    n = len(lon)
    settled = np.zeros(n, dtype=bool)
    if hint is not None and len(grids) and n:
        hint = np.asarray(hint)
        trusted = hint >= 0
        if shared is not None:
            trusted[trusted] = ~np.asarray(shared, bool)[hint[trusted]]
        tried = np.flatnonzero(trusted)
        shapely.prepare(grids)
        settled[tried] = shapely.contains_xy(grids[hint[tried]], lon[tried], lat[tried])
    fast = np.flatnonzero(settled)
    rest = np.flatnonzero(~settled)
    pairs, inside = _search(lon[rest], lat[rest], grids)
    pairs = np.hstack([np.vstack([fast, hint[fast] if len(fast) else fast]), np.vstack([rest[pairs[0]], pairs[1]])])
    return pairs.astype(np.int64), np.concatenate([np.ones(len(fast), dtype=bool), inside])


def _search(lon, lat, grids) -> tuple[np.ndarray, np.ndarray]:
    """membership by search alone. The points are indexed and the grids query them, so
    shapely prepares each grid once (points querying a tree of grids would test every
    pair unprepared: 4x slower at 2 million households). "Inside" matters only where a
    household touches two or more grids (in both, or on their shared edge), so it is
    decided for those pairs alone; a household touching one grid counts as inside it."""
    if not len(lon) or not len(grids):
        return np.zeros((2, 0), dtype=np.int64), np.zeros(0, dtype=bool)
    points = shapely.points(lon, lat)
    tree = shapely.STRtree(points)
    g, h = tree.query(grids, predicate="intersects")
    pairs = np.vstack([h, g])  # in the tree's order: every use below counts or sorts
    touching = np.bincount(pairs[0], minlength=len(points))
    inside = np.ones(pairs.shape[1], dtype=bool)
    shared = touching[pairs[0]] >= 2
    if shared.any():
        inside[shared] = shapely.contains_properly(grids[pairs[1][shared]], points[pairs[0][shared]])
    return pairs, inside


def _by_community(hh: Households, rows: np.ndarray) -> dict:
    counts = np.bincount(hh.admin[rows], minlength=len(hh.admin_codes))
    return {hh.admin_codes[i]: int(counts[i]) for i in sorted(np.flatnonzero(counts), key=lambda i: hh.admin_codes[i])}


def _listing(hh: Households, mask: np.ndarray, config: PlanningConfig, codes: dict[int, list[str]] | None = None) -> dict:
    rows = np.flatnonzero(mask)
    items = [
        dict(id=int(hh.id[i]), admin_code=hh.admin_codes[hh.admin[i]], lon=float(hh.lon[i]), lat=float(hh.lat[i]))
        for i in rows[: config.max_items]
    ]
    if codes is not None:
        for item, i in zip(items, rows):
            item["grid_codes"] = codes.get(int(i), [])
    return dict(count=len(rows), persons=int(hh.persons[rows].sum()), by_community=_by_community(hh, rows), items=items)


def household_checks(hh: Households, grid_codes: list[str], grid_geoms, config: PlanningConfig, shared=None):
    """Households in no grid, inside two or more, and on a shared edge; plus per-grid
    household and persons counts (a household in two grids counts in both)."""
    pairs, inside = membership(hh.lon, hh.lat, grid_geoms, hh.hint, shared)
    n = len(hh)
    touching = np.bincount(pairs[0], minlength=n)
    within = np.bincount(pairs[0][inside], minlength=n)
    names = np.asarray(grid_codes, dtype=object)
    several = touching[pairs[0]] >= 2  # only households in two or more grids list their codes
    codes_of: dict[int, list[str]] = {}
    for h, g in zip(pairs[0][several].tolist(), pairs[1][several].tolist()):
        codes_of.setdefault(h, []).append(names[g])
    codes_of = {h: sorted(c) for h, c in codes_of.items()}
    result = dict(
        outside_grids=_listing(hh, touching == 0, config),
        in_two=_listing(hh, within >= 2, config, codes_of),
        on_edge=_listing(hh, (touching >= 2) & (within < 2), config, codes_of),
    )
    load = pd.DataFrame(
        dict(
            households=np.bincount(pairs[1], minlength=len(grid_codes)),
            persons=np.bincount(pairs[1], weights=hh.persons[pairs[0]], minlength=len(grid_codes)).astype(int),
        ),
        index=list(grid_codes),
    )
    return result, load


def grid_load_issues(grids: pd.DataFrame, load: pd.DataFrame, config: PlanningConfig) -> list[dict]:
    """Grids off their household standard (±tolerance) or over their persons limit.

    The standard is the grid's own household_standard (a villager group's size for rural
    grids), else the urban default; dedicated grids (schools, parks...) have none.
    """
    counts = load.reindex(grids["code"]).fillna(0).astype(int)  # one lookup for all grids (20,000 at city scale)
    own_standard = grids["household_standard"].to_numpy(dtype=object)
    has_own = pd.notna(grids["household_standard"]).to_numpy()
    out = []
    for code, admin_code, kind, own, has, households, persons in zip(
        grids["code"].tolist(),
        grids["admin_code"].tolist(),
        grids["kind"].tolist(),
        own_standard,
        has_own.tolist(),
        counts["households"].tolist(),
        counts["persons"].tolist(),
    ):
        standard = own if has else (config.household_standard_urban if kind == "urban" else None)
        issues = []
        if standard:
            if households > standard * (1 + config.household_tolerance):
                issues.append("above_standard")
            elif households < standard * (1 - config.household_tolerance):
                issues.append("below_standard")
        limit = config.persons_limit(kind)
        if limit and persons > limit:
            issues.append("over_persons_limit")
        if issues:
            out.append(
                dict(
                    grid_code=code,
                    admin_code=admin_code,
                    kind=kind,
                    households=households,
                    persons=persons,
                    standard=int(standard) if standard else None,
                    persons_limit=limit,
                    issues=issues,
                )
            )
    return out


def staffing_issues(grids: pd.DataFrame, roles: dict[str, set]) -> list[dict]:
    """Grids short of the 1+1+N team: a leader and one dedicated worker, full-time in
    town; in the countryside the villager group's part-time worker is that one."""
    out = []
    for code, admin_code, kind in zip(grids["code"].tolist(), grids["admin_code"].tolist(), grids["kind"].tolist()):
        have = roles.get(code, set())
        worker = {"fulltime"} if kind != "rural" else {"fulltime", "parttime"}
        missing = (["leader"] if "leader" not in have else []) + ([sorted(worker)[0]] if not have & worker else [])
        if missing:
            issues = (["no_worker"] if not have & worker else []) + ["incomplete_team"]
            out.append(dict(grid_code=code, admin_code=admin_code, kind=kind, roles=sorted(have), missing=missing, issues=issues))
    return out


def service_reach(hh_xy: np.ndarray, hh: Households, centre_xy: np.ndarray, config: PlanningConfig) -> dict:
    """Households farther than the service radius (urban or rural by their community)
    from the nearest service centre, farthest first."""
    radius = np.where(hh.urban, config.service_radius_urban_m, config.service_radius_rural_m)
    if len(centre_xy):
        dist, _ = cKDTree(centre_xy).query(hh_xy)
    else:
        dist = np.full(len(hh), np.inf)
    beyond = dist > radius
    far = np.flatnonzero(beyond)
    order = far[np.argsort(-dist[far], kind="stable")][: config.max_items]  # ties in id order
    items = [
        dict(
            id=int(hh.id[i]),
            admin_code=hh.admin_codes[hh.admin[i]],
            lon=float(hh.lon[i]),
            lat=float(hh.lat[i]),
            distance_m=None if np.isinf(dist[i]) else round(float(dist[i]), 1),
            radius_m=float(radius[i]),
        )
        for i in order
    ]
    total = np.bincount(hh.admin, minlength=len(hh.admin_codes))
    counted = np.bincount(hh.admin[far], minlength=len(hh.admin_codes))
    return dict(
        centres=int(len(centre_xy)),
        households=int(len(hh)),
        count=len(far),
        share=round(float(beyond.mean()), 4) if len(hh) else 0.0,
        by_community={
            hh.admin_codes[i]: dict(beyond=int(counted[i]), households=int(total[i]))
            for i in sorted(np.flatnonzero(counted), key=lambda i: hh.admin_codes[i])
        },
        items=items,
    )
