"""Pi-SAM's error-component clicks."""
from __future__ import annotations

import numpy as np
import pytest

from sam_repro.prompts import Click, error_region_clicks, error_regions, strip_boundary


def _rect(shape, rows, cols) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1] = True
    return m


def _laplacian_interior(region: np.ndarray) -> np.ndarray:
    """Pi-SAM's BlockTargetGenerator written out: 3x3 Laplacian on the zero-padded region."""
    padded = np.pad(region.astype(np.float32), 1)
    h, w = region.shape
    lap = 8 * padded[1:-1, 1:-1]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                lap -= padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
    boundary = np.clip(lap, 0, None) / 9.0 > 0.1
    return (region.astype(np.float32) - boundary) > 0


def test_strip_boundary_equals_the_laplacian_rule():
    rng = np.random.default_rng(0)
    for _ in range(20):
        region = rng.random((30, 40)) < rng.uniform(0.3, 0.9)
        np.testing.assert_array_equal(strip_boundary(region), _laplacian_interior(region))


def test_strip_boundary_treats_the_image_border_as_boundary():
    region = _rect((10, 10), rows=(0, 5), cols=(0, 5))
    np.testing.assert_array_equal(strip_boundary(region), _rect((10, 10), rows=(1, 4), cols=(1, 4)))


def test_eval_mode_clicks_inside_the_interior_of_the_largest_component():
    shape = (40, 40)
    gt = _rect(shape, rows=(5, 20), cols=(5, 20))  # FN 16x16, interior 14x14
    pred = _rect(shape, rows=(25, 32), cols=(25, 32))  # FP 8x8, interior 6x6
    interior = _rect(shape, rows=(6, 19), cols=(6, 19))
    seen = set()
    for seed in range(50):
        clicks = error_region_clicks(gt, pred, np.random.default_rng(seed))
        assert len(clicks) == 1
        (c,) = clicks
        assert c.positive and interior[c.y, c.x]
        seen.add((c.x, c.y))
    assert len(seen) > 30  # a random pixel of the component, not its centre
    # Swap roles: the FP region is now the largest, so the click is negative.
    gt2 = _rect(shape, rows=(25, 32), cols=(25, 32))
    pred2 = _rect(shape, rows=(5, 20), cols=(5, 20))
    (c,) = error_region_clicks(gt2, pred2, np.random.default_rng(0))
    assert not c.positive and interior[c.y, c.x]


def test_regions_below_min_area_after_stripping_are_ignored():
    shape = (20, 20)
    pred = np.zeros(shape, bool)
    gt = _rect(shape, rows=(2, 4), cols=(2, 4))  # 3x3 -> 1 interior pixel: dropped
    assert error_regions(gt, pred) == []
    assert error_region_clicks(gt, pred, np.random.default_rng(0)) == []
    gt |= _rect(shape, rows=(10, 12), cols=(10, 13))  # 3x4 -> 1x2 interior: kept
    regions = error_regions(gt, pred)
    assert [(r.area, r.positive) for r in regions] == [(2, True)]
    assert error_region_clicks(gt, pred, np.random.default_rng(0))[0] in (Click(11, 11, True), Click(12, 11, True))


def test_error_regions_use_8_connectivity_and_sort_largest_first():
    shape = (30, 30)
    # FN region whose interior is two 2x2 blocks touching only at a corner: one 8-connected
    # component of area 8 (4-connectivity would give two of area 4).
    gt = _rect(shape, rows=(1, 4), cols=(1, 4)) | _rect(shape, rows=(3, 6), cols=(3, 6))
    interior = _rect(shape, rows=(2, 3), cols=(2, 3)) | _rect(shape, rows=(4, 5), cols=(4, 5))
    np.testing.assert_array_equal(strip_boundary(gt), interior)
    pred = _rect(shape, rows=(15, 25), cols=(15, 25))  # FP 11x11, interior 81
    regions = error_regions(gt, pred)
    assert [(r.area, r.positive) for r in regions] == [(81, False), (8, True)]
    np.testing.assert_array_equal(regions[1].mask, interior)


def _many_components(n: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """n separate FN squares with distinct sides 4..4+n-1; returns interiors, largest first."""
    shape = (200, 200)
    gt = np.zeros(shape, bool)
    interiors = []
    for i in range(n):
        r, c = divmod(i, 4)
        side = 4 + i
        block = _rect(shape, rows=(r * 50, r * 50 + side - 1), cols=(c * 50, c * 50 + side - 1))
        gt |= block
        interiors.append(strip_boundary(block))
    return gt, np.zeros(shape, bool), interiors[::-1]


@pytest.mark.parametrize("n, expected_max", [(12, 10), (3, 3)])
def test_training_mode_picks_k_largest_with_k_in_range(n, expected_max):
    gt, pred, interiors = _many_components(n)
    ks = []
    for seed in range(200):
        clicks = error_region_clicks(gt, pred, np.random.default_rng(seed), training=True)
        ks.append(len(clicks))
        for click, interior in zip(clicks, interiors):  # i-th click in the i-th largest component
            assert click.positive and interior[click.y, click.x]
    assert min(ks) == 1 and max(ks) == expected_max
    assert set(ks) == set(range(1, expected_max + 1))


def test_training_mode_respects_max_points():
    gt, pred, _ = _many_components(12)
    ks = {len(error_region_clicks(gt, pred, np.random.default_rng(s), training=True, max_points=4)) for s in range(100)}
    assert ks == {1, 2, 3, 4}


def test_clicks_are_deterministic_for_a_seed():
    gt, pred, _ = _many_components(8)
    a = error_region_clicks(gt, pred, np.random.default_rng(11), training=True)
    b = error_region_clicks(gt, pred, np.random.default_rng(11), training=True)
    assert a == b


def test_soft_ground_truth_follows_pi_sams_exact_comparison():
    shape = (20, 20)
    gt = np.zeros(shape, np.float32)
    gt[2:10, 2:10] = 1.0
    gt[2:10, 10:18] = 0.5  # soft pixels (bilinear resize): neither FN nor FP
    pred = np.zeros(shape, bool)
    pred[2:10, 10:18] = True
    regions = error_regions(gt, pred)
    assert len(regions) == 1 and regions[0].positive
    assert not regions[0].mask[:, 10:].any()
    # Identical to the bool ground truth when the map is 0/1.
    np.testing.assert_array_equal(error_regions(gt == 1, pred)[0].mask, regions[0].mask)


def test_bad_inputs_name_the_argument():
    gt = _rect((10, 10), rows=(2, 7), cols=(2, 7))
    pred = np.zeros_like(gt)
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match=r"gt: .*uint8.*/ 255"):
        error_region_clicks(gt.astype(np.uint8) * 255, pred, rng)
    with pytest.raises(ValueError, match=r"gt: .*\[0, 1\]"):
        error_region_clicks(gt.astype(np.float32) * 255, pred, rng)
    with pytest.raises(ValueError, match="gt: expected a 2-D"):
        error_region_clicks(gt[None], pred, rng)
    with pytest.raises(ValueError, match="pred: shape"):
        error_region_clicks(gt, pred[:5], rng)
    with pytest.raises(TypeError, match="pred: expected a bool"):
        error_region_clicks(gt, pred.astype(np.float32), rng)
    with pytest.raises(TypeError, match="rng"):
        error_region_clicks(gt, pred, 0)
    with pytest.raises(ValueError, match="max_points"):
        error_region_clicks(gt, pred, rng, max_points=0)
    with pytest.raises(ValueError, match="min_area"):
        error_regions(gt, pred, min_area=0)
