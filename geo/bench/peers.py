"""The benchmark's comparisons with well-known libraries, on the same input in the same run.

- point-in-grid assignment: geo.assign (the importer's in-memory path) and the SQL join that
  locate_points() runs when grids are republished, each against geopandas' `sjoin` on the
  same points and grids;
- auto-partition of a community: geo.planning.partition against PySAL spopt's MaxPHeuristic
  (max-p regionalization) and GerryChain's `recursive_tree_part`, all three scored by
  geo.planning.partition.measures (balance against the target, Polsby-Popper compactness).

spopt and gerrychain are optional (`pip install quanyu[bench]`): when missing, the report
says so instead of failing.
"""

from __future__ import annotations

import math
import os
import time
import warnings

import numpy as np
import shapely

from geo import db
from geo.bench.measure import strip, timed

# The join of locate_points() (migration 0019) as a read-only count: the polygon side
# fenced (LATERAL ... OFFSET 0) so each grid is prepared once and drives the points' index.
_SQL_JOIN = """
    SELECT count(*) FROM (
        SELECT DISTINCT ON (p.id) p.id, g.code
          FROM grid g CROSS JOIN LATERAL (
               SELECT p.id FROM bench_points p WHERE ST_Intersects(g.geom, p.geom) OFFSET 0) p
         WHERE g.valid_to IS NULL AND g.layer = 'official'
         ORDER BY p.id, g.code) s"""


