"""An interactive segmentation session on one image: clicks in, masks out, the method's hooks fired.

The same object serves the simulated user of the NoC / FR loop (:func:`sam_repro.eval.interactive.run_interactive`)
and a person clicking in the widgets, so a method that learns during interaction (test-time adaptation)
sees real clicks exactly as simulated ones: ``before_sample`` when the session opens, ``after_click``
after every click's prediction, ``after_sample`` when it is finished.

How the previous prediction is fed back with the next click is set by :class:`FeedbackSettings`
(research/metrics.md section 7: public SAM evaluations differ).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sam_repro.methods.base import Prediction, Segmenter
from sam_repro.methods.hooks import ClickEvent, InteractionHooks, SampleEvent, SampleStart
from sam_repro.prompts import Click, clicks_to_prompts


FEEDBACK_MODES = ("logits", "binary", "none")


@dataclass(frozen=True)
class FeedbackSettings:
    """How each click is decoded.

    Attributes:
        feedback: what the previous prediction passes to the next click as ``mask_input``:

            * ``"logits"``: its low-res logits, nothing with the first click (SAM's own interactive training
              and the FocSAM-style evaluations);
            * ``"binary"``: the binary mask shown, on the low-res grid (:func:`~sam_repro.prompts.binary_mask_prompt`),
              and an all-background mask with the first click: the adaptation paper's f(x, p_1:t, m_t-1) with
              m_0 = 0, as its follow-up code does (needs a SAM-backed segmenter, whose grid it is);
            * ``"none"``: nothing (MST-style).
        first_click_multimask: multimask output on the first click, the best predicted IoU kept.
        multimask_always: multimask output on every click (the best predicted IoU kept).
        threshold: logit threshold of the binary mask shown (and used for the next simulated click).
    """

    feedback: str = "logits"
    first_click_multimask: bool = True
    multimask_always: bool = False
    threshold: float = 0.0

    def __post_init__(self) -> None:
        if self.feedback not in FEEDBACK_MODES:
            raise ValueError(f"feedback must be one of {FEEDBACK_MODES}, got {self.feedback!r}")


class InteractiveSession:
    """Clicks on one image (one object), with the segmenter's and the caller's hooks.

    Opening a session sets the image and fires ``before_sample``; :meth:`click` predicts from all clicks so
    far (with the previous logits fed back as the settings say) and fires ``after_click``; :meth:`undo`
    removes the last click; :meth:`finish` fires ``after_sample`` and closes the session.

    Args:
        segmenter: any :class:`Segmenter`; its :attr:`~Segmenter.interactive_hooks` are fired after ``hooks``.
        image: (H, W, 3) uint8 RGB.
        settings: how clicks are decoded.
        hooks: further hooks (e.g. an observer in a benchmark).
        sample_id / class_name: passed to the hooks (a user knows what they annotate).
    """

    def __init__(self, segmenter: Segmenter, image: np.ndarray, settings: FeedbackSettings = FeedbackSettings(), *,
                 hooks: Sequence[InteractionHooks] = (), sample_id: str = "", class_name: str | None = None):
        self.segmenter = segmenter
        self.image = image
        self.settings = settings
        self.sample_id = sample_id
        self.class_name = class_name
        self.hooks: tuple[InteractionHooks, ...] = (*hooks, *segmenter.interactive_hooks)
        self._clicks: list[Click] = []
        self._predictions: list[Prediction] = []
        self._finished = False
        segmenter.set_image(image)
        for hook in self.hooks:
            hook.before_sample(segmenter, SampleStart(sample_id, image, class_name))

    @property
    def clicks(self) -> tuple[Click, ...]:
        return tuple(self._clicks)

    @property
    def prediction(self) -> Prediction | None:
        """The prediction shown now (None before the first click)."""
        return self._predictions[-1] if self._predictions else None

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool mask shown now (all background before the first click)."""
        if self.prediction is None:
            return np.zeros(self.image.shape[:2], dtype=bool)
        return self.prediction.logit > self.settings.threshold

    def click(self, x: int, y: int, positive: bool) -> Prediction:
        """Add a click at pixel column ``x``, row ``y`` (foreground if ``positive``) and predict.

        Raises:
            RuntimeError: the session is finished.
            ValueError: the click lies outside the image.
        """
        if self._finished:
            raise RuntimeError(f"session {self.sample_id!r} is finished: open a new one for another sample")
        height, width = self.image.shape[:2]
        if not (0 <= int(x) < width and 0 <= int(y) < height):
            raise ValueError(f"click ({x}, {y}) lies outside the {width}x{height} image (x is the column, y the row)")
        click = Click(int(x), int(y), bool(positive))
        return self._predict_with(click)

    def add_click(self, click: Click) -> Prediction:
        """:meth:`click` with a :class:`~sam_repro.prompts.Click` (the simulated user's)."""
        return self.click(click.x, click.y, click.positive)

    def _predict_with(self, click: Click) -> Prediction:
        self._clicks.append(click)
        index = len(self._clicks)
        settings = self.settings
        points, labels = clicks_to_prompts(self._clicks)
        multimask = settings.multimask_always or (index == 1 and settings.first_click_multimask)
        mask_input = self._mask_input()
        prediction = self.segmenter.predict(points=points, labels=labels, mask_input=mask_input, multimask=multimask)
        self._predictions.append(prediction)
        event = ClickEvent(index, click, self.clicks, prediction, self.mask, self.image, mask_input, multimask)
        for hook in self.hooks:
            hook.after_click(self.segmenter, event)
        return prediction

    def _mask_input(self) -> np.ndarray | None:
        """What the next click feeds back (see :class:`FeedbackSettings`)."""
        mode, previous = self.settings.feedback, self.prediction
        if mode == "logits":
            return None if previous is None else previous.low_res
        if mode == "none":
            return None
        from sam_repro.methods.base import SamBacked
        from sam_repro.prompts import binary_mask_prompt

        if not isinstance(self.segmenter, SamBacked):
            raise TypeError(f"feedback='binary' puts the mask on a SAM low-res grid; {self.segmenter.name} is not "
                            "SAM-backed")
        embedding = self.segmenter.embedding
        return binary_mask_prompt(self.mask, embedding.input_size, self.segmenter.engine.transform.target_length,
                                  self.segmenter.low_res_size)

    def undo(self) -> Prediction | None:
        """Remove the last click; the prediction shown before it is shown again, and the next click is fed
        that prediction's logits (the state is exactly as before the removed click). Hooks are not told:
        what a method learnt from the removed click stays (test-time adaptation with reset discards it at
        :meth:`finish`). Returns the prediction now shown (None when no click is left)."""
        if not self._clicks:
            raise ValueError("nothing to undo: no click in this session")
        self._clicks.pop()
        self._predictions.pop()
        return self.prediction

    def finish(self, failed: bool = False) -> SampleEvent:
        """Close the session and fire ``after_sample`` (``failed``: the user gave up before reaching the
        target; test-time adaptation does not learn from a failed mask by default).

        Raises:
            RuntimeError: no click was made, or the session is already finished.
        """
        if self._finished:
            raise RuntimeError(f"session {self.sample_id!r} is already finished")
        if self.prediction is None:
            raise RuntimeError(f"session {self.sample_id!r}: finish() needs at least one click")
        self._finished = True
        event = SampleEvent(self.sample_id, self.image, self.clicks, self.mask, self.prediction, bool(failed),
                            self.class_name)
        for hook in self.hooks:
            hook.after_sample(self.segmenter, event)
        return event
