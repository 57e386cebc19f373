"""Boundary metrics: Boundary IoU (HQ-SAM's mBIoU) and CascadePSP's mean boundary accuracy (mBA).

Inputs: ``pred`` (H, W) float probability map in [0, 1] or bool mask; ``gt`` (H, W) bool mask.

* **Boundary IoU** (Cheng et al. 2021, ``boundary_iou/utils/boundary_utils.py``, copied into
  sam-hq ``train/utils/misc.py``): the boundary of a mask is the mask minus its erosion by a 3x3
  ones kernel applied ``d`` times after 1-pixel zero padding (so the image border counts as
  boundary), with d = max(1, round(0.02 * sqrt(H^2 + W^2))) (29 for 1024x1024).
  BIoU = |G_b & P_b| / |G_b | P_b|: NaN when both masks are empty (0/0), 0 when exactly one is.
  HQ-SAM's mBIoU is the mean over objects (one per image in its evaluation sets) of BIoU, with
  ``pred = logit > 0`` (= probability > 0.5) and ``gt = label > 128``: :class:`BoundaryIoU`.
* **mBA** (CascadePSP ``util/compute_boundary_acc.py``): five radii r_i = 1 + int((r_max - 1) / 5 * i),
  r_max = (H + W) / 300; for each, the band is the morphological gradient of the GT with an
  elliptic (2r+1)^2 kernel, and the accuracy is the fraction of band pixels where pred == gt.
  mBA of an image is the mean of the five accuracies; the dataset value is the mean over images.
  An empty or all-ones GT has no band: the reference divides 0 by 0 (NaN, with a warning).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from sam_repro.metrics._base import PerSampleMean
from sam_repro.metrics._validate import binarize, check_mask, check_pair, check_threshold

__all__ = [
    "boundary_dilation",
    "mask_to_boundary",
    "boundary_iou",
    "BoundaryIoU",
    "MBA_THRESHOLD",
    "mba_radii",
    "mba",
    "MBA",
]

#: CascadePSP binarises uint8 masks as ``> 128``; as a probability threshold that is 128/255.
MBA_THRESHOLD = 128 / 255


def boundary_dilation(height: int, width: int, dilation_ratio: float = 0.02) -> int:
    """Boundary width d = max(1, round(dilation_ratio * sqrt(H^2 + W^2))) (Python ``round``).

    Examples: 1024x1024 -> 29; 2000x3000 -> 72.
    """
    return max(1, int(round(dilation_ratio * math.sqrt(height**2 + width**2))))


def _erode_zero_padded(mask: np.ndarray, iterations: int) -> np.ndarray:
    import cv2

    h, w = mask.shape
    padded = cv2.copyMakeBorder(np.ascontiguousarray(mask).view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=iterations)
    return eroded[1 : h + 1, 1 : w + 1].view(bool)


def mask_to_boundary(mask: Any, dilation_ratio: float = 0.02, name: str = "mask") -> np.ndarray:
    """Inner boundary band of a binary mask (boundary-iou-api ``mask_to_boundary``).

    Args:
        mask: (H, W) bool mask.
        dilation_ratio: band width as a fraction of the image diagonal (0.02).

    Returns:
        (H, W) bool: ``mask & ~erode(pad(mask), ones(3, 3), d)``; pixels within d of the image
        border count as boundary.
    """
    m = check_mask(mask, name)
    d = boundary_dilation(*m.shape, dilation_ratio=dilation_ratio)
    return m & ~_erode_zero_padded(m, d)


def boundary_iou(pred: Any, gt: Any, *, threshold: float = 0.5, dilation_ratio: float = 0.02) -> float:
    """Boundary IoU of one object mask.

    Args:
        pred: (H, W) float probability map in [0, 1] or bool; binarised as ``pred > threshold``
            (0.5 = HQ-SAM's ``logit > 0``).
        gt: (H, W) bool mask.
        threshold: see ``pred``.
        dilation_ratio: 0.02.

    Returns:
        |G_b & P_b| / |G_b | P_b|, NaN if both boundaries are empty (both masks empty).
    """
    p, g = check_pair(pred, gt)
    p = binarize(p, check_threshold(threshold))
    d = boundary_dilation(*g.shape, dilation_ratio=dilation_ratio)
    gb = g & ~_erode_zero_padded(g, d)
    pb = p & ~_erode_zero_padded(p, d)
    inter = int(np.count_nonzero(gb & pb))
    union = int(np.count_nonzero(gb)) + int(np.count_nonzero(pb)) - inter
    return inter / union if union else math.nan


class BoundaryIoU(PerSampleMean):
    """HQ-SAM mBIoU: mean of per-object Boundary IoU.

    Call ``update(pred, gt)`` once per object (HQ-SAM evaluates one object per image, batch size
    1, so this is the per-image mean). ``compute() -> {"biou", "n", "n_nan"}``. An object whose
    prediction and GT are both empty is NaN; ``nan_policy="propagate"`` (default, HQ-SAM's plain
    mean) or ``"omit"``.
    """

    _key = "biou"

    def __init__(self, *, threshold: float = 0.5, dilation_ratio: float = 0.02, nan_policy: str = "propagate") -> None:
        super().__init__(nan_policy)
        self.threshold = check_threshold(threshold)
        self.dilation_ratio = dilation_ratio

    def _value(self, pred: Any, gt: Any) -> float:
        return boundary_iou(pred, gt, threshold=self.threshold, dilation_ratio=self.dilation_ratio)


def mba_radii(height: int, width: int, num_steps: int = 5) -> list[int]:
    """CascadePSP's radii: r_i = 1 + int((r_max - 1) / num_steps * i), r_max = (H + W) / 300.

    ``int`` truncates toward zero, so images with H + W < 300 get radius 1 throughout.
    Examples (H + W): 700 -> [1, 1, 1, 1, 2]; 2048 -> [1, 2, 3, 4, 5]; 7000 -> [1, 5, 9, 14, 18].
    """
    r_max = (width + height) / 300
    return [1 + int((r_max - 1) / num_steps * i) for i in range(num_steps)]


def _ellipse_kernel(radius: int) -> np.ndarray:
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def mba(pred: Any, gt: Any, *, threshold: float = MBA_THRESHOLD) -> float:
    """Mean boundary accuracy of one image (CascadePSP).

    Args:
        pred: (H, W) float probability map in [0, 1] or bool; binarised as ``pred > threshold``
            (128/255 = the reference's ``u8 > 128``, exact for ``pred = u8 / 255``).
        gt: (H, W) bool mask.

    Returns:
        Mean over the five radii of (#band pixels with pred == gt) / #band pixels, where
        band = ``morphologyEx(gt, MORPH_GRADIENT, ellipse(2r+1)) > 0``. NaN when the band is
        empty (empty or all-ones GT), like the reference's 0/0.
    """
    import cv2

    p, g = check_pair(pred, gt)
    p = binarize(p, check_threshold(threshold))
    h, w = g.shape
    radii = mba_radii(h, w)
    rows = np.flatnonzero(g.any(axis=1))
    if rows.size == 0 or g.all():
        return math.nan
    # Restrict to the GT's bounding box grown by r_max + 1: the band lies within r of a GT pixel,
    # and OpenCV's morphology ignores pixels outside the array, so the crop is exact.
    cols = np.flatnonzero(g.any(axis=0))
    m = max(radii) + 1
    box = (
        slice(max(rows[0] - m, 0), min(rows[-1] + m + 1, h)),
        slice(max(cols[0] - m, 0), min(cols[-1] + m + 1, w)),
    )
    g8 = np.ascontiguousarray(g[box]).view(np.uint8)
    agree = p[box] == g[box]
    accs: dict[int, float] = {}
    for r in set(radii):
        band = cv2.morphologyEx(g8, cv2.MORPH_GRADIENT, _ellipse_kernel(r)).view(bool)
        n = int(np.count_nonzero(band))
        accs[r] = int(np.count_nonzero(band & agree)) / n if n else math.nan
    return float(sum(accs[r] for r in radii) / len(radii))


class MBA(PerSampleMean):
    """Dataset mBA: mean over images of per-image mBA (CascadePSP ``eval_post.py``).

    ``compute() -> {"mba", "n", "n_nan"}``; images with an empty or all-ones GT are NaN
    (``nan_policy="propagate"`` keeps the reference's plain mean; ``"omit"`` skips them).
    """

    _key = "mba"

    def __init__(self, *, threshold: float = MBA_THRESHOLD, nan_policy: str = "propagate") -> None:
        super().__init__(nan_policy)
        self.threshold = check_threshold(threshold)

    def _value(self, pred: Any, gt: Any) -> float:
        return mba(pred, gt, threshold=self.threshold)
