"""Boundary IoU and mBA: hand-computed cases, metrics.md examples, independent scipy implementations."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

import sam_repro.metrics as M
from sam_repro.metrics._testing import prob_from_gt, structured_gt

# ---------------------------------------------------------------------------------------------
# independent references (scipy, no OpenCV)
# ---------------------------------------------------------------------------------------------


def _ref_boundary(mask: np.ndarray, ratio: float = 0.02) -> np.ndarray:
    """Inner band of width d: pixels whose chessboard distance to a zero (outside = zero) is <= d."""
    h, w = mask.shape
    d = max(1, round(ratio * math.hypot(h, w)))
    dist = ndimage.distance_transform_cdt(np.pad(mask, 1), metric="chessboard")[1:-1, 1:-1]
    return mask & (dist <= d)


def _ref_biou(pred: np.ndarray, gt: np.ndarray) -> float:
    gb, pb = _ref_boundary(gt), _ref_boundary(pred)
    union = np.sum(gb | pb)
    return np.sum(gb & pb) / union if union else math.nan


def _ref_ellipse(r: int) -> np.ndarray:
    """OpenCV's MORPH_ELLIPSE rule, written out: row dy spans c +- rint(c * sqrt(1 - dy^2 / r^2))."""
    k = np.zeros((2 * r + 1, 2 * r + 1), bool)
    for i in range(2 * r + 1):
        dy = i - r
        dx = int(np.rint(r * math.sqrt((r * r - dy * dy) / (r * r))))
        k[i, max(r - dx, 0) : min(r + dx + 1, 2 * r + 1)] = True
    return k


def _ref_mba(pred: np.ndarray, gt: np.ndarray) -> float:
    h, w = gt.shape
    r_max = (h + w) / 300
    accs = []
    for i in range(5):
        r = 1 + int((r_max - 1) / 5 * i)
        fp = _ref_ellipse(r)
        # morphological gradient; pixels outside the image never count (OpenCV's default border)
        band = ndimage.binary_dilation(gt, fp, border_value=0) & ~ndimage.binary_erosion(gt, fp, border_value=1)
        accs.append(np.sum(band & (pred == gt)) / np.sum(band))
    return float(np.mean(accs))


# ---------------------------------------------------------------------------------------------
# boundary IoU
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "h,w,d", [(1024, 1024, 29), (2000, 3000, 72), (3000, 2000, 72), (10, 10, 1), (1, 1, 1), (480, 640, 16)]
)
def test_boundary_dilation_examples(h, w, d):
    assert M.boundary_dilation(h, w) == d


def test_boundary_iou_hand_computed():
    gt = np.zeros((10, 10), bool)
    gt[2:8, 2:8] = True  # d = 1: boundary is the 20-pixel ring
    pred = np.zeros((10, 10), bool)
    pred[2:8, 3:9] = True
    assert M.mask_to_boundary(gt).sum() == 20
    assert M.boundary_iou(pred, gt) == pytest.approx(10 / 30)
    assert M.boundary_iou(gt, gt) == 1.0


def test_boundary_image_border_counts_as_boundary():
    ones = np.ones((10, 10), bool)
    assert M.mask_to_boundary(ones).sum() == 36  # the outer ring
    assert M.boundary_iou(ones, ones) == 1.0


def test_boundary_iou_empty_cases():
    z = np.zeros((12, 9), bool)
    o = np.zeros((12, 9), bool)
    o[3:8, 2:6] = True
    assert math.isnan(M.boundary_iou(z, z))
    assert M.boundary_iou(z, o) == 0.0 and M.boundary_iou(o, z) == 0.0


def test_boundary_iou_matches_independent_implementation():
    rng = np.random.default_rng(21)
    sizes = [(20, 30), (64, 64), (100, 257), (300, 200), (333, 129)]
    for h, w in sizes * 3:
        gt = structured_gt(rng, h, w)
        prob = prob_from_gt(rng, gt)
        np.testing.assert_array_equal(M.mask_to_boundary(gt), _ref_boundary(gt))
        ref = _ref_biou(prob > 0.5, gt)
        assert M.boundary_iou(prob, gt) == pytest.approx(ref, abs=1e-12, nan_ok=True)


def test_boundary_dilation_ratio_forwarded():
    gt = np.zeros((100, 100), bool)
    gt[10:90, 10:90] = True
    assert M.mask_to_boundary(gt, dilation_ratio=0.02).sum() == 80 * 80 - 74 * 74  # d = 3
    assert M.mask_to_boundary(gt, dilation_ratio=0.05).sum() == 80 * 80 - 66 * 66  # d = 7


