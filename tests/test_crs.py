import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from geo import crs as C

GEOD = pyproj.Geod(ellps="WGS84")

# Tiananmen: widely published WGS84 -> GCJ-02 sample.
TAM_WGS = (116.397428, 39.90923)
TAM_GCJ_PUBLISHED = (116.403673, 39.910628)
# This implementation's own value for the same point (regression pin).
TAM_GCJ_FORMULA = (116.40367162595768, 39.91063350638631)


def distance_m(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(lon1, lat1, lon2, lat2)
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


@pytest.fixture(scope="module")
def china_grid():
    """~1000 points covering China's extent, kept away from the bbox edge."""
    lon, lat = np.meshgrid(np.linspace(74.0, 134.0, 40), np.linspace(18.0, 53.0, 25))
    return lon.ravel(), lat.ravel()


# --- parse_crs --------------------------------------------------------------


@pytest.mark.parametrize("value", ["wgs84", "WGS84", "WGS-84", "epsg:4326", "EPSG:4326", "4326", 4326])
def test_parse_wgs84_forms(value):
    assert C.parse_crs(value) == C.WGS84
    assert C.WGS84.key == "wgs84" and C.WGS84.epsg == 4326


@pytest.mark.parametrize("value", ["cgcs2000", "CGCS2000", "epsg:4490", "EPSG:4490", "4490"])
def test_parse_cgcs2000_forms(value):
    crs = C.parse_crs(value)
    assert crs == C.CGCS2000
    assert (crs.key, crs.epsg) == ("EPSG:4490", 4490)


@pytest.mark.parametrize(
    "value, expected",
    [("gcj02", C.GCJ02), ("GCJ-02", C.GCJ02), ("bd09", C.BD09), ("BD-09", C.BD09), (" Bd09 ", C.BD09)],
)
def test_parse_offset_systems(value, expected):
    crs = C.parse_crs(value)
    assert crs == expected
    assert crs.epsg is None


def test_gcj02_label():
    assert C.GCJ02.label == "GCJ-02（火星坐标，高德/腾讯）"
    assert C.GCJ02.key == "gcj02" and C.BD09.key == "bd09"


@pytest.mark.parametrize("value", ["EPSG:3857", "epsg:3857", "3857", 3857, np.int64(3857)])
def test_parse_generic_epsg(value):
    crs = C.parse_crs(value)
    assert (crs.key, crs.epsg) == ("EPSG:3857", 3857)
    assert "Pseudo-Mercator" in crs.label


def test_parse_projected_cgcs2000_zone():
    crs = C.parse_crs("EPSG:4545")
    assert crs.epsg == 4545 and "108E" in crs.label


def test_parse_pyproj_objects():
    assert C.parse_crs(pyproj.CRS.from_epsg(4326)) == C.WGS84
    assert C.parse_crs(pyproj.CRS.from_epsg(4490)) == C.CGCS2000
    assert C.parse_crs(pyproj.CRS.from_epsg(32648)).key == "EPSG:32648"


def test_parse_is_idempotent():
    assert C.parse_crs(C.GCJ02) is C.GCJ02


@pytest.mark.parametrize(
    "value",
    ["mars", "", "EPSG:999999", "gcj", None, 3.5, True, "EPSG:4978", "EPSG:5773"],
)
def test_parse_rejects_unknown(value):
    with pytest.raises(ValueError, match="accepted"):
        C.parse_crs(value)


def test_parse_error_lists_forms():
    with pytest.raises(ValueError) as exc:
        C.parse_crs("mars")
    message = str(exc.value)
    for form in ("wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:"):
        assert form in message


def test_parse_rejects_crs_without_epsg():
    custom = pyproj.CRS.from_proj4("+proj=tmerc +lon_0=106.7 +ellps=GRS80 +units=m")
    with pytest.raises(ValueError, match="no EPSG code"):
        C.parse_crs(custom)


# --- GCJ-02 / BD-09 ---------------------------------------------------------


def test_wgs84_to_gcj02_published_sample():
    lon, lat = C.wgs84_to_gcj02(*TAM_WGS)
    assert abs(lon - TAM_GCJ_PUBLISHED[0]) < 1e-5
    assert abs(lat - TAM_GCJ_PUBLISHED[1]) < 1e-5
    assert lon == pytest.approx(TAM_GCJ_FORMULA[0], abs=1e-12)
    assert lat == pytest.approx(TAM_GCJ_FORMULA[1], abs=1e-12)
    assert 300 < distance_m(*TAM_WGS, lon, lat) < 700


def test_bd09_offset_magnitude():
    gcj = C.wgs84_to_gcj02(*TAM_WGS)
    bd = C.gcj02_to_bd09(*gcj)
    assert np.allclose(C.wgs84_to_bd09(*TAM_WGS), bd, atol=1e-12)
    # BD-09 adds roughly another 0.0065/0.006 degrees (~ 700-1000 m).
    assert 500 < distance_m(*gcj, *bd) < 1200


def test_scalar_in_scalar_out():
    lon, lat = C.wgs84_to_gcj02(*TAM_WGS)
    assert np.ndim(lon) == 0 and np.ndim(lat) == 0


def test_round_trip_wgs84_gcj02(china_grid):
    lon, lat = china_grid
    assert lon.size >= 1000
    glon, glat = C.wgs84_to_gcj02(lon, lat)
    assert np.all(distance_m(lon, lat, glon, glat) > 1)  # offset really applied
    blon, blat = C.gcj02_to_wgs84(glon, glat)
    assert blon.dtype == np.float64 and blon.shape == lon.shape
    assert distance_m(lon, lat, blon, blat).max() < 0.01


def test_round_trip_wgs84_bd09(china_grid):
    lon, lat = china_grid
    blon, blat = C.bd09_to_wgs84(*C.wgs84_to_bd09(lon, lat))
    assert distance_m(lon, lat, blon, blat).max() < 0.01


def test_round_trip_gcj02_bd09(china_grid):
    lon, lat = china_grid
    glon, glat = C.bd09_to_gcj02(*C.gcj02_to_bd09(lon, lat))
    assert distance_m(lon, lat, glon, glat).max() < 0.01


def test_inverse_is_exact_not_naive(china_grid):
    """The forward transform must reproduce the inverse's input to ~1e-9 deg."""
    lon, lat = china_grid
    flon, flat = C.wgs84_to_gcj02(*C.gcj02_to_wgs84(lon, lat))
    assert np.abs(flon - lon).max() < 1e-8 and np.abs(flat - lat).max() < 1e-8


@pytest.mark.parametrize(
    "func",
    [C.wgs84_to_gcj02, C.gcj02_to_wgs84, C.gcj02_to_bd09, C.bd09_to_gcj02, C.wgs84_to_bd09, C.bd09_to_wgs84],
)
def test_outside_china_unchanged(func):
    lon = np.array([2.35, -74.0, 139.69, 100.0, 150.0])
    lat = np.array([48.86, 40.7, 35.69, 60.0, -30.0])
    out_lon, out_lat = func(lon, lat)
    np.testing.assert_array_equal(out_lon, lon)
    np.testing.assert_array_equal(out_lat, lat)


def test_mixed_inside_outside_and_nan():
    lon = np.array([116.4, 2.35, np.nan])
    lat = np.array([39.9, 48.86, 30.0])
    out_lon, out_lat = C.wgs84_to_gcj02(lon, lat)
    assert out_lon[0] != 116.4
    assert (out_lon[1], out_lat[1]) == (2.35, 48.86)
    assert np.isnan(out_lon[2])


def test_in_china():
    assert C.in_china(106.7, 35.5)
    assert not C.in_china(35.5, 106.7)  # swapped lon/lat
    np.testing.assert_array_equal(
        C.in_china([116.4, 2.35, 72.004, 137.8347, 137.84], [39.9, 48.86, 0.8293, 55.8271, 40.0]),
        [True, False, True, True, False],
    )


# --- to_wgs84 / from_wgs84 ----------------------------------------------------


def test_dispatch_offset_systems():
    assert np.allclose(C.from_wgs84(*TAM_WGS, "gcj02"), C.wgs84_to_gcj02(*TAM_WGS), atol=0)
    assert np.allclose(C.from_wgs84(*TAM_WGS, "bd09"), C.wgs84_to_bd09(*TAM_WGS), atol=0)
    gcj = C.wgs84_to_gcj02(*TAM_WGS)
    assert np.allclose(C.to_wgs84(*gcj, C.GCJ02), TAM_WGS, atol=1e-9)


@pytest.mark.parametrize("crs", ["wgs84", "cgcs2000"])
def test_wgs84_equivalents_are_identity(crs):
    lon, lat = np.array([106.7, 116.4]), np.array([35.5, 39.9])
    out = C.to_wgs84(lon, lat, crs)
    np.testing.assert_array_equal(out[0], lon)
    np.testing.assert_array_equal(out[1], lat)
    assert out[0] is not lon  # never alias caller data


def test_web_mercator_round_trip(china_grid):
    lon, lat = china_grid
    x, y = C.from_wgs84(lon, lat, "EPSG:3857")
    assert x.dtype == np.float64 and x.shape == lon.shape
    # Known value: lon 180 -> x = pi * 6378137.
    assert C.from_wgs84(180.0, 0.0, 3857)[0] == pytest.approx(np.pi * 6378137.0)
    blon, blat = C.to_wgs84(x, y, "EPSG:3857")
    assert np.abs(blon - lon).max() < 1e-9 and np.abs(blat - lat).max() < 1e-9


def test_projected_zone_round_trip():
    x, y = C.from_wgs84(108.0, 35.0, 4545)
    assert x == pytest.approx(500000.0, abs=1e-3)  # on the central meridian
    assert C.to_wgs84(x, y, 4545) == pytest.approx((108.0, 35.0), abs=1e-9)


def test_transformer_is_cached():
    C.from_wgs84(116.0, 39.0, 3857)
    before = C._transformer.cache_info().hits
    C.from_wgs84(116.0, 39.0, 3857)
    assert C._transformer.cache_info().hits == before + 1


# --- geometries -------------------------------------------------------------


def square(lon, lat, size):
    return [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size), (lon, lat)]


