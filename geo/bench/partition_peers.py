"""The peers of geo.planning.partition on the same input, for the benchmark: spopt and GerryChain.

Both work on areal units, not points, so the community is cut into about `n_units`
square cells (each with the households inside it) and their parts are unions of cells:
PySAL spopt's MaxPHeuristic (max-p regions: as many regions as possible, each with at
least `target` households, a floor only) and GerryChain's recursive_tree_part (k parts
within ±epsilon of the mean, by random spanning trees). Each result is measured by
geo.planning.partition.measures, the same balance and Polsby-Popper figures as our proposal.

    .venv/bin/python -m geo.bench.partition_peers COMMUNITY_CODE [TARGET] [N_UNITS]
"""

from __future__ import annotations

import json
import math
import sys
import time

import geopandas as gpd
import numpy as np
import shapely

from geo import db
from geo.planning import partition


def load_community(conn, community_code: str):
    """(community polygon, lon, lat, persons) in lon/lat, as geo.planning.partition reads them."""
    wkb = db.scalar(conn, "SELECT ST_AsBinary(geom) FROM admin_unit WHERE code = %s AND level = 'community'", (community_code,))
    if wkb is None:
        raise ValueError(f"unknown community {community_code!r}")
    with conn.cursor() as cur:
        cur.execute(
            """SELECT ST_X(h.geom), ST_Y(h.geom), h.persons FROM admin_unit a JOIN household h ON ST_Intersects(a.geom, h.geom)
                        WHERE a.code = %s ORDER BY h.id""",
            (community_code,),
        )
        hh = np.array(cur.fetchall(), dtype=float).reshape(-1, 3)
    return shapely.from_wkb(bytes(wkb)), hh[:, 0], hh[:, 1], hh[:, 2]


def lattice_units(community_ll, frame: partition.LocalFrame, lon, lat, persons, n_units: int) -> gpd.GeoDataFrame:
    """Square cells of about area/n_units clipped to the community (metric frame), with
    their households and persons."""
    region = frame.to_m(community_ll)
    side = math.sqrt(region.area / n_units)
    minx, miny, maxx, maxy = region.bounds
    xs = minx + side * np.arange(int(math.ceil((maxx - minx) / side)) + 1)  # shared edges share exact coordinates,
    ys = miny + side * np.arange(int(math.ceil((maxy - miny) / side)) + 1)  # or adjacency misses neighbours
    cells = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(len(xs) - 1) for j in range(len(ys) - 1)]
    clipped = shapely.intersection(np.array(cells, dtype=object), region)
    keep = [c for c in clipped if c.geom_type in ("Polygon", "MultiPolygon") and c.area > 1e-6 * side * side]
    units = gpd.GeoDataFrame(geometry=keep)
    xy = frame.xy(lon, lat)
    tree = shapely.STRtree(units.geometry.values)
    pairs = tree.query(shapely.points(xy), predicate="intersects")
    first = {}
    for p, u in zip(*pairs):  # a household on a cell edge counts once
        first.setdefault(p, u)
    idx = np.array([first.get(i, -1) for i in range(len(xy))])
    units["households"] = np.bincount(idx[idx >= 0], minlength=len(units))
    units["persons"] = np.bincount(idx[idx >= 0], weights=persons[idx >= 0], minlength=len(units))
    units["x"], units["y"] = units.centroid.x, units.centroid.y
    return units


def run_maxp(units: gpd.GeoDataFrame, target: int) -> np.ndarray:
    from libpysal.weights import Queen
    from spopt.region import MaxPHeuristic

    w = Queen.from_dataframe(units, use_index=False, silence_warnings=True)
    model = MaxPHeuristic(units, w, ["x", "y"], "households", target, top_n=2)
    model.solve()
    return np.asarray(model.labels_)


def run_tree_part(units: gpd.GeoDataFrame, k: int, epsilon: float = 0.10, seed: int = 2026) -> np.ndarray:
    import random

    from gerrychain import Graph
    from gerrychain.partition import recursive_tree_part

    random.seed(seed)
    graph = Graph.from_geodataframe(units, adjacency="queen", ignore_errors=True)
    total = float(units["households"].sum())
    assignment = recursive_tree_part(graph, range(k), total / k, "households", epsilon)
    return np.array([assignment[i] for i in range(len(units))])


def parts_of(units: gpd.GeoDataFrame, labels: np.ndarray, frame: partition.LocalFrame) -> list:
    """Lon/lat polygons of the unions of cells per label."""
    return [frame.to_lonlat(shapely.union_all(units.geometry.values[labels == lab])) for lab in np.unique(labels)]


def compare(conn, community_code: str, target: int = 300, n_units: int = 900, peers=("maxp", "tree")) -> dict:
    """Seconds and metrics of our proposal and of each peer on the same community."""
    community, lon, lat, persons = load_community(conn, community_code)
    t = time.perf_counter()
    ours, frame = partition.propose(community, lon, lat, persons, target, None)
    out = {"ours": dict(seconds=time.perf_counter() - t, **partition.measures(ours, frame, lon, lat, persons, target)[1])}
    units = lattice_units(community, frame, lon, lat, persons, n_units)
    k = max(1, int(round(len(lon) / target)))
    runners = {"maxp": lambda: run_maxp(units, target), "tree": lambda: run_tree_part(units, k)}
    for name in peers:
        t = time.perf_counter()
        labels = runners[name]()
        seconds = time.perf_counter() - t
        out[name] = dict(
            seconds=seconds,
            units=len(units),
            **partition.measures(parts_of(units, labels, frame), frame, lon, lat, persons, target)[1],
        )
    return out


if __name__ == "__main__":
    code = sys.argv[1]
    target = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    n_units = int(sys.argv[3]) if len(sys.argv) > 3 else 900
    connection = db.connect()
    print(json.dumps(compare(connection, code, target, n_units), indent=1, default=float))
