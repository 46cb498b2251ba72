"""Geometries of an import checked and made storable: the right type, in China, valid, WGS84.

Why apart: the same checks serve the import and the inspection (the 数据导入 page's map
preview), and they are the only place that knows the coordinate conversions happen.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo import crs as crs_mod

POINT, POLYGON = "point", "polygon"
# Bounds on the work one import may ask for (issue #18, finding 7: a 1,000,001-vertex grid was
# accepted, and every later overlay, tile and coverage run paid for it). A detailed official
# township boundary has some tens of thousands of vertices; above these a file is refused with
# a way forward (simplify it) before any coordinate is converted.
MAX_VERTICES_PER_FEATURE = 200_000
MAX_VERTICES_PER_FILE = 5_000_000


def crs_line(crs: crs_mod.Crs, reason: str) -> str:
    """The sentence every import prints: which system the coordinates were read in, and why."""
    if crs.key == crs_mod.WGS84.key:
        tail = "stored as is"
    elif crs.key == crs_mod.CGCS2000.key:
        tail = "stored as WGS84 (CGCS2000 and WGS84 differ by centimetres)"
    else:
        tail = "→ converted to WGS84"
    return f"坐标系 CRS: {crs.label} ({reason}) {tail}"


def prepare(source, kind: str, crs: crs_mod.Crs, problems):
    """Checked WGS84 geometries (None where a row has a problem) and the repairs made."""
    geoms = np.empty(len(source), dtype=object)
    geoms[:] = source.geometry
    types = shapely.get_type_id(geoms)  # -1 None, 0 Point, 3 Polygon, 4 MultiPoint, 6 MultiPolygon
    if kind == POINT:
        single = (types == 4) & (shapely.get_num_geometries(geoms) == 1)
        geoms[single] = shapely.get_geometry(geoms[single], 0)
        good = (types == 0) | single
    else:
        good = (types == 3) | (types == 6)
    good &= ~shapely.is_empty(geoms)
    within = _within_vertex_limits(geoms, problems)
    good &= within
    wanted = "points" if kind == POINT else "polygons"
    for i in np.flatnonzero(~good):
        g = geoms[i]
        if not within[i]:
            pass  # named by _within_vertex_limits
        elif i in source.geometry_errors:
            problems.add(i, source.geometry_errors[i])
        elif g is None or g.is_empty:
            problems.add(i, "empty geometry (NULL or no coordinates)")
        else:
            problems.add(i, f"wrong geometry type {g.geom_type}: this layer needs {wanted}")
        geoms[i] = None
    idx = np.flatnonzero(good)
    if len(idx):
        chosen = geoms[idx]
        if shapely.has_z(chosen).any():  # most files are 2D: no copy of every geometry for nothing
            chosen = shapely.force_2d(chosen)
        geoms[idx] = crs_mod.geometry_to_wgs84(chosen, crs)
        _check_in_china(geoms, idx, kind, crs, problems)
    repairs = _repair_polygons(source, geoms, problems) if kind == POLYGON else []
    return geoms, repairs


def _within_vertex_limits(geoms, problems) -> np.ndarray:
    """False where a feature has too many vertices (each named); all False when the file has."""
    counts = shapely.get_num_coordinates(geoms)
    hint = "simplify it first (e.g. ogr2ogr -simplify 0.5, or mapshaper -simplify) and import again"
    over = counts > MAX_VERTICES_PER_FEATURE
    for i in np.flatnonzero(over):
        problems.add(i, f"{counts[i]:,} vertices in one feature, more than {MAX_VERTICES_PER_FEATURE:,}: {hint}")
    total = int(counts.sum())
    if total > MAX_VERTICES_PER_FILE:
        problems.add(None, f"{total:,} vertices in the file, more than {MAX_VERTICES_PER_FILE:,}: {hint}, or split the file")
        return np.zeros(len(geoms), dtype=bool)
    return ~over


def _check_in_china(geoms, idx, kind: str, crs: crs_mod.Crs, problems) -> None:
    bounds = shapely.bounds(geoms[idx])
    inside = crs_mod.in_china(bounds[:, 0], bounds[:, 1]) & crs_mod.in_china(bounds[:, 2], bounds[:, 3])
    for j in np.flatnonzero(~inside):
        i, (x0, y0, x1, y1) = idx[j], bounds[j]
        where = f"({x0:.6f}, {y0:.6f})" if kind == POINT else f"bbox ({x0:.6f}, {y0:.6f}, {x1:.6f}, {y1:.6f})"
        hint = ""
        if crs_mod.in_china(y0, x0):
            hint = "; lon and lat look swapped"
        elif max(abs(x0), abs(x1)) > 180 or max(abs(y0), abs(y1)) > 90:
            hint = "; projected metres? pass --crs EPSG:<code>"
        problems.add(i, f"coordinates outside China {where} read as {crs.label}{hint}")
        geoms[i] = None


def _repair_polygons(source, geoms, problems) -> list[str]:
    """MultiPolygons everywhere; invalid ones repaired with make_valid (polygonal part kept)."""
    repairs = []
    for i, g in enumerate(geoms):
        if g is None:
            continue
        if g.is_valid:
            geoms[i] = _multi([g])
            continue
        reason = shapely.is_valid_reason(g)
        fixed = _multi(_polygons(shapely.make_valid(g)))
        if fixed is None:
            problems.add(i, f"invalid geometry ({reason}) and make_valid left no polygon")
            geoms[i] = None
            continue
        geoms[i] = fixed
        repairs.append(
            f"{source.label(i)}: invalid geometry ({reason}) repaired with make_valid into {len(fixed.geoms)} polygon(s)"
        )
    return repairs


def _polygons(g) -> list:
    if g.geom_type == "Polygon":
        return [g] if not g.is_empty else []
    return [p for part in getattr(g, "geoms", []) for p in _polygons(part)]


def _multi(parts: list):
    polys = [p for part in parts for p in _polygons(part)]
    if not polys:
        return None
    multi = shapely.MultiPolygon(polys)
    if not multi.is_valid:  # repaired parts may share an edge: dissolve them
        multi = _multi([shapely.union_all(polys)]) if len(polys) > 1 else None
    return multi