def test_transform_polygon_with_hole_and_multipolygon():
    holed = Polygon(square(106.6, 35.5, 0.2), [square(106.65, 35.55, 0.05)])
    multi = MultiPolygon([Polygon(square(116.3, 39.8, 0.1)), Polygon(square(116.5, 39.8, 0.1), [square(116.52, 39.82, 0.02)])])
    out = C.transform_geometries([holed, multi], "wgs84", "gcj02")

    assert out[0].geom_type == "Polygon" and len(out[0].interiors) == 1
    assert out[1].geom_type == "MultiPolygon" and len(out[1].geoms) == 2
    assert [len(p.interiors) for p in out[1].geoms] == [0, 1]
    assert shapely.get_num_coordinates(out).tolist() == shapely.get_num_coordinates([holed, multi]).tolist()
    assert all(g.is_valid for g in out)

    exterior = np.asarray(out[0].exterior.coords)
    expected = np.column_stack(C.wgs84_to_gcj02(*np.asarray(holed.exterior.coords).T))
    np.testing.assert_allclose(exterior, expected, atol=1e-12)

    back = C.geometry_to_wgs84(out, "gcj02")
    for original, restored in zip([holed, multi], back):
        assert shapely.hausdorff_distance(original, restored) < 1e-9


def test_transform_points_lines_none_empty_and_z():
    geoms = [Point(116.4, 39.9), LineString([(106.6, 35.5), (106.8, 35.6)]), None, Polygon(), Point(116.4, 39.9, 42.0)]
    out = C.transform_geometries(geoms, "wgs84", "EPSG:4545")
    assert out[0].geom_type == "Point" and out[1].geom_type == "LineString"
    assert out[2] is None
    assert out[3].is_empty
    assert out[4].has_z and out[4].z == 42.0 and not out[0].has_z
    assert out[1].coords[0][0] == pytest.approx(C.from_wgs84(106.6, 35.5, 4545)[0])


