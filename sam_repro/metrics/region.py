"""Region metrics: binary IoU, PASCAL VOC mIoU, balanced error rate (BER) for shadow detection.

Inputs: ``pred`` (H, W) float probability map in [0, 1] or bool mask (binarised as
``pred > threshold``); ``gt`` (H, W) bool mask; semantic metrics take (H, W) integer class maps.

Which aggregation each paper's reference uses (research/metrics.md sections 3-4):

* HQ-SAM / Pi-SAM / Stable-SAM mIoU on single-object sets: **mean of per-image IoU**
  (``IoU(aggregation="per_image")``); an empty union gives NaN, which a plain mean propagates.
* CascadePSP ``eval_post.py``: **dataset-accumulated** IoU, sum(I) / sum(U)
  (``IoU(aggregation="dataset")``).
* PASCAL VOC mIoU (mmseg ``total_intersect_and_union``): per-class I and U summed over the
  dataset, IoU_c = sum I / sum U, then nanmean over classes (:class:`VOCMeanIoU`).
* SBU BER (``ComputeBERonSet.m``): TP/TN/Npos/Nneg summed over the dataset, in percent
  (``BER(aggregation="dataset")``, the canonical number); SAM-Adapter's per-image mean is
  ``BER(aggregation="per_image")``.
* AlignSAM's IoU aggregation is not public (its repository holds only a README): use either mode
  and say which.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from sam_repro.metrics._base import Metric, check_nan_policy, nan_aware_mean
from sam_repro.metrics._validate import (
    IGNORE_INDEX,
    binarize,
    check_label_map,
    check_mask,
    check_pair,
    check_threshold,
)

__all__ = [
    "iou",
    "iou_counts",
    "IoU",
    "intersect_and_union",
    "VOCMeanIoU",
    "BER_THRESHOLD",
    "ber_counts",
    "ber",
    "BER",
]

_AGGREGATIONS = ("per_image", "dataset")


def _check_aggregation(aggregation: str) -> str:
    if aggregation not in _AGGREGATIONS:
        raise ValueError(f"aggregation: expected one of {_AGGREGATIONS}, got {aggregation!r}")
    return aggregation


def _binary_pair(pred: Any, gt: Any, threshold: float, ignore: Any) -> tuple[np.ndarray, np.ndarray]:
    p, g = check_pair(pred, gt)
    p = binarize(p, check_threshold(threshold))
    if ignore is not None:
        ig = check_mask(ignore, "ignore")
        if ig.shape != g.shape:
            raise ValueError(f"ignore and gt must have the same shape, got {ig.shape} and {g.shape}")
        keep = ~ig
        p, g = p[keep], g[keep]
    return p, g


# --------------------------------------------------------------------------------------------
# binary IoU
# --------------------------------------------------------------------------------------------


def iou_counts(pred: Any, gt: Any, *, threshold: float = 0.5, ignore: Any = None) -> tuple[int, int]:
    """Intersection and union pixel counts of one image.

    Args:
        pred: (H, W) float probability map in [0, 1] or bool mask; binarised as ``pred > threshold``.
        gt: (H, W) bool mask.
        threshold: 0.5 (= HQ-SAM's ``logit > 0``); RITM uses 0.49 on probabilities. When
            logits are at hand, passing the bool ``logits > 0`` is exact (a float32 sigmoid rounds
            logits below ~3e-8 to exactly 0.5).
        ignore: optional (H, W) bool mask of pixels excluded from both counts (RITM's ``-1``).

    Returns:
        ``(intersection, union)`` as Python ints.
    """
    p, g = _binary_pair(pred, gt, threshold, ignore)
    inter = int(np.count_nonzero(p & g))
    union = int(np.count_nonzero(p)) + int(np.count_nonzero(g)) - inter
    return inter, union


def iou(pred: Any, gt: Any, *, threshold: float = 0.5, ignore: Any = None) -> float:
    """Binary IoU |P & G| / |P | G| of one image (HQ-SAM ``mask_iou``; Pi-SAM; RITM).

    Returns NaN when the union is empty (both masks empty), as the references do (0/0); a plain
    per-image mean then propagates it (see :class:`IoU`). Note PySODMetrics' binary IoU returns 0
    there instead.

    Args: see :func:`iou_counts`.
    """
    inter, union = iou_counts(pred, gt, threshold=threshold, ignore=ignore)
    return inter / union if union else math.nan


class IoU(Metric):
    """Dataset binary IoU.

    Args:
        aggregation: ``"per_image"`` (default): mean of per-image IoU (HQ-SAM, Pi-SAM, the
            Stable-SAM tables); ``"dataset"``: sum of intersections / sum of unions over the
            dataset (CascadePSP ``eval_post.py``), NaN if every union is empty.
        threshold: ``pred > threshold`` binarisation (0.5 = ``logit > 0``).
        nan_policy: per-image mode only: ``"propagate"`` (reference: a plain mean, so an image
            with an empty union makes the result NaN) or ``"omit"`` (nanmean).

    ``update(pred, gt, ignore=None) -> float`` returns the image's IoU.
    ``compute() -> {"iou", "n", "n_nan"}`` (plus ``"intersection"``, ``"union"`` in dataset mode).
    """

    def __init__(self, aggregation: str = "per_image", *, threshold: float = 0.5, nan_policy: str = "propagate") -> None:
        self.aggregation = _check_aggregation(aggregation)
        self.threshold = check_threshold(threshold)
        self.nan_policy = check_nan_policy(nan_policy)
        self.reset()

    def measure(self, pred: Any, gt: Any, ignore: Any = None) -> dict[str, Any]:
        inter, union = iou_counts(pred, gt, threshold=self.threshold, ignore=ignore)
        return {"iou": inter / union if union else math.nan, "intersection": inter, "union": union}

    def add(self, stats: dict[str, Any]) -> None:
        self._inter += int(stats["intersection"])
        self._union += int(stats["union"])
        self._values.append(float(stats["iou"]))

    def update(self, pred: Any, gt: Any, ignore: Any = None) -> float:
        stats = self.measure(pred, gt, ignore)
        self.add(stats)
        return stats["iou"]

    def compute(self) -> dict[str, Any]:
        vals = np.asarray(self._values, dtype=np.float64)
        out: dict[str, Any] = {"n": int(vals.size), "n_nan": int(np.isnan(vals).sum())}
        if self.aggregation == "per_image":
            out["iou"] = nan_aware_mean(vals, self.nan_policy)
        else:
            out["iou"] = self._inter / self._union if self._union else math.nan
            out["intersection"] = self._inter
            out["union"] = self._union
        return out

    def reset(self) -> None:
        self._values: list[float] = []
        self._inter = 0
        self._union = 0


# --------------------------------------------------------------------------------------------
# PASCAL VOC mIoU
# --------------------------------------------------------------------------------------------


def intersect_and_union(
    pred: Any, gt: Any, num_classes: int = 21, ignore_index: int = IGNORE_INDEX
) -> dict[str, np.ndarray]:
    """Per-class pixel counts of one image, as mmseg ``intersect_and_union``.

    Args:
        pred: (H, W) integer predicted class map.
        gt: (H, W) integer ground-truth class map; pixels equal to ``ignore_index`` are dropped
            from both maps.
        num_classes: number of classes C (21 for PASCAL VOC incl. background).
        ignore_index: 255.

    Returns:
        ``{"intersect", "union", "pred", "label"}``, each a (C,) int64 array. Predicted labels
        outside [0, C) count for no class (mmseg's ``histc`` drops them), ground-truth labels
        outside [0, C) other than ``ignore_index`` raise ValueError.
    """
    p = check_label_map(pred, "pred")
    g = check_label_map(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred and gt must have the same shape, got {p.shape} and {g.shape}")
    if num_classes < 1:
        raise ValueError(f"num_classes: expected >= 1, got {num_classes}")
    valid = g != ignore_index
    g = g[valid].astype(np.int64, copy=False)
    p = p[valid].astype(np.int64, copy=False)
    if g.size and (g.min() < 0 or g.max() >= num_classes):
        bad = np.unique(g[(g < 0) | (g >= num_classes)])[:5].tolist()
        raise ValueError(
            f"gt: labels must be in [0, {num_classes}) or {ignore_index} (ignored), found {bad}"
        )
    in_range = (p >= 0) & (p < num_classes)
    area_label = np.bincount(g, minlength=num_classes)
    area_pred = np.bincount(p[in_range], minlength=num_classes)
    hit = in_range & (p == g)
    area_inter = np.bincount(g[hit], minlength=num_classes)
    return {
        "intersect": area_inter,
        "union": area_pred + area_label - area_inter,
        "pred": area_pred,
        "label": area_label,
    }


class VOCMeanIoU(Metric):
    """PASCAL VOC mIoU: per-class I and U accumulated over the **dataset**, nanmean over classes.

    Follows mmseg ``total_intersect_and_union`` / ``mean_iou`` (vendored in SAM-Adapter): pixels
    labelled ``ignore_index`` are dropped; IoU_c = sum I_c / sum U_c; a class whose accumulated
    union is 0 (absent from both predictions and ground truth) is NaN and skipped by the
    nanmean. It is not a per-image mean.

    Args:
        num_classes: C, 21 for PASCAL VOC (background + 20 categories).
        ignore_index: 255.
        mean_over: class indices that enter ``miou`` (default: all C). AlignSAM reports "mean IoU
            over all 20 Pascal VOC categories": ``mean_over=range(1, 21)`` drops the background
            (its code is not public, so whether it is dataset-accumulated is unverified).

    ``update(pred, gt)`` returns the image's per-class counts (see :func:`intersect_and_union`).
    ``compute() -> {"miou", "iou_per_class" (C,), "acc_per_class" (C,), "aacc", "n"}``
    (``acc`` = I / label area as in mmseg; ``aacc`` = overall pixel accuracy). ``miou`` is NaN
    if every class in ``mean_over`` is NaN.
    """

    def __init__(self, num_classes: int = 21, ignore_index: int = IGNORE_INDEX, mean_over: Sequence[int] | None = None) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        if mean_over is None:
            self.mean_over = tuple(range(self.num_classes))
        else:
            self.mean_over = tuple(int(c) for c in mean_over)
            bad = [c for c in self.mean_over if not 0 <= c < self.num_classes]
            if bad or not self.mean_over:
                raise ValueError(f"mean_over: expected class indices in [0, {self.num_classes}), got {list(mean_over)}")
        self.reset()

    def measure(self, pred: Any, gt: Any) -> dict[str, Any]:
        r = intersect_and_union(pred, gt, self.num_classes, self.ignore_index)
        return {k: np.asarray(r[k]).astype(np.int64).tolist() for k in self._totals}

    def add(self, stats: dict[str, Any]) -> None:
        for k in self._totals:
            self._totals[k] += np.asarray(stats[k], dtype=np.int64)
        self._n += 1

    def update(self, pred: Any, gt: Any) -> dict[str, np.ndarray]:
        r = intersect_and_union(pred, gt, self.num_classes, self.ignore_index)
        self.add(r)
        return r

    def compute(self) -> dict[str, Any]:
        t = {k: v.astype(np.float64) for k, v in self._totals.items()}
        with np.errstate(divide="ignore", invalid="ignore"):
            iou_c = t["intersect"] / t["union"]
            acc_c = t["intersect"] / t["label"]
        total_label = t["label"].sum()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slice -> NaN
            miou = float(np.nanmean(iou_c[list(self.mean_over)]))
        return {
            "miou": miou,
            "iou_per_class": iou_c,
            "acc_per_class": acc_c,
            "aacc": float(t["intersect"].sum() / total_label) if total_label else math.nan,
            "n": self._n,
        }

    def reset(self) -> None:
        zeros = np.zeros(self.num_classes, dtype=np.int64)
        self._totals = {k: zeros.copy() for k in ("intersect", "union", "pred", "label")}
        self._n = 0


# --------------------------------------------------------------------------------------------
# BER
# --------------------------------------------------------------------------------------------

#: ``ComputeBERonSet.m`` thresholds uint8 maps as ``> 125``; as a probability that is 125/255.
BER_THRESHOLD = 125 / 255


def ber_counts(pred: Any, gt: Any, *, threshold: float = BER_THRESHOLD) -> dict[str, int]:
    """Shadow-detection counts of one image: ``{"tp", "tn", "npos", "nneg"}``.

    Args:
        pred: (H, W) float map in [0, 1] or bool; shadow where ``pred > threshold``
            (125/255 = the reference's ``u8 > 125``; for ``pred = u8 / 255`` it is exact).
        gt: (H, W) bool shadow mask. (A uint8 SBU mask is thresholded by the reference at
            ``> 125`` too: pass ``gt_u8 > 125``.)
    """
    p, g = check_pair(pred, gt)
    p = binarize(p, check_threshold(threshold))
    npos = int(np.count_nonzero(g))
    tp = int(np.count_nonzero(p & g))
    nneg = g.size - npos
    tn = nneg - (int(np.count_nonzero(p)) - tp)
    return {"tp": tp, "tn": tn, "npos": npos, "nneg": nneg}


def _ber_from_counts(tp: int, tn: int, npos: int, nneg: int) -> dict[str, float]:
    pos_acc = tp / npos if npos else math.nan
    neg_acc = tn / nneg if nneg else math.nan
    return {
        "ber": 100.0 * (1.0 - 0.5 * (pos_acc + neg_acc)),
        "shadow_error": 100.0 * (1.0 - pos_acc),
        "non_shadow_error": 100.0 * (1.0 - neg_acc),
    }


def ber(pred: Any, gt: Any, *, threshold: float = BER_THRESHOLD) -> float:
    """Balanced error rate of one image, in **percent**: 100 (1 - (TP/Npos + TN/Nneg) / 2).

    This is the per-image value of SAM-Adapter's ``calc_ber``; it is NaN when the image has no
    shadow pixel (or no non-shadow pixel): the reference divides 0 by 0. The canonical SBU number
    is accumulated over the dataset: use :class:`BER`.
    """
    c = ber_counts(pred, gt, threshold=threshold)
    return _ber_from_counts(**c)["ber"]


class BER(Metric):
    """Dataset balanced error rate for shadow detection, in percent.

    Args:
        aggregation: ``"dataset"`` (default, canonical ``ComputeBERonSet.m``): sum TP, TN, Npos,
            Nneg over the dataset, then BER = 100 (1 - (sum TP / sum Npos + sum TN / sum Nneg) / 2).
            ``"per_image"``: mean of per-image BER (SAM-Adapter ``test.py``); an image without
            shadow pixels is NaN there (0/0) and a plain mean propagates it.
        threshold: ``pred > threshold`` (125/255).
        nan_policy: per-image mode only, ``"propagate"`` (reference) or ``"omit"``.

    ``update(pred, gt) -> float`` returns the image's BER (percent, NaN without shadow).
    ``compute() -> {"ber", "shadow_error", "non_shadow_error", "n", "n_nan"}`` in percent
    (errors are 100 (1 - posAcc) and 100 (1 - negAcc), accumulated or averaged like ``ber``).
    PySODMetrics' ``BERHandler`` instead returns a fraction and scores 0/0 as 0.
    """

    def __init__(self, aggregation: str = "dataset", *, threshold: float = BER_THRESHOLD, nan_policy: str = "propagate") -> None:
        self.aggregation = _check_aggregation(aggregation)
        self.threshold = check_threshold(threshold)
        self.nan_policy = check_nan_policy(nan_policy)
        self.reset()

    def measure(self, pred: Any, gt: Any) -> dict[str, Any]:
        counts = ber_counts(pred, gt, threshold=self.threshold)
        return {**counts, **_ber_from_counts(**counts)}

    def add(self, stats: dict[str, Any]) -> None:
        for k in self._totals:
            self._totals[k] += int(stats[k])
        for k in self._per_image:
            self._per_image[k].append(float(stats[k]))

    def update(self, pred: Any, gt: Any) -> float:
        stats = self.measure(pred, gt)
        self.add(stats)
        return stats["ber"]

    def compute(self) -> dict[str, Any]:
        vals = np.asarray(self._per_image["ber"], dtype=np.float64)
        if self.aggregation == "dataset":
            out: dict[str, Any] = _ber_from_counts(**self._totals) if vals.size else dict.fromkeys(
                ("ber", "shadow_error", "non_shadow_error"), math.nan
            )
        else:
            out = {k: nan_aware_mean(v, self.nan_policy) for k, v in self._per_image.items()}
        out.update(n=int(vals.size), n_nan=int(np.isnan(vals).sum()))
        return out

    def reset(self) -> None:
        self._totals = {"tp": 0, "tn": 0, "npos": 0, "nneg": 0}
        self._per_image: dict[str, list[float]] = {"ber": [], "shadow_error": [], "non_shadow_error": []}
