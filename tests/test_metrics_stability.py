"""SAM's stability score (against segment_anything itself) and the Stable-SAM ST reconstruction."""
from __future__ import annotations

import math

import numpy as np
import pytest

import sam_repro.metrics as M


def test_stability_score_hand_computed():
    logits = np.array([[-2.0, -0.5, 0.5], [1.5, 2.0, -1.5]], np.float32)
    # > 1.0: {1.5, 2.0} = 2 ; > -1.0: {-0.5, 0.5, 1.5, 2.0} = 4
    assert M.stability_score(logits) == 0.5
    assert M.stability_score(logits, threshold_offset=0.0) == 1.0
    assert M.stability_score(logits, mask_threshold=1.0, threshold_offset=0.5) == pytest.approx(1 / 2)
    assert math.isnan(M.stability_score(np.full((3, 3), -5.0)))  # 0 / 0, as SAM's torch division


def test_stability_score_matches_segment_anything():
    torch = pytest.importorskip("torch")
    import sam_repro  # noqa: F401  (makes torchvision importable before segment_anything)

    amg = pytest.importorskip("segment_anything.utils.amg")
    rng = np.random.default_rng(0)
    logits = (rng.normal(0, 3, (4, 3, 64, 80))).astype(np.float32)
    logits[0, 0] = -10.0  # empty union -> NaN in both
    ref = amg.calculate_stability_score(torch.from_numpy(logits), 0.0, 1.0).numpy()
    ours = M.stability_score(logits)
    assert ours.shape == (4, 3)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, equal_nan=True)
    assert M.stability_score(torch.from_numpy(logits[1, 2])) == pytest.approx(float(ref[1, 2]), rel=1e-6)


def test_stability_score_validation():
    with pytest.raises(TypeError, match="logits"):
        M.stability_score(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="logits"):
        M.stability_score(np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        M.stability_score(np.full((2, 2), np.nan))


def test_st_reconstruction_pairwise_hand_computed():
    a = np.zeros((4, 4), bool)
    a[:2, :2] = True  # area 4
    b = np.zeros((4, 4), bool)
    b[:2, :3] = True  # area 6, I(a,b) = 4 -> 4/6
    c = np.zeros((4, 4), bool)
    c[2:, 2:] = True  # disjoint from a (0) ; I(b,c) = 0
    st = M.stable_sam_st_reconstruction(np.stack([a, b, c]))
    assert st == pytest.approx((4 / 6 + 0 + 0) / 3)
    assert M.stable_sam_st_reconstruction(np.stack([a, a, a])) == 1.0
    # against a reference mask instead of pairwise
    assert M.stable_sam_st_reconstruction(np.stack([a, b]), reference=a) == pytest.approx((1 + 4 / 6) / 2)
    assert M.stable_sam_st_reconstruction(a[None], reference=b) == pytest.approx(4 / 6)


def test_st_reconstruction_empty_masks_and_probabilities():
    z = np.zeros((5, 5), bool)
    o = np.ones((5, 5), bool)
    assert M.stable_sam_st_reconstruction(np.stack([z, z])) == 1.0  # identical outputs
    assert M.stable_sam_st_reconstruction(np.stack([z, o])) == 0.0
    probs = np.stack([np.full((5, 5), 0.7), np.full((5, 5), 0.5)])  # 0.5 is not > 0.5
    assert M.stable_sam_st_reconstruction(probs) == 0.0
    assert M.stable_sam_st_reconstruction(probs, threshold=0.4) == 1.0


def test_st_reconstruction_matches_direct_pairwise_loop():
    rng = np.random.default_rng(1)
    masks = rng.random((7, 37, 53)) < 0.4  # odd sizes: packbits padding must not count
    vals = []
    for i in range(7):
        for j in range(i + 1, 7):
            vals.append(np.sum(masks[i] & masks[j]) / np.sum(masks[i] | masks[j]))
    assert M.stable_sam_st_reconstruction(masks) == pytest.approx(np.mean(vals), abs=1e-12)


def test_st_reconstruction_validation_and_accumulator():
    with pytest.raises(ValueError, match="at least 2"):
        M.stable_sam_st_reconstruction(np.zeros((1, 4, 4), bool))
    with pytest.raises(ValueError, match=r"\(K, H, W\)"):
        M.stable_sam_st_reconstruction(np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="reference"):
        M.stable_sam_st_reconstruction(np.zeros((2, 4, 4), bool), reference=np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.stable_sam_st_reconstruction(np.full((2, 4, 4), 3.0))
    acc = M.StableSAMSTReconstruction()
    a = np.zeros((2, 4, 4), bool)
    acc.update(a)
    acc.update(np.stack([np.ones((4, 4), bool), np.zeros((4, 4), bool)]))
    assert acc.compute() == {"st_reconstruction": 0.5, "n": 2, "n_nan": 0}


def test_st_docstring_says_reconstruction():
    assert "reconstruction" in M.stable_sam_st_reconstruction.__doc__.lower()
    assert "not public" in M.stable_sam_st_reconstruction.__doc__
