"""synthetic/thin_multi: several target parts (enrichment finds them), sharp non-targets outside the target's box,
and DIS-style complexity tiers computed by hand on a square."""
from __future__ import annotations

import numpy as np
import pytest

from sam_repro.data import open_dataset
from scipy import ndimage

from sam_repro.data.synthetic.thin_multi import SOLID_PROBABILITY, TIER_CUTS, complexity, solid, tier
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
    kinds = []
    for index in range(len(dataset)):
        sample = dataset[index]
        gt = sample.masks[0]
        kinds += sample.meta["kinds"]
        assert len(sample.meta["kinds"]) == sample.meta["structures"]
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
    assert 0.15 <= kinds.count("solid") / len(kinds) <= 0.6, (kinds.count("solid"), len(kinds), SOLID_PROBABILITY)


def test_a_solid_object_is_one_filled_body_with_its_attachments() -> None:
    """The body is filled (SAM's grid renders it) and large; attachments leave it, so the object stays one part."""
    for seed in range(12):
        mask = solid(np.random.default_rng(seed), 400, 300, scale=1.6).astype(bool)
        _, parts = ndimage.label(mask, structure=np.ones((3, 3)))
        assert parts == 1, seed
        assert mask.mean() >= 0.015, seed
        # filled: eroding by 5 px keeps a core (thin strokes of <= 10 px vanish, a body does not)
        assert ndimage.binary_erosion(mask, iterations=5).sum() >= 0.15 * mask.sum(), seed
