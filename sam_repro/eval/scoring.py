"""The metric objects of :mod:`sam_repro.metrics` as the evaluation harness uses them.

A :class:`MetricSpec` names a metric, builds its accumulator and says what it reads from a protocol's
output:

* ``mask``: the binary mask shown for the object ((H, W) bool, logits > the protocol's threshold);
* ``probability``: the sigmoid of the object's logits ((H, W) float in [0, 1]: DIS F/E/wF/MAE curves);
* ``ious``: the IoU after every click of an interactive run (NoC / FR);
* ``class_map``: the image's predicted class map against the sample's ``class_map`` (VOC mIoU), once
  per image rather than per object.

Per object (per image for ``class_map``) the harness stores the accumulator's ``measure`` statistics in
the record, and the per-object scalar named by ``per_object`` beside them (what a paired bootstrap or a
figure reads). The summary replays the stored statistics into a fresh accumulator (``add``) and reports
``compute()`` in one schema for every metric: ``{"value": the primary figure, "n": ..., <every scalar of
compute()>}``, arrays (curves, per-class values) as lists under ``"arrays"``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam_repro.metrics import Metric

READS = ("mask", "probability", "ious", "class_map")


@dataclass(frozen=True)
class MetricSpec:
    """A metric for :func:`sam_repro.eval.harness.evaluate`.

    Attributes:
        name: key in records and in the summary (``iou``, ``biou``, ``sod``, ``voc_miou``...).
        factory: builds a fresh accumulator (a :class:`~sam_repro.metrics.Metric`).
        reads: one of :data:`READS`.
        primary: the key of ``compute()`` that is the metric's figure (``value`` in the summary).
        per_object: the key of ``measure()``'s statistics stored as the object's (or image's) scalar
            value in the record, or None when there is none (curves only).
        description: how the metric is computed and aggregated (recorded in the run key).
    """

    name: str
    factory: Callable[[], Metric]
    reads: str
    primary: str
    per_object: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.reads not in READS:
            raise ValueError(f"metric {self.name!r}: reads must be one of {READS}, got {self.reads!r}")

    @property
    def per_image(self) -> bool:
        """Whether it scores an image's class map (once per sample) rather than each object."""
        return self.reads == "class_map"

    def key(self) -> dict[str, Any]:
        """What the records of this metric depend on (part of the harness's run key)."""
        return {"name": self.name, "reads": self.reads, "metric": repr(self.factory()), "primary": self.primary}

    def summarize(self, stats: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Replay per-sample statistics into a fresh accumulator; the summary entry of this metric."""
        accumulator = self.factory()
        for item in stats:
            accumulator.add(item)
        computed = accumulator.compute()
        entry: dict[str, Any] = {"value": _scalar(computed.get(self.primary, math.nan))}
        arrays: dict[str, list] = {}
        for key, value in computed.items():
            if isinstance(value, np.ndarray):
                arrays[key] = value.tolist()
            elif isinstance(value, (int, float, np.integer, np.floating, bool)):
                entry[key] = _scalar(value)
        entry.setdefault("n", len(stats))
        if arrays:
            entry["arrays"] = arrays
        return entry


def _scalar(value: Any) -> float | int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value)


# -- the metrics the papers use, ready for the harness --------------------------------------------------
def iou_metric(name: str = "iou") -> MetricSpec:
    """Mask IoU per object, mean over objects (HQ-SAM's mIoU; NaN objects counted and skipped)."""
    from sam_repro.metrics import IoU

    return MetricSpec(name, lambda: IoU("per_image", nan_policy="omit"), "mask", "iou", "iou",
                      "IoU of the binary mask per object; mean over objects")


def boundary_iou_metric(name: str = "biou") -> MetricSpec:
    """Boundary IoU per object (dilation 2% of the diagonal), mean over objects (HQ-SAM's mBIoU)."""
    from sam_repro.metrics import BoundaryIoU

    return MetricSpec(name, lambda: BoundaryIoU(nan_policy="omit"), "mask", "biou", "value",
                      "boundary IoU of the binary mask per object; mean over objects")


def noc_metric(iou_thresholds: Sequence[float], max_clicks: int, name: str | None = None) -> MetricSpec:
    """NoC_n@T / FR_n@T over objects from each object's per-click IoUs; the figure is the NoC at the
    first threshold."""
    from sam_repro.metrics import NoCFR

    thresholds = tuple(float(t) for t in iou_thresholds)
    first = f"noc_{max_clicks}@{int(round(thresholds[0] * 100))}"
    return MetricSpec(name or f"nocfr_{max_clicks}", lambda: NoCFR(thresholds, max_clicks=max_clicks), "ious", first,
                      None, f"NoC/FR with {max_clicks} clicks at {thresholds}")


def sod_metric(name: str = "sod", metrics: Sequence[str] = ("sm", "em", "fm", "wfm", "mae", "hce"),
               primary: str = "fm_max") -> MetricSpec:
    """The DIS / SOD metrics on probability maps (max-F of the dataset-averaged F curve, wF, MAE, S, E,
    HCE), the DIS5K convention of DIS-SAM and Pi-SAM."""
    from sam_repro.metrics import SODMetrics

    chosen = tuple(metrics)
    return MetricSpec(name, lambda: SODMetrics(chosen), "probability", primary, None,
                      f"PySODMetrics conventions on the probability map: {chosen}")


def voc_miou_metric(num_classes: int = 21, mean_over: Sequence[int] | None = None, name: str = "voc_miou") -> MetricSpec:
    """PASCAL VOC mIoU: per-class intersections and unions accumulated over the dataset, from each
    image's class map (mmseg's convention)."""
    from sam_repro.metrics import VOCMeanIoU

    over = None if mean_over is None else tuple(int(c) for c in mean_over)
    return MetricSpec(name, lambda: VOCMeanIoU(num_classes, mean_over=over), "class_map", "miou", None,
                      "per-class I/U accumulated over the dataset, nanmean over classes")


def ber_metric(name: str = "ber") -> MetricSpec:
    """Shadow BER in percent, counts accumulated over the dataset (``ComputeBERonSet.m``), per object
    on the probability map."""
    from sam_repro.metrics import BER

    return MetricSpec(name, lambda: BER("dataset"), "probability", "ber", "ber",
                      "balanced error rate, counts accumulated over the dataset")


def default_metrics(interactive: bool = False, noc_targets: Sequence[tuple[float, int]] = (),
                    target_iou: float | None = None, max_clicks: int | None = None) -> list[MetricSpec]:
    """Mask IoU and boundary IoU (HQ-SAM's evaluation), plus for interactive protocols NoC / FR at each
    (threshold, clicks) of ``noc_targets`` that the loop observes (clicks within its budget, and no
    threshold above the target at which it stops)."""
    specs = [iou_metric(), boundary_iou_metric()]
    if interactive:
        by_budget: dict[int, list[float]] = {}
        for threshold, clicks in noc_targets:
            if max_clicks is not None and clicks > max_clicks:
                continue
            if target_iou is not None and threshold > target_iou:
                continue  # the loop stopped at the target: higher thresholds were not observed
            by_budget.setdefault(int(clicks), []).append(float(threshold))
        specs += [noc_metric(thresholds, clicks) for clicks, thresholds in by_budget.items()]
    return specs
