"""Gi* against esda (and a hand-worked lattice), FDR, distance bands, Local Moran's I."""

from __future__ import annotations

import time
import warnings
from datetime import date

import esda
import numpy as np
import pytest
from libpysal.weights import lat2W

from geo.analysis import hotspots
from tests.support.drill import COMMUNITY, add_incidents, lattice

WINDOW = (date(2026, 7, 1), date(2026, 7, 31))


def esda_gi(y, w):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return esda.G_Local(np.asarray(y, dtype=float), w, transform="B", star=True, permutations=0)


def star_of(w):
    return hotspots.Weights(np.array(w.id_order), w.sparse.tocsr(), "queen", None, 0.0).star


def test_single_incident_in_the_centre_of_a_5x5_queen_lattice():
    """Worked by hand: n=25, centre W=9: z = (1 - 9/25) / (12/25) = 4/3; corner W=4: z = -4/sqrt(84)."""
    y = np.zeros(25)
    y[12] = 1
    z = hotspots.gi_star_z(star_of(lat2W(5, 5, rook=False)), y)
    assert z[12] == pytest.approx(4 / 3, abs=1e-12)
    assert z[0] == pytest.approx(-4 / np.sqrt(84), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gi_star_equals_esda_on_random_lattices(seed):
    rng = np.random.default_rng(seed)
    w = lat2W(7, 6, rook=False)
    y = rng.poisson(3, 42).astype(float)
    ours = hotspots.gi_star_z(star_of(w), y)
    theirs = esda_gi(y, w)
    np.testing.assert_allclose(ours, theirs.Zs, atol=1e-6)
    np.testing.assert_allclose(hotspots.two_sided_p(ours), 2 * theirs.p_norm, atol=1e-6)


def test_columns_are_independent_series():
    """emerging computes every week at once: each column must equal its own esda run."""
    w = lat2W(5, 5, rook=False)
    y = np.random.default_rng(7).poisson(2, (25, 4)).astype(float)
    z = hotspots.gi_star_z(star_of(w), y)
    for t in range(4):
        np.testing.assert_allclose(z[:, t], esda_gi(y[:, t], w).Zs, atol=1e-6)


def test_no_variance_means_no_hotspot():
    w = lat2W(3, 3)
    assert not hotspots.gi_star_z(star_of(w), np.zeros(9)).any()
    assert not hotspots.gi_star_z(star_of(w), np.full(9, 4.0)).any()


def test_bins_follow_arcgis_confidence_levels():
    z = np.array([3.0, 2.0, 1.7, 1.0, -1.7, -2.0, -3.0])
    bins = hotspots.confidence_bins(z, hotspots.two_sided_p(z))
    assert bins.tolist() == [3, 2, 1, 0, -1, -2, -3]


def test_fdr_is_benjamini_hochberg():
    """Sorted p 0.001, 0.02, 0.03, 0.04, 0.5 (m=5): adjusted 0.005, 0.05, 0.05, 0.05, 0.5."""
    z = np.ones(5)
    p = np.array([0.04, 0.001, 0.5, 0.02, 0.03])
    assert hotspots.confidence_bins(z, p).tolist() == [2, 3, 0, 2, 2]
    assert hotspots.confidence_bins(z, p, fdr=True).tolist() == [1, 3, 0, 1, 1]


def test_fdr_never_adds_significance():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, 500)
    p = hotspots.two_sided_p(z)
    plain, fdr = hotspots.confidence_bins(z, p), hotspots.confidence_bins(z, p, fdr=True)
    assert (np.abs(fdr) <= np.abs(plain)).all() and (np.abs(fdr) < np.abs(plain)).any()
    assert (np.sign(fdr[fdr != 0]) == np.sign(plain[fdr != 0])).all()


@pytest.fixture
def cluster_lattice(tiny_jurisdiction, conn, add_grids, categories):
    """A 5x5 lattice of real polygons with incidents heaped in the south-west corner."""
    add_grids(lattice(5))
    heap = {0: 9, 1: 6, 5: 6, 6: 5, 12: 2, 24: 1}  # lattice index -> incidents
    points = []
    for index, n in heap.items():
        r, c = divmod(index, 5)
        points += [(106.651 + 0.002 * c, 35.532 + 0.004 * r)] * n
    add_incidents(conn, points)
    y = np.zeros(25)
    for index, n in heap.items():
        y[index] = n
    return conn, y


def test_gi_star_from_the_database_matches_esda_on_the_lattice(cluster_lattice):
    conn, y = cluster_lattice
    result = hotspots.gi_star(conn, *WINDOW)
    assert result["code"].tolist() == [f"{COMMUNITY}{i:03d}" for i in range(1, 26)]
    assert result["count"].tolist() == y.astype(int).tolist()
    expected = esda_gi(y, lat2W(5, 5, rook=False))
    np.testing.assert_allclose(result["z"], expected.Zs, atol=1e-6)
    np.testing.assert_allclose(result["p"], 2 * expected.p_norm, atol=1e-6)
    assert result.loc[0, "bin"] == 3 and result["bin"].max() == 3
    assert (result["bin"] >= -3).all() and set(result.columns) == {"code", "count", "z", "p", "bin"}
    fdr = hotspots.gi_star(conn, *WINDOW, fdr=True)
    assert (fdr["bin"].abs() <= result["bin"].abs()).all()


def test_weights_are_cached_until_grids_change(cluster_lattice, add_grids):
    conn, _ = cluster_lattice
    first = hotspots.grid_weights(conn)
    assert hotspots.grid_weights(conn) is first
    assert first.islands == []
    add_grids([(f"{COMMUNITY}099", "远处网格", "urban", lattice(1, x0=106.669, y0=35.549, dx=0.0005, dy=0.0005)[0][3])])
    second = hotspots.grid_weights(conn)
    assert second is not first and len(second.codes) == 26 and second.islands == [f"{COMMUNITY}099"]


def test_distance_band_and_rates(cluster_lattice):
    conn, y = cluster_lattice
    w = hotspots.grid_weights(conn, "distance", distance_m=200)  # cells are ~181 m wide, 445 m tall
    degree = np.asarray(w.sparse.sum(axis=1)).ravel()
    assert degree[12] == 2 and degree[0] == 1
    result = hotspots.gi_star(conn, *WINDOW, weights="distance", distance_m=500)
    assert result.loc[0, "z"] > 2
    rates = hotspots.gi_star(conn, *WINDOW, rate=True)  # no households: each grid counts as 1
    np.testing.assert_allclose(rates["count"], 1000 * y)
    with pytest.raises(ValueError):
        hotspots.gi_star(conn, *WINDOW, weights="distance")


def test_local_moran_quadrants(cluster_lattice):
    conn, _ = cluster_lattice
    result = hotspots.local_moran(conn, *WINDOW, permutations=199)
    assert result.loc[0, "quadrant"] == "HH"
    assert set(result["quadrant"]) <= {"HH", "LL", "HL", "LH", "ns"}


def test_demo_hotspots_are_plausible_and_fast(demo_conn):
    hotspots.grid_weights(demo_conn)
    started = time.perf_counter()
    result = hotspots.gi_star(demo_conn, date(2026, 1, 1), date(2026, 3, 31))
    elapsed = time.perf_counter() - started
    assert len(result) > 1500 and elapsed < 2
    assert (result["bin"] == 3).sum() > 0
    assert result["count"].sum() > 1000
