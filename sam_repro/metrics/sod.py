"""Salient/dichotomous-segmentation metrics, computed by PySODMetrics (``py_sod_metrics``).

S-measure, E-measure, F-measure (max/mean/adaptive, beta^2 = 0.3), weighted F-measure, MAE and
HCE_gamma are the PySODMetrics implementations (checked there against Fan's MATLAB CODToolbox;
its HCE matches DIS ``hce_metric_main.py``). This module only validates inputs, calls PySODMetrics
without its normalisation, and aggregates.

Inputs: ``pred`` (H, W) float probability map in [0, 1] or bool mask; ``gt`` (H, W) bool.

Normalisation (the pitfall of research/metrics.md section 1): PySODMetrics' default
``normalize=True`` expects uint8 images and min-max rescales the prediction, so a map with
values {0, 0.3} would score as a perfect {0, 1} map. These wrappers always call PySODMetrics with
``normalize=False``: the probability map is evaluated as given. To reproduce numbers of the SOD
toolboxes (uint8 PNG + ``mapminmax``), convert with ``prob_from_uint8(png, minmax=True)`` and
``mask_from_uint8(gt_png)``; the results then equal PySODMetrics' ``normalize=True`` exactly.

Aggregation (all dataset values are per-image averages, as in CODToolbox ``main.m``/PySODMetrics):

* Sm, wF, MAE, HCE, adaptive E/F: mean of the per-image values;
* max/mean E and F: the 256-entry per-image curves are averaged over images **first**; maxF is the
  max and meanF the mean of that averaged curve (not the mean of per-image maxima).

Curve order follows PySODMetrics: index 0 is threshold 255, index 255 is threshold 0, over
``floor(pred * 255)`` with ``>=`` (the threshold-0 entry predicts every pixel as foreground).

PySODMetrics never returns NaN: empty ground truths have defined values (e.g. wF = 0, maxF = 0,
Sm = 1 - mean(pred)); see research/metrics.md for the table.

Degenerate images: the E-measure divides by ``H*W - 1`` (PySODMetrics), so an image of one pixel would
score ``1 / eps`` (4.5e15); :func:`e_measure` (and so :class:`EMeasure` and :class:`SODMetrics` with
``em``, which then adds the image to none of its members) raises ``ValueError`` for images with fewer
than two pixels. The other metrics are defined on a single pixel and left as they are: S-measure's SSIM
treats ``N = 1`` explicitly (zero variance), and F, wF, MAE and HCE divide by no pixel count minus one.
``import py_sod_metrics`` costs about a second (it pulls scikit-learn), so it is imported on first use.
"""
from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np

from sam_repro.metrics._base import Metric
from sam_repro.metrics._validate import binarize, check_mask, check_pair, check_threshold

__all__ = [
    "s_measure",
    "e_measure",
    "f_measure",
    "weighted_f_measure",
    "mae",
    "gt_skeleton",
    "hce",
    "SMeasure",
    "EMeasure",
    "FMeasure",
    "WeightedFMeasure",
    "MAE",
    "HCE",
    "SODMetrics",
    "SOD_METRICS",
]

#: DIS binarises uint8 predictions as ``pred > 128``; as a probability threshold that is 128/255.
DIS_THRESHOLD = 128 / 255


@functools.lru_cache(maxsize=1)
def _pysod() -> ModuleType:
    import py_sod_metrics

    return py_sod_metrics


def _as_float(pred: np.ndarray) -> np.ndarray:
    """A checked prediction as PySODMetrics wants it with ``normalize=False`` (float32/64)."""
    return pred.astype(np.float64) if pred.dtype == bool else pred


