"""geo.assign: in-memory point-in-polygon with the tie rule of locate_points(), on small
real geometries, single-threaded and split across threads (same answer)."""

import numpy as np
import shapely

from geo import assign

# Two unit squares side by side sharing the edge x = 1, and a third overlapping the second.
LEFT = shapely.box(0, 0, 1, 1)
RIGHT = shapely.box(1, 0, 2, 1)
OVER = shapely.box(1.5, 0, 2.5, 1)
POLYS = np.array([LEFT, RIGHT, OVER], dtype=object)


def test_inside_edge_overlap_and_outside():
    pts = shapely.points([(0.5, 0.5), (1.0, 0.5), (1.75, 0.5), (2.25, 0.5), (3, 3), (0, 0)])
    # rank: lower wins. RIGHT beats LEFT on the shared edge; OVER beats RIGHT in the overlap.
    won = assign.assign(pts, POLYS, rank=np.array([2, 1, 0]))
    assert won.tolist() == [0, 1, 2, 2, -1, 0]


def test_default_rank_is_the_lowest_index():
    pts = shapely.points([(1.0, 0.5), (1.75, 0.5)])
    assert assign.assign(pts, POLYS).tolist() == [0, 1]


def test_threads_give_the_same_answer(monkeypatch):
    rng = np.random.default_rng(1)
    xy = rng.uniform(-0.5, 3, (20_000, 2))
    xy[::7, 0] = 1.0  # many points exactly on the shared edge
    pts = shapely.points(xy)
    rank = np.array([2, 1, 0])
    single = assign.assign(pts, POLYS, rank)
    monkeypatch.setattr(assign, "MIN_CHUNK", 1_000)  # split into os.cpu_count() parts
    monkeypatch.setattr(assign.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(assign, "_pool", None)
    split = assign.assign(pts, POLYS, rank)
    assert np.array_equal(single, split)
    x = xy[:, 0]
    inside_y = (xy[:, 1] >= 0) & (xy[:, 1] <= 1)
    expected = np.where(
        ~inside_y,
        -1,
        np.where((x >= 1.5) & (x <= 2.5), 2, np.where((x >= 1) & (x < 1.5), 1, np.where((x >= 0) & (x < 1), 0, -1))),
    )
    assert np.array_equal(split, expected)


def test_empty_inputs():
    assert assign.assign(shapely.points(np.zeros((0, 2))), POLYS).tolist() == []
    assert assign.assign(shapely.points([(0.5, 0.5)]), np.array([], dtype=object)).tolist() == [-1]
