"""Geometries of an import checked and made storable: the right type, in China, valid, WGS84.

Why apart: the same checks serve the import and the inspection (the 数据导入 page's map
preview), and they are the only place that knows the coordinate conversions happen.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo import crs as crs_mod

POINT, POLYGON = "point", "polygon"


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
    wanted = "points" if kind == POINT else "polygons"
    for i in np.flatnonzero(~good):
        g = geoms[i]
        if i in source.geometry_errors:
            problems.add(i, source.geometry_errors[i])
        elif g is None or g.is_empty:
            problems.add(i, "empty geometry (NULL or no coordinates)")
        else:
            problems.add(i, f"wrong geometry type {g.geom_type}: this layer needs {wanted}")
        geoms[i] = None
    idx = np.flatnonzero(good)
    if len(idx):
        geoms[idx] = crs_mod.geometry_to_wgs84(shapely.force_2d(geoms[idx]), crs)
        _check_in_china(geoms, idx, kind, crs, problems)
    repairs = _repair_polygons(source, geoms, problems) if kind == POLYGON else []
    return geoms, repairs


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