def _prepare(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    p, g = check_pair(pred, gt)
    return _as_float(p), g


# --------------------------------------------------------------------------------------------
# per-sample functions
# --------------------------------------------------------------------------------------------


def s_measure(pred: Any, gt: Any, alpha: float = 0.5) -> float:
    """Structure measure S_alpha of one image (Fan et al. 2017; PySODMetrics ``Smeasure``).

    Args:
        pred: (H, W) float probability map in [0, 1] or bool mask.
        gt: (H, W) bool mask.
        alpha: weight of the object-aware term (0.5 in every paper here).

    Returns:
        S in [0, 1]. Empty gt gives ``1 - mean(pred)``, an all-ones gt gives ``mean(pred)``.
    """
    p, g = _prepare(pred, gt)
    m = _pysod().Smeasure(alpha=alpha)
    m.step(p, g, normalize=False)
    return float(m.sms[-1])


def e_measure(pred: Any, gt: Any) -> dict[str, Any]:
    """Enhanced-alignment measure E_phi of one image (Fan et al. 2018; PySODMetrics ``Emeasure``).

    Returns:
        ``{"adp": float, "mean": float, "max": float, "curve": (256,) float64}``: the adaptive
        E-measure (threshold ``min(2 * mean(pred), 1)``, ``>=``), and the mean/max of this image's
        256-threshold curve. Note that PySODMetrics divides by ``H*W - 1``, so values can exceed 1
        slightly (1.0002 was observed). Dataset meanEm/maxEm are *not* the mean of these per-image
        values: use :class:`EMeasure`.

    Raises:
        ValueError: ``pred``/``gt`` have fewer than two pixels (the ``H*W - 1`` divisor would be 0), besides
            the checks of every metric (shape, dtype, range).
    """
    p, g = _prepare(pred, gt)
    if g.size < 2:
        raise ValueError(f"pred and gt: the E-measure needs at least 2 pixels (it divides by H*W - 1), got shape "
                         f"{g.shape}")
    m = _pysod().Emeasure()
    m.step(p, g, normalize=False)
    curve = np.asarray(m.changeable_ems[-1], dtype=np.float64)
    return {"adp": float(m.adaptive_ems[-1]), "mean": float(curve.mean()), "max": float(curve.max()), "curve": curve}


def _f_handlers(beta2: float) -> tuple[Any, dict[str, Any]]:
    sod = _pysod()
    handlers = {
        "fm": sod.FmeasureHandler(with_dynamic=True, with_adaptive=True, beta=beta2),
        "p": sod.PrecisionHandler(with_dynamic=True, with_adaptive=False),
        "r": sod.RecallHandler(with_dynamic=True, with_adaptive=False),
    }
    return sod.FmeasureV2(metric_handlers=handlers), handlers


def f_measure(pred: Any, gt: Any, beta2: float = 0.3) -> dict[str, Any]:
    """F-measure of one image (PySODMetrics ``FmeasureV2`` + ``FmeasureHandler``).

    F = (1 + beta2) P R / (beta2 P + R), with ``beta2`` = beta^2 = 0.3 (PySODMetrics calls this
    argument ``beta``; it is beta squared).

    Returns:
        ``{"adp", "mean", "max": float, "curve", "precision", "recall": (256,) float64}``:
        adaptive F (threshold ``min(2 * mean(pred), 1)``), mean/max of this image's curve, and the
        curves (index 0 = threshold 255). Dataset meanF/maxF come from the averaged curve: use
        :class:`FMeasure`.
    """
    p, g = _prepare(pred, gt)
    m, h = _f_handlers(beta2)
    m.step(p, g, normalize=False)
    curve = np.asarray(h["fm"].dynamic_results[-1], dtype=np.float64)
    return {
        "adp": float(h["fm"].adaptive_results[-1]),
        "mean": float(curve.mean()),
        "max": float(curve.max()),
        "curve": curve,
        "precision": np.asarray(h["p"].dynamic_results[-1], dtype=np.float64),
        "recall": np.asarray(h["r"].dynamic_results[-1], dtype=np.float64),
    }


def weighted_f_measure(pred: Any, gt: Any, beta2: float = 1.0) -> float:
    """Weighted F-measure F^w_beta of one image (Margolin et al. 2014; PySODMetrics).

    7x7 Gaussian (sigma 5) error spreading, distance-based pixel importance, ``beta2`` = 1.
    Returns 0 when ``gt`` is empty (PySODMetrics rule).
    """
    p, g = _prepare(pred, gt)
    m = _pysod().WeightedFmeasure(beta=beta2)
    m.step(p, g, normalize=False)
    return float(m.weighted_fms[-1])


def mae(pred: Any, gt: Any) -> float:
    """Mean absolute error ``mean(|pred - gt|)`` of one image (PySODMetrics ``MAE``)."""
    p, g = _prepare(pred, gt)
    m = _pysod().MAE()
    m.step(p, g, normalize=False)
    return float(m.maes[-1])


def _bbox(mask: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """Bounding box of ``mask`` grown by ``margin`` (clipped to the image), or None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, h)),
        slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, w)),
    )


def gt_skeleton(gt: Any) -> np.ndarray:
    """Skeleton of a ground-truth mask as HCE uses it: ``skimage.morphology.skeletonize(gt)``.

    Computed on the mask's bounding box plus a 1-pixel zero margin (identical output: thinning
    only looks at 8-neighbours), which is much faster for objects that do not fill the image.
    The skeleton depends only on ``gt``: compute it once and pass it to :func:`hce` when the same
    ground truth is scored for several predictions (DIS can also read precomputed skeletons).

    Returns:
        (H, W) bool skeleton.
    """
    from skimage.morphology import skeletonize

    g = check_mask(gt, "gt")
    out = np.zeros_like(g)
    box = _bbox(g, 1)
    if box is not None:
        out[box] = skeletonize(g[box].copy()).astype(bool)  # a copy: skimage refuses read-only buffers
    return out


def hce(
    pred: Any,
    gt: Any,
    *,
    relax: int = 5,
    epsilon: float = 2.0,
    threshold: float = DIS_THRESHOLD,
    skeleton: Any = None,
) -> int:
    """Human correction effort HCE_gamma of one image (DIS, Qin et al. 2022).

    The counting (relaxed FP/FN regions, conditional boundary runs, ``cv2.approxPolyDP`` control
    points, independent regions) is PySODMetrics' ``HumanCorrectionEffortMeasure`` code, which
    equals DIS ``relax_HCE`` exactly. This function only adds two things, both exact:
    the GT skeleton can be passed in (it is ~90% of the run time), and the work is restricted to
    the bounding box of ``gt | pred | skeleton`` grown by ``relax + 2`` pixels (every step is a
    local morphological operation, and contour/label order is preserved by the crop).

    Args:
        pred: (H, W) float probability map in [0, 1] or bool mask.
        gt: (H, W) bool mask.
        relax: gamma, the number of erosion/dilation relaxations (5).
        epsilon: ``approxPolyDP`` tolerance in pixels (2.0).
        threshold: a float ``pred`` is binarised as ``pred > threshold``. The default 128/255
            reproduces DIS (``pred_u8 > 128``) for ``pred = u8 / 255``; PySODMetrics with
            ``normalize=False`` uses 0.5 instead, which differs only for the value 128/255.
        skeleton: optional (H, W) bool skeleton of ``gt`` (see :func:`gt_skeleton`); computed when
            omitted.

    Returns:
        The number of corrections (an int >= 0). Empty gt and empty pred give 0; empty gt with a
        full pred gives 1.
    """
    p, g = check_pair(pred, gt)
    p = binarize(p, check_threshold(threshold))
    if relax < 1 or int(relax) != relax:
        raise ValueError(f"relax: expected a positive integer, got {relax}")
    relax = int(relax)
    if skeleton is not None:
        skel = check_mask(skeleton, "skeleton")
        if skel.shape != g.shape:
            raise ValueError(f"skeleton and gt must have the same shape, got {skel.shape} and {g.shape}")
        box = _bbox(g | p | skel, relax + 2)
    else:
        skel = None
        box = _bbox(g | p, relax + 2)
    if box is None:
        return 0
    g, p = g[box], p[box]
    if skel is None:
        from skimage.morphology import skeletonize

        skel = skeletonize(g.copy()).astype(bool)  # a copy: skimage refuses read-only buffers (dataset masks)
    else:
        skel = skel[box]
    return _hce_core(p, g, skel, relax, float(epsilon))


def _hce_core(pred: np.ndarray, gt: np.ndarray, skel: np.ndarray, relax: int, epsilon: float) -> int:
    """PySODMetrics ``HumanCorrectionEffortMeasure.cal_hce`` with the skeleton given.

    Same operations in the same order as PySODMetrics 1.6.2 (and DIS); the region/contour
    bookkeeping is delegated to PySODMetrics' own methods.
    """
    import cv2

    m = _pysod().HumanCorrectionEffortMeasure(relax=relax, epsilon=epsilon)
    kernel = m.morphology_kernel
    union = gt | pred
    tp = gt & pred
    fp = pred & ~tp
    fn = gt & ~tp
    eroded_union = cv2.erode(union.astype(np.uint8), kernel, iterations=relax)

    fp_ = fp & eroded_union.astype(bool)
    for _ in range(relax):
        fp_ = cv2.dilate(fp_.astype(np.uint8), kernel).astype(bool) & ~gt
    fp_ &= fp

    fn_ = fn & eroded_union.astype(bool)
    for _ in range(relax):
        fn_ = cv2.dilate(fn_.astype(np.uint8), kernel).astype(bool) & ~pred
    fn_ &= fn
    fn_ |= skel & ~tp

    contours_fp, _ = cv2.findContours(fp_.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)
    bdies_fp, indep_fp = m.filter_conditional_boundary(contours_fp, fp_, tp | fn_)
    contours_fn, _ = cv2.findContours(fn_.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)
    bdies_fn, indep_fn = m.filter_conditional_boundary(contours_fn, fn_, ~(tp | fp_ | fn_))
    points_fp = m.count_polygon_control_points(bdies_fp, epsilon=epsilon)
    points_fn = m.count_polygon_control_points(bdies_fn, epsilon=epsilon)
    return int(points_fp + indep_fp + points_fn + indep_fn)


# --------------------------------------------------------------------------------------------
# accumulators
# --------------------------------------------------------------------------------------------


def _mean(values: list[float]) -> float:
    return float(np.mean(np.asarray(values, dtype=np.float64))) if values else float("nan")


def _mean_curve(curves: list[np.ndarray]) -> np.ndarray:
    if not curves:
        return np.full(256, np.nan)
    return np.mean(np.asarray(curves, dtype=np.float64), axis=0)


class SMeasure(Metric):
    """Dataset S-measure: mean of per-image S_alpha. ``compute() -> {"sm", "n"}``."""

    def __init__(self, alpha: float = 0.5) -> None:
        self.alpha = alpha
        self._values: list[float] = []

    def measure(self, pred: Any, gt: Any) -> dict[str, float]:
        return {"sm": float(s_measure(pred, gt, alpha=self.alpha))}

    def add(self, stats: dict[str, Any]) -> None:
        self._values.append(stats["sm"])

    def update(self, pred: Any, gt: Any) -> float:
        stats = self.measure(pred, gt)
        self.add(stats)
        return stats["sm"]

    def compute(self) -> dict[str, Any]:
        return {"sm": _mean(self._values), "n": len(self._values)}

    def reset(self) -> None:
        self._values = []


class EMeasure(Metric):
    """Dataset E-measure. ``compute() -> {"em_adp", "em_mean", "em_max", "em_curve", "n"}``.

    ``em_adp`` is the mean of per-image adaptive values; ``em_mean``/``em_max`` are the mean/max of
    the per-image curves averaged over images (CODToolbox/PySODMetrics). ``update`` returns the
    per-image dict of :func:`e_measure`.
    """

    def __init__(self) -> None:
        self._adp: list[float] = []
        self._curves: list[np.ndarray] = []

    def measure(self, pred: Any, gt: Any) -> dict[str, Any]:
        r = e_measure(pred, gt)
        return {"adp": float(r["adp"]), "curve": np.asarray(r["curve"], dtype=np.float64).tolist()}

    def add(self, stats: dict[str, Any]) -> None:
        self._adp.append(float(stats["adp"]))
        self._curves.append(np.asarray(stats["curve"], dtype=np.float64))

    def update(self, pred: Any, gt: Any) -> dict[str, Any]:
        r = e_measure(pred, gt)
        self.add(r)
        return r

    def compute(self) -> dict[str, Any]:
        curve = _mean_curve(self._curves)
        return {
            "em_adp": _mean(self._adp),
            "em_mean": float(curve.mean()),
            "em_max": float(curve.max()),
            "em_curve": curve,
            "n": len(self._adp),
        }

    def reset(self) -> None:
        self._adp, self._curves = [], []


class FMeasure(Metric):
    """Dataset F-measure (beta^2 = 0.3).

    ``compute() -> {"fm_adp", "fm_mean", "fm_max", "fm_curve", "precision_curve", "recall_curve", "n"}``:
    ``fm_adp`` is the mean of per-image adaptive F; ``fm_max``/``fm_mean`` are the max/mean of the
    image-averaged F curve; the PR curves are image-averaged too (PySODMetrics convention).
    """

    def __init__(self, beta2: float = 0.3) -> None:
        self.beta2 = beta2
        self._adp: list[float] = []
        self._curves: list[np.ndarray] = []
        self._p: list[np.ndarray] = []
        self._r: list[np.ndarray] = []

    def measure(self, pred: Any, gt: Any) -> dict[str, Any]:
        r = f_measure(pred, gt, beta2=self.beta2)
        return {"adp": float(r["adp"]),
                **{k: np.asarray(r[k], dtype=np.float64).tolist() for k in ("curve", "precision", "recall")}}

    def add(self, stats: dict[str, Any]) -> None:
        self._adp.append(float(stats["adp"]))
        self._curves.append(np.asarray(stats["curve"], dtype=np.float64))
        self._p.append(np.asarray(stats["precision"], dtype=np.float64))
        self._r.append(np.asarray(stats["recall"], dtype=np.float64))

    def update(self, pred: Any, gt: Any) -> dict[str, Any]:
        r = f_measure(pred, gt, beta2=self.beta2)
        self.add(r)
        return r

    def compute(self) -> dict[str, Any]:
        curve = _mean_curve(self._curves)
        return {
            "fm_adp": _mean(self._adp),
            "fm_mean": float(curve.mean()),
            "fm_max": float(curve.max()),
            "fm_curve": curve,
            "precision_curve": _mean_curve(self._p),
            "recall_curve": _mean_curve(self._r),
            "n": len(self._adp),
        }

    def reset(self) -> None:
        self._adp, self._curves, self._p, self._r = [], [], [], []


class WeightedFMeasure(Metric):
    """Dataset weighted F-measure: mean of per-image F^w. ``compute() -> {"wfm", "n"}``."""

    def __init__(self, beta2: float = 1.0) -> None:
        self.beta2 = beta2
        self._values: list[float] = []

    def measure(self, pred: Any, gt: Any) -> dict[str, float]:
        return {"wfm": float(weighted_f_measure(pred, gt, beta2=self.beta2))}

    def add(self, stats: dict[str, Any]) -> None:
        self._values.append(stats["wfm"])

    def update(self, pred: Any, gt: Any) -> float:
        stats = self.measure(pred, gt)
        self.add(stats)
        return stats["wfm"]

    def compute(self) -> dict[str, Any]:
        return {"wfm": _mean(self._values), "n": len(self._values)}

    def reset(self) -> None:
        self._values = []


class MAE(Metric):
    """Dataset MAE: mean of per-image MAE. ``compute() -> {"mae", "n"}``."""

    def __init__(self) -> None:
        self._values: list[float] = []

    def measure(self, pred: Any, gt: Any) -> dict[str, float]:
        return {"mae": float(mae(pred, gt))}

    def add(self, stats: dict[str, Any]) -> None:
        self._values.append(stats["mae"])

    def update(self, pred: Any, gt: Any) -> float:
        stats = self.measure(pred, gt)
        self.add(stats)
        return stats["mae"]

    def compute(self) -> dict[str, Any]:
        return {"mae": _mean(self._values), "n": len(self._values)}

    def reset(self) -> None:
        self._values = []


class HCE(Metric):
    """Dataset HCE_gamma: mean of per-image HCE (DIS). ``compute() -> {"hce", "n"}``.

    ``update(pred, gt, skeleton=None)`` accepts a precomputed GT skeleton (see :func:`hce`).
    """

    def __init__(self, relax: int = 5, epsilon: float = 2.0, threshold: float = DIS_THRESHOLD) -> None:
        self.relax = relax
        self.epsilon = epsilon
        self.threshold = threshold
        self._values: list[int] = []

    def measure(self, pred: Any, gt: Any, skeleton: Any = None) -> dict[str, float]:
        return {"hce": float(hce(pred, gt, relax=self.relax, epsilon=self.epsilon, threshold=self.threshold, skeleton=skeleton))}

    def add(self, stats: dict[str, Any]) -> None:
        self._values.append(stats["hce"])

    def update(self, pred: Any, gt: Any, skeleton: Any = None) -> int:
        stats = self.measure(pred, gt, skeleton)
        self.add(stats)
        return int(stats['hce'])

    def compute(self) -> dict[str, Any]:
        return {"hce": _mean(self._values), "n": len(self._values)}

    def reset(self) -> None:
        self._values = []


#: Names accepted by :class:`SODMetrics`.
SOD_METRICS = ("sm", "em", "fm", "wfm", "mae", "hce")


def _scalars(stats: dict[str, Any]) -> dict[str, float]:
    """The per-image scalars of :meth:`SODMetrics.update` from :meth:`SODMetrics.measure`'s statistics:
    ``sm``, ``em_adp``/``em_mean``/``em_max`` and ``fm_...`` (adaptive value, mean and max of the image's
    curve), ``wfm``, ``mae``, and ``hce`` as an int, for the members present."""
    out: dict[str, float] = {}
    for name, member in stats.items():
        if name in ("em", "fm"):
            curve = np.asarray(member["curve"], dtype=np.float64)
            out.update({f"{name}_adp": member["adp"], f"{name}_mean": float(curve.mean()),
                        f"{name}_max": float(curve.max())})
        else:
            out[name] = int(member[name]) if name == "hce" else member[name]
    return out


class SODMetrics(Metric):
    """All SOD/DIS metrics of one dataset in one object (the DIS5K/Pi-SAM/DIS-SAM table).

    Args:
        metrics: subset of :data:`SOD_METRICS` to compute (HCE is by far the slowest).
        alpha, beta2_f, beta2_wf, relax, epsilon, hce_threshold: the constants of each metric.

    ``update(pred, gt, skeleton=None)`` returns the per-image scalars
    (``sm, em_adp, em_mean, em_max, fm_adp, fm_mean, fm_max, wfm, mae, hce`` for those enabled);
    ``compute()`` returns the union of the member accumulators' dicts.
    """

    def __init__(
        self,
        metrics: tuple[str, ...] = SOD_METRICS,
        *,
        alpha: float = 0.5,
        beta2_f: float = 0.3,
        beta2_wf: float = 1.0,
        relax: int = 5,
        epsilon: float = 2.0,
        hce_threshold: float = DIS_THRESHOLD,
    ) -> None:
        unknown = set(metrics) - set(SOD_METRICS)
        if unknown:
            raise ValueError(f"metrics: unknown names {sorted(unknown)}; expected a subset of {SOD_METRICS}")
        self.metrics = tuple(m for m in SOD_METRICS if m in metrics)
        self._acc: dict[str, Metric] = {}
        if "sm" in metrics:
            self._acc["sm"] = SMeasure(alpha)
        if "em" in metrics:
            self._acc["em"] = EMeasure()
        if "fm" in metrics:
            self._acc["fm"] = FMeasure(beta2_f)
        if "wfm" in metrics:
            self._acc["wfm"] = WeightedFMeasure(beta2_wf)
        if "mae" in metrics:
            self._acc["mae"] = MAE()
        if "hce" in metrics:
            self._acc["hce"] = HCE(relax, epsilon, hce_threshold)

    def measure(self, pred: Any, gt: Any, skeleton: Any = None) -> dict[str, Any]:
        """``{member: member.measure(...)}`` for each enabled member (``sm``, ``em``, ``fm``...)."""
        p, g = _prepare(pred, gt)
        return {name: (acc.measure(p, g, skeleton=skeleton) if name == "hce" else acc.measure(p, g))
                for name, acc in self._acc.items()}

    def add(self, stats: dict[str, Any]) -> None:
        for name, acc in self._acc.items():
            acc.add(stats[name])

    def update(self, pred: Any, gt: Any, skeleton: Any = None) -> dict[str, float]:
        """Add one image to every member and return its per-image scalars (see the class docstring).

        All or nothing: every member measures the image before any adds it, so an image that one member
        refuses (the E-measure of a 1-pixel image, a skeleton of the wrong shape) is added to none and the
        members keep averaging the same images.
        """
        stats = self.measure(pred, gt, skeleton=skeleton)
        self.add(stats)
        return _scalars(stats)

    def compute(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for acc in self._acc.values():
            out.update(acc.compute())
        return out

    def reset(self) -> None:
        for acc in self._acc.values():
            acc.reset()
