"""The self-prompting protocol: a method that places its own prompts (capability ``prompts_itself``: AlignSAM) runs
with no user prompt at all, once per target.

* Binary tasks (blur, shadow, glass, salient objects): the target is the image's foreground (one mask: wrap the set in
  :class:`~sam_repro.data.views.ForegroundMask`); one run per image, with the segmenter's own text.
* Semantic segmentation (``texts="class"``): wrap the set in :class:`~sam_repro.data.views.ClassUnionMasks`, one mask
  per class present; each class is one run with the class name as the text (image-level labels are known, as in the
  paper's per-class evaluation: the agent never sees a mask). The sample's class map is then composed from the runs:
  each pixel takes the class whose run gives it the highest probability among those above 0.5, else background (0);
  the ground truth's ignore pixels stay ignored by the metric.

What is recorded per target: the points the method placed (``points``, ``positive``) and where its first points
came from (``initial_from``). The ground truth is read only by the scoring, never by the run.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sam_repro.eval.protocols import ObjectOutput, Protocol, SampleOutput

if TYPE_CHECKING:
    from sam_repro.data.sample import Sample
    from sam_repro.methods.base import Segmenter
    from sam_repro.methods.hooks import InteractionHooks

TEXTS = ("task", "class")
CAPABILITY = "prompts_itself"


def compose_class_map(probabilities: Sequence[np.ndarray], class_ids: Sequence[int], threshold: float = 0.5
                      ) -> np.ndarray:
    """An (H, W) int64 class map from per-class (H, W) probabilities: each pixel takes the class of highest
    probability among those above ``threshold``, else 0 (background).

    Raises:
        ValueError: as many maps as ids is required (and at least one).
    """
    if len(probabilities) != len(class_ids) or not probabilities:
        raise ValueError(f"{len(probabilities)} probability maps for {len(class_ids)} class ids (need one each, >= 1)")
    stack = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])
    best = np.argmax(stack, axis=0)
    ids = np.asarray(class_ids, dtype=np.int64)
    return np.where(stack.max(axis=0) > threshold, ids[best], 0).astype(np.int64)


@dataclass(frozen=True)
class SelfPromptProtocol(Protocol):
    """No user prompt: the method prompts itself once per target (see the module docstring).

    Attributes:
        name: recorded with results.
        steps: the number of self-prompting steps T (None: the segmenter's own).
        texts: ``task`` (the segmenter's text for every target) or ``class`` (each mask's class name, from
            ``meta["mask_classes"]`` of :class:`~sam_repro.data.views.ClassUnionMasks`; the class map is composed).
    """

    name: str = "self_prompted"
    steps: int | None = None
    texts: str = "task"

    def __post_init__(self) -> None:
        if self.texts not in TEXTS:
            raise ValueError(f"texts must be one of {TEXTS}, got {self.texts!r}")
        if self.steps is not None and self.steps < 0:
            raise ValueError(f"steps must be >= 0 or None, got {self.steps}")

    def run(self, segmenter: "Segmenter", sample: "Sample", objects: Sequence[int], rng: np.random.Generator,
            hooks: Sequence["InteractionHooks"] = ()) -> SampleOutput:
        if CAPABILITY not in getattr(segmenter, "capabilities", frozenset()):
            raise ValueError(f"{getattr(segmenter, 'name', segmenter)!r} does not prompt itself (capability "
                             f"{CAPABILITY!r}); the self-prompting protocol runs methods such as AlignSAM")
        classes = sample.meta.get("mask_classes")
        if self.texts == "class" and classes is None:
            raise ValueError(f"sample {sample.id!r}: texts='class' needs meta['mask_classes'] (wrap the set in "
                             "ClassUnionMasks)")
        segmenter.set_image(sample.image)
        outputs = []
        for k in objects:
            text = sample.class_names[classes[k]] if self.texts == "class" else None
            prediction = segmenter.prompt_itself(text=text, steps=self.steps)
            outputs.append(ObjectOutput(k, prediction, prediction.mask, record=self._record(segmenter, text)))
        class_map = None
        if self.texts == "class" and outputs:
            class_map = compose_class_map([o.probability for o in outputs], [classes[o.object] for o in outputs])
        return SampleOutput(outputs, class_map)

    @staticmethod
    def _record(segmenter: "Segmenter", text: str | None) -> dict[str, Any]:
        last = getattr(segmenter, "last_run", None)
        if last is None:
            return {"text": text}
        return {"text": text, "points": len(last.labels), "positive": int(np.sum(last.labels)),
                "initial_from": last.initial_from}
