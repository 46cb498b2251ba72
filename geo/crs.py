"""Coordinate reference systems for imports and exports.

Grid data reaches us in several systems: GPS/WGS84 surveys, CGCS2000 from
natural-resources offices, GCJ-02 from AMap/Tencent pickers and BD-09 from
Baidu. Everything is stored in WGS84, so this module parses a CRS name and
converts to and from WGS84.

GCJ-02 and BD-09 are not EPSG systems (they are deliberate, nonlinear
obfuscations), so pyproj cannot handle them; they are implemented here with
the standard published formulas and exact iterative inverses.

CGCS2000 (EPSG:4490) is treated as identical to WGS84: the two datums differ
by centimetres, far below the accuracy of grid boundaries.

Requires shapely >= 2.1 (``shapely.transform`` with ``include_z=None``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError

__all__ = [
    "Crs",
    "WGS84",
    "CGCS2000",
    "GCJ02",
    "BD09",
    "parse_crs",
    "in_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "to_wgs84",
    "from_wgs84",
    "transform_geometries",
    "geometry_to_wgs84",
    "metric_crs_for",
]


@dataclass(frozen=True)
class Crs:
    """A parsed CRS. ``epsg`` is None for the offset systems (GCJ-02, BD-09),
    which pyproj does not know."""

    key: str
    label: str
    epsg: int | None


WGS84 = Crs("wgs84", "WGS84（GPS 原始坐标）", 4326)
CGCS2000 = Crs("EPSG:4490", "CGCS2000（2000 国家大地坐标系）", 4490)
GCJ02 = Crs("gcj02", "GCJ-02（火星坐标，高德/腾讯）", None)
BD09 = Crs("bd09", "BD-09（百度坐标）", None)

_ALIASES = {
    "wgs84": WGS84,
    "wgs-84": WGS84,
    "epsg:4326": WGS84,
    "4326": WGS84,
    "cgcs2000": CGCS2000,
    "epsg:4490": CGCS2000,
    "4490": CGCS2000,
    "gcj02": GCJ02,
    "gcj-02": GCJ02,
    "bd09": BD09,
    "bd-09": BD09,
}
_KNOWN_BY_EPSG = {WGS84.epsg: WGS84, CGCS2000.epsg: CGCS2000}
_ACCEPTED = (
    "accepted: 'wgs84', 'cgcs2000', 'gcj02'/'gcj-02', 'bd09'/'bd-09', "
    "'EPSG:<code>' or '<code>' for any geographic or projected EPSG CRS, "
    "an int EPSG code, or a pyproj.CRS"
)


def parse_crs(value) -> Crs:
    """Normalise user/file input (names, EPSG codes, pyproj CRS) to a Crs.

    Raises ValueError listing the accepted forms, so an import form can show
    the message to the user directly.
    """
    if isinstance(value, Crs):
        return value
    if isinstance(value, pyproj.CRS):
        code = value.to_epsg()
        if code is None:
            raise ValueError(f"CRS {value.name!r} has no EPSG code; {_ACCEPTED}")
        return _crs_from_epsg(code)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return _crs_from_epsg(int(value))
    if isinstance(value, str):
        text = re.sub(r"\s+", "", value).lower()
        if text in _ALIASES:
            return _ALIASES[text]
        match = re.fullmatch(r"(?:epsg:)?(\d+)", text)
        if match:
            return _crs_from_epsg(int(match.group(1)))
    raise ValueError(f"unknown coordinate system {value!r}; {_ACCEPTED}")


def _crs_from_epsg(code: int) -> Crs:
    if code in _KNOWN_BY_EPSG:
        return _KNOWN_BY_EPSG[code]
    try:
        crs = pyproj.CRS.from_epsg(code)
    except CRSError:
        raise ValueError(f"unknown EPSG code {code}; {_ACCEPTED}") from None
    if not (crs.is_geographic or crs.is_projected):
        raise ValueError(f"EPSG:{code} ({crs.name}) is not a geographic or projected CRS; {_ACCEPTED}")
    return Crs(f"EPSG:{code}", f"{crs.name} (EPSG:{code})", code)


# --- China bounding box -----------------------------------------------------

_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)


def _as_float_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return lon, lat


def in_china(lon, lat):
    """True where a point lies in the rough China bbox that GCJ-02/BD-09
    implementations use to decide whether to apply the offset; also the
    "coordinates outside China" check for imports (catches swapped lon/lat)."""
    lon, lat = _as_float_arrays(lon, lat)
    inside = (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])
    return inside[()]


# --- GCJ-02 / BD-09 ---------------------------------------------------------

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as in the published formula
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_INVERSE_TOL = 1e-9  # degrees, ~0.1 mm
_INVERSE_MAX_ITER = 10


def _gcj_poly_lat(x, y):
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _gcj_poly_lon(x, y):
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _wgs_to_gcj_raw(lon, lat):
    dlat = _gcj_poly_lat(lon - 105.0, lat - 35.0)
    dlon = _gcj_poly_lon(lon - 105.0, lat - 35.0)
    radlat = np.radians(lat)
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return lon + dlon, lat + dlat


def _gcj_to_bd_raw(lon, lat):
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _wgs_to_bd_raw(lon, lat):
    return _gcj_to_bd_raw(*_wgs_to_gcj_raw(lon, lat))


def _invert(forward, lon, lat):
    """Exact inverse of a small smooth offset by fixed-point iteration.

    The common closed-form "inverses" just subtract the offset evaluated at
    the wrong point and are off by up to a few metres; iterating
    x <- x - (forward(x) - target) converges to sub-millimetre in 2-3 steps
    because the offset varies slowly.
    """
    fx, fy = forward(lon, lat)
    x, y = 2.0 * lon - fx, 2.0 * lat - fy  # naive inverse as the start
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        if max(np.max(np.abs(dx)), np.max(np.abs(dy))) < _INVERSE_TOL:
            break
        x, y = x - dx, y - dy
    return x, y


def _offset_in_china(func, lon, lat):
    """Apply ``func`` only to points inside China (decided on the input
    coordinates); others pass through unchanged, as real GCJ-02/BD-09
    implementations do. Near the bbox edge a round trip can therefore differ,
    which is irrelevant for data inside China."""
    lon, lat = _as_float_arrays(lon, lat)
    out_lon, out_lat = lon.copy(), lat.copy()
    mask = in_china(lon, lat)
    if np.any(mask):
        out_lon[mask], out_lat[mask] = func(lon[mask], lat[mask])
    return out_lon[()], out_lat[()]


def wgs84_to_gcj02(lon, lat):
    """WGS84 -> GCJ-02 (published formula; offset is typically 100-700 m)."""
    return _offset_in_china(_wgs_to_gcj_raw, lon, lat)


def gcj02_to_wgs84(lon, lat):
    """GCJ-02 -> WGS84, iterative inverse accurate to ~1e-9 degrees."""
    return _offset_in_china(lambda x, y: _invert(_wgs_to_gcj_raw, x, y), lon, lat)


def gcj02_to_bd09(lon, lat):
    """GCJ-02 -> BD-09 (Baidu's published formula)."""
    return _offset_in_china(_gcj_to_bd_raw, lon, lat)


def bd09_to_gcj02(lon, lat):
    """BD-09 -> GCJ-02, iterative inverse (Baidu's closed form is approximate)."""
    return _offset_in_china(lambda x, y: _invert(_gcj_to_bd_raw, x, y), lon, lat)


def wgs84_to_bd09(lon, lat):
    """WGS84 -> BD-09 via GCJ-02."""
    return _offset_in_china(_wgs_to_bd_raw, lon, lat)


def bd09_to_wgs84(lon, lat):
    """BD-09 -> WGS84, inverting the composed transform in one iteration."""
    return _offset_in_china(lambda x, y: _invert(_wgs_to_bd_raw, x, y), lon, lat)


# --- Dispatch ---------------------------------------------------------------

_OFFSET_SYSTEMS = {  # key -> (to_wgs84, from_wgs84)
    GCJ02.key: (gcj02_to_wgs84, wgs84_to_gcj02),
    BD09.key: (bd09_to_wgs84, wgs84_to_bd09),
}
_WGS84_EQUIVALENT = {WGS84.epsg, CGCS2000.epsg}


@lru_cache(maxsize=64)
def _transformer(src_epsg: int, dst_epsg: int) -> pyproj.Transformer:
    # Building a Transformer costs milliseconds; imports call this per batch.
    return pyproj.Transformer.from_crs(src_epsg, dst_epsg, always_xy=True)


def _convert(lon, lat, crs, direction: int):
    crs = parse_crs(crs)
    if crs.key in _OFFSET_SYSTEMS:
        return _OFFSET_SYSTEMS[crs.key][direction](lon, lat)
    lon, lat = _as_float_arrays(lon, lat)
    if crs.epsg in _WGS84_EQUIVALENT:
        return lon.copy()[()], lat.copy()[()]
    src, dst = (crs.epsg, WGS84.epsg) if direction == 0 else (WGS84.epsg, crs.epsg)
    x, y = _transformer(src, dst).transform(lon, lat)
    return np.asarray(x, dtype=np.float64)[()], np.asarray(y, dtype=np.float64)[()]


def to_wgs84(lon, lat, crs):
    """Convert x/y (lon/lat for geographic systems) in ``crs`` to WGS84."""
    return _convert(lon, lat, crs, 0)


def from_wgs84(lon, lat, crs):
    """Convert WGS84 lon/lat to x/y in ``crs`` (for exports)."""
    return _convert(lon, lat, crs, 1)


def transform_geometries(geoms, src, dst):
    """Reproject shapely geometries (any type; None/empty preserved, Z kept).

    Always goes through WGS84, which is exact for our systems and keeps one
    code path for the offset systems and pyproj.
    """
    src, dst = parse_crs(src), parse_crs(dst)

    def func(x, y, *z):
        return (*from_wgs84(*to_wgs84(x, y, src), dst), *z)

    return shapely.transform(geoms, func, include_z=None, interleaved=False)


def geometry_to_wgs84(geoms, crs):
    """Reproject geometries from ``crs`` to WGS84 (the storage CRS). From WGS84 or a system
    equal to it the geometries are returned as they are: the conversion is the identity, and
    rebuilding two million points to say so cost 15 s of a history load."""
    crs = parse_crs(crs)
    if crs.key not in _OFFSET_SYSTEMS and crs.epsg in _WGS84_EQUIVALENT:
        return geoms
    return transform_geometries(geoms, crs, WGS84)


# --- Metric CRS -------------------------------------------------------------

_GK3_FIRST_EPSG = 4534  # CGCS2000 / 3-degree Gauss-Kruger CM 75E
_GK3_CM_RANGE = (75, 135)  # EPSG 4534..4554, consecutive in steps of 3 degrees


def metric_crs_for(lon, lat) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Kruger zone (CM variant, no
    zone prefix in the false easting) whose central meridian is nearest lon.

    3-degree zones keep scale distortion below ~1e-4 within the zone, which is
    what area/distance statistics for grids need; Web Mercator would overstate
    areas by ~30% at these latitudes.
    """
    lon, lat = float(lon), float(lat)
    if not in_china(lon, lat):
        raise ValueError(f"({lon}, {lat}) is outside China; no CGCS2000 zone applies")
    cm = int(np.clip(3 * np.floor(lon / 3.0 + 0.5), *_GK3_CM_RANGE))
    return _GK3_FIRST_EPSG + (cm - _GK3_CM_RANGE[0]) // 3
