"""Tight boxes (HQ-SAM convention) and DN-DETR noisy boxes (Stable-SAM)."""
from __future__ import annotations

import numpy as np
import pytest

from sam_repro.prompts import (
    STABLE_SAM_BOX_NOISE_SCALE,
    BoxNoiseError,
    box_iou,
    mask_to_box,
    noisy_box,
)


def _cxcywh(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]])


# ---- tight box -------------------------------------------------------------------------------


def test_tight_box_single_pixel_has_no_plus_one():
    mask = np.zeros((10, 12), bool)
    mask[5, 7] = True
    box = mask_to_box(mask)
    assert box.dtype == np.float64 and box.shape == (4,)
    assert box.tolist() == [7, 5, 7, 5]


def test_tight_box_is_inclusive_min_max_of_foreground():
    mask = np.zeros((20, 30), bool)
    mask[3:9, 4:11] = True  # rows 3..8, cols 4..10
    mask[15, 25] = True  # a stray pixel widens the box
    assert mask_to_box(mask).tolist() == [4, 3, 25, 15]


def test_tight_box_of_full_mask_ends_at_last_pixel_index():
    assert mask_to_box(np.ones((6, 9), bool)).tolist() == [0, 0, 8, 5]


def test_tight_box_empty_mask_is_a_clear_error():
    with pytest.raises(ValueError, match="mask: is empty"):
        mask_to_box(np.zeros((5, 5), bool))


