"""IoU, PASCAL VOC mIoU and BER: hand-computed cases, independent implementations, edge cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

import sam_repro.metrics as M
from sam_repro.metrics._testing import structured_gt, uint8_pair, varied_pairs

B = np.array  # short alias for small hand-written masks


# ---------------------------------------------------------------------------------------------
# IoU
# ---------------------------------------------------------------------------------------------


def test_iou_hand_computed():
    gt = B([[1, 1, 0], [0, 1, 0]], bool)
    pred = B([[1, 0, 0], [1, 1, 0]], bool)
    assert M.iou_counts(pred, gt) == (2, 4)
    assert M.iou(pred, gt) == 0.5
    # probability map: strictly greater than the threshold
    prob = B([[0.9, 0.5, 0.0], [0.51, 0.7, 0.2]])
    assert M.iou(prob, gt) == 0.5
    assert M.iou(prob, gt, threshold=0.49) == pytest.approx(3 / 4)  # RITM's 0.49: 0.5 counts


def test_iou_ignore_mask_excludes_pixels():
    gt = B([[1, 1, 0], [0, 1, 0]], bool)
    pred = B([[1, 0, 0], [1, 1, 0]], bool)
    ignore = B([[0, 0, 0], [1, 0, 0]], bool)  # drop the FP at (1, 0)
    assert M.iou_counts(pred, gt, ignore=ignore) == (2, 3)
    with pytest.raises(ValueError, match="ignore"):
        M.iou(pred, gt, ignore=np.zeros((3, 3), bool))


def test_iou_empty_cases():
    z = np.zeros((4, 5), bool)
    o = np.ones((4, 5), bool)
    assert math.isnan(M.iou(z, z))  # 0/0 like HQ-SAM's mask_iou
    assert M.iou(z, o) == 0.0 and M.iou(o, z) == 0.0
    assert M.iou(o, o) == 1.0


def test_iou_per_image_vs_dataset_and_nan_policy():
    a_gt = np.zeros((1, 2), bool)
    a_gt[0, 0] = True
    a_pred = np.ones((1, 2), bool)  # I=1, U=2
    b_gt = np.zeros((1, 10), bool)
    b_gt[0, :9] = True
    b_pred = np.ones((1, 10), bool)  # I=9, U=10
    per, acc = M.IoU("per_image"), M.IoU("dataset")
    for m in (per, acc):
        assert m.update(a_pred, a_gt) == 0.5
        assert m.update(b_pred, b_gt) == 0.9
    assert per.compute()["iou"] == pytest.approx(0.7)
    r = acc.compute()
    assert r["iou"] == pytest.approx(10 / 12) and (r["intersection"], r["union"]) == (10, 12)

    z = np.zeros((3, 3), bool)
    prop, omit = M.IoU(), M.IoU(nan_policy="omit")
    for m in (prop, omit):
        m.update(a_pred, a_gt)
        m.update(z, z)
    assert math.isnan(prop.compute()["iou"]) and prop.compute()["n_nan"] == 1
    assert omit.compute()["iou"] == 0.5 and omit.compute()["n"] == 2
    prop.reset()
    assert prop.compute()["n"] == 0 and math.isnan(prop.compute()["iou"])
    with pytest.raises(ValueError, match="aggregation"):
        M.IoU("mean")
    with pytest.raises(ValueError, match="nan_policy"):
        M.IoU(nan_policy="ignore")


def test_iou_matches_pysod_iou_handler():
    pysod = pytest.importorskip("py_sod_metrics")
    pairs = [(p, g) for name, p, g in varied_pairs(seed=3, n=30) if "emptygt" not in name]
    for sample_based, mode in ((True, "per_image"), (False, "dataset")):
        ref = pysod.FmeasureV2({"iou": pysod.IOUHandler(False, False, with_binary=True, sample_based=sample_based)})
        ours = M.IoU(mode)
        for p, g in pairs:
            ref.step(p.astype(np.float64) if p.dtype == bool else p, g, normalize=False)
            ours.update(p, g)
        assert ours.compute()["iou"] == pytest.approx(float(ref.get_results()["iou"]["binary"]), abs=1e-9)


# ---------------------------------------------------------------------------------------------
# PASCAL VOC mIoU
# ---------------------------------------------------------------------------------------------


def _voc_reference(preds, gts, num_classes, ignore_index=255):
    """Independent per-class loop (the mmseg definition written out)."""
    inter = np.zeros(num_classes)
    union = np.zeros(num_classes)
    for p, g in zip(preds, gts):
        valid = g != ignore_index
        for c in range(num_classes):
            pc = (p == c) & valid
            gc = (g == c) & valid
            inter[c] += np.sum(pc & gc)
            union[c] += np.sum(pc | gc)
    with np.errstate(invalid="ignore"):
        iou = inter / union
    return iou


def test_voc_hand_computed_with_absent_class_and_ignore():
    gt = B([[0, 0, 1, 1], [0, 0, 1, 255], [3, 3, 255, 255]], np.uint8)
    pred = B([[0, 1, 1, 1], [0, 0, 0, 1], [3, 0, 1, 0]], np.uint8)
    r = M.intersect_and_union(pred, gt, num_classes=4)
    # valid pixels: 9. class 0: gt {00,01,10,11} pred {00,10,11,12,21} -> I=3 U=6
    # class 1: gt {02,03,12} pred {01,02,03} -> I=2 U=4; class 2 absent; class 3: gt {20,21} pred {20} -> I=1 U=2
    np.testing.assert_array_equal(r["intersect"], [3, 2, 0, 1])
    np.testing.assert_array_equal(r["union"], [6, 4, 0, 2])
    np.testing.assert_array_equal(r["label"], [4, 3, 0, 2])
    np.testing.assert_array_equal(r["pred"], [5, 3, 0, 1])  # (1,3) and (2,2) are ignored
    acc = M.VOCMeanIoU(num_classes=4)
    acc.update(pred, gt)
    res = acc.compute()
    assert math.isnan(res["iou_per_class"][2])  # absent from pred and gt: NaN, skipped
    assert res["miou"] == pytest.approx(np.mean([3 / 6, 2 / 4, 1 / 2]))
    assert res["aacc"] == pytest.approx(6 / 9)
    # AlignSAM-style "mean over the categories", background (0) excluded
    no_bg = M.VOCMeanIoU(num_classes=4, mean_over=range(1, 4))
    no_bg.update(pred, gt)
    assert no_bg.compute()["miou"] == pytest.approx(np.mean([2 / 4, 1 / 2]))
    with pytest.raises(ValueError, match="mean_over"):
        M.VOCMeanIoU(num_classes=4, mean_over=[4])


def test_voc_is_dataset_accumulated_not_per_image_mean():
    g1 = B([[1, 1, 1, 1]], np.uint8)
    p1 = B([[1, 1, 1, 0]], np.uint8)  # class0: I0 U1 ; class1: I3 U4
    g2 = B([[0, 0]], np.uint8)
    p2 = B([[0, 0]], np.uint8)  # class0: I2 U2
    acc = M.VOCMeanIoU(num_classes=2)
    acc.update(p1, g1)
    acc.update(p2, g2)
    res = acc.compute()
    np.testing.assert_allclose(res["iou_per_class"], [2 / 3, 3 / 4])
    assert res["miou"] == pytest.approx((2 / 3 + 3 / 4) / 2)
    assert res["n"] == 2


def test_voc_random_maps_match_independent_loop():
    rng = np.random.default_rng(0)
    preds, gts = [], []
    acc = M.VOCMeanIoU()
    for _ in range(8):
        h, w = rng.integers(5, 40, 2)
        g = rng.integers(0, 21, (h, w)).astype(np.uint8)
        g[rng.random((h, w)) < 0.1] = 255
        g[g == 7] = 8  # class 7 never in gt
        p = np.where(rng.random((h, w)) < 0.6, g, rng.integers(0, 21, (h, w))).astype(np.int64)
        p[p == 7] = 9  # ... nor in pred -> NaN
        p[rng.random((h, w)) < 0.02] = 255  # out-of-range prediction: counts for no class
        preds.append(p)
        gts.append(g)
        acc.update(p, g)
    ref = _voc_reference(preds, gts, 21)
    res = acc.compute()
    np.testing.assert_allclose(res["iou_per_class"], ref, equal_nan=True)
    assert math.isnan(res["iou_per_class"][7])
    assert res["miou"] == pytest.approx(np.nanmean(ref))


def test_voc_all_nan_and_errors():
    acc = M.VOCMeanIoU(num_classes=3)
    assert math.isnan(acc.compute()["miou"])
    g = np.full((2, 2), 255, np.uint8)
    acc.update(np.zeros((2, 2), np.uint8), g)  # everything ignored
    assert math.isnan(acc.compute()["miou"])
    with pytest.raises(ValueError, match=r"gt: labels must be in \[0, 3\)"):
        M.intersect_and_union(np.zeros((2, 2), np.uint8), np.full((2, 2), 5, np.uint8), num_classes=3)
    with pytest.raises(TypeError, match="pred"):
        M.intersect_and_union(np.zeros((2, 2), bool), np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="same shape"):
        M.intersect_and_union(np.zeros((2, 3), np.uint8), np.zeros((2, 2), np.uint8))


def test_ignore_index_matches_data_package():
    from sam_repro.data.sample import IGNORE_INDEX

    assert M.IGNORE_INDEX == IGNORE_INDEX == 255


# ---------------------------------------------------------------------------------------------
# BER
# ---------------------------------------------------------------------------------------------


def _ber_images():
    # image A: 10 px, 4 shadow; pred hits 3 of them and 1 of the 6 non-shadow pixels
    gt_a = B([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0]], bool)
    pr_a = B([[1, 1, 1, 0, 1, 0, 0, 0, 0, 0]], bool)
    # image B: no shadow at all; 2 false positives out of 10
    gt_b = np.zeros((1, 10), bool)
    pr_b = B([[0, 1, 0, 0, 0, 0, 0, 1, 0, 0]], bool)
    return (pr_a, gt_a), (pr_b, gt_b)


def test_ber_canonical_vs_per_image_with_empty_gt_image():
    (pa, ga), (pb, gb) = _ber_images()
    assert M.ber_counts(pa, ga) == {"tp": 3, "tn": 5, "npos": 4, "nneg": 6}
    assert M.ber(pa, ga) == pytest.approx(100 * (1 - 0.5 * (3 / 4 + 5 / 6)))
    assert math.isnan(M.ber(pb, gb))  # SAM-Adapter's per-image 0/0

    canon = M.BER()  # dataset-accumulated
    per = M.BER("per_image")
    per_omit = M.BER("per_image", nan_policy="omit")
    for m in (canon, per, per_omit):
        m.update(pa, ga)
        m.update(pb, gb)
    c = canon.compute()
    assert c["ber"] == pytest.approx(100 * (1 - 0.5 * (3 / 4 + 13 / 16)))  # = 21.875
    assert c["ber"] == pytest.approx(21.875)
    assert c["shadow_error"] == pytest.approx(25.0)
    assert c["non_shadow_error"] == pytest.approx(100 * 3 / 16)
    assert c["n"] == 2 and c["n_nan"] == 1
    assert math.isnan(per.compute()["ber"])
    assert per_omit.compute()["ber"] == pytest.approx(100 * (1 - 0.5 * (3 / 4 + 5 / 6)))
    assert math.isnan(M.BER().compute()["ber"])  # nothing seen


def test_ber_threshold_is_exactly_uint8_greater_than_125():
    u8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    gt = np.ones((16, 16), bool)
    gt[0, 0] = False
    for dtype in (np.float64, np.float32):
        c = M.ber_counts((u8 / 255).astype(dtype), gt)
        assert c["tp"] == int(np.count_nonzero((u8 > 125) & gt))


def test_ber_matches_pysod_ber_handler_on_binary_maps():
    pysod = pytest.importorskip("py_sod_metrics")
    rng = np.random.default_rng(9)
    ref = pysod.FmeasureV2({"ber": pysod.BERHandler(False, False, with_binary=True, sample_based=False)})
    ours = M.BER()
    for _ in range(10):
        pred_u8, gt_u8 = uint8_pair(rng, int(rng.integers(10, 60)), int(rng.integers(10, 60)))
        pred_u8 = np.where(pred_u8 > 125, 255, 0).astype(np.uint8)  # {0,255} maps
        ref.step(pred_u8, gt_u8)
        ours.update(M.prob_from_uint8(pred_u8), gt_u8 > 125)
    assert ours.compute()["ber"] == pytest.approx(100 * float(ref.get_results()["ber"]["binary"]), abs=1e-9)


def test_ber_structured_against_direct_formula():
    rng = np.random.default_rng(1)
    tot = np.zeros(4)
    acc = M.BER()
    for _ in range(5):
        gt = structured_gt(rng, 40, 50)
        pred = rng.random((40, 50))
        b = pred > 125 / 255
        tot += [np.sum(b & gt), np.sum(~b & ~gt), np.sum(gt), np.sum(~gt)]
        acc.update(pred, gt)
    tp, tn, npos, nneg = tot
    assert acc.compute()["ber"] == pytest.approx(100 * (1 - 0.5 * (tp / npos + tn / nneg)))
