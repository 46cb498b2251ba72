"""Snapping an edited grid boundary onto its neighbours, so that an edit makes no new sliver.

A planner drags vertices by hand: a vertex dropped a few pixels off a neighbour's corner
or edge leaves a thin gap or overlap that coverage analysis then reports as a defect.
The server snaps every edited vertex to the nearest neighbouring vertex within the
tolerance (else to the nearest point on a neighbouring edge), and then threads the
neighbour's own vertices that lie along an edited edge into it, so that the two
boundaries share their vertices and coincide exactly, not just approximately.

Candidates come from an in-process R-tree (`rtree`, libspatialindex) of the neighbours'
vertices and segments: one bounding-box query per edited vertex, so a drag near a
community of thousands of vertices stays interactive. Coordinates are lon/lat; the
tolerance is in degrees (`tolerance_from_pixels` turns the map's pixels into degrees).
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from rtree import index

from geo.coverage.geometry import polygon_parts


def tolerance_from_pixels(pixels: float, zoom: float, lat: float) -> float:
    """Degrees spanned by `pixels` on a MapLibre map (512-px tiles) at `zoom`, measured
    north-south (the shorter way at this latitude, so the snap never reaches further than
    the planner sees)."""
    if pixels < 0:
        raise ValueError(f"pixel tolerance must not be negative, got {pixels}")
    return pixels * 360.0 / (512.0 * 2.0**zoom) * math.cos(math.radians(lat))


def _rings(geom):
    for poly in polygon_parts(geom):
        yield poly.exterior
        yield from poly.interiors


class Snapper:
    """Snap candidates from a set of neighbouring polygons (or lines)."""

    def __init__(self, neighbours):
        vertices, segments = [], []
        for geom in neighbours:
            if geom is None or geom.is_empty:
                continue
            lines = list(_rings(geom)) if geom.geom_type in ("Polygon", "MultiPolygon") else shapely.get_parts(geom)
            for line in lines:
                xy = np.asarray(line.coords)[:, :2]
                vertices.extend(map(tuple, xy))
                segments.extend(zip(map(tuple, xy[:-1]), map(tuple, xy[1:])))
        self.vertices = list(dict.fromkeys(vertices))  # each shared corner once
        self.segments = [s for s in dict.fromkeys(segments) if s[0] != s[1]]
        self._vtree = _tree([(x, y, x, y) for x, y in self.vertices])
        self._stree = _tree([(min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])) for a, b in self.segments])

    def snap_point(self, x: float, y: float, tolerance: float) -> tuple[float, float, str]:
        """(x, y, how): the nearest neighbour vertex within tolerance ('vertex'), else the
        nearest point on a neighbour edge ('edge'), else the point itself ('none')."""
        box = (x - tolerance, y - tolerance, x + tolerance, y + tolerance)
        best, best_d = None, tolerance
        for i in self._vtree.intersection(box):
            vx, vy = self.vertices[i]
            d = math.hypot(vx - x, vy - y)
            if d <= best_d:
                best, best_d = (vx, vy), d
        if best is not None:
            return best[0], best[1], "vertex"
        for i in self._stree.intersection(box):
            px, py = _project((x, y), *self.segments[i])
            d = math.hypot(px - x, py - y)
            if d <= best_d:
                best, best_d = (px, py), d
        return (best[0], best[1], "edge") if best is not None else (x, y, "none")

    def _threaded(self, coords: list[tuple], tolerance: float) -> list[tuple]:
        """The ring with every neighbour vertex lying within tolerance of one of its edges
        inserted in order along that edge (so shared stretches share all their vertices)."""
        out = [coords[0]]
        for a, b in zip(coords[:-1], coords[1:]):
            box = (
                min(a[0], b[0]) - tolerance,
                min(a[1], b[1]) - tolerance,
                max(a[0], b[0]) + tolerance,
                max(a[1], b[1]) + tolerance,
            )
            along = []
            for i in self._vtree.intersection(box):
                v = self.vertices[i]
                if v in (a, b):
                    continue
                p = _project(v, a, b)
                t = _param(p, a, b)
                if 0.0 < t < 1.0 and math.hypot(p[0] - v[0], p[1] - v[1]) <= tolerance:
                    along.append((t, v))
            out.extend(v for _, v in sorted(along))
            out.append(b)
        return [p for i, p in enumerate(out) if i == 0 or p != out[i - 1]]

    def snap(self, geom, tolerance: float):
        """`geom` (Polygon/MultiPolygon/LineString) with its vertices snapped and the
        neighbours' vertices threaded in; a polygon that snapping made invalid is repaired
        to its polygonal part."""
        if tolerance <= 0 or not self.vertices:
            return geom
        if geom.geom_type == "LineString":
            return shapely.LineString(self._snap_coords(list(geom.coords), tolerance, closed=False))
        polys = []
        for poly in polygon_parts(geom):
            shell = self._snap_coords(list(poly.exterior.coords), tolerance, closed=True)
            holes = [self._snap_coords(list(r.coords), tolerance, closed=True) for r in poly.interiors]
            if len(shell) >= 4:
                polys.append(shapely.Polygon(shell, [h for h in holes if len(h) >= 4]))
        out = shapely.MultiPolygon(polys) if len(polys) > 1 else (polys[0] if polys else shapely.Polygon())
        if not out.is_valid:
            parts = polygon_parts(shapely.make_valid(out))
            out = shapely.MultiPolygon(parts) if len(parts) > 1 else (parts[0] if parts else shapely.Polygon())
        return out

    def _snap_coords(self, coords: list[tuple], tolerance: float, closed: bool) -> list[tuple]:
        snapped = [self.snap_point(c[0], c[1], tolerance)[:2] for c in coords]
        if closed:
            snapped[-1] = snapped[0]
        return self._threaded(snapped, tolerance)


def _tree(boxes: list[tuple]) -> index.Index:
    idx = index.Index(((i, box, None) for i, box in enumerate(boxes))) if boxes else index.Index()
    return idx


def _param(p, a, b) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    return ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2 if length2 else 0.0


def _project(p, a, b) -> tuple[float, float]:
    """The point of segment a-b nearest to p (an end point when the foot lies outside)."""
    t = min(max(_param(p, a, b), 0.0), 1.0)
    if t == 0.0:
        return a
    if t == 1.0:
        return b
    return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
