"""Random positive points (HQ-SAM's 10-point prompt)."""
from __future__ import annotations

import numpy as np
import pytest

from sam_repro.prompts import HQ_SAM_NUM_POINTS, random_points


def _blob() -> np.ndarray:
    mask = np.zeros((40, 60), bool)
    mask[5:15, 40:55] = True  # wider than tall and off-centre, so an x/y swap would show
    mask[30:33, 2:4] = True
    return mask


def test_points_lie_on_the_mask_in_xy_order():
    mask = _blob()
    points, labels = random_points(mask, np.random.default_rng(0))
    assert points.shape == (HQ_SAM_NUM_POINTS, 2) and points.dtype == np.float64
    assert labels.shape == (HQ_SAM_NUM_POINTS,) and labels.dtype == np.int64 and np.all(labels == 1)
    assert np.all(points == np.round(points))  # integer pixel indices
    xs, ys = points[:, 0].astype(int), points[:, 1].astype(int)
    assert np.all(mask[ys, xs])
    assert len({(x, y) for x, y in zip(xs, ys)}) == len(xs)  # distinct


def test_points_cover_the_mask_uniformly():
    mask = np.zeros((10, 10), bool)
    mask[0, 0] = mask[9, 9] = mask[0, 9] = mask[9, 0] = True
    rng = np.random.default_rng(1)
    counts = {}
    for _ in range(400):
        (x, y), = random_points(mask, rng, k=1)[0].astype(int)
        counts[(x, y)] = counts.get((x, y), 0) + 1
    assert set(counts) == {(0, 0), (9, 9), (9, 0), (0, 9)}
    assert min(counts.values()) > 60  # each ~100 of 400


def test_points_are_deterministic_for_a_seed():
    a = random_points(_blob(), np.random.default_rng(3), k=5)[0]
    b = random_points(_blob(), np.random.default_rng(3), k=5)[0]
    c = random_points(_blob(), np.random.default_rng(4), k=5)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fewer_pixels_than_k():
    mask = np.zeros((8, 8), bool)
    mask[2, 3] = mask[5, 6] = True
    with pytest.raises(ValueError, match="mask: has 2 foreground pixels, fewer than k=10"):
        random_points(mask, np.random.default_rng(0))
    points, labels = random_points(mask, np.random.default_rng(0), allow_fewer=True)
    assert sorted(map(tuple, points.tolist())) == [(3.0, 2.0), (6.0, 5.0)]
    assert labels.tolist() == [1, 1]


def test_bad_inputs_name_the_argument():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="mask: is empty"):
        random_points(np.zeros((4, 4), bool), rng)
    with pytest.raises(TypeError, match="mask: expected a bool"):
        random_points(np.ones((4, 4), np.uint8), rng)
    with pytest.raises(ValueError, match="mask: expected a 2-D"):
        random_points(np.ones((2, 4, 4), bool), rng)
    with pytest.raises(ValueError, match="k: expected an integer >= 1"):
        random_points(_blob(), rng, k=0)
    with pytest.raises(TypeError, match="rng"):
        random_points(_blob(), None)