@pytest.mark.parametrize(
    "bad, exc, msg",
    [
        (np.full((5, 5), 255, np.uint8), TypeError, r"mask: .*uint8.*> 128"),
        (np.ones((5, 5), np.float32), TypeError, r"mask: .*float32"),
        (np.ones((1, 5, 5), bool), ValueError, r"mask: .*2-D.*squeeze"),
        (np.ones((0, 5), bool), ValueError, r"mask: .*non-empty"),
        (None, TypeError, r"mask: .*NoneType"),
    ],
)
def test_tight_box_bad_inputs_name_the_argument(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        mask_to_box(bad)


# ---- IoU ----------------------------------------------------------------------------------------


def test_box_iou_basic_values():
    assert box_iou([0, 0, 2, 2], [0, 0, 2, 2]) == 1.0
    assert box_iou([0, 0, 2, 2], [1, 0, 3, 2]) == pytest.approx(2 / 6)
    assert box_iou([0, 0, 1, 1], [2, 2, 3, 3]) == 0.0


def test_box_iou_degenerate_boxes_compare_as_intervals():
    # Tight boxes of a one-pixel-wide object have zero area; compare them along the other axis.
    assert box_iou([5, 0, 5, 10], [5, 2, 5, 10]) == pytest.approx(0.8)
    assert box_iou([0, 3, 10, 3], [0, 3, 5, 3]) == pytest.approx(0.5)
    assert box_iou([5, 5, 5, 5], [5, 5, 5, 5]) == 1.0
    assert box_iou([5, 5, 5, 5], [6, 5, 6, 5]) == 0.0
    assert box_iou([5, 0, 5, 10], [0, 0, 10, 10]) == 0.0


def test_box_iou_rejects_malformed_boxes():
    with pytest.raises(ValueError, match="box_a: expected a \\(4,\\)"):
        box_iou([0, 0, 1], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="box_b: .*x0 <= x1"):
        box_iou([0, 0, 1, 1], [2, 0, 1, 1])


# ---- noisy box ----------------------------------------------------------------------------------

BOX = np.array([200.0, 300.0, 400.0, 420.0])  # w = 200, h = 120, far from the 1024 border


@pytest.mark.parametrize("scale", [0.1, STABLE_SAM_BOX_NOISE_SCALE, 1.0])
def test_noisy_box_respects_the_dn_detr_bounds(scale):
    cx, cy, w, h = _cxcywh(BOX)
    rng = np.random.default_rng(0)
    shifts, changes = [], []
    for _ in range(2000):
        ncx, ncy, nw, nh = _cxcywh(noisy_box(BOX, (1024, 1024), rng, scale=scale))
        shifts.append((abs(ncx - cx) / (w / 2), abs(ncy - cy) / (h / 2)))
        changes.append((abs(nw - w) / w, abs(nh - h) / h))
    shifts, changes = np.array(shifts), np.array(changes)
    eps = 1e-9
    assert shifts.max() <= scale + eps  # centre shift <= scale * w/2 (h/2)
    assert changes.max() <= scale + eps  # size change <= scale * w (h)
    # ... and the bounds are actually approached (uniform noise, not something narrower).
    assert shifts.max() > 0.95 * scale and changes.max() > 0.95 * scale


def test_noisy_box_scale_zero_returns_the_box():
    out = noisy_box(BOX, (1024, 1024), np.random.default_rng(3), scale=0.0)
    np.testing.assert_array_equal(out, BOX)
    assert out.dtype == np.float64 and out.shape == (4,)


def test_noisy_box_is_clamped_to_the_image():
    height, width = 50, 80
    box = np.array([0.0, 10.0, 79.0, 49.0])  # touches left, right and bottom
    rng = np.random.default_rng(1)
    outs = np.array([noisy_box(box, (height, width), rng, scale=0.4) for _ in range(500)])
    assert outs[:, 0].min() >= 0 and outs[:, 1].min() >= 0
    assert outs[:, 2].max() <= width and outs[:, 3].max() <= height
    # clamping really happened (growing boxes would otherwise leave the image)
    assert (outs[:, 0] == 0).any() and (outs[:, 2] == width).any() and (outs[:, 3] == height).any()
    assert np.all(outs[:, 2] >= outs[:, 0]) and np.all(outs[:, 3] >= outs[:, 1])


def test_noisy_box_is_deterministic_for_a_seed():
    a = [noisy_box(BOX, 1024, np.random.default_rng(42), min_iou=0.5) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    rng1, rng2 = np.random.default_rng(7), np.random.default_rng(7)
    seq1 = [noisy_box(BOX, 1024, rng1) for _ in range(5)]
    seq2 = [noisy_box(BOX, 1024, rng2) for _ in range(5)]
    np.testing.assert_array_equal(seq1, seq2)
    other = noisy_box(BOX, 1024, np.random.default_rng(8))
    assert not np.array_equal(seq1[0], other)


def test_noisy_box_does_not_touch_global_random_state():
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    noisy_box(BOX, 1024, np.random.default_rng(1), min_iou=0.5)
    assert np.random.random() == before


def test_noisy_box_iou_rejection():
    rng = np.random.default_rng(5)
    unfiltered = [box_iou(noisy_box(BOX, 1024, rng, scale=0.4), BOX) for _ in range(500)]
    assert min(unfiltered) < 0.7  # the filter has something to reject
    filtered = [box_iou(noisy_box(BOX, 1024, rng, scale=0.4, min_iou=0.7), BOX) for _ in range(500)]
    assert min(filtered) >= 0.7


def test_noisy_box_rejection_gives_up_with_a_clear_error_or_the_best_draw():
    with pytest.raises(BoxNoiseError, match="no noisy box with IoU >= 1.0 in 5 draws"):
        noisy_box(BOX, 1024, np.random.default_rng(0), min_iou=1.0, max_tries=5)
    best = noisy_box(BOX, 1024, np.random.default_rng(0), min_iou=1.0, max_tries=5, on_failure="best")
    rng = np.random.default_rng(0)
    draws = [noisy_box(BOX, 1024, rng) for _ in range(5)]  # the same five draws, unfiltered
    ious = [box_iou(d, BOX) for d in draws]
    np.testing.assert_array_equal(best, draws[int(np.argmax(ious))])


def test_noisy_box_of_a_one_pixel_wide_object_can_pass_the_filter():
    mask = np.zeros((64, 64), bool)
    mask[10:40, 20] = True
    tight = mask_to_box(mask)  # zero width
    out = noisy_box(tight, mask.shape, np.random.default_rng(0), min_iou=0.5)
    assert out[0] == out[2] == 20 and box_iou(out, tight) >= 0.5


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        (dict(scale=1.5), ValueError, "scale: expected a value in \\[0, 1\\]"),
        (dict(scale=-0.1), ValueError, "scale"),
        (dict(min_iou=0.0), ValueError, "min_iou"),
        (dict(min_iou=1.2), ValueError, "min_iou"),
        (dict(max_tries=0), ValueError, "max_tries"),
        (dict(on_failure="ignore"), ValueError, "on_failure"),
    ],
)
def test_noisy_box_bad_options(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        noisy_box(BOX, 1024, np.random.default_rng(0), **kwargs)


def test_noisy_box_bad_arguments_name_them():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="box: expected a \\(4,\\)"):
        noisy_box(np.zeros((1, 5)), 1024, rng)
    with pytest.raises(ValueError, match="box: .*NaN"):
        noisy_box([0, 0, np.nan, 1], 1024, rng)
    with pytest.raises(ValueError, match="image_size"):
        noisy_box(BOX, (0, 10), rng)
    with pytest.raises(TypeError, match="rng: expected a numpy.random.Generator"):
        noisy_box(BOX, 1024, np.random.RandomState(0))
    with pytest.raises(TypeError, match="rng"):
        noisy_box(BOX, 1024, 0)
