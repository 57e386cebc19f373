"""DIS-SAM's per-component box prompts and the 0.4% area rule."""
from __future__ import annotations

import numpy as np
import pytest

from sam_repro.prompts import component_boxes, component_masks


def _put(mask, rows, cols):
    mask[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1] = True


def _scene() -> np.ndarray:
    """100x100 image (0.4% = 40 px) with components of 100, 40, 39 and 25+25 (diagonal) pixels."""
    m = np.zeros((100, 100), bool)
    _put(m, (60, 69), (60, 69))  # C: 100 px, kept
    _put(m, (5, 9), (50, 57))  # A: 5 x 8 = 40 px, exactly 0.4%: kept (only < 0.4% is dropped)
    _put(m, (20, 22), (5, 17))  # B: 3 x 13 = 39 px: dropped
    _put(m, (80, 84), (5, 9))  # D1: 5 x 5
    _put(m, (85, 89), (10, 14))  # D2: 5 x 5, touching D1 diagonally -> one 50 px component
    return m


def test_small_components_dropped_and_whole_mask_added():
    mask = _scene()
    comps = component_masks(mask)
    assert [int(c.sum()) for c in comps] == [40, 100, 50, int(mask.sum())]
    np.testing.assert_array_equal(comps[-1], mask)  # the whole GT, dropped pieces included
    boxes = component_boxes(mask)
    assert boxes.dtype == np.float64 and boxes.shape == (4, 4)
    assert boxes.tolist() == [
        [50, 5, 57, 9],  # A (first pixel in row-major order comes first)
        [60, 60, 69, 69],  # C
        [5, 80, 14, 89],  # D1 + D2, 8-connected
        [5, 5, 69, 89],  # whole mask, including the dropped B
    ]


def test_single_kept_component_gets_no_whole_mask_entry():
    m = np.zeros((100, 100), bool)
    _put(m, (10, 30), (10, 30))
    _put(m, (50, 51), (50, 51))  # 4 px: dropped
    boxes = component_boxes(m)
    assert boxes.tolist() == [[10, 10, 30, 30]]


def test_nothing_large_enough_gives_no_prompt():
    m = np.zeros((100, 100), bool)
    _put(m, (10, 12), (10, 12))
    assert component_masks(m) == []
    assert component_boxes(m).shape == (0, 4)
    assert component_boxes(np.zeros((10, 10), bool)).shape == (0, 4)


def test_options():
    mask = _scene()
    assert len(component_masks(mask, add_whole=False)) == 3
    assert len(component_masks(mask, min_area_fraction=0.0)) == 5  # A, B, C, D + whole


def test_bad_inputs_name_the_argument():
    with pytest.raises(TypeError, match="mask: expected a bool .*> 128"):
        component_boxes(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="mask: expected a 2-D"):
        component_boxes(np.zeros((10,), bool))
    with pytest.raises(ValueError, match="min_area_fraction"):
        component_masks(np.zeros((10, 10), bool), min_area_fraction=1.5)
