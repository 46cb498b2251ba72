"""Grids that follow streets: blocks from a road layer, grids made of whole blocks, balanced."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.local_frame import LocalFrame
from geo.planning import blocks as blk
from geo.streets import community_blocks

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
    for b in community_blocks(community, roads):  # a block is never cut in two
        owners = [g for g in grids if shapely.intersection(g, b).area > b.area * 1e-6]
        assert len(owners) == 1
    return grids


def test_blocks_are_the_faces_roads_cut_out_of_the_community():
    community, roads = street_grid()
    blocks = community_blocks(community, roads)
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


# --------------------------------------------------------------------------- in the database

URBAN = "620802001001"  # the tiny jurisdiction's urban community: 106.65-106.66 x 35.53-35.55


def add_roads(conn, lines, names=None):
    with conn.cursor() as cur:
        for i, line in enumerate(lines):
            cur.execute(
                "INSERT INTO basemap_feature (kind, name, class, rank, geom) VALUES ('roads', %s, '支路', 3, ST_GeomFromText(%s, 4326))",
                ((names or {}).get(i), line.wkt),
            )
    conn.commit()


def add_points(conn, pts, admin=URBAN):
    with conn.cursor() as cur:
        for i, (x, y) in enumerate(pts):
            cur.execute(
                "INSERT INTO household (address, persons, admin_code, geom) VALUES (%s, 2, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
                (f"h{i}", admin, float(x), float(y)),
            )
    conn.commit()


def add_grid(conn, code, box):
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO grid (code, name, kind, layer, admin_code, geom)
               VALUES (%s, %s, 'urban', 'official', left(%s, 12), ST_Multi(ST_GeomFromText(%s, 4326)))""",
            (code, code, code, shapely.box(*box).wkt),
        )
    conn.commit()


def cross_roads():
    """A street along x = 106.655 and one along y = 35.54, each running past the community."""
    return [shapely.LineString([(106.655, 35.52), (106.655, 35.56)]), shapely.LineString([(106.64, 35.54), (106.67, 35.54)])]


def test_coverage_reports_grids_that_cut_a_block(tiny_jurisdiction, conn):
    from geo.coverage import report

    add_grid(conn, URBAN + "001", (106.65, 35.53, 106.657, 35.55))  # the boundary runs 180 m east of the street
    add_grid(conn, URBAN + "002", (106.657, 35.53, 106.66, 35.55))
    assert report.analyse(conn, URBAN).blocks_cut == []  # no road layer: nothing to say
    add_roads(conn, cross_roads())
    cut = report.analyse(conn, URBAN).blocks_cut
    assert len(cut) == 2  # the two eastern blocks lie in both grids
    assert all(c["grid_codes"] == [URBAN + "001", URBAN + "002"] for c in cut)
    assert report.analyse(conn, URBAN).summary()["blocks_cut"] == 2


def test_grids_along_the_streets_cut_no_block(tiny_jurisdiction, conn):
    from geo.coverage import report

    add_roads(conn, cross_roads())
    add_grid(conn, URBAN + "001", (106.65, 35.53, 106.655, 35.55))
    add_grid(conn, URBAN + "002", (106.655, 35.53, 106.66, 35.55))
    assert report.analyse(conn, URBAN).blocks_cut == []


def test_partition_follows_the_road_layer_when_there_is_one(tiny_jurisdiction, conn):
    from geo.planning import partition

    rng = np.random.default_rng(5)
    pts = np.column_stack([rng.uniform(106.65, 106.66, 1200), rng.uniform(35.53, 35.55, 1200)])
    add_points(conn, pts)
    straight = partition.partition(conn, URBAN, target=300)
    assert straight.method == "splitline" and straight.road_share is None
    # streets every ~180 m east-west and ~220 m north-south: 30 blocks of about 40 households
    lines = [shapely.LineString([(x, 35.52), (x, 35.56)]) for x in np.arange(106.652, 106.66, 0.002)]
    lines += [shapely.LineString([(106.64, y), (106.67, y)]) for y in np.arange(35.532, 35.55, 0.003)]
    add_roads(conn, lines)
    along = partition.partition(conn, URBAN, target=300)
    assert along.method == "blocks" and along.valid_coverage
    assert along.road_share >= 0.9
    assert along.metrics["proposal"]["max_dev_target"] <= 0.15
    assert along.to_dict(geojson=False)["method"] == "blocks"


def test_the_planner_snaps_a_split_line_onto_the_street(tiny_jurisdiction, conn):
    """A split drawn 3 m beside a street lands on it, as a reshape lands on a neighbour."""
    from geo.planning import drafts

    add_grid(conn, URBAN + "001", (106.65, 35.53, 106.66, 35.55))
    add_roads(conn, [shapely.LineString([(106.6551, 35.52), (106.6551, 35.56)])])
    plan_id = drafts.create(conn, URBAN, created_by="t")
    drawn = shapely.LineString([(106.65513, 35.529), (106.65513, 35.551)])  # about 3 m east of the street
    drafts.split(conn, plan_id, URBAN + "001", drawn, tolerance=0.0001, force=True)
    west = drafts.grids(conn, plan_id)[URBAN + "001"]["geom"]
    assert max(x for x, _ in shapely.get_parts(west)[0].exterior.coords) == pytest.approx(106.6551, abs=1e-9)
