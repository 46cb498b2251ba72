"""The county's streets: road centrelines from its reference layer, and the blocks (街区) they
cut out of a community.

Shared by the auto-partition (geo.planning.blocks: grids made of whole blocks, 以路为界) and the
coverage check (geo.coverage: a grid boundary that cuts a block in two), so both mean the same
block. A community's blocks are the faces of its boundary noded with the road lines inside it
(shapely.polygonize); roads that lead nowhere (cul-de-sacs) are dangles and cut nothing; faces
of one noding share every edge, so a union of blocks tiles the community with no gap or overlap.
"""

from __future__ import annotations

import shapely

from geo import db

ROAD_KINDS = ("LineString", "MultiLineString", "LinearRing")


def roads_over(conn, admin_code: str):
    """The road lines over an administrative unit (lon/lat, one geometry), or None without any."""
    wkb = db.scalar(
        conn,
        """SELECT ST_AsBinary(ST_Collect(r.geom)) FROM basemap_feature r JOIN admin_unit a ON a.code = %s
            WHERE r.kind = 'roads' AND r.geom && a.geom AND ST_Intersects(r.geom, a.geom)""",
        (admin_code,),
    )
    return shapely.from_wkb(bytes(wkb)) if wkb else None


def has_roads(conn) -> bool:
    return bool(db.scalar(conn, "SELECT EXISTS (SELECT 1 FROM basemap_feature WHERE kind = 'roads')"))


def community_blocks(community_ll, roads_ll) -> list:
    """The community's blocks (lon/lat polygons) from road lines (lon/lat, any of them outside
    or crossing the edge)."""
    inside = [g for g in shapely.get_parts(shapely.intersection(roads_ll, community_ll)) if not g.is_empty]
    lines = [community_ll.boundary] + [g for g in inside if g.geom_type in ROAD_KINDS]
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    return [f for f in faces if f.area > 0 and shapely.intersects(community_ll, shapely.point_on_surface(f))]
