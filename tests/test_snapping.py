"""Snapping an edited boundary onto neighbours: exact coordinates, so no new sliver."""

from __future__ import annotations

import math

import pytest
import shapely

from geo.planning.snapping import Snapper, tolerance_from_pixels

NEIGHBOUR = shapely.Polygon([(0, 0), (10, 0), (10, 10), (5, 10), (0, 10)])  # a corner (5, 10) on its top edge


def test_a_vertex_within_tolerance_lands_exactly_on_the_neighbour_vertex():
    s = Snapper([NEIGHBOUR])
    assert s.snap_point(10.3, 10.2, 0.5) == (10.0, 10.0, "vertex")


def test_a_vertex_near_an_edge_lands_on_the_edge():
    s = Snapper([NEIGHBOUR])
    assert s.snap_point(10.4, 3.0, 0.5) == (10.0, 3.0, "edge")
    assert s.snap_point(2.0, 10.25, 0.5) == (2.0, 10.0, "edge")


def test_beyond_tolerance_nothing_moves():
    s = Snapper([NEIGHBOUR])
    assert s.snap_point(11.0, 3.0, 0.5) == (11.0, 3.0, "none")


def test_vertex_beats_edge_and_the_nearest_vertex_wins():
    s = Snapper([NEIGHBOUR, shapely.box(10, 0, 20, 10)])
    assert s.snap_point(10.2, 0.1, 0.5) == (10.0, 0.0, "vertex")


def test_a_drawn_neighbour_shares_the_edge_exactly_no_gap_no_overlap():
    # A grid drawn above the neighbour, its bottom a little off the neighbour's top edge.
    drawn = shapely.Polygon([(-0.2, 10.3), (10.2, 9.8), (10, 20), (0, 20)])
    snapped = Snapper([NEIGHBOUR]).snap(drawn, 0.5)
    # The neighbour's middle vertex (5, 10) is threaded into the shared edge.
    assert list(snapped.exterior.coords) == [(0.0, 10.0), (5.0, 10.0), (10.0, 10.0), (10.0, 20.0), (0.0, 20.0), (0.0, 10.0)]
    assert shapely.intersection(snapped, NEIGHBOUR).area == 0
    assert shapely.union(snapped, NEIGHBOUR).area == pytest.approx(200.0)


def test_lines_snap_too_and_zero_tolerance_is_identity():
    s = Snapper([NEIGHBOUR])
    line = shapely.LineString([(-0.3, 5.1), (10.3, 5.0)])
    assert list(s.snap(line, 0.5).coords) == [(0.0, 5.1), (10.0, 5.0)]
    assert s.snap(line, 0) is line


def test_pixel_tolerance_in_degrees():
    # At zoom 15, one 512-px tile spans 360/2^15 degrees of longitude.
    assert tolerance_from_pixels(8, 15, 0) == pytest.approx(8 * 360 / 512 / 2**15)
    assert tolerance_from_pixels(8, 15, 60) == pytest.approx(8 * 360 / 512 / 2**15 * math.cos(math.radians(60)))
    with pytest.raises(ValueError):
        tolerance_from_pixels(-1, 15, 0)
