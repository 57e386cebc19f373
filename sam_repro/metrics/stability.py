"""Stability metrics: SAM's stability score, and a *reconstruction* of Stable-SAM's "ST".

* :func:`stability_score` is SAM's ``calculate_stability_score`` (``segment_anything/utils/amg.py``):
  for one mask's logits, IoU between the masks thresholded at ``logit > t + offset`` and
  ``logit > t - offset`` (t = 0, offset = 1.0 in ``SamAutomaticMaskGenerator``). It measures how
  much a single prediction changes when its *logit threshold* moves; it is **not** Stable-SAM's ST.

* :func:`stable_sam_st_reconstruction` is **our reconstruction** of the "ST" column of
  Stable-SAM (Fan et al., ICLR 2025). Its definition is not public: the code is unreleased
  ("Code will be released upon acceptance"), and the supplement (shared/papers/004) only names
  "mask mIoU, boundary mBIoU and ST" as metrics for DIS, ThinObject-5K, COIFT and HR-SOD, reports
  ST in percent next to mIoU (Table 3: e.g. SAM 48.8 mIoU / 39.5 ST with noisy boxes), describes
  stability as "even a minor prompt modification leads to unstable segmentation output" versus
  "consistent ... mask predictions even under prompts of diverse qualities" (Sec. 5), and
  reports the spread of mIoU over prompt samples (Table 5). We therefore define ST as the
  **consistency of the predictions for one object under repeated perturbed prompts**:
  the mean pairwise IoU over the K(K-1)/2 pairs of the K predicted masks (e.g. K noisy boxes at
  noise scale 0.4, or K users' boxes), averaged over objects. Any number computed with it is ours,
  not comparable with the paper's ST column without that caveat.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from sam_repro.metrics._base import PerSampleMean
from sam_repro.metrics._validate import as_numpy, check_mask, check_threshold

__all__ = ["stability_score", "stable_sam_st_reconstruction", "StableSAMSTReconstruction"]


def stability_score(logits: Any, mask_threshold: float = 0.0, threshold_offset: float = 1.0) -> Any:
    """SAM's stability score of mask logits.

    Args:
        logits: (H, W) or (..., H, W) float mask logits (SAM's low-res or upsampled logits, *not*
            probabilities).
        mask_threshold: the logit threshold t (SAM: 0.0).
        threshold_offset: the offset (SAM's ``stability_score_offset``: 1.0).

    Returns:
        |logits > t + offset| / |logits > t - offset| over the last two axes: a float for a 2-D
        input, else a float64 array of shape ``logits.shape[:-2]``. NaN where the denominator is 0
        (SAM's torch division gives NaN there too).
    """
    arr = as_numpy(logits, "logits")
    if arr.ndim < 2 or arr.shape[-1] == 0 or arr.shape[-2] == 0:
        raise ValueError(f"logits: expected an (..., H, W) array with H, W > 0, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"logits: expected float mask logits, got dtype {arr.dtype}")
    if np.isnan(arr).any():
        raise ValueError("logits: contains NaN")
    if threshold_offset < 0:
        raise ValueError(f"threshold_offset: expected >= 0, got {threshold_offset}")
    hi = np.count_nonzero(arr > mask_threshold + threshold_offset, axis=(-2, -1))
    lo = np.count_nonzero(arr > mask_threshold - threshold_offset, axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.asarray(hi, dtype=np.float64) / np.asarray(lo, dtype=np.float64)
    return float(score) if score.ndim == 0 else score


def _check_stack(masks: Any, threshold: float) -> np.ndarray:
    arr = as_numpy(masks, "masks")
    if arr.ndim != 3 or 0 in arr.shape:
        raise ValueError(f"masks: expected a (K, H, W) stack of predictions for one object, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        lo, hi = float(arr.min()), float(arr.max())
        if not (0.0 <= lo and hi <= 1.0):
            raise ValueError(f"masks: expected probabilities in [0, 1] or bool masks, got values in [{lo:.6g}, {hi:.6g}]")
        return arr > arr.dtype.type(threshold)
    raise TypeError(f"masks: expected bool masks or float probabilities in [0, 1], got dtype {arr.dtype}")


def _pair_iou(inter: int, area_a: int, area_b: int) -> float:
    union = area_a + area_b - inter
    return inter / union if union else 1.0  # two empty predictions are identical: fully stable


def stable_sam_st_reconstruction(masks: Any, *, reference: Any = None, threshold: float = 0.5) -> float:
    """**Reconstruction** of Stable-SAM's ST for one object (the paper's definition is not public).

    Mean pairwise IoU of the object's K predictions under K perturbed prompts (see the module
    docstring for the evidence and the choice). With ``reference`` given, instead the mean IoU of
    each prediction with that mask (e.g. the prediction from the clean GT box), an alternative
    reading kept for sensitivity checks.

    Args:
        masks: (K, H, W) bool masks or float probabilities in [0, 1] (binarised ``> threshold``);
            K >= 2 without ``reference``, K >= 1 with it.
        reference: optional (H, W) bool mask.
        threshold: binarisation threshold for float ``masks`` (0.5 = ``logit > 0``).

    Returns:
        A value in [0, 1] (multiply by 100 for the paper's scale). A pair of two empty masks
        counts as IoU 1 (identical outputs are perfectly stable); an empty and a non-empty mask
        as 0.
    """
    stack = _check_stack(masks, check_threshold(threshold))
    k = stack.shape[0]
    packed = np.packbits(stack.reshape(k, -1), axis=1)
    areas = np.bitwise_count(packed).sum(axis=1, dtype=np.int64)
    if reference is not None:
        ref = check_mask(reference, "reference")
        if ref.shape != stack.shape[1:]:
            raise ValueError(f"reference and masks must share (H, W), got {ref.shape} and {stack.shape[1:]}")
        ref_packed = np.packbits(ref.reshape(-1))
        ref_area = int(np.count_nonzero(ref))
        vals = [
            _pair_iou(int(np.bitwise_count(packed[i] & ref_packed).sum(dtype=np.int64)), int(areas[i]), ref_area)
            for i in range(k)
        ]
        return float(np.mean(vals))
    if k < 2:
        raise ValueError(f"masks: pairwise ST needs at least 2 predictions of the object, got K={k}")
    vals = []
    for i in range(k - 1):
        inter = np.bitwise_count(packed[i] & packed[i + 1 :]).sum(axis=1, dtype=np.int64)
        vals.extend(_pair_iou(int(inter[j]), int(areas[i]), int(areas[i + 1 + j])) for j in range(k - 1 - i))
    return float(np.mean(vals)) if vals else math.nan


class StableSAMSTReconstruction(PerSampleMean):
    """Dataset value of our **ST reconstruction**: mean over objects of
    :func:`stable_sam_st_reconstruction` (a fraction in [0, 1]).

    ``update(masks, reference=None) -> float``; ``compute() -> {"st_reconstruction", "n", "n_nan"}``.
    """

    _key = "st_reconstruction"

    def __init__(self, *, threshold: float = 0.5) -> None:
        super().__init__("propagate")
        self.threshold = check_threshold(threshold)

    def _value(self, masks: Any, reference: Any = None) -> float:
        return stable_sam_st_reconstruction(masks, reference=reference, threshold=self.threshold)
