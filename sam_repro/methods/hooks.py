"""What a method that acts during interaction sees: the events of an interactive session, and the hooks
that receive them.

A session (:class:`sam_repro.eval.session.InteractiveSession`) fires the same events whether a simulated
user clicks (the NoC loop) or a person does (the widgets), so a method such as test-time adaptation
reacts to real clicks exactly as to simulated ones. Events carry what a real user's session exposes
(the image, the clicks, the predictions shown), never the ground truth.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sam_repro.methods.base import Prediction
from sam_repro.prompts import Click

if TYPE_CHECKING:
    from sam_repro.methods.base import Segmenter


@dataclass(frozen=True)
class SampleStart:
    """Before the first click of a sample (an image and the object annotated on it)."""

    sample_id: str
    image: np.ndarray  # (H, W, 3) uint8
    class_name: str | None = None  # the class the user is annotating (known to a real user)


@dataclass(frozen=True)
class ClickEvent:
    """After each click, once its prediction is shown."""

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
    """After the last click of a sample."""

    sample_id: str
    image: np.ndarray
    clicks: tuple[Click, ...]
    final_mask: np.ndarray
    final_prediction: Prediction
    failed: bool  # the target IoU was not reached within the budget (the user gave up)
    class_name: str | None = None


class InteractionHooks:
    """Base class of what acts during interaction (e.g. test-time adaptation); every method is a no-op
    here, so a hook overrides only the events it uses. A segmenter lists its hooks in
    :attr:`~sam_repro.methods.base.Segmenter.interactive_hooks`."""

    def before_sample(self, segmenter: "Segmenter", event: SampleStart) -> None:
        """Called once before the first click of a sample."""

    def after_click(self, segmenter: "Segmenter", event: ClickEvent) -> None:
        """Called after every click, with the prediction shown for it."""

    def after_sample(self, segmenter: "Segmenter", event: SampleEvent) -> None:
        """Called once after the last click of a sample."""
