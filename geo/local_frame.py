"""A local metric frame for a community: straight lines stay straight, lengths in metres.

The partitions (geo.planning.partition, geo.planning.blocks) and the coverage check of blocks
measure cuts, areas and compactness in metres around the community's centre; an affine map of
lon/lat is exact enough over a community (~1e-4) and keeps a straight cut straight when it is
drawn back in lon/lat.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
from shapely import affinity

ANGLES = np.radians(np.arange(0, 180, 5))
_GEOD = pyproj.Geod(ellps="GRS80")


class LocalFrame:
    """An affine lon/lat -> metres map around a point: true to ~1e-4 over a community."""

    def __init__(self, lon0: float, lat0: float):
        self.lon0, self.lat0 = lon0, lat0
        self.kx = _GEOD.inv(lon0 - 0.005, lat0, lon0 + 0.005, lat0)[2] / 0.01
        self.ky = _GEOD.inv(lon0, lat0 - 0.005, lon0, lat0 + 0.005)[2] / 0.01

    def to_m(self, geom):
        return affinity.affine_transform(geom, [self.kx, 0, 0, self.ky, -self.kx * self.lon0, -self.ky * self.lat0])

    def to_lonlat(self, geom):
        return affinity.affine_transform(geom, [1 / self.kx, 0, 0, 1 / self.ky, self.lon0, self.lat0])

    @property
    def m2_per_square_degree(self) -> float:
        """Square metres in one square degree here (areas of lon/lat geometries, exact to ~1e-4)."""
        return self.kx * self.ky

    def xy(self, lon, lat) -> np.ndarray:
        return np.column_stack([(np.asarray(lon, float) - self.lon0) * self.kx, (np.asarray(lat, float) - self.lat0) * self.ky])


def polsby_popper(geom) -> float:
    """4πA/P²: 1 for a disc, about 0.785 for a square, near 0 for a strip."""
    return float(4 * math.pi * geom.area / geom.length**2) if geom.length else 0.0
