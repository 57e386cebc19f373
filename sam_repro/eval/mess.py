"""Stable-SAM's MESS protocol (supplement Table 1-2), as the MESS authors evaluate SAM (their SAM-MESS code).

A semantic map is made of one prompt per connected segment: for every class of the ground-truth map (the ignore
label aside), every 4-connected segment of at least ``min_segment_px`` pixels gets one prompt, the largest
``max_inputs`` segments kept. The prompt kinds of Table 1:

* ``oracle_point``: a random pixel of the segment's *inner region*, where the distance to the segment's border
  (zero-padded) exceeds its maximum / 1.7 (RITM's point sampler, which SAM-MESS uses; not the single deepest pixel);
* ``random_point``: a uniformly random pixel of the segment;
* ``box``: the segment's bounding rectangle as OpenCV gives it, ``(x, y, x + w, y + h)`` (one past the last pixel:
  SAM-MESS's convention, not HQ-SAM's inclusive box);
* ``noisy_box``: that box with DN-DETR noise (scale 0.4, :func:`~sam_repro.prompts.noisy_box`).

Each prompt is decoded with ``multimask=True`` and the **first** of the masks is kept (SAM-MESS; Stable-SAM: "selects
the first mask"), as logits. Per class, the pixel-wise maximum over its segments' logits; pixels where no class scores
above 0 go to the background class; the class map is the arg-max. Scored with the dataset-accumulated class mIoU
(:func:`~sam_repro.eval.scoring.voc_miou_metric`, the detectron2 evaluator's definition).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from scipy import ndimage

from sam_repro.eval.protocols import Protocol, SampleOutput
from sam_repro.prompts import noisy_box

if TYPE_CHECKING:
    from sam_repro.data.sample import Sample
    from sam_repro.methods.base import Segmenter

MESS_PROMPTS = ("oracle_point", "random_point", "box", "noisy_box")
INNER_K = 1.7


def inner_region(segment: np.ndarray, k: float = INNER_K) -> np.ndarray:
    """(N, 2) (row, col) pixels of ``segment`` ((H, W) bool) whose distance to the zero-padded border exceeds
    the maximum distance / ``k``."""
    padded = np.pad(segment, 1).astype(np.uint8)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 0)[1:-1, 1:-1]
    return np.argwhere(distance > distance.max() / k)


def segments(class_map: np.ndarray, ignore_label: int, min_px: int, max_inputs: int) -> list[tuple[int, np.ndarray]]:
    """(class, (H, W) bool segment) of every 4-connected segment of at least ``min_px`` pixels of every class,
    largest first, at most ``max_inputs``."""
    found = []
    for c in np.unique(class_map):
        if c == ignore_label:
            continue
        labels, count = ndimage.label(class_map == c)
        for label in range(1, count + 1):
            segment = labels == label
            if np.count_nonzero(segment) >= min_px:
                found.append((int(c), segment))
    order = np.argsort([-np.count_nonzero(s) for _, s in found], kind="stable")
    return [found[i] for i in order[:max_inputs]]


@dataclass(frozen=True)
class MessProtocol(Protocol):
    """One prompt per segment of every class, the first multimask output, per-class maximum, arg-max map.

    Attributes:
        name: label recorded with results.
        prompt: one of :data:`MESS_PROMPTS`.
        noise_scale: noisy-box scale (Table 1: 0.4).
        background_class: the class given to pixels no class claims (logit <= 0 everywhere).
        num_classes: classes of the map (None: one more than the largest class in the sample's map).
    """

    name: str = "mess_oracle_point"
    prompt: str = "oracle_point"
    noise_scale: float = 0.4
    min_segment_px: int = 10
    max_inputs: int = 100
    ignore_label: int = 255
    background_class: int = 0
    num_classes: int | None = None

    def __post_init__(self) -> None:
        if self.prompt not in MESS_PROMPTS:
            raise ValueError(f"prompt must be one of {MESS_PROMPTS}, got {self.prompt!r}")

    def prompt_for(self, segment: np.ndarray, rng: np.random.Generator) -> dict:
        """``predict`` keyword arguments for one segment ((H, W) bool)."""
        if self.prompt in ("oracle_point", "random_point"):
            candidates = inner_region(segment) if self.prompt == "oracle_point" else np.argwhere(segment)
            row, col = candidates[int(rng.integers(len(candidates)))]
            return {"points": np.array([[col, row]], dtype=np.float64), "labels": np.array([1])}
        x, y, w, h = cv2.boundingRect(segment.astype(np.uint8))
        box = np.array([x, y, x + w, y + h], dtype=np.float64)
        if self.prompt == "noisy_box":
            box = noisy_box(box, segment.shape, rng, scale=self.noise_scale)
        return {"box": box}

    def run(self, segmenter: "Segmenter", sample: "Sample", objects: Sequence[int], rng: np.random.Generator,
            hooks=()) -> SampleOutput:
        if sample.class_map is None:
            raise ValueError(f"sample {sample.id!r}: the MESS protocol needs a class map (wrap instance masks with "
                             "sam_repro.data.views.ObjectBackgroundMaps)")
        class_map = sample.class_map
        classes = self.num_classes or int(class_map[class_map != self.ignore_label].max(initial=0)) + 1
        scores = np.zeros((classes + 1, *class_map.shape), np.float32)  # + 1: SAM-MESS's extra row, dropped
        segmenter.set_image(sample.image)
        for c, segment in segments(class_map, self.ignore_label, self.min_segment_px, self.max_inputs):
            logits = segmenter.predict(**self.prompt_for(segment, rng), multimask=True).logits[0]
            # SAM-MESS sets the class's row to the maximum over its segments; starting from 0 instead only changes
            # rows that stay <= 0 everywhere, which the background rule below overrides: the arg-max is the same
            scores[c] = np.maximum(scores[c], logits)
        scores[self.background_class, scores.max(axis=0) <= 0] = 1.0
        return SampleOutput(objects=[], class_map=scores[:-1].argmax(axis=0).astype(np.int64))
