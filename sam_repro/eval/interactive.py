"""The interactive click loop behind NoC / FR, with hooks for methods that learn from clicks.

For one sample: a simulated user clicks (RITM clicker by default) on the error of the current
prediction, the segmenter predicts from all clicks so far, and the IoU is recorded after every
click until it reaches the target or the click budget runs out.

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
from typing import Any, Protocol

import numpy as np

from sam_repro.methods.base import Prediction, Segmenter
from sam_repro.prompts import Click, Clicker, clicks_to_prompts


@dataclass(frozen=True)
class InteractiveProtocol:
    """Settings of the click loop.

    Attributes:
        name: label recorded with results.
        max_clicks: click budget n of NoC_n / FR_n.
        target_iou: stop once IoU >= this; None never stops early (all ``max_clicks`` recorded).
        clicker: ``"ritm"`` (padded distance transform, first maximum) or ``"simple"`` (the
            adaptation paper's: no padding, random ties).
        feed_logits: pass the previous low-res logits as ``mask_input`` (after the first click).
        first_click_multimask: multimask output on the first click, best predicted IoU kept.
        multimask_always: multimask output on every click (best predicted IoU kept).
        threshold: logit threshold of the binary mask used for IoU and the next click.
    """

    name: str = "sam-feedback"
    max_clicks: int = 20
    target_iou: float | None = 0.85
    clicker: str = "ritm"
    feed_logits: bool = True
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


SAM_FEEDBACK = InteractiveProtocol()
SAM_NO_FEEDBACK = InteractiveProtocol(name="sam-no-feedback", feed_logits=False, multimask_always=True)


@dataclass(frozen=True)
class ClickEvent:
    """What a hook sees after each click."""

    index: int  # 1-based click number
    click: Click
    clicks: tuple[Click, ...]  # all clicks so far, this one included
    prediction: Prediction
    mask: np.ndarray  # (H, W) bool mask shown to the user
    image: np.ndarray  # (H, W, 3) uint8
    mask_input: np.ndarray | None = None  # (1, h, w) low-res logits fed with this click's prompt
    multimask: bool = False  # whether this click was decoded with multimask output


@dataclass(frozen=True)
class SampleEvent:
    """What a hook sees after each sample."""

    sample_id: str
    image: np.ndarray
    clicks: tuple[Click, ...]
    final_mask: np.ndarray
    final_prediction: Prediction
    failed: bool  # the target IoU was not reached within the budget (the user gave up)
    class_name: str | None = None  # the class the user is annotating (known to a real user)


@dataclass(frozen=True)
class SampleStart:
    """What a hook sees before the first click of a sample."""

    sample_id: str
    image: np.ndarray
    class_name: str | None = None


class InteractiveHooks(Protocol):
    """Implemented by methods that act during interaction (e.g. test-time adaptation). A hook may
    also define ``before_sample(segmenter, SampleStart)``; it is called when present."""

    def after_click(self, segmenter: Segmenter, event: ClickEvent) -> None: ...

    def after_sample(self, segmenter: Segmenter, event: SampleEvent) -> None: ...


@dataclass
class InteractiveResult:
    """The IoU after every click of one sample (the input of NoC / FR)."""

    sample_id: str
    ious: list[float]
    clicks: list[Click] = field(default_factory=list)
    final_mask: np.ndarray | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "sample_id": self.sample_id,
            "ious": [round(v, 6) for v in self.ious],
            "clicks": [[c.x, c.y, int(c.positive)] for c in self.clicks],
        }


def mask_iou(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """IoU of two (H, W) bool masks, pixels in ``ignore`` excluded; 1.0 when both are empty."""
    if ignore is not None:
        pred, gt = pred & ~ignore, gt & ~ignore
    union = np.count_nonzero(pred | gt)
    return float(np.count_nonzero(pred & gt) / union) if union else 1.0


def run_interactive(segmenter: Segmenter, image: np.ndarray, gt: np.ndarray,
                    protocol: InteractiveProtocol = SAM_FEEDBACK, *, sample_id: str = "",
                    ignore: np.ndarray | None = None, hooks: Sequence[InteractiveHooks] = (),
                    rng: np.random.Generator | None = None, class_name: str | None = None) -> InteractiveResult:
    """Click on one sample until IoU >= target or the budget is spent.

    Args:
        segmenter: any :class:`Segmenter`; its image is set here.
        image: (H, W, 3) uint8 RGB; gt: (H, W) bool; ignore: optional (H, W) bool.
        rng: needed for the ``simple`` clicker's random tie-break.
        class_name: the annotated class, passed to hooks (a user knows what they annotate).

    Returns:
        the IoU after each click (``len(ious)`` = clicks made), the clicks and the final mask.
    """
    hooks = (*hooks, *getattr(segmenter, "interactive_hooks", ()))  # methods that adapt (e.g. TTA)
    clicker = Clicker(gt, mode=protocol.clicker, ignore=ignore,
                      rng=rng if protocol.clicker == "simple" else None)
    segmenter.set_image(image)
    for hook in hooks:
        if hasattr(hook, "before_sample"):
            hook.before_sample(segmenter, SampleStart(sample_id, image, class_name))
    mask = np.zeros(gt.shape, dtype=bool)
    previous: Prediction | None = None
    ious: list[float] = []
    prediction: Prediction | None = None
    for index in range(1, protocol.max_clicks + 1):
        click = clicker.next_click(mask)
        points, labels = clicks_to_prompts(clicker.clicks)
        multimask = protocol.multimask_always or (index == 1 and protocol.first_click_multimask)
        mask_input = previous.low_res if (protocol.feed_logits and previous is not None) else None
        prediction = segmenter.predict(points=points, labels=labels, mask_input=mask_input, multimask=multimask)
        mask = prediction.logit > protocol.threshold
        ious.append(mask_iou(mask, gt, ignore))
        event = ClickEvent(index, click, clicker.clicks, prediction, mask, image, mask_input, multimask)
        for hook in hooks:
            hook.after_click(segmenter, event)
        previous = prediction
        if protocol.target_iou is not None and ious[-1] >= protocol.target_iou:
            break
    failed = protocol.target_iou is not None and ious[-1] < protocol.target_iou
    assert prediction is not None
    for hook in hooks:
        hook.after_sample(segmenter, SampleEvent(sample_id, image, clicker.clicks, mask, prediction, failed,
                                                     class_name))
    return InteractiveResult(sample_id, ious, list(clicker.clicks), mask)
