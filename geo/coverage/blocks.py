"""Grids that cut a block in two (以路为界): where the county's road layer is imported, a grid
boundary should run along streets, so a block (街区, the polygon roads cut out of a community,
geo.streets) lying in two grids is a finding for the planner, with the grids and the pieces.

A piece counts when it is larger than rounding (the noise area of the planning standards and
1% of the block): a boundary digitised a metre off the road centreline is not a cut block.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo import db, streets
from geo.local_frame import LocalFrame

MIN_SHARE = 0.01  # of the block's area: a smaller piece is a boundary drawn beside the road


def scope_roads(conn, area) -> list:
    """Every road line over the scope's area (lon/lat), one geometry per feature."""
    rows = db.rows(
        conn,
        """SELECT ST_AsBinary(geom) AS wkb FROM basemap_feature
            WHERE kind = 'roads' AND geom && ST_GeomFromWKB(%(a)s, 4326) AND ST_Intersects(geom, ST_GeomFromWKB(%(a)s, 4326))""",
        {"a": area.wkb},
    )
    return [shapely.from_wkb(bytes(r["wkb"])) for r in rows]


def cut_blocks(roads: list, units, grid_codes: list[str], grid_geoms, meter, noise_area_m2: float) -> list[dict]:
    """Blocks lying in two or more grids, per community of `units` (code, geom), largest first.

    Per community, the grids each block touches come from one STRtree query, and only blocks
    touching two or more grids are intersected with them (most blocks lie in one);
    areas are in square metres through the community's local scale (exact to ~1e-4)."""
    if not roads or not len(grid_codes):
        return []
    road_tree = shapely.STRtree(roads)
    grid_geoms = np.asarray(grid_geoms, dtype=object)
    grid_tree = shapely.STRtree(grid_geoms)
    found = []
    for code, community in zip(units["code"], units["geom"]):
        near = road_tree.query(community, predicate="intersects")
        if not len(near):  # no road enters it: the road layer says nothing of this community
            continue
        blocks = np.asarray(streets.community_blocks(community, shapely.union_all([roads[i] for i in near])), dtype=object)
        if not len(blocks):
            continue
        m2 = LocalFrame(community.centroid.x, community.centroid.y).m2_per_square_degree
        b_idx, g_idx = grid_tree.query(blocks, predicate="intersects")
        multi = np.flatnonzero(np.bincount(b_idx, minlength=len(blocks)) >= 2)
        keep = np.isin(b_idx, multi)
        b_idx, g_idx = b_idx[keep], g_idx[keep]
        if not len(b_idx):
            continue
        pieces = shapely.area(shapely.intersection(blocks[b_idx], grid_geoms[g_idx])) * m2
        block_m2 = shapely.area(blocks) * m2
        real = pieces >= np.maximum(noise_area_m2, MIN_SHARE * block_m2[b_idx])
        by_block: dict[int, list] = {}
        for b, g, a in zip(b_idx[real].tolist(), g_idx[real].tolist(), pieces[real].tolist()):
            by_block.setdefault(b, []).append((grid_codes[g], round(a, 1)))
        for b, parts in by_block.items():
            if len(parts) < 2:
                continue
            c = shapely.point_on_surface(blocks[b])
            found.append(
                dict(
                    admin_code=code,
                    grid_codes=sorted(g for g, _ in parts),
                    block_area_m2=round(float(block_m2[b]), 1),
                    pieces_m2=dict(sorted(parts)),
                    lon=round(c.x, 6),
                    lat=round(c.y, 6),
                )
            )
    return sorted(found, key=lambda d: -d["block_area_m2"])
