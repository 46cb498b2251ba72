"""Coverage analysis on the Kongtong demo: every deliberate defect of geo/demo/generator.py is found.

The generator removes 3 villager groups (gaps), shrinks 7 grids by 12 m (slivers),
enlarges 10 grids by 45 m / 150 m over their neighbours (overlaps), merges 3 pairs of
urban grids (about 600 households) and leaves 12 grids without any staff.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from geo import db
from geo.coverage import report as coverage


@pytest.fixture(scope="module")
def report(demo_conn):
    t = time.perf_counter()
    r = coverage.analyse(demo_conn)
    r.wall = time.perf_counter() - t
    return r


def test_deliberate_gaps_and_slivers(report):
    gaps = report.of_kind("gap")
    assert len(gaps) == 3 and min(g.area_m2 for g in gaps) > 100_000
    slivers = report.of_kind("sliver")
    assert len(slivers) == 7 and all(2 < s.width_m < 15 for s in slivers)


def test_deliberate_overlaps(report):
    pairs = Counter(code for d in report.of_kind("overlap") for code in d.grid_codes)
    enlarged = [code for code, n in pairs.items() if n >= 3]  # an enlarged grid overlaps all its neighbours
    assert len(enlarged) == 10
    assert report.households["in_two"]["count"] > 1000


def test_merged_and_unstaffed_grids(report):
    above = [g for g in report.grid_load if "above_standard" in g["issues"] and g["kind"] == "urban"]
    assert sum(g["households"] > 540 for g in above) >= 3
    assert sum(s["roles"] == [] for s in report.staffing) == 12


def test_scores_and_speed(report, demo_conn):
    assert 0.98 < report.score["score"] < 1.0
    communities = db.scalar(demo_conn, "SELECT count(*) FROM admin_unit WHERE level = 'community' AND geom IS NOT NULL")
    assert len(report.scores) == communities and all(0 < s["score"] <= 1 for s in report.scores)
    assert report.noise["count"] > 0  # rounding slivers of the generator, kept out of the defects
    assert report.wall < 30
