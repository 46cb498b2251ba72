"""Point-in-polygon assignment in memory: which grid (or unit) each point lies in.

Why in memory and not in PostGIS: a bulk import has its points in Python already, and one
bulk STRtree query is 2-3x faster than the same join in SQL (locate_points, used when grids
are republished; issue #8's benchmark measures both beside geopandas' sjoin).

Why this shape: the polygons are indexed and the points query them (shapely prepares each
query geometry; a point is cheap to prepare, and the tree's polygons are tested with GEOS'
fast point-in-polygon) — measured faster than the reverse (points indexed, prepared polygons
querying them) by about 2x on the district's 1,600 grids. STRtree.query releases the GIL,
so large inputs are split across the machine's cores with threads; geopandas' sjoin runs
the same query on one core.

The rule for a point on a shared edge or in an overlap is the caller's: it passes `rank`
(lower wins), as locate_points() takes the smallest grid code.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

MIN_CHUNK = 50_000  # below this, a thread costs more than it saves
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="assign")
    return _pool


def candidates(points: np.ndarray, polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (point index, polygon index) pairs where the point intersects the polygon (its
    inside or its boundary), as two int arrays."""
    if len(points) == 0 or len(polygons) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tree = shapely.STRtree(polygons)
    tree.query(shapely.points(0.0, 0.0))  # the tree is built lazily: build it before threads share it
    k = min(os.cpu_count() or 1, max(1, len(points) // MIN_CHUNK))
    if k == 1:
        return tree.query(points, predicate="intersects")
    bounds = np.linspace(0, len(points), k + 1).astype(np.int64)
    parts = list(_executor().map(lambda i: tree.query(points[bounds[i] : bounds[i + 1]], predicate="intersects"), range(k)))
    return (np.concatenate([p[0] + bounds[i] for i, p in enumerate(parts)]), np.concatenate([p[1] for p in parts]))


def winners(n_points: int, pi: np.ndarray, ti: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """For each point, the index of the polygon of lowest rank among its matches, or -1."""
    out = np.full(n_points, -1, np.int64)
    out[pi] = ti  # most points match once; points matching several are settled below
    hits = np.bincount(pi, minlength=n_points)
    shared = hits[pi] > 1
    if shared.any():
        sp, st = pi[shared], ti[shared]
        order = np.lexsort((rank[st], sp))  # by point, then rank: the first of each point wins
        sp, st = sp[order], st[order]
        first = np.ones(len(sp), bool)
        first[1:] = sp[1:] != sp[:-1]
        out[sp[first]] = st[first]
    return out


def assign(points: np.ndarray, polygons: np.ndarray, rank: np.ndarray | None = None) -> np.ndarray:
    """Index into `polygons` of the polygon each point lies in (-1: none); ties go to the
    lowest `rank` (default: the lowest index)."""
    rank = np.arange(len(polygons)) if rank is None else np.asarray(rank)
    pi, ti = candidates(points, polygons)
    return winners(len(points), pi, ti, rank)
