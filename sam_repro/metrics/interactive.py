"""Interactive-segmentation metrics from per-click IoU sequences: NoC_n@IoU and FR_n@IoU.

Input of every function: ``ious``, a 1-D sequence of the IoU after click 1, 2, ... (floats in
[0, 1], at least one). It may be shorter than ``n`` (RITM's loop stops early once the target IoU
is reached) or longer (only the first ``n`` clicks count).

* **NoC_n@T** (RITM ``utils.py::compute_noc_metric``): per object, the 1-based index of the first
  click with IoU >= T among the first n clicks, or n when T is never reached; the dataset value is
  the mean over objects. (Schön et al. write "exceed"; RITM, whose protocol they follow, uses >=.)
* **FR_n@T** (Schön et al., arXiv 2404.08421): percentage of objects for which T is **never
  reached within n clicks**. No public code; this is the definition of their Sec. 4 text.
* RITM's ">=n@T" column counts objects with NoC == n, which also counts objects that reach T
  exactly on click n. It is reported as a count (``ritm_ge_{n}@{T}``) and can be used as the
  failure definition with ``fr_mode="ritm"``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sam_repro.metrics._base import Metric
from sam_repro.metrics._validate import as_numpy

__all__ = ["check_iou_sequence", "noc", "reaches", "is_failure", "NoCFR", "FR_MODES"]

#: ``"never_reached"``: FR counts objects that never reach T within n clicks (Schön et al.);
#: ``"ritm"``: FR counts objects with NoC == n (RITM's ">=n" column, includes success at click n).
FR_MODES = ("never_reached", "ritm")


def check_iou_sequence(ious: Any, name: str = "ious") -> np.ndarray:
    """Validate a per-click IoU sequence: 1-D, non-empty, finite values in [0, 1] -> float64 array."""
    arr = as_numpy(ious, name)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of per-click IoUs, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected at least one click's IoU, got an empty sequence")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) or arr.dtype == bool:
        raise TypeError(f"{name}: expected float IoU values, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: IoU values must be finite (click {int(np.argmin(np.isfinite(arr))) + 1} is not)")
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError(f"{name}: IoU values must be in [0, 1], got [{arr.min():.6g}, {arr.max():.6g}]")
    return arr


def _check_n(max_clicks: int) -> int:
    if int(max_clicks) != max_clicks or max_clicks < 1:
        raise ValueError(f"max_clicks: expected a positive integer, got {max_clicks}")
    return int(max_clicks)


def _check_thr(iou_threshold: float) -> float:
    t = float(iou_threshold)
    if not 0.0 < t <= 1.0:
        raise ValueError(f"iou_threshold: expected a value in (0, 1], got {iou_threshold}")
    return t


def _first_hit(arr: np.ndarray, thr: float, n: int) -> int | None:
    hits = arr[:n] >= thr
    return int(np.argmax(hits)) + 1 if hits.any() else None


def noc(ious: Any, iou_threshold: float, max_clicks: int = 20) -> int:
    """Number of clicks to reach ``iou_threshold`` (RITM ``_get_noc``): first 1-based click with
    IoU >= T within ``max_clicks``, else ``max_clicks``."""
    arr = check_iou_sequence(ious)
    n = _check_n(max_clicks)
    hit = _first_hit(arr, _check_thr(iou_threshold), n)
    return n if hit is None else hit


def reaches(ious: Any, iou_threshold: float, max_clicks: int = 20) -> bool:
    """True when some click among the first ``max_clicks`` has IoU >= ``iou_threshold``."""
    arr = check_iou_sequence(ious)
    return _first_hit(arr, _check_thr(iou_threshold), _check_n(max_clicks)) is not None


def is_failure(ious: Any, iou_threshold: float, max_clicks: int = 20, fr_mode: str = "never_reached") -> bool:
    """Whether the object counts as a failure for FR_n@T (see :data:`FR_MODES`)."""
    if fr_mode not in FR_MODES:
        raise ValueError(f"fr_mode: expected one of {FR_MODES}, got {fr_mode!r}")
    if fr_mode == "ritm":
        return noc(ious, iou_threshold, max_clicks) == _check_n(max_clicks)
    return not reaches(ious, iou_threshold, max_clicks)


def _pct(thr: float) -> str:
    return f"{thr * 100:g}"


class NoCFR(Metric):
    """NoC_n@T and FR_n@T over a dataset, for several thresholds T and one click budget n.

    Args:
        iou_thresholds: e.g. ``(0.80, 0.85, 0.90)`` (RITM) or ``(0.85,)`` with ``max_clicks=20`` and
            ``(0.90,)`` with ``max_clicks=30`` (Schön et al.'s FR_20@85 and FR_30@90).
        max_clicks: n.
        fr_mode: failure definition used for ``fr_{n}@{T}`` (default ``"never_reached"``).

    ``update(ious)`` takes one object's per-click IoU sequence and returns
    ``{"noc_{n}@{T}": int, "failed_{n}@{T}": bool}`` for each T (T printed in percent, e.g. ``85``).
    ``compute()`` returns, for each T: ``noc_{n}@{T}`` (mean NoC), ``fr_{n}@{T}`` (percent of
    failures under ``fr_mode``), ``n_failed_{n}@{T}`` (count, same definition) and
    ``ritm_ge_{n}@{T}`` (RITM's count of NoC == n); plus ``"n"`` (objects). Values are NaN
    before any update.
    """

    def __init__(self, iou_thresholds: Sequence[float] = (0.80, 0.85, 0.90), max_clicks: int = 20, fr_mode: str = "never_reached") -> None:
        if fr_mode not in FR_MODES:
            raise ValueError(f"fr_mode: expected one of {FR_MODES}, got {fr_mode!r}")
        thr = tuple(_check_thr(t) for t in iou_thresholds)
        if not thr:
            raise ValueError("iou_thresholds: expected at least one threshold")
        self.iou_thresholds = thr
        self.max_clicks = _check_n(max_clicks)
        self.fr_mode = fr_mode
        self.reset()

    def _suffix(self, thr: float) -> str:
        return f"{self.max_clicks}@{_pct(thr)}"

    def measure(self, ious: Any) -> dict[str, Any]:
        """``{"noc_{n}@{T}": int, "failed_{n}@{T}": bool, "never_{n}@{T}": bool}`` for each T."""
        arr = check_iou_sequence(ious)
        out: dict[str, Any] = {}
        for t in self.iou_thresholds:
            hit = _first_hit(arr, t, self.max_clicks)
            sfx = self._suffix(t)
            noc_value = self.max_clicks if hit is None else hit
            out[f"noc_{sfx}"] = noc_value
            out[f"failed_{sfx}"] = bool((noc_value == self.max_clicks) if self.fr_mode == "ritm" else (hit is None))
            out[f"never_{sfx}"] = hit is None
        return out

    def add(self, stats: dict[str, Any]) -> None:
        for i, t in enumerate(self.iou_thresholds):
            sfx = self._suffix(t)
            self._nocs[i].append(int(stats[f"noc_{sfx}"]))
            self._never[i].append(bool(stats[f"never_{sfx}"]))
        self._n += 1

    def update(self, ious: Any) -> dict[str, Any]:
        stats = self.measure(ious)
        self.add(stats)
        return {k: v for k, v in stats.items() if not k.startswith("never_")}

    def compute(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, t in enumerate(self.iou_thresholds):
            sfx = self._suffix(t)
            nocs = np.asarray(self._nocs[i], dtype=np.int64)
            ritm = int(np.count_nonzero(nocs == self.max_clicks))
            never = int(np.count_nonzero(self._never[i]))
            failed = ritm if self.fr_mode == "ritm" else never
            out[f"noc_{sfx}"] = float(nocs.mean()) if nocs.size else math.nan
            out[f"fr_{sfx}"] = 100.0 * failed / nocs.size if nocs.size else math.nan
            out[f"n_failed_{sfx}"] = failed
            out[f"ritm_ge_{sfx}"] = ritm
        out["n"] = self._n
        return out

    def reset(self) -> None:
        self._nocs: list[list[int]] = [[] for _ in self.iou_thresholds]
        self._never: list[list[bool]] = [[] for _ in self.iou_thresholds]
        self._n = 0
