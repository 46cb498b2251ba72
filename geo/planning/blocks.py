"""Blocks (街区): the polygons that roads cut out of a community, and grids made of whole blocks.

Planners draw grids along streets (以路为界): a block is never cut in two, so a grid boundary
is a road or the community's own edge, and a worker's patrol follows streets that everyone
names. The blocks come from geo.streets; any union of them tiles the community exactly.

The partition is the shortest splitline of geo.planning.partition carried over to blocks:
split a set of blocks in the household ratio k1:k2 along the direction whose cut (the total
length of road between the two sides) is shortest among the contiguous, balanced splits, and
recurse; then a few boundary blocks change sides where that brings a grid nearer the target
without breaking a grid in two. Blocks are indivisible, so balance is as good as the blocks
allow: a block holding more households than the target stays whole (the result says so).
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from geo.local_frame import ANGLES, LocalFrame
from geo.streets import community_blocks

MIN_SHARED_M = 0.5  # blocks touching at a corner only are not neighbours
SIDE_CHANGE_ROUNDS = 60  # refinement moves at most, each one block


def adjacency(blocks_m: list) -> list[dict[int, float]]:
    """For each block, its neighbours and the length of road they share (metres)."""
    tree = shapely.STRtree(blocks_m)
    out: list[dict[int, float]] = [dict() for _ in blocks_m]
    for i, b in enumerate(blocks_m):
        for j in tree.query(b, predicate="intersects"):
            j = int(j)
            if j <= i:
                continue
            shared = shapely.intersection(b.boundary, blocks_m[j].boundary).length
            if shared >= MIN_SHARED_M:
                out[i][j] = out[j][i] = shared
    return out


def _connected(members: set[int], adj: list[dict[int, float]]) -> bool:
    if not members:
        return False
    start = next(iter(members))
    seen, stack = {start}, [start]
    while stack:
        for j in adj[stack.pop()]:
            if j in members and j not in seen:
                seen.add(j)
                stack.append(j)
    return len(seen) == len(members)


def _cut_length(left: set[int], adj: list[dict[int, float]]) -> float:
    return sum(w for i in left for j, w in adj[i].items() if j not in left)


def split_blocks(members: list[int], k: int, xy: np.ndarray, n: np.ndarray, adj) -> list[list[int]]:
    """k groups of `members` (block indices): recursive splitlines over block centroids."""
    if k <= 1 or len(members) < 2:
        return [members]
    k1 = k // 2
    total = n[members].sum()
    want = total * k1 / k
    tolerance = max(total / k * 0.05, 1.0)  # a split within 5% of one grid's share is balanced
    best = None
    for theta in ANGLES:
        u = np.array([math.cos(theta), math.sin(theta)])
        order = [members[i] for i in np.argsort(xy[members] @ u, kind="stable")]
        cum = np.cumsum(n[order])
        at = int(np.searchsorted(cum, want))
        for cut in {min(max(c, 1), len(order) - 1) for c in (at - 1, at, at + 1)}:
            left = set(order[:cut])
            right = set(order[cut:])
            off = abs(cum[cut - 1] - want)
            whole = _connected(left, adj) and _connected(right, adj)
            # Contiguous first, then balanced to within the tolerance, then the shortest cut.
            key = (not whole, max(off - tolerance, 0.0), _cut_length(left, adj))
            if best is None or key < best[0]:
                best = (key, sorted(left), sorted(right))
    _, left, right = best
    return split_blocks(left, k1, xy, n, adj) + split_blocks(right, k - k1, xy, n, adj)


def rebalance(groups: list[list[int]], n: np.ndarray, adj, target: float) -> list[list[int]]:
    """Move single boundary blocks between neighbouring grids while that lowers the largest
    deviation from the target and leaves both grids in one piece."""
    owner = {b: g for g, members in enumerate(groups) for b in members}
    sets = [set(m) for m in groups]
    for _ in range(SIDE_CHANGE_ROUNDS):
        loads = np.array([n[list(s)].sum() for s in sets], float)
        worst = float(np.abs(loads - target).max())
        move = None
        for b, g in owner.items():
            if len(sets[g]) < 2:
                continue
            for h in {owner[j] for j in adj[b] if owner[j] != g}:
                after = loads.copy()
                after[g] -= n[b]
                after[h] += n[b]
                gain = worst - float(np.abs(after - target).max())
                if gain > 0 and (move is None or gain > move[0]):
                    if _connected(sets[g] - {b}, adj):
                        move = (gain, b, g, h)
        if move is None:
            break
        _, b, g, h = move
        sets[g].discard(b)
        sets[h].add(b)
        owner[b] = h
    return [sorted(s) for s in sets]


def propose_on_blocks(community_ll, roads_ll, lon, lat, persons, target: int, persons_limit: int | None):
    """Grids (lon/lat polygons) that are unions of whole blocks, or None when the roads cut the
    community into fewer blocks than grids are needed (the caller then cuts straight lines)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    persons = np.asarray(persons, float)
    k = max(1, int(round(len(lon) / target)))
    if persons_limit and len(lon):
        k = max(k, int(math.ceil(persons.sum() / persons_limit)))
    blocks = community_blocks(community_ll, roads_ll)
    if len(blocks) < max(k, 2):
        return None, None
    c = community_ll.centroid
    frame = LocalFrame(c.x, c.y)
    blocks_m = [frame.to_m(b) for b in blocks]
    counts = households_per_block(blocks, lon, lat)
    centroids = np.array([[b.centroid.x, b.centroid.y] for b in blocks_m])
    adj = adjacency(blocks_m)
    groups = split_blocks(list(range(len(blocks))), k, centroids, counts.astype(float), adj)
    groups = rebalance(groups, counts.astype(float), adj, len(lon) / k if k else 0)
    grids = [shapely.coverage_union_all([blocks[i] for i in g]) if len(g) > 1 else blocks[g[0]] for g in groups if g]
    return grids, frame


def households_per_block(blocks: list, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Households in each block; one lying on a road (a shared edge) counts for the first
    block that holds it, so every household counts once."""
    counts = np.zeros(len(blocks), int)
    if not len(lon):
        return counts
    points = shapely.points(lon, lat)
    tree = shapely.STRtree(blocks)
    point_idx, block_idx = tree.query(points, predicate="intersects")
    first = {}
    for p, b in zip(point_idx.tolist(), block_idx.tolist()):
        first.setdefault(p, b)
    for p in range(len(points)):
        if p not in first:  # outside every block (on the community's edge by rounding): the nearest
            first[p] = int(tree.query_nearest(points[p])[0])
    np.add.at(counts, list(first.values()), 1)
    return counts


def road_share(grids_ll, community_ll, roads_ll, frame: LocalFrame, within_m: float = 15.0) -> float:
    """The share of the grids' new boundary (inside the community, not its own edge) that lies
    within `within_m` of a road: 1.0 when every new edge follows a street."""
    edges = shapely.difference(shapely.union_all([g.boundary for g in grids_ll]), community_ll.boundary.buffer(1e-7))
    total = frame.to_m(edges).length
    if total == 0:
        return 1.0
    near = shapely.intersection(frame.to_m(edges), frame.to_m(roads_ll).buffer(within_m))
    return float(near.length / total)