def test_transform_single_geometry():
    out = C.transform_geometries(Point(*TAM_WGS), C.WGS84, C.BD09)
    assert (out.x, out.y) == pytest.approx(C.wgs84_to_bd09(*TAM_WGS), abs=1e-12)


def test_transform_between_offset_systems():
    gcj = Point(C.wgs84_to_gcj02(*TAM_WGS))
    bd = C.transform_geometries(gcj, "gcj02", "bd09")
    assert (bd.x, bd.y) == pytest.approx(C.wgs84_to_bd09(*TAM_WGS), abs=1e-8)


# --- metric CRS -------------------------------------------------------------


@pytest.mark.parametrize(
    "lon, lat, cm",
    [
        (106.7, 35.5, 108),  # Kongtong district, Pingliang: |106.7-108| < |106.7-105|
        (106.4, 35.5, 105),
        (116.4, 39.9, 117),
        (121.4, 31.2, 120),
        (120.0, 31.0, 120),
        (75.9, 39.5, 75),
        (73.5, 39.0, 75),  # west of the first zone: clamped
        (134.7, 48.3, 135),
        (137.0, 45.0, 135),  # east of the last zone: clamped
    ],
)
def test_metric_crs_for(lon, lat, cm):
    code = C.metric_crs_for(lon, lat)
    assert isinstance(code, int)
    name = pyproj.CRS.from_epsg(code).name
    assert name == f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"


def test_metric_crs_codes_cover_all_zones():
    codes = {C.metric_crs_for(lon, 35.0) for lon in np.arange(75.0, 136.0, 3.0)}
    assert codes == set(range(4534, 4555))
    for code in codes:
        crs = pyproj.CRS.from_epsg(code)
        assert crs.name.startswith("CGCS2000 / 3-degree Gauss-Kruger CM ")
        params = {p.name: p.value for p in crs.coordinate_operation.params}
        assert params["False easting"] == 500000  # no zone-number prefix


def test_metric_crs_outside_china():
    with pytest.raises(ValueError, match="outside China"):
        C.metric_crs_for(2.35, 48.86)
