"""The interactive click loop behind NoC / FR: a simulated user drives an interactive session.

For one sample: a simulated user clicks (RITM clicker by default) on the error of the current
prediction, the session (:class:`sam_repro.eval.session.InteractiveSession`, the same object a person
drives from the widgets) predicts from all clicks so far and fires the method's hooks, and the IoU is
recorded after every click until it reaches the target or the click budget runs out.

How the previous prediction is fed back is a named protocol setting (:class:`InteractiveProtocol`),
because public SAM evaluations differ (research/metrics.md section 7):

* ``sam-feedback`` (default): multimask output on the first click keeping the mask with the best
  predicted IoU, single-mask output afterwards with the previous low-res logits as ``mask_input``,
  mask = logits > 0 (FocSAM-style);
* ``sam-no-feedback``: no mask input, multimask on every click, best predicted IoU (MST-style).

Hooks see what a real user's session would expose (clicks and predictions), never the ground truth.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sam_repro.eval.protocols import ObjectOutput, Protocol, SampleOutput, diagnostics_of
from sam_repro.eval.session import FeedbackSettings, InteractiveSession
from sam_repro.methods.base import Segmenter
from sam_repro.methods.hooks import InteractionHooks
from sam_repro.prompts import Click, Clicker

if TYPE_CHECKING:
    from sam_repro.data.sample import Sample


@dataclass(frozen=True)
class InteractiveProtocol(Protocol):
    """The click loop, as a protocol: every object of a sample gets its own session.

    Attributes:
        name: label recorded with results.
        max_clicks: click budget n of NoC_n / FR_n.
        target_iou: stop once IoU >= this; None never stops early (all ``max_clicks`` recorded).
        clicker: ``"ritm"`` (padded distance transform, first maximum) or ``"simple"`` (the
            adaptation paper's: no padding, random ties).
        feedback: what each click feeds back as ``mask_input`` (:class:`~sam_repro.eval.session.FeedbackSettings`:
            ``logits``, ``binary`` (the adaptation paper's) or ``none``).
        first_click_multimask: multimask output on the first click, best predicted IoU kept.
        multimask_always: multimask output on every click (best predicted IoU kept).
        threshold: logit threshold of the binary mask used for IoU and the next click.
    """

    name: str = "sam-feedback"
    max_clicks: int = 20
    target_iou: float | None = 0.85
    clicker: str = "ritm"
    feedback: str = "logits"
    first_click_multimask: bool = True
    multimask_always: bool = False
    threshold: float = 0.0

    def __post_init__(self) -> None:
        if self.max_clicks < 1:
            raise ValueError(f"max_clicks must be >= 1, got {self.max_clicks}")
        if self.target_iou is not None and not 0 < self.target_iou <= 1:
            raise ValueError(f"target_iou must be in (0, 1] or None, got {self.target_iou}")
        if self.clicker not in ("ritm", "simple"):
            raise ValueError(f"clicker must be 'ritm' or 'simple', got {self.clicker!r}")
        FeedbackSettings(self.feedback)  # validates the mode

    @property
    def session_settings(self) -> FeedbackSettings:
        """How each click is decoded (the session's settings)."""
        return FeedbackSettings(self.feedback, self.first_click_multimask, self.multimask_always, self.threshold)

    def default_metrics(self, noc_targets: Sequence[tuple[float, int]] = ()) -> list:
        """IoU and boundary IoU of the final mask, and NoC / FR at each (threshold, clicks) of
        ``noc_targets`` that this loop observes (clicks within the budget, no threshold above the target)."""
        from sam_repro.eval.scoring import default_metrics

        return default_metrics(interactive=True, noc_targets=noc_targets, target_iou=self.target_iou,
                               max_clicks=self.max_clicks)

    def run(self, segmenter: Segmenter, sample: "Sample", objects: Sequence[int], rng: np.random.Generator,
            hooks: Sequence[InteractionHooks] = ()) -> SampleOutput:
        """One session per object, in object order; the object's class name reaches the hooks when the
        sample names its objects (a user knows what they annotate)."""
        per_mask_names = sample.class_map is None and len(sample.class_names) == len(sample.masks)
        outputs = []
        for k in objects:
            gt = sample.masks[k]
            class_name = sample.class_names[k] if per_mask_names else None
            result = run_interactive(segmenter, sample.image, gt, self, sample_id=f"{sample.id}#{k}", hooks=hooks,
                                     rng=rng, class_name=class_name)
            outputs.append(ObjectOutput(k, result.final_prediction, result.final_mask, list(result.ious),
                                        record=result.to_record()))
        return SampleOutput(outputs)


SAM_FEEDBACK = InteractiveProtocol()
SAM_NO_FEEDBACK = InteractiveProtocol(name="sam-no-feedback", feedback="none", multimask_always=True)


@dataclass
class InteractiveResult:
    """The IoU after every click of one sample (the input of NoC / FR)."""

    sample_id: str
    ious: list[float]
    clicks: list[Click] = field(default_factory=list)
    final_mask: np.ndarray | None = None
    final_prediction: Any = None
    diagnostics: dict[str, list[float]] = field(default_factory=dict)
    """per-click internals of the segmenter (:meth:`Segmenter.diagnostics` after each click, e.g. Stable-SAM's
    ``alpha_1``): name -> one value per click; empty for a method that reports none"""

    def to_record(self) -> dict[str, Any]:
        record = {
            "sample_id": self.sample_id,
            "ious": [round(v, 6) for v in self.ious],
            "clicks": [[c.x, c.y, int(c.positive)] for c in self.clicks],
        }
        if self.diagnostics:
            record["diagnostics"] = {name: [round(v, 6) for v in values] for name, values in self.diagnostics.items()}
        return record


def mask_iou(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """IoU of two (H, W) bool masks, pixels in ``ignore`` excluded; 1.0 when both are empty."""
    if ignore is not None:
        pred, gt = pred & ~ignore, gt & ~ignore
    union = np.count_nonzero(pred | gt)
    return float(np.count_nonzero(pred & gt) / union) if union else 1.0


def run_interactive(segmenter: Segmenter, image: np.ndarray, gt: np.ndarray,
                    protocol: InteractiveProtocol = SAM_FEEDBACK, *, sample_id: str = "",
                    ignore: np.ndarray | None = None, hooks: Sequence[InteractionHooks] = (),
                    rng: np.random.Generator | None = None, class_name: str | None = None) -> InteractiveResult:
    """Click on one sample until IoU >= target or the budget is spent.

    Args:
        segmenter: any :class:`Segmenter`; its image is set here, and its own interactive hooks fire
            after ``hooks`` (through the session).
        image: (H, W, 3) uint8 RGB; gt: (H, W) bool; ignore: optional (H, W) bool.
        rng: needed for the ``simple`` clicker's random tie-break.
        class_name: the annotated class, passed to hooks (a user knows what they annotate).

    Returns:
        the IoU after each click (``len(ious)`` = clicks made), the clicks, the final mask and prediction.
    """
    clicker = Clicker(gt, mode=protocol.clicker, ignore=ignore,
                      rng=rng if protocol.clicker == "simple" else None)
    session = InteractiveSession(segmenter, image, protocol.session_settings, hooks=hooks, sample_id=sample_id,
                                 class_name=class_name)
    ious: list[float] = []
    diagnostics: dict[str, list[float]] = {}
    for _ in range(protocol.max_clicks):
        session.add_click(clicker.next_click(session.mask))
        ious.append(mask_iou(session.mask, gt, ignore))
        for name, value in diagnostics_of(segmenter).items():
            diagnostics.setdefault(name, []).append(float(value))
        if protocol.target_iou is not None and ious[-1] >= protocol.target_iou:
            break
    failed = protocol.target_iou is not None and ious[-1] < protocol.target_iou
    event = session.finish(failed)
    return InteractiveResult(sample_id, ious, list(clicker.clicks), event.final_mask, event.final_prediction,
                             diagnostics)
