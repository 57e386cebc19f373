"""synthetic/thin_multi: several target parts (enrichment finds them), sharp non-targets outside the target's box,
and DIS-style complexity tiers computed by hand on a square."""
from __future__ import annotations

import numpy as np
import pytest

from sam_repro.data import open_dataset
from sam_repro.data.synthetic.thin_multi import TIER_CUTS, complexity, tier
from sam_repro.methods.dissam import enrich_gt
from sam_repro.prompts import box_iou, mask_to_box


def test_complexity_of_a_square_by_hand() -> None:
    mask = np.zeros((1024, 1024), bool)
    mask[100:300, 100:300] = True  # contour through pixel centres: 199 px sides -> P = 796, 4 corners
    expected = (4 * 199) ** 2 / (4 * np.pi * 200**2) * 4 / 1e4
    assert complexity(mask) == pytest.approx(expected, rel=1e-6)
    assert complexity(np.zeros((8, 8), bool)) == 0.0
    assert [tier(v) for v in (0.0, TIER_CUTS[0], TIER_CUTS[1] + 1e-3, 1e9)] == [1, 2, 3, 4]


def test_scenes_hold_parts_distractors_and_tiers() -> None:
    dataset = open_dataset("synthetic/thin_multi", "val", size=512, length=24)
    multi = distractors = 0
    for index in range(len(dataset)):
        sample = dataset[index]
        gt = sample.masks[0]
        assert gt.any() and sample.meta["tier"] == tier(complexity(gt))
        if sample.meta["structures"] > 1:
            multi += 1
            assert len(enrich_gt(gt)) >= 3  # at least two parts and the whole
        if sample.meta["sharp_distractor"]:
            distractors += 1
            # the non-target lies outside the target's box (a box prompt excludes it) and is not in the ground truth
            assert box_iou(sample.meta["distractor_box"], mask_to_box(gt)) == 0.0
            x0, y0, x1, y1 = sample.meta["distractor_box"]
            assert not gt[y0 : y1 + 1, x0 : x1 + 1].any()
        else:
            assert sample.meta["distractor_box"] is None
    assert multi >= 3 and distractors >= 2
