"""The prompt session behind the click-and-box demos: pure Python, no widget imports, tested headless.

A :class:`PromptSession` is what a person's clicks and boxes drive. Clicks go through the very
:class:`~sam_repro.eval.session.InteractiveSession` that the simulated user of the NoC loop drives, so
the method's hooks (test-time adaptation's steps) fire for a person's clicks exactly as for simulated
ones, and the previous low-res logits are fed back as :class:`~sam_repro.eval.session.FeedbackSettings`
say. On top of it the prompt session adds what a person does and a simulated user does not:

* **a box** (xyxy pixels), held for every later click of the object (it is decoded with each click's
  points, the way SAM's demo refines a box with clicks). A box starts the object over: clicks made
  before it corrected another mask, so they are dropped (for the method, the previous attempt ends as
  a failed sample: test-time adaptation with reset discards what it learnt from it);
* **undo** of the last prompt (click or box): the state is exactly the one before that prompt, so the
  feedback chain restarts from there: the undone prediction's logits are never fed back, and undoing
  back to the first prompt restarts the chain from nothing;
* **reset** (all prompts off; the attempt ends as a failed sample) and **finish** (the object is done:
  ``after_sample`` fires, test-time adaptation takes its image-level step; the next object starts);
* **extensions** per method family (:mod:`sam_repro.widgets.extensions`): what a method shows beyond its
  mask (test-time adaptation shows how far its decoder moved and what it now predicts).

Every action returns an :class:`Update`: the mask shown, the predicted IoU, and timings.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sam_repro.eval.session import FeedbackSettings, InteractiveSession
from sam_repro.methods.base import Prediction, SamBacked, Segmenter
from sam_repro.methods.hooks import ClickEvent, InteractionHooks, SampleEvent
from sam_repro.validation import as_rgb_image, check_box

ACTIONS = ("click", "box", "undo", "reset", "finish")


@dataclass(frozen=True)
class Update:
    """What one action of the person changed.

    Attributes:
        action: one of :data:`ACTIONS`.
        mask: (H, W) bool mask shown now (all False when no prompt is left).
        prediction: the prediction shown now (None when no prompt is left).
        decode_ms: the method's prediction for this action (0 for undo/reset/finish, which decode nothing).
        hooks_ms: the method's hooks after it (test-time adaptation's Adam step), 0 when none ran.
        extras: per extension, what it shows (name -> value), e.g. ``{"tta": {"decoder_change": 0.01, ...}}``.
    """

    action: str
    mask: np.ndarray
    prediction: Prediction | None
    decode_ms: float = 0.0
    hooks_ms: float = 0.0
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def iou(self) -> float | None:
        """The model's predicted IoU of the mask shown (None without a prediction)."""
        return None if self.prediction is None else self.prediction.iou


#: Pi-SAM's interactor takes at most this many corrective clicks; the router passes the latest ones.
MAX_ROUTED_CORRECTIONS = 10