def assignment(conn, n_points: int, repeat: int) -> dict:
    """Same points, same grids: geo.assign and the PostGIS join vs geopandas sjoin; a ratio
    above 1 means ours is faster. geo.assign and sjoin both start from built geometries (a
    GeoDataFrame for sjoin, the same shapely arrays for geo.assign)."""
    import geopandas as gpd

    from geo import assign as assign_mod

    with db.transaction(conn) as cur:
        cur.execute("DROP TABLE IF EXISTS bench_points")
        cur.execute(
            """CREATE UNLOGGED TABLE bench_points AS
                       SELECT id, geom FROM household ORDER BY id LIMIT %s""",
            (n_points,),
        )
        cur.execute("CREATE INDEX ON bench_points USING gist (geom)")
        cur.execute("ANALYZE bench_points")
    sql = timed(lambda: db.scalar(conn, _SQL_JOIN), repeat, budget_s=90)
    conn.commit()
    t = time.perf_counter()
    pts = db.rows(conn, "SELECT id, ST_X(geom) AS x, ST_Y(geom) AS y FROM bench_points ORDER BY id")
    grids = db.rows(conn, "SELECT code, ST_AsBinary(geom) AS wkb FROM grid_current")
    points = gpd.GeoDataFrame(
        {"id": [p["id"] for p in pts]}, geometry=gpd.points_from_xy([p["x"] for p in pts], [p["y"] for p in pts]), crs=4326
    )
    polys = gpd.GeoDataFrame(
        {"code": [g["code"] for g in grids]}, geometry=shapely.from_wkb([bytes(g["wkb"]) for g in grids]), crs=4326
    )
    load_s = time.perf_counter() - t
    gp = timed(lambda: gpd.sjoin(points, polys, how="inner", predicate="intersects"), repeat, budget_s=90)
    matched_gp = int(gp["result"]["id"].nunique())
    pts_arr, polys_arr = points.geometry.to_numpy(), polys.geometry.to_numpy()  # the same shapely objects
    mem = timed(lambda: assign_mod.assign(pts_arr, polys_arr), repeat, budget_s=90)
    matched_mem = int((mem["result"] >= 0).sum())
    locate = timed(lambda: db.scalar(conn, "SELECT locate_points('household'::regclass)"), 1)
    conn.commit()
    db.execute(conn, "DROP TABLE bench_points")
    conn.commit()
    return {
        "points": len(pts),
        "grids": len(grids),
        "sql_join": strip(sql) | {"matched": sql["result"]},
        "geopandas_sjoin": strip(gp) | {"matched": matched_gp, "load_from_db_s": round(load_s, 2)},
        "in_memory": strip(mem)
        | {
            "matched": matched_mem,
            "threads": min(os.cpu_count() or 1, max(1, len(pts) // assign_mod.MIN_CHUNK)),
            "used_by": "geo.io.importer (bulk import)",
        },
        "ratio_sjoin_over_in_memory": round(gp["median_ms"] / mem["median_ms"], 2) if mem["median_ms"] else None,
        "ratio_sjoin_over_sql": round(gp["median_ms"] / sql["median_ms"], 2) if sql["median_ms"] else None,
        "locate_points_household_all": strip(locate) | {"rows_changed": locate["result"]},
    }


# --------------------------------------------------------------------------- partition


def busiest_community(conn) -> str:
    return db.scalar(
        conn,
        """SELECT admin_code FROM household GROUP BY admin_code
                               ORDER BY count(*) DESC, admin_code LIMIT 1""",
    )


def _units(community, frame, lon, lat, n_units: int):
    """Square building blocks over the community (clipped), with their household counts:
    the areal units max-p and GerryChain need; geo.planning.partition works on the points directly."""
    import geopandas as gpd

    region = frame.to_m(community)
    side = math.sqrt(region.area / n_units)
    x0, y0, x1, y1 = region.bounds
    xs, ys = np.meshgrid(np.arange(x0, x1, side), np.arange(y0, y1, side))
    cells = shapely.intersection(shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + side, ys.ravel() + side), region)
    cells = shapely.set_precision(cells, 0.01)  # shared edges made identical, or contiguity sees islands
    cells = cells[~shapely.is_empty(cells) & (shapely.area(cells) > side * side * 0.05)]
    cells = np.array([max(shapely.get_parts(c), key=lambda p: p.area) for c in cells], dtype=object)
    xy = frame.xy(lon, lat)
    tree = shapely.STRtree(cells)
    pi, ci = tree.query(shapely.points(xy), predicate="intersects")
    counts = np.zeros(len(cells), int)
    first = np.full(len(xy), -1)
    first[pi[::-1]] = ci[::-1]
    np.add.at(counts, first[first >= 0], 1)
    return gpd.GeoDataFrame({"households": counts}, geometry=list(cells))


def _regions(units, labels, frame) -> list:
    dissolved = units.assign(region=labels).dissolve("region")
    return [frame.to_lonlat(g) for g in dissolved.geometry]


def _score(name, seconds, geoms_ll, frame, lon, lat, persons, target, error=None) -> dict:
    from geo.planning import partition

    if error:
        return {"method": name, "error": error, "seconds": round(seconds, 2)}
    _, s = partition.measures(geoms_ll, frame, lon, lat, persons, target)
    return {"method": name, "seconds": round(seconds, 2)} | s


def partition_peers(conn, target: int = 300, n_units: int = 150, seed: int = 8) -> dict:
    """geo.planning.partition vs spopt MaxPHeuristic vs GerryChain recursive_tree_part, one community."""
    from geo.planning import partition

    code = busiest_community(conn)
    t = time.perf_counter()
    prop = partition.partition(conn, code, target=target)
    ours_s = time.perf_counter() - t
    unit = db.one(conn, "SELECT ST_AsBinary(geom) AS wkb FROM admin_unit WHERE code = %s", (code,))
    community = shapely.from_wkb(bytes(unit["wkb"]))
    hh = np.array(
        [
            (r["x"], r["y"], r["persons"])
            for r in db.rows(
                conn,
                """
        SELECT ST_X(h.geom) AS x, ST_Y(h.geom) AS y, h.persons FROM admin_unit a JOIN household h ON ST_Intersects(a.geom, h.geom)
         WHERE a.code = %s ORDER BY h.id""",
                (code,),
            )
        ],
        float,
    ).reshape(-1, 3)
    lon, lat, persons = hh[:, 0], hh[:, 1], hh[:, 2]
    frame = partition.LocalFrame(community.centroid.x, community.centroid.y)
    k = len(prop.pieces)
    results = [_score("geo.planning.partition", ours_s, prop.geometries(), frame, lon, lat, persons, target)]
    units = _units(community, frame, lon, lat, n_units)
    results.append(_maxp(units, target, frame, lon, lat, persons, seed))
    results.append(_tree_part(units, k, frame, lon, lat, persons, target, seed))
    return {
        "community": code,
        "households": len(hh),
        "target": target,
        "regions_ours": k,
        "units_for_peers": len(units),
        "methods": results,
    }


def _maxp(units, target, frame, lon, lat, persons, seed) -> dict:
    t = time.perf_counter()
    try:
        import libpysal
        from spopt.region import MaxPHeuristic

        np.random.seed(seed)
        w = libpysal.weights.Rook.from_dataframe(units, use_index=False, silence_warnings=True)
        model = MaxPHeuristic(
            units, w, ["households"], "households", target, top_n=2, max_iterations_construction=10, max_iterations_sa=2
        )  # defaults (99, 10) take minutes
        model.solve()
        geoms = _regions(units, model.labels_, frame)
        return _score("spopt.MaxPHeuristic", time.perf_counter() - t, geoms, frame, lon, lat, persons, target)
    except Exception as exc:  # a missing optional package or a solver failure is a finding, not a crash
        return _score("spopt.MaxPHeuristic", time.perf_counter() - t, [], frame, lon, lat, persons, target, error=repr(exc))


def _tree_part(units, k, frame, lon, lat, persons, target, seed, measure=None) -> dict:
    """GerryChain's recursive tree partition of `units` into k regions, scored; `measure(geoms)`
    adds figures of the caller's (the streets bench: share of boundary on roads)."""
    t = time.perf_counter()
    try:
        import random
        from functools import partial

        import libpysal
        from gerrychain import Graph

        try:  # GerryChain >= 1.0
            from gerrychain.partition import recursive_tree_part
            from gerrychain.tree import bipartition_tree
        except ImportError:
            from gerrychain.tree import bipartition_tree, recursive_tree_part

        random.seed(seed)
        w = libpysal.weights.Rook.from_dataframe(units, use_index=False, silence_warnings=True)
        nxg = w.to_networkx()
        for node in nxg.nodes:
            nxg.nodes[node]["households"] = int(units["households"].iloc[node])
        graph = Graph.from_networkx(nxg)
        total = int(units["households"].sum())
        # Its default (100,000 attempts per cut) can run for an hour on lumpy units: bound the
        # attempts and relax the tolerance step by step, and report the tolerance that worked.
        bounded = partial(bipartition_tree, max_attempts=2000)
        for epsilon in (0.1, 0.25, 0.5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    assignment = recursive_tree_part(
                        graph, range(k), total / k, "households", epsilon, bipartition_tree_fn=bounded
                    )
                break
            except RuntimeError:
                continue
        else:
            raise RuntimeError("no balanced tree partition within epsilon 0.5 and 2,000 attempts per cut")
        labels = [assignment[i] for i in range(len(units))]
        geoms = _regions(units, labels, frame)
        extra = measure(geoms) if measure else {}
        return (
            _score("gerrychain.recursive_tree_part", time.perf_counter() - t, geoms, frame, lon, lat, persons, target)
            | {"epsilon": epsilon}
            | extra
        )
    except Exception as exc:
        return _score(
            "gerrychain.recursive_tree_part", time.perf_counter() - t, [], frame, lon, lat, persons, target, error=repr(exc)
        )
