"""What a method family shows in the demos beyond its mask: one extension hook per family.

A segmenter declares what it does beyond prompting through its ``capabilities`` (never by attributes a
caller probes for, see :class:`~sam_repro.methods.base.Segmenter`); an extension is registered for one
capability and runs in every :class:`~sam_repro.widgets.session.PromptSession` on a segmenter that declares
it. After every action the session asks each extension what to show: a dict for the status line (and for
tests), optional extra mask layers and extra points for the canvas, and optional panels for the static
figure of a notebook.

Registered today:

* ``"adapts"`` -> :class:`AdaptationExtension` (test-time adaptation, ``tta:*``): how far the mask decoder has
  moved since the object started, the number of adaptation steps the hooks took, and the mask the adapted
  decoder now predicts for the same prompts (so a person sees that it adapted).
* ``"refines"`` -> :class:`RefinementExtension` (DIS-SAM, ``dissam:*``, box only): SAM's coarse mask beside the
  refinement (``DisSamSegmenter.last_coarse``), and how many pixels the refinement changed.

Each family adds one class here, or in its own module calling :func:`register_extension`, and declares the
capability on its segmenter.

* ``"corrects"`` -> :class:`CorrectionExtension` (Pi-SAM): the session's click router
  (:class:`~sam_repro.widgets.session.HeldBox`) sends the clicks made on a held box to the precise interactor as
  ``corrections``; the extension reports where they went and draws them apart.

How the remaining papers' methods plug in:
* Stable-SAM (a capability of its own, e.g. ``"deformable_sampling"``): its extension maps
  ``StableSamSegmenter.last_offsets`` ((B, 2, g, g), embedding-grid units) to image pixels and returns the
  sampling positions as ``points``.
* AlignSAM, capability ``"prompts_itself"``: its extension asks the agent for its points step by step and
  returns them as points numbered in order.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sam_repro.methods.hooks import ClickEvent, InteractionHooks

if TYPE_CHECKING:
    from sam_repro.methods.base import Segmenter
    from sam_repro.widgets.session import PromptSession


class SessionExtension:
    """Base class of a family's extension; every method is a no-op here.

    Attributes:
        name: key of the extension's status in :attr:`Update.extras <sam_repro.widgets.session.Update>`.
    """

    name = "extension"

    def hooks(self) -> tuple[InteractionHooks, ...]:
        """Observers the session fires with the click events (before the method's own hooks run)."""
        return ()

    def on_open(self, session: "PromptSession") -> None:
        """A new object starts on the session's image (also when the session opens)."""

    def after_update(self, session: "PromptSession", action: str) -> dict[str, Any]:
        """After every action (click, box, undo, reset, finish) and the method's hooks: what to show in the
        status line, as ``{label: value}`` (numbers and short strings)."""
        return {}

    def layers(self, session: "PromptSession") -> dict[str, np.ndarray]:
        """Extra (H, W) bool mask layers to draw (name -> mask), e.g. DIS-SAM's coarse mask."""
        return {}

    def points(self, session: "PromptSession") -> list[tuple[float, float, str]]:
        """Extra points to draw, as (x, y, label), e.g. AlignSAM's agent points in order."""
        return []

    def panels(self, session: "PromptSession") -> list[tuple[str, np.ndarray]]:
        """Extra panels of the static figure, as (title, (H, W) bool mask or (H, W, 3) uint8 image)."""
        return [(title, layer) for title, layer in self.layers(session).items()]


#: capability -> factory(segmenter) -> SessionExtension
_EXTENSIONS: dict[str, Callable[["Segmenter"], SessionExtension]] = {}


def register_extension(capability: str, factory: Callable[["Segmenter"], SessionExtension]) -> None:
    """Run ``factory(segmenter)``'s extension in every prompt session on a segmenter whose ``capabilities``
    include ``capability``.

    Raises:
        ValueError: the capability already has an extension.
    """
    if capability in _EXTENSIONS:
        raise ValueError(f"capability {capability!r} already has a demo extension")
    _EXTENSIONS[capability] = factory


def registered_extensions() -> dict[str, Callable[["Segmenter"], SessionExtension]]:
    """capability -> factory, a copy."""
    return dict(_EXTENSIONS)


def extensions_for(segmenter: "Segmenter") -> list[SessionExtension]:
    """The extensions of every capability ``segmenter`` declares (in the order of registration)."""
    return [factory(segmenter) for capability, factory in _EXTENSIONS.items() if capability in segmenter.capabilities]


class AdaptationExtension(SessionExtension):
    """For segmenters that adapt during interaction (capability ``"adapts"``, e.g. ``tta:*``).

    Needs a :class:`~sam_repro.methods.base.SamBacked` segmenter (its declared ``mask_decoder``, ``decode``
    and ``upscale``): after each click and the hooks' adaptation step, it re-decodes the click's prompts
    (the same points, box and fed-back logits) with the adapted decoder, so the status shows what the
    adaptation changed: ``decoder_change`` (L2 norm of the decoder's parameter change since the object
    started), ``adapt_steps`` (clicks that ran the hooks on this object) and ``changed_pixels`` (pixels
    where the adapted decoder's mask differs from the mask shown). :attr:`adapted_mask` is that mask.
    """

    name = "tta"

    def __init__(self, segmenter: "Segmenter"):
        from sam_repro.methods.base import SamBacked

        if not isinstance(segmenter, SamBacked):
            raise TypeError(f"{segmenter.name}: the adaptation view re-decodes with the mask decoder, so it needs a "
                            "SamBacked segmenter")
        self.segmenter = segmenter
        self._start: dict[str, Any] = {}
        self.steps = 0
        self.adapted_mask: np.ndarray | None = None
        self._last_click: ClickEvent | None = None
        extension = self

        class _Recorder(InteractionHooks):
            def after_click(self, segmenter: "Segmenter", event: ClickEvent) -> None:
                extension._last_click = event

        self._recorder = _Recorder()

    def hooks(self) -> tuple[InteractionHooks, ...]:
        return (self._recorder,)

    def on_open(self, session: "PromptSession") -> None:
        self._start = {k: v.detach().clone() for k, v in self.segmenter.mask_decoder.state_dict().items()}
        self.steps, self.adapted_mask, self._last_click = 0, None, None

    def decoder_change(self) -> float:
        """L2 norm of (decoder parameters now - at the object's start)."""
        import torch

        state = self.segmenter.mask_decoder.state_dict()
        total = sum(float(torch.sum((state[k].float() - v.float()) ** 2)) for k, v in self._start.items())
        return float(np.sqrt(total))

    def after_update(self, session: "PromptSession", action: str) -> dict[str, Any]:
        import torch

        if action == "click":
            self.steps += 1
        else:  # undo / reset / finish / box: the shown mask no longer comes from the recorded click
            self.adapted_mask = None
        event = self._last_click
        if action == "click" and event is not None:
            # re-decode the prompt the shown mask came from (its clicks, the held box, the logits fed with
            # it, as the click event recorded them before the adaptation step) with the adapted decoder
            points, labels = session.points, session.labels
            box = session.box
            with torch.no_grad():
                low_res, iou = self.segmenter.decode(
                    points=points[None], labels=labels[None], boxes=None if box is None else box[None],
                    mask_input=None if event.mask_input is None else event.mask_input[None],
                    multimask=event.multimask)
                logits = self.segmenter.upscale(low_res)[0].float().cpu().numpy()
            best = int(torch.argmax(iou[0])) if logits.shape[0] > 1 else 0
            self.adapted_mask = logits[best] > session.settings.threshold
        changed = None if self.adapted_mask is None else int(np.count_nonzero(self.adapted_mask != session.mask))
        return {"adapt_steps": self.steps, "decoder_change": self.decoder_change(), "changed_pixels": changed}

    def layers(self, session: "PromptSession") -> dict[str, np.ndarray]:
        return {} if self.adapted_mask is None else {"adapted decoder, same prompts": self.adapted_mask}


class RefinementExtension(SessionExtension):
    """For two-stage methods that refine SAM's mask (capability ``"refines"``: DIS-SAM): SAM's coarse mask of the
    prediction shown, as a layer beside the refinement, and ``refined_pixels`` (pixels where the refinement
    differs from it) and ``coarse_iou`` (SAM's predicted IoU of the coarse mask) in the status.

    Reads the declared member ``last_coarse`` of :class:`~sam_repro.methods.dissam.DisSamSegmenter` (the coarse
    :class:`~sam_repro.methods.base.Prediction` of its last call).
    """

    name = "dissam"

    def __init__(self, segmenter: "Segmenter"):
        from sam_repro.methods.dissam import DisSamSegmenter

        if not isinstance(segmenter, DisSamSegmenter):
            raise TypeError(f"{segmenter.name}: the refinement view reads DisSamSegmenter.last_coarse")
        self.segmenter = segmenter
        self.coarse_mask: np.ndarray | None = None
        self._coarse_iou: float | None = None

    def on_open(self, session: "PromptSession") -> None:
        self.coarse_mask, self._coarse_iou = None, None

    def after_update(self, session: "PromptSession", action: str) -> dict[str, Any]:
        coarse = self.segmenter.last_coarse
        if action in ("box", "click") and coarse is not None:  # the prediction shown was made just now
            self.coarse_mask, self._coarse_iou = coarse.mask.copy(), coarse.iou
        elif session.prediction is None:  # undone or reset: nothing shown, no coarse mask either
            self.coarse_mask, self._coarse_iou = None, None
        changed = None if self.coarse_mask is None else int(np.count_nonzero(self.coarse_mask != session.mask))
        return {"coarse_iou": self._coarse_iou, "refined_pixels": changed}

    def layers(self, session: "PromptSession") -> dict[str, np.ndarray]:
        return {} if self.coarse_mask is None else {"SAM's coarse mask": self.coarse_mask}


class CorrectionExtension(SessionExtension):
    """For methods with a corrective-click interactor (capability ``"corrects"``: Pi-SAM): where the session's
    click router sent the last clicks (``"interactor"``: Pi-SAM's precise interactor, the box staying SAM's prompt;
    ``"sam"``: SAM's points, without a box or with an untrained interactor) and how many, and the routed clicks
    drawn apart as points labelled ``correction+`` / ``correction-``."""

    name = "pisam"

    def __init__(self, segmenter: "Segmenter"):
        self.segmenter = segmenter
        self.routed: str | None = None

    def on_open(self, session: "PromptSession") -> None:
        self.routed = None

    def after_update(self, session: "PromptSession", action: str) -> dict[str, Any]:
        self.routed = session.clicks_routed_to if session.points.size else None
        count = 0 if self.routed != "interactor" else min(len(session.points), _max_routed())
        return {"clicks_to": self.routed, "corrections": count}

    def points(self, session: "PromptSession") -> list[tuple[float, float, str]]:
        if self.routed != "interactor":
            return []
        chosen = slice(-_max_routed(), None)
        return [(float(x), float(y), "correction+" if label else "correction-")
                for (x, y), label in zip(session.points[chosen], session.labels[chosen])]


class SelfPromptingExtension(SessionExtension):
    """For methods that place their own prompts (capability ``"prompts_itself"``: AlignSAM): the points its agent
    placed after the person's, numbered in order (``agent 1+``, ``agent 2-`` ...: the sign is the label the SRM
    gave), from the declared member ``last_run`` (:class:`~sam_repro.methods.alignsam.segmenter.SelfPrompted`);
    the status says how many steps ran and where the first prompt came from."""

    name = "alignsam"

    def __init__(self, segmenter: "Segmenter"):
        self.segmenter = segmenter
        self.run = None

    def on_open(self, session: "PromptSession") -> None:
        self.run = None

    def after_update(self, session: "PromptSession", action: str) -> dict[str, Any]:
        self.run = getattr(self.segmenter, "last_run", None) if session.prediction is not None else None
        if self.run is None:
            return {"agent_points": 0}
        return {"agent_points": len(self.run.actions), "first_prompt": self.run.initial_from}

    def points(self, session: "PromptSession") -> list[tuple[float, float, str]]:
        if self.run is None:
            return []
        placed = len(self.run.points) - len(self.run.actions)  # the agent's points come after the starting ones
        return [(float(x), float(y), f"agent {k}{'+' if label else '-'}")
                for k, ((x, y), label) in enumerate(zip(self.run.points[placed:], self.run.labels[placed:]), start=1)]


class SamplingExtension(SessionExtension):
    """For Stable-SAM (capability ``"deformable_sampling"``): where its layer-2 deformable sampling reads the image
    features, as image points: the ``count`` embedding cells whose offsets are longest, each drawn at its sampled
    position (cell centre + offset, in pixels of the original image); the status gives the mean and largest offset
    (in cells) and the routing weight α1 of the last prompt."""

    name = "stablesam"

    def __init__(self, segmenter: "Segmenter", count: int = 16):
        self.segmenter, self.count = segmenter, count
        self.samples: list[tuple[float, float, str]] = []

    def after_update(self, session: "PromptSession", action: str) -> dict[str, Any]:
        offsets, alpha = self.segmenter.last_offsets, self.segmenter.last_alpha
        if offsets is None or session.prediction is None:
            self.samples = []
            return {"alpha1": None, "mean_offset": None}
        self.samples = sampling_points(offsets[-1], session.image.shape[:2], self.segmenter.model.image_encoder.img_size,
                                       self.count)
        length = np.hypot(offsets[-1, 0], offsets[-1, 1])
        return {"alpha1": float(alpha[-1, 0]), "mean_offset": float(length.mean()), "max_offset": float(length.max())}

    def points(self, session: "PromptSession") -> list[tuple[float, float, str]]:
        return self.samples


def sampling_points(offsets: np.ndarray, image_shape: tuple[int, int], input_size: int,
                    count: int) -> list[tuple[float, float, str]]:
    """The ``count`` longest offsets of a (2, g, g) field (x, y in cells) as sampled positions (x, y, "sample") in
    the original image's pixels: cell (i, j) of the padded square input of ``input_size`` px reads at
    ((j + 0.5 + dx) * input_size / g, (i + 0.5 + dy) * input_size / g), divided by the resize factor
    input_size / max(H, W)."""
    grid = offsets.shape[-1]
    cell = input_size / grid
    scale = max(image_shape) / input_size
    length = np.hypot(offsets[0], offsets[1]).ravel()
    chosen = np.argsort(-length, kind="stable")[:count]
    rows, cols = np.unravel_index(chosen, (grid, grid))
    return [(float((c + 0.5 + offsets[0, r, c]) * cell * scale), float((r + 0.5 + offsets[1, r, c]) * cell * scale),
             "sample") for r, c in zip(rows, cols)]


def _max_routed() -> int:
    from sam_repro.widgets.session import MAX_ROUTED_CORRECTIONS

    return MAX_ROUTED_CORRECTIONS


register_extension("adapts", AdaptationExtension)
register_extension("corrects", CorrectionExtension)
register_extension("prompts_itself", SelfPromptingExtension)
register_extension("deformable_sampling", SamplingExtension)
register_extension("refines", RefinementExtension)