class _HeldBoxPrompt:
    """The part of :class:`HeldBox` that does not depend on what it wraps: every ``predict`` without a box of
    its own gets the held box (None: none), everything else is the wrapped segmenter's.

    **Click router** (capability ``"corrects"``, Pi-SAM): with a box held, the clicks are corrective clicks of the
    box prediction, so they go to the method's interactor as ``corrections`` / ``correction_labels`` (a positive
    click marks missed foreground, label 1; a negative one false foreground, label 0; the latest
    :data:`MAX_ROUTED_CORRECTIONS`), the box stays SAM's prompt. Without a box, or while the interactor is untrained
    (the method refuses corrections), the clicks are SAM's points as for any method. :attr:`routed` says what
    happened on the last call (``"interactor"``, ``"sam"`` or ``None`` without clicks) for the demos' status."""

    inner: Segmenter
    box: np.ndarray | None
    routed: str | None = None

    def set_image(self, image: np.ndarray) -> None:
        self.inner.set_image(image)

    def reset_image(self) -> None:
        self.inner.reset_image()

    def predict(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                box: np.ndarray | None = None, mask_input: np.ndarray | None = None,
                multimask: bool = False) -> Prediction:
        box = self.box if box is None else box
        self.routed = None if points is None else "sam"
        if points is not None and box is not None and "corrects" in self.inner.capabilities:
            try:
                prediction = self.inner.predict(
                    box=box, mask_input=mask_input, multimask=multimask,
                    corrections=np.asarray(points)[-MAX_ROUTED_CORRECTIONS:],
                    correction_labels=np.asarray(labels)[-MAX_ROUTED_CORRECTIONS:])
                self.routed = "interactor"
                return prediction
            except RuntimeError:  # an untrained interactor refuses corrections: the clicks stay SAM's points
                pass
        return self.inner.predict(points=points, labels=labels, box=box, mask_input=mask_input, multimask=multimask)

    @property
    def capabilities(self) -> frozenset[str]:  # type: ignore[override]
        return self.inner.capabilities

    @property
    def interactive_hooks(self) -> tuple[InteractionHooks, ...]:
        return self.inner.interactive_hooks

    @property
    def prompt_kinds(self) -> frozenset[str]:  # type: ignore[override]
        return self.inner.prompt_kinds

    def info(self) -> dict[str, Any]:
        return self.inner.info()


class HeldBox(_HeldBoxPrompt, Segmenter):
    """A segmenter that adds a held box prompt to every prediction (composition by wrapping, as the design
    wants: the interactive session needs no box argument of its own). :func:`hold_box` picks the
    :class:`SamBacked` variant for SAM-backed segmenters, so ``feedback="binary"`` keeps working."""

    def __init__(self, inner: Segmenter):
        self.inner, self.box, self.name = inner, None, inner.name


class HeldBoxSamBacked(_HeldBoxPrompt, SamBacked):
    """:class:`HeldBox` around a :class:`SamBacked` segmenter: its declared members are delegated."""

    def __init__(self, inner: SamBacked):
        self.inner, self.box, self.name = inner, None, inner.name

    @property
    def model(self):  # type: ignore[override]
        return self.inner.model

    @property
    def engine(self):  # type: ignore[override]
        return self.inner.engine

    @property
    def embedding(self):
        return self.inner.embedding

    @property
    def decoder_options(self) -> dict[str, Any]:
        return self.inner.decoder_options

    @property
    def mask_decoder(self):
        return self.inner.mask_decoder

    @property
    def low_res_size(self) -> int:
        return self.inner.low_res_size

    def decode(self, *args: Any, **kwargs: Any):
        return self.inner.decode(*args, **kwargs)

    def upscale(self, low_res):
        return self.inner.upscale(low_res)


def hold_box(segmenter: Segmenter) -> HeldBox | HeldBoxSamBacked:
    """Wrap ``segmenter`` so that a box can be held for every later prediction (``wrapper.box = xyxy``)."""
    return HeldBoxSamBacked(segmenter) if isinstance(segmenter, SamBacked) else HeldBox(segmenter)


class _DecodeTimer(InteractionHooks):
    """Fired first after each click (the caller's hooks run before the segmenter's): marks the end of the
    decode, so the time of the method's own hooks (e.g. an Adam step) is measured apart."""

    def __init__(self) -> None:
        self.decoded_at = 0.0

    def after_click(self, segmenter: Segmenter, event: ClickEvent) -> None:
        self.decoded_at = time.perf_counter()


