"""The benchmark's streets: a county's road layer imported and tiled, and grids along roads.

A synthetic street network over the bench jurisdiction's busiest communities (a jittered grid
of streets, denser where households are, about `segments` road pieces), written to a GeoPackage and
imported through the same path as a county's file (geo.io.basemap); then the basemap and
street-name tiles at the zooms a wall uses, with no tile cache; the coverage check with the
road layer present (it then also looks for blocks cut in two); and the partition along roads of
the busiest community against today's straight cuts and GerryChain on the same blocks.

The roads are removed at the end (their import batch undone), so the other sections measure
the same database on every run, reused or not.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

from geo import db, tiles
from geo.bench.measure import strip, timed
from geo.bench.peers import _score, _tree_part, busiest_community
from geo.local_frame import LocalFrame

ZOOMS = (9, 12, 14, 16)
NAMES = ["人民路", "解放路", "建设路", "中山街", "新华路", "和平路", "文化巷", "东关巷", "西大街", "南大街", "北大街", "民主巷"]


def street_network(conn, segments: int, target: int = 300, seed: int = 8):
    """Lines (lon/lat) with names and classes: a jittered street grid over the busiest
    communities, densest where households are (about eight blocks per grid of `target`
    households), community after community until about `segments` road pieces."""
    rng = np.random.default_rng(seed)
    rows = db.rows(
        conn,
        """SELECT a.code, ST_AsBinary(a.geom) AS wkb, count(h.id) AS households
             FROM admin_unit a JOIN household h ON h.admin_code = a.code
            WHERE a.level = 'community' GROUP BY a.code, a.geom ORDER BY count(h.id) DESC, a.code""",
    )
    lines, names, classes = [], [], []
    for r in rows:
        if len(lines) >= segments:
            break
        community = shapely.from_wkb(bytes(r["wkb"]))
        c = community.centroid
        frame = LocalFrame(c.x, c.y)
        region = frame.to_m(community)
        d = float(np.clip(math.sqrt(region.area * target / (8 * max(r["households"], 1))), 50.0, 400.0))
        minx, miny, maxx, maxy = region.bounds
        for axis in (0, 1):
            lo, hi = (minx, maxx) if axis == 0 else (miny, maxy)
            span = (miny - d, maxy + d) if axis == 0 else (minx - d, maxx + d)
            for k, v in enumerate(np.arange(lo + d / 2, hi, d)):
                ts = np.linspace(span[0], span[1], max(2, int((span[1] - span[0]) / d) + 1))
                wiggle = rng.normal(0, d * 0.04, len(ts))
                xy = np.column_stack([v + wiggle, ts]) if axis == 0 else np.column_stack([ts, v + wiggle])
                street = shapely.intersection(shapely.LineString(xy), region.buffer(d / 3))
                for piece in shapely.get_parts(street):  # one feature per block face, as road layers come
                    coords = np.asarray(piece.coords)
                    for a, b in zip(coords[:-1], coords[1:]):
                        lines.append(frame.to_lonlat(shapely.LineString([a, b])))
                        names.append(NAMES[(k + axis) % len(NAMES)])
                        classes.append("主干路" if k % 6 == 0 else "支路")
    return lines, names, classes


def run(conn, segments: int, target: int, repeat: int, seed: int = 8) -> dict:
    import geopandas as gpd

    from geo.coverage import report as coverage
    from geo.io import basemap
    from layers import LAYERS

    t = time.perf_counter()
    lines, names, classes = street_network(conn, segments, target, seed)
    out: dict = {"segments": len(lines), "generate_s": round(time.perf_counter() - t, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roads.gpkg"
        gpd.GeoDataFrame({"路名": names, "道路等级": classes}, geometry=lines, crs=4326).to_file(path, engine="pyogrio")
        t = time.perf_counter()
        result = basemap.import_basemap(conn, path, "roads", user="bench")
        seconds = time.perf_counter() - t
    out["import"] = {"features": result.features, "seconds": round(seconds, 2), "rows_per_s": round(result.features / seconds)}
    centre = shapely.union_all(lines[: min(len(lines), 2000)]).centroid
    out["tiles"] = {}
    for layer in ("basemap", "street_names"):
        for z in ZOOMS:
            n = 2**z
            x = int((centre.x + 180) / 360 * n)
            y = int((1 - math.asinh(math.tan(math.radians(centre.y))) / math.pi) / 2 * n)
            params = {"start": None, "end": None, "major": None}
            r = timed(lambda: tiles.render(conn, LAYERS[layer], z, x, y, params), repeat)
            out["tiles"][f"{layer}_z{z}"] = strip(r) | {"bytes": len(r["result"] or b"")}
    out["tile_p95_ms"] = max(v["p95_ms"] for v in out["tiles"].values())
    out["tile_max_bytes"] = max(v["bytes"] for v in out["tiles"].values())
    t = time.perf_counter()
    cov = coverage.analyse(conn)
    out["coverage_with_roads"] = {"seconds": round(time.perf_counter() - t, 2), "blocks_cut": len(cov.blocks_cut)}
    try:
        out["partition"] = partition_along_roads(conn, target, seed)
    finally:
        from geo.io import batches

        batches.undo(conn, result.batch, "bench")
    return out


def partition_along_roads(conn, target: int, seed: int = 8) -> dict:
    """The busiest community: grids of whole blocks (ours), today's straight cuts, and GerryChain's
    recursive tree partition of the same blocks; balance, compactness, share of boundary on roads."""
    import geopandas as gpd

    from geo import streets
    from geo.planning import blocks, partition

    code = busiest_community(conn)
    unit = db.one(conn, "SELECT ST_AsBinary(geom) AS wkb FROM admin_unit WHERE code = %s", (code,))
    community = shapely.from_wkb(bytes(unit["wkb"]))
    roads = streets.roads_over(conn, code)
    hh = np.array(_households(conn, code), float).reshape(-1, 3)
    lon, lat, persons = hh[:, 0], hh[:, 1], hh[:, 2]
    frame = LocalFrame(community.centroid.x, community.centroid.y)

    def on_roads(geoms) -> dict:
        return {"road_share": None if roads is None else round(blocks.road_share(geoms, community, roads, frame), 4)}

    results = []
    t = time.perf_counter()
    straight, _ = partition.propose(community, lon, lat, persons, target, None)
    seconds = time.perf_counter() - t
    results.append(_score("straight cuts (no roads)", seconds, straight, frame, lon, lat, persons, target) | on_roads(straight))
    n_blocks = None
    if roads is not None:
        t = time.perf_counter()
        ours, _ = blocks.propose_on_blocks(community, roads, lon, lat, persons, target, None)
        seconds = time.perf_counter() - t
        block_polys = streets.community_blocks(community, roads)
        n_blocks = len(block_polys)
        if ours is not None:
            results.append(_score("geo.planning.blocks", seconds, ours, frame, lon, lat, persons, target) | on_roads(ours))
            units = gpd.GeoDataFrame(
                {"households": blocks.households_per_block(block_polys, lon, lat)},
                geometry=[frame.to_m(b) for b in block_polys],
            )
            results.append(
                _tree_part(units, len(ours), frame, lon, lat, persons, target, seed, measure=on_roads)
                | {"units": "the same blocks"}
            )
    return {"community": code, "households": len(hh), "target": target, "blocks": n_blocks, "methods": results}


def _households(conn, code: str) -> list:
    with conn.cursor() as cur:
        cur.execute(
            """SELECT ST_X(h.geom), ST_Y(h.geom), h.persons FROM admin_unit a JOIN household h ON ST_Intersects(a.geom, h.geom)
                WHERE a.code = %s ORDER BY h.id""",
            (code,),
        )
        return cur.fetchall()
