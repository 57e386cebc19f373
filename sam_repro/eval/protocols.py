"""Prompt protocols: how a segmenter is run on one sample, one class per scheme.

A protocol is a class with one method, :meth:`Protocol.run`: it runs a segmenter on the chosen objects
of one sample and returns what the harness scores (:class:`ObjectOutput` per object, an optional
image-level class map). A new prompting scheme (a self-prompting agent, corrective clicks) is a new
class; the harness never branches on the protocol's type.

The non-interactive protocol (one prompt per object) is :class:`PromptProtocol` below; the interactive
click loop is :class:`sam_repro.eval.interactive.InteractiveProtocol`.

Conventions (research/metrics.md section 8): boxes are HQ-SAM's tight inclusive boxes
(:func:`sam_repro.prompts.mask_to_box`); noisy boxes are DN-DETR-style with a scale (0.4 for
Stable-SAM), optionally redrawn until their IoU with the tight box reaches a minimum (our
reconstruction of Stable-SAM's unpublished filter); point prompts are uniform random foreground
pixels (HQ-SAM) or the oracle first click (the deepest interior pixel, RITM). Multimask output keeps
the mask with the highest predicted IoU (SAM's convention for ambiguous prompts).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from sam_repro.prompts import mask_to_box, noisy_box, oracle_first_click, random_points

if TYPE_CHECKING:
    from sam_repro.data.sample import Sample
    from sam_repro.eval.scoring import MetricSpec
    from sam_repro.methods.base import Prediction, Segmenter
    from sam_repro.methods.hooks import InteractionHooks


@dataclass
class ObjectOutput:
    """What a protocol produced for one object of a sample.

    Attributes:
        object: index of the object in ``Sample.masks``.
        prediction: the final prediction.
        mask: (H, W) bool, the final binary mask (what the user sees).
        ious: IoU after every click (interactive protocols), else None.
        record: protocol-specific fields stored in the object's record (predicted IoU, clicks...).
    """

    object: int
    prediction: "Prediction"
    mask: np.ndarray
    ious: list[float] | None = None
    record: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def probability(self) -> np.ndarray:
        """(H, W) float32 in [0, 1]: the sigmoid of the final logits (computed once, when a metric reads it)."""
        return self.prediction.probability


@dataclass
class SampleOutput:
    """What a protocol produced for one sample: its objects, and an (H, W) int class map when the method
    labels the whole image (semantic protocols), else None."""

    objects: list[ObjectOutput]
    class_map: np.ndarray | None = None


class Protocol(ABC):
    """How a segmenter is run on one sample. Subclasses are frozen dataclasses with a ``name`` (recorded
    with results) whose fields define the protocol (they enter the harness's run key)."""

    name: str

    @abstractmethod
    def run(self, segmenter: "Segmenter", sample: "Sample", objects: Sequence[int], rng: np.random.Generator,
            hooks: Sequence["InteractionHooks"] = ()) -> SampleOutput:
        """Run ``segmenter`` on the objects ``objects`` (indices into ``sample.masks``) of ``sample``.

        Args:
            rng: the sample's generator (``default_rng([seed, index])``): random prompts are drawn from it.
            hooks: interaction hooks of the caller (fired by interactive protocols).
        """

    def default_metrics(self, noc_targets: Sequence[tuple[float, int]] = ()) -> list["MetricSpec"]:
        """What the harness scores when the caller names no metrics: mask IoU and boundary IoU per object
        (HQ-SAM's evaluation). ``noc_targets`` concern protocols that click."""
        from sam_repro.eval.scoring import default_metrics

        return default_metrics()

PROMPT_KINDS = ("box", "noisy_box", "points", "oracle_point")


def diagnostics_of(segmenter: "Segmenter") -> dict[str, float]:
    """:meth:`Segmenter.diagnostics` of the last prediction; {} for a duck-typed segmenter without it (an adapter
    around another library's predictor, a test double)."""
    method = getattr(segmenter, "diagnostics", None)
    return dict(method()) if callable(method) else {}


@dataclass(frozen=True)
class PromptProtocol(Protocol):
    """One prompt per object.

    Attributes:
        name: label recorded with results (e.g. ``tight_box``, ``noisy_box_0.4``, ``3_points``).
        prompt: one of ``box``, ``noisy_box``, ``points``, ``oracle_point``.
        noise_scale: noisy-box scale.
        min_box_iou: noisy-box rejection threshold (None: no filter).
        n_points: random positive points for ``points``.
        multimask: ask for three masks and keep the best predicted IoU.
    """

    name: str
    prompt: str
    noise_scale: float = 0.0
    min_box_iou: float | None = None
    n_points: int = 1
    multimask: bool = False

    def __post_init__(self) -> None:
        if self.prompt not in PROMPT_KINDS:
            raise ValueError(f"prompt must be one of {PROMPT_KINDS}, got {self.prompt!r}")

    def prompts_for(self, gt: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
        """Keyword arguments for ``Segmenter.predict`` prompting the object ``gt`` ((H, W) bool)."""
        if self.prompt == "box":
            return {"box": mask_to_box(gt), "multimask": self.multimask}
        if self.prompt == "noisy_box":
            box = noisy_box(mask_to_box(gt), gt.shape, rng, scale=self.noise_scale, min_iou=self.min_box_iou,
                            on_failure="best")
            return {"box": box, "multimask": self.multimask}
        if self.prompt == "points":
            points, labels = random_points(gt, rng, self.n_points, allow_fewer=True)
            return {"points": points, "labels": labels, "multimask": self.multimask}
        click = oracle_first_click(gt)
        return {"points": np.array([[click.x, click.y]], dtype=np.float64), "labels": np.array([1]),
                "multimask": self.multimask}

    def run(self, segmenter: "Segmenter", sample: "Sample", objects: Sequence[int], rng: np.random.Generator,
            hooks: Sequence["InteractionHooks"] = ()) -> SampleOutput:
        """Set the image once, then one prediction per object from :meth:`prompts_for` (drawn in object order)."""
        segmenter.set_image(sample.image)
        outputs = []
        for k in objects:
            prediction = segmenter.predict(**self.prompts_for(sample.masks[k], rng))
            outputs.append(ObjectOutput(k, prediction, prediction.mask,
                                        record={"predicted_iou": prediction.iou, **diagnostics_of(segmenter)}))
        return SampleOutput(outputs)


@dataclass(frozen=True)
class RepeatedPromptProtocol(Protocol):
    """``draws`` independent prompts of ``base``'s kind per object (Stable-SAM's Table 5: mean and std over prompt
    samples; its ST, our reconstruction): one :class:`ObjectOutput` per (object, draw), so IoU and boundary IoU
    average over objects and draws, with ``draw`` (0..K-1) in each record; the object's ST reconstruction (mean
    pairwise IoU of its K masks, :func:`~sam_repro.metrics.stability.stable_sam_st_reconstruction`) is in the record
    of its draw 0 (``st_reconstruction``; None on the others, so averaging records of draw 0 gives the dataset's).
    The K prompts of an object are drawn one after the other from the sample's generator."""

    name: str
    base: PromptProtocol
    draws: int = 5

    def __post_init__(self) -> None:
        if self.draws < 1:
            raise ValueError(f"draws must be >= 1, got {self.draws}")

    def run(self, segmenter: "Segmenter", sample: "Sample", objects: Sequence[int], rng: np.random.Generator,
            hooks: Sequence["InteractionHooks"] = ()) -> SampleOutput:
        from sam_repro.metrics.stability import stable_sam_st_reconstruction

        segmenter.set_image(sample.image)
        outputs = []
        for k in objects:
            predictions, diagnostics = [], []
            for _ in range(self.draws):
                predictions.append(segmenter.predict(**self.base.prompts_for(sample.masks[k], rng)))
                diagnostics.append(diagnostics_of(segmenter))
            st = stable_sam_st_reconstruction(np.stack([p.mask for p in predictions])) if self.draws > 1 else None
            for draw, (prediction, extra) in enumerate(zip(predictions, diagnostics)):
                outputs.append(ObjectOutput(k, prediction, prediction.mask,
                                            record={"draw": draw, "predicted_iou": prediction.iou, **extra,
                                                    "st_reconstruction": st if draw == 0 else None}))
        return SampleOutput(outputs)


TIGHT_BOX = PromptProtocol("tight_box", "box")
CENTER_POINT = PromptProtocol("center_point", "oracle_point", multimask=True)


def noisy_box_protocol(scale: float, min_iou: float | None = None) -> PromptProtocol:
    suffix = "" if min_iou is None else f"_iou{min_iou:g}"
    return PromptProtocol(f"noisy_box_{scale:g}{suffix}", "noisy_box", noise_scale=scale, min_box_iou=min_iou)


def points_protocol(n_points: int, multimask: bool | None = None) -> PromptProtocol:
    """``n`` random positive points; a single point is ambiguous, so it gets multimask by default."""
    return PromptProtocol(f"{n_points}_points", "points", n_points=n_points,
                          multimask=(n_points == 1) if multimask is None else multimask)