class PromptSession:
    """Points, a box, undo, reset and finish on one image, for any registered segmenter.

    Args:
        segmenter: any :class:`~sam_repro.methods.base.Segmenter` (``load_segmenter("tta:tiny")``...).
        image: (H, W, 3) uint8 RGB (grayscale and RGBA are converted).
        settings: how clicks are decoded and what is fed back (the NoC loop's settings; default: the previous
            low-res logits, multimask on the first click).
        hooks: further hooks, fired for every click before the segmenter's own.
        extensions: extension objects to run; None picks those registered for the segmenter's family
            (:func:`sam_repro.widgets.extensions.extensions_for`).
        sample_id / class_name: passed to the hooks (test-time adaptation keeps one decoder per class).

    Coordinates: x is the column, y the row, in image pixels; boxes are ``[x0, y0, x1, y1]``.
    """

    def __init__(self, segmenter: Segmenter, image: np.ndarray, settings: FeedbackSettings = FeedbackSettings(), *,
                 hooks: Sequence[InteractionHooks] = (), extensions: Sequence[Any] | None = None,
                 sample_id: str = "demo", class_name: str | None = None):
        from sam_repro.widgets.extensions import extensions_for

        self.segmenter = segmenter
        self.image = as_rgb_image(image)
        if "mask_input" not in segmenter.prompt_kinds and settings.feedback != "none":
            # a method that takes no mask prompt (declared in prompt_kinds) is fed nothing back
            settings = replace(settings, feedback="none")
        self.settings = settings
        self.sample_id = sample_id
        self.class_name = class_name
        self._held = hold_box(segmenter)
        self._timer = _DecodeTimer()
        self.extensions = list(extensions_for(segmenter) if extensions is None else extensions)
        observers = [hook for extension in self.extensions for hook in extension.hooks()]
        self._hooks: tuple[InteractionHooks, ...] = (self._timer, *hooks, *observers)
        self._actions: list[str] = []  # "click" / "box", in order: what undo takes back
        self._box_prediction: Prediction | None = None
        self.objects_done = 0
        self._interactive = self._open()

    # -- state ---------------------------------------------------------------------------------------
    @property
    def clicks_routed_to(self) -> str | None:
        """Where the last prediction's clicks went: ``"interactor"`` (a method with capability ``"corrects"``, a box
        held), ``"sam"`` (SAM's points) or None (no clicks)."""
        return self._held.routed

    @property
    def interactive(self) -> InteractiveSession:
        """The interactive session of the current object (the one the simulated user drives)."""
        return self._interactive

    @property
    def clicks(self):
        """The clicks of the current object, in order (:class:`~sam_repro.prompts.Click`)."""
        return self._interactive.clicks

    @property
    def points(self) -> np.ndarray:
        """(N, 2) float64 xy of the clicks."""
        return np.array([[c.x, c.y] for c in self.clicks], dtype=np.float64).reshape(-1, 2)

    @property
    def labels(self) -> np.ndarray:
        """(N,) int64, 1 = positive, 0 = negative."""
        return np.array([int(c.positive) for c in self.clicks], dtype=np.int64)

    @property
    def box(self) -> np.ndarray | None:
        """(4,) float64 xyxy held for the current object, or None."""
        return None if self._held.box is None else self._held.box.copy()

    @property
    def prediction(self) -> Prediction | None:
        """The prediction shown now: the last click's, else the box's, else None."""
        return self._interactive.prediction or self._box_prediction

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool mask shown now."""
        if self.prediction is None:
            return np.zeros(self.image.shape[:2], dtype=bool)
        return self.prediction.logit > self.settings.threshold

    @property
    def can_undo(self) -> bool:
        return bool(self._actions)

    # -- actions -------------------------------------------------------------------------------------
    def click(self, x: float, y: float, positive: bool = True) -> Update:
        """A click at column ``x``, row ``y`` (rounded to the pixel); ``positive`` False for background.

        Raises:
            ValueError: the click lies outside the image, or the method takes no points (``prompt_kinds``).
        """
        if "points" not in self.segmenter.prompt_kinds:
            raise ValueError(f"{self.segmenter.name} takes no points ({', '.join(sorted(self.segmenter.prompt_kinds))}"
                             " only): draw a box")
        start = time.perf_counter()
        self._interactive.click(int(round(x)), int(round(y)), bool(positive))
        end = time.perf_counter()
        self._actions.append("click")
        return self._update("click", decode_ms=(self._timer.decoded_at - start) * 1e3,
                            hooks_ms=(end - self._timer.decoded_at) * 1e3)

    def set_box(self, box: Sequence[float]) -> Update:
        """Hold the box ``[x0, y0, x1, y1]`` (corners in any order, clipped to the image) and predict from it.

        A box starts the object over: clicks made before it are dropped and that attempt ends as a failed
        sample for the method's hooks (see the module docstring).

        Raises:
            ValueError: not 4 finite numbers, degenerate (zero width or height), outside the image, or the
                method takes no box (``prompt_kinds``).
        """
        if "box" not in self.segmenter.prompt_kinds:
            raise ValueError(f"{self.segmenter.name} takes no box ({', '.join(sorted(self.segmenter.prompt_kinds))}"
                             " only): click instead")
        arr = np.asarray(box, dtype=np.float64).reshape(-1)
        if arr.shape != (4,):
            raise ValueError(f"box must be 4 numbers x0, y0, x1, y1 (xyxy pixels), got shape {np.shape(box)}")
        height, width = self.image.shape[:2]
        x0, x1 = sorted(arr[[0, 2]])
        y0, y1 = sorted(arr[[1, 3]])
        xyxy = np.array([x0, y0, x1, y1], dtype=np.float64)
        check_box(xyxy, (height, width))  # finite and overlapping the image
        xyxy = np.clip(xyxy, 0, [width - 1, height - 1, width - 1, height - 1])
        if xyxy[2] <= xyxy[0] or xyxy[3] <= xyxy[1]:
            raise ValueError(f"box {arr.tolist()} has no area inside the {width}x{height} image")
        if self.clicks:
            self._close(failed=True)
            self._interactive = self._open()
        self._held.box = xyxy
        self._actions = ["box"]
        start = time.perf_counter()
        # a box alone is one unambiguous prompt: one mask, as SamPredictor's examples decode it
        self._box_prediction = self._held.predict(multimask=False)
        return self._update("box", decode_ms=(time.perf_counter() - start) * 1e3)

    def undo(self) -> Update:
        """Take back the last prompt (click or box); the mask before it is shown again.

        Raises:
            ValueError: no prompt to undo.
        """
        if not self._actions:
            raise ValueError("nothing to undo: no click or box on this object")
        if self._actions.pop() == "click":
            self._interactive.undo()
        else:  # the box was the first prompt of the object: nothing is left
            self._held.box, self._box_prediction = None, None
        return self._update("undo")

    def reset(self) -> Update:
        """All prompts off; the attempt ends as a failed sample for the method's hooks."""
        if self.clicks:
            self._close(failed=True)
        self._interactive = self._open()
        return self._update("reset")

    def finish(self, failed: bool = False) -> Update:
        """The object is done: ``after_sample`` fires (test-time adaptation's image-level step when it has
        clicks to learn from), then the next object starts with no prompt.

        Raises:
            ValueError: no prompt on this object.
        """
        if not self._actions:
            raise ValueError("nothing to finish: no click or box on this object")
        if self.clicks:  # a box alone gives the hooks nothing: SampleEvent carries clicks
            self._close(failed=failed)
        self.objects_done += 1
        self._interactive = self._open()
        return self._update("finish")

    # -- internals -----------------------------------------------------------------------------------
    def _open(self) -> InteractiveSession:
        self._held.box, self._box_prediction, self._actions = None, None, []
        session = InteractiveSession(self._held, self.image, self.settings, hooks=self._hooks,
                                     sample_id=f"{self.sample_id}/{self.objects_done}", class_name=self.class_name)
        for extension in self.extensions:
            extension.on_open(self)
        return session

    def _close(self, failed: bool) -> SampleEvent:
        return self._interactive.finish(failed=failed)

    def _update(self, action: str, decode_ms: float = 0.0, hooks_ms: float = 0.0) -> Update:
        extras = {ext.name: ext.after_update(self, action) for ext in self.extensions}
        return Update(action, self.mask, self.prediction, decode_ms, hooks_ms, extras)

    def feedback_for_next_click(self) -> np.ndarray | None:
        """What the next click will be fed as ``mask_input`` ((1, h, w) low-res logits, or None), as the
        settings say; the same value the next :class:`~sam_repro.methods.hooks.ClickEvent` carries."""
        return self._interactive._mask_input()  # noqa: SLF001 - the one rule, kept in one place
