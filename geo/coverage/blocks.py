"""Grids that cut a block in two (以路为界): where the county's road layer is imported, a grid
boundary should run along streets, so a block (街区, the polygon roads cut out of a community,
geo.streets) lying in two grids is a finding for the planner, with the grids and the pieces.

A piece counts when it is larger than rounding (the noise area of the planning standards and
1% of the block): a boundary digitised a metre off the road centreline is not a cut block.
"""

from __future__ import annotations

import shapely

from geo import db, streets

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
    """Blocks lying in two or more grids, per community of `units` (code, geom), largest first."""
    if not roads or not len(grid_codes):
        return []
    road_tree = shapely.STRtree(roads)
    grid_tree = shapely.STRtree(grid_geoms)
    found = []
    for code, community in zip(units["code"], units["geom"]):
        near = [roads[i] for i in road_tree.query(community, predicate="intersects")]
        if not near:
            continue
        for block in streets.community_blocks(community, shapely.union_all(near)):
            block_m2 = float(meter.metric(block).area)
            pieces = []
            for j in grid_tree.query(block, predicate="intersects"):
                piece = float(meter.metric(shapely.intersection(block, grid_geoms[j])).area)
                if piece >= max(noise_area_m2, MIN_SHARE * block_m2):
                    pieces.append((grid_codes[j], round(piece, 1)))
            if len(pieces) >= 2:
                c = shapely.point_on_surface(block)
                found.append(
                    dict(
                        admin_code=code,
                        grid_codes=sorted(g for g, _ in pieces),
                        block_area_m2=round(block_m2, 1),
                        pieces_m2=dict(sorted(pieces)),
                        lon=round(c.x, 6),
                        lat=round(c.y, 6),
                    )
                )
    return sorted(found, key=lambda d: -d["block_area_m2"])