def test_mbiou_accumulator():
    gt = np.zeros((10, 10), bool)
    gt[2:8, 2:8] = True
    pred = np.zeros((10, 10), bool)
    pred[2:8, 3:9] = True
    z = np.zeros((10, 10), bool)
    acc = M.BoundaryIoU()
    assert acc.update(pred, gt) == pytest.approx(1 / 3)
    acc.update(gt, gt)
    assert acc.compute()["biou"] == pytest.approx((1 / 3 + 1) / 2)
    acc.update(z, z)
    assert math.isnan(acc.compute()["biou"]) and acc.compute()["n_nan"] == 1
    omit = M.BoundaryIoU(nan_policy="omit")
    for p, g in ((pred, gt), (gt, gt), (z, z)):
        omit.update(p, g)
    assert omit.compute()["biou"] == pytest.approx((1 / 3 + 1) / 2)
    np.testing.assert_allclose(omit.values[:2], [1 / 3, 1.0])


# ---------------------------------------------------------------------------------------------
# mBA
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "h,w,radii",
    [
        (350, 350, [1, 1, 1, 1, 2]),  # H + W = 700
        (1024, 1024, [1, 2, 3, 4, 5]),  # 2048
        (3500, 3500, [1, 5, 9, 14, 18]),  # 7000
        (60, 80, [1, 1, 1, 1, 1]),  # r_max < 1: int() truncates toward zero
    ],
)
def test_mba_radii_examples(h, w, radii):
    assert M.mba_radii(h, w) == radii


def test_opencv_ellipse_kernels_match_the_written_out_rule():
    import cv2

    for r in range(1, 20):
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)).astype(bool)
        np.testing.assert_array_equal(k, _ref_ellipse(r), err_msg=f"radius {r}")


def test_mba_hand_computed_1d():
    gt = np.array([[0, 0, 1, 1, 1, 0, 0]], bool)  # H + W = 8: radius 1 (a cross) five times
    pred = np.array([[0, 1, 1, 1, 0, 0, 0]], bool)
    # band = dilation - erosion = columns {1, 2, 4, 5}; pred agrees at 2 and 5
    assert M.mba(pred, gt) == pytest.approx(0.5)
    # the image border is not a boundary for mBA (OpenCV ignores outside pixels)
    gt2 = np.array([[1, 1, 1, 0, 0]], bool)  # band = {2, 3}
    assert M.mba(np.array([[1, 1, 1, 1, 1]], bool), gt2) == pytest.approx(0.5)
    assert M.mba(np.array([[0, 0, 1, 0, 0]], bool), gt2) == pytest.approx(1.0)


def test_mba_empty_and_full_gt_are_nan():
    z = np.zeros((30, 40), bool)
    o = np.ones((30, 40), bool)
    assert math.isnan(M.mba(o, z))
    assert math.isnan(M.mba(z, o))
    acc, omit = M.MBA(), M.MBA(nan_policy="omit")
    for m in (acc, omit):
        m.update(o, z)
        m.update(o, o.copy())
        gt = np.zeros((30, 40), bool)
        gt[5:20, 5:30] = True
        m.update(gt, gt)
    assert math.isnan(acc.compute()["mba"]) and acc.compute()["n_nan"] == 2
    assert omit.compute()["mba"] == 1.0


def test_mba_matches_independent_implementation():
    rng = np.random.default_rng(4)
    sizes = [(40, 50), (150, 150), (120, 300), (350, 350), (420, 380)]  # last two: radius 2
    for h, w in sizes * 2:
        gt = structured_gt(rng, h, w)
        if not gt.any() or gt.all():
            continue
        prob = prob_from_gt(rng, gt)
        ref = _ref_mba(prob > 128 / 255, gt)
        assert M.mba(prob, gt) == pytest.approx(ref, abs=1e-12)


def test_mba_large_radii_match_independent_implementation():
    rng = np.random.default_rng(8)
    h, w = 700, 900  # radii [1, 1, 2, 3, 4]
    gt = np.zeros((h, w), bool)
    gt[100:600, 200:700] = True
    gt[300:310, :] = True  # touches both borders
    gt[650:, 850:] = True  # touches a corner
    prob = prob_from_gt(rng, gt)
    assert M.mba_radii(h, w) == [1, 1, 2, 3, 4]
    assert M.mba(prob, gt) == pytest.approx(_ref_mba(prob > 128 / 255, gt), abs=1e-12)


def test_mba_threshold_is_uint8_greater_than_128():
    gt = np.zeros((20, 20), bool)
    gt[5:15, 5:15] = True
    u8 = np.where(gt, 255, 0).astype(np.uint8)
    u8[4, 5:15] = 128  # just outside the object: 128 is background for CascadePSP
    assert M.mba(u8 / 255, gt) == 1.0
    assert M.mba((u8 / 255).astype(np.float32), gt) == 1.0
    assert M.mba(u8 / 255, gt, threshold=0.5) < 1.0
