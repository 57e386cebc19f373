"""Input checking and conversion shared by every metric.

Conventions (the whole :mod:`sam_repro.metrics` package follows them):

* ``pred`` is an (H, W) array: either a **bool** mask or a **floating** probability map with
  values in [0, 1] (float16 is upcast to float32; float32/float64 are kept as they are, so a
  metric sees exactly the numbers the caller passed). Integer predictions are refused, because
  ``uint8`` 0..255 maps, 0/1 label maps and logits all look alike: convert explicitly with
  :func:`prob_from_uint8` or ``logits > 0``.
* ``gt`` is an (H, W) **bool** mask for binary metrics; semantic metrics take an integer class
  map whose ignore label is :data:`IGNORE_INDEX` (255). A ``uint8`` 0/255 ground-truth PNG is
  converted with :func:`mask_from_uint8` (``gt > 128``, the SOD/DIS/HQ-SAM convention).
* A probability map is **never** rescaled. PySODMetrics' ``normalize=True`` path min-max
  rescales each prediction (MATLAB ``mapminmax``), which changes what a probability means
  (a map with values {0, 0.3} becomes {0, 1}). To reproduce that convention on purpose, build
  the prediction with ``prob_from_uint8(png, minmax=True)``.
* Thresholds are applied as ``pred > t`` with ``t`` cast to ``pred``'s dtype, so that for
  ``pred = u8 / 255`` the test ``pred > 128/255`` is exactly ``u8 > 128``.

Torch tensors are accepted anywhere an array is (converted with ``.detach().cpu().numpy()``);
nothing here imports torch.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sam_repro.arrays import as_numpy  # noqa: F401  (re-exported)

#: Ignored label in semantic class maps (PASCAL VOC convention; equals
#: ``sam_repro.data.sample.IGNORE_INDEX``).
IGNORE_INDEX = 255

__all__ = [
    "IGNORE_INDEX",
    "as_numpy",
    "check_pred",
    "check_mask",
    "check_pair",
    "check_label_map",
    "binarize",
    "prob_from_uint8",
    "mask_from_uint8",
]


def _check_2d(arr: np.ndarray, name: str) -> None:
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 3 and (arr.shape[0] == 1 or arr.shape[-1] == 1):
            hint = " (squeeze the batch/channel axis first)"
        raise ValueError(f"{name}: expected a 2-D (H, W) array, got shape {arr.shape}{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty (H, W) array, got shape {arr.shape}")


def check_pred(pred: Any, name: str = "pred") -> np.ndarray:
    """Validate a prediction: (H, W) bool mask or floating probability map in [0, 1].

    Returns:
        The prediction unchanged (bool stays bool, float32/float64 stay as they are; float16 is
        upcast to float32).

    Raises:
        TypeError: integer (including uint8) or other non-float, non-bool dtypes.
        ValueError: wrong number of dimensions, NaN/inf, or values outside [0, 1].
    """
    arr = as_numpy(pred, name)
    _check_2d(arr, name)
    if arr.dtype == bool:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        elif arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if np.isnan(lo) or np.isnan(hi):
            raise ValueError(f"{name}: probability map contains NaN")
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{name}: expected probabilities in [0, 1], got values in [{lo:.6g}, {hi:.6g}]"
                " (logits? apply a sigmoid or pass `logits > 0`; a uint8 map? use prob_from_uint8)"
            )
        return arr
    if np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name}: expected a bool mask or a float probability map in [0, 1], got dtype {arr.dtype}"
            " (for a 0..255 image use sam_repro.metrics.prob_from_uint8(...); for a 0/1 label map use `x.astype(bool)`)"
        )
    raise TypeError(f"{name}: expected a bool mask or a float probability map in [0, 1], got dtype {arr.dtype}")


def check_mask(mask: Any, name: str = "gt") -> np.ndarray:
    """Validate a binary mask: (H, W) bool.

    Raises:
        TypeError: any dtype other than bool (with a hint how to convert).
        ValueError: wrong number of dimensions.
    """
    arr = as_numpy(mask, name)
    _check_2d(arr, name)
    if arr.dtype != bool:
        raise TypeError(
            f"{name}: expected a bool (H, W) mask, got dtype {arr.dtype}"
            " (for a 0/255 ground-truth image use sam_repro.metrics.mask_from_uint8(gt), i.e. gt > 128)"
        )
    return arr


def check_pair(pred: Any, gt: Any, pred_name: str = "pred", gt_name: str = "gt") -> tuple[np.ndarray, np.ndarray]:
    """Validate a (prediction, bool ground truth) pair of the same (H, W) shape."""
    p = check_pred(pred, pred_name)
    g = check_mask(gt, gt_name)
    if p.shape != g.shape:
        raise ValueError(f"{pred_name} and {gt_name} must have the same shape, got {p.shape} and {g.shape}")
    return p, g


def check_label_map(labels: Any, name: str) -> np.ndarray:
    """Validate an (H, W) integer class map (bool is refused: use a binary metric instead)."""
    arr = as_numpy(labels, name)
    _check_2d(arr, name)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}: expected an integer (H, W) class map, got dtype {arr.dtype}")
    return arr


def check_threshold(threshold: float, name: str = "threshold") -> float:
    """Validate a probability threshold in [0, 1]."""
    t = float(threshold)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"{name}: expected a value in [0, 1], got {threshold}")
    return t


def binarize(pred: np.ndarray, threshold: float) -> np.ndarray:
    """``pred > threshold`` for a checked prediction; a bool ``pred`` is returned as is.

    The threshold is cast to ``pred``'s dtype first, so that ``u8 / 255 > 128 / 255`` gives the
    same pixels as ``u8 > 128`` for float32 and float64 maps alike.
    """
    if pred.dtype == bool:
        return pred
    return pred > pred.dtype.type(threshold)


def prob_from_uint8(pred: Any, minmax: bool = False, name: str = "pred") -> np.ndarray:
    """Convert a saved 8-bit prediction (H, W) uint8 0..255 to a float64 map in [0, 1].

    Args:
        pred: (H, W) uint8 image (e.g. a prediction PNG; a 3-channel image must be reduced first).
        minmax: also apply the SOD-toolbox min-max rescaling (MATLAB ``mapminmax(im2double(x))``,
            PySODMetrics ``normalize=True``): ``(x - min) / (max - min)`` when ``max != min``.
            Use it only to reproduce published SOD/DIS numbers computed that way.
    """
    arr = as_numpy(pred, name)
    _check_2d(arr, name)
    if arr.dtype != np.uint8:
        raise TypeError(f"{name}: expected a uint8 (H, W) image, got dtype {arr.dtype}")
    out = arr / 255
    if minmax:
        lo, hi = out.min(), out.max()
        if hi != lo:
            out = (out - lo) / (hi - lo)
    return out


def mask_from_uint8(gt: Any, name: str = "gt") -> np.ndarray:
    """Binarise an (H, W) uint8 ground-truth image as ``gt > 128`` (PySODMetrics, DIS, HQ-SAM)."""
    arr = as_numpy(gt, name)
    _check_2d(arr, name)
    if arr.dtype != np.uint8:
        raise TypeError(f"{name}: expected a uint8 (H, W) image, got dtype {arr.dtype}")
    return arr > 128
