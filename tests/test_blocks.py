"""Grids that follow streets: blocks from a road layer, grids made of whole blocks, balanced."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.planning import blocks as blk
from geo.planning.frame import LocalFrame

LON0, LAT0 = 106.66, 35.54
FRAME = LocalFrame(LON0, LAT0)


def ll(geom):
    return FRAME.to_lonlat(geom)


def street_grid(size=1000.0, step=100.0, jitter=0.0, seed=1):
    """A community `size` metres square with streets every `step` metres (optionally bent),
    reaching past the edge as real roads do, in lon/lat."""
    rng = np.random.default_rng(seed)
    community = shapely.box(0, 0, size, size)
    roads = []
    for v in np.arange(step, size, step):
        ys = np.linspace(-50, size + 50, 12)
        xs = v + rng.normal(0, jitter, len(ys))
        roads.append(shapely.LineString(np.column_stack([xs, ys])))
        roads.append(shapely.LineString(np.column_stack([ys, v + rng.normal(0, jitter, len(ys))])))
    roads.append(shapely.LineString([(250, 250), (260, 330)]))  # a cul-de-sac: cuts nothing
    return ll(community), ll(shapely.MultiLineString(roads))


def households(community_ll, n, seed=2, clustered=False):
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = FRAME.to_m(community_ll).bounds
    if clustered:  # denser towards one corner, as an old town centre
        x = minx + (maxx - minx) * rng.beta(1.3, 2.5, n)
        y = miny + (maxy - miny) * rng.beta(1.3, 2.5, n)
    else:
        x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    pts = [FRAME.to_lonlat(shapely.Point(a, b)) for a, b in zip(x, y)]
    return np.array([p.x for p in pts]), np.array([p.y for p in pts]), np.ones(n)


def check(community, roads, lon, lat, persons, target):
    grids, frame = blk.propose_on_blocks(community, roads, lon, lat, persons, target, None)
    assert grids is not None
    assert shapely.coverage_is_valid(grids)
    assert abs(shapely.union_all(grids).symmetric_difference(community).area) < community.area * 1e-9
    counts = np.array([shapely.contains_xy(g, lon, lat).sum() for g in grids])
    k = len(grids)
    assert k == round(len(lon) / target)
    assert np.all(np.abs(counts - target) <= 0.15 * target), counts
    assert all(len(shapely.get_parts(g)) == 1 for g in grids)  # every grid one piece
    assert blk.road_share(grids, community, roads, frame) >= 0.9
    for b in blk.community_blocks(community, roads):  # a block is never cut in two
        owners = [g for g in grids if shapely.intersection(g, b).area > b.area * 1e-6]
        assert len(owners) == 1
    return grids


def test_blocks_are_the_faces_roads_cut_out_of_the_community():
    community, roads = street_grid()
    blocks = blk.community_blocks(community, roads)
    assert len(blocks) == 100  # 9 streets each way: 10 x 10 blocks; the cul-de-sac adds none
    assert shapely.coverage_is_valid(blocks)
    assert abs(sum(b.area for b in blocks) - community.area) < community.area * 1e-9


def test_regular_street_grid_balanced_along_streets():
    community, roads = street_grid()
    lon, lat, persons = households(community, 3000)
    check(community, roads, lon, lat, persons, 300)


@pytest.mark.parametrize("seed", [3, 4])
def test_bent_streets_and_uneven_households(seed):
    """Streets that wander (not parallel, not straight) and households crowded towards one
    corner: still whole blocks, one piece per grid, each grid within 15% of the target."""
    community, roads = street_grid(size=1200, step=80, jitter=6.0, seed=seed)
    lon, lat, persons = households(community, 3600, seed=seed, clustered=True)
    check(community, roads, lon, lat, persons, 300)


def test_too_few_blocks_says_so():
    community, _ = street_grid()
    one_road = ll(shapely.LineString([(500, -10), (500, 1010)]))
    lon, lat, persons = households(community, 3000)
    grids, _ = blk.propose_on_blocks(community, one_road, lon, lat, persons, 300, None)
    assert grids is None  # two blocks cannot make ten grids: the caller cuts straight lines
