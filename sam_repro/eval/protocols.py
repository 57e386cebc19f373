"""Non-interactive prompt protocols: how each ground-truth object is prompted.

Conventions (research/metrics.md section 8): boxes are HQ-SAM's tight inclusive boxes
(:func:`sam_repro.prompts.mask_to_box`); noisy boxes are DN-DETR-style with a scale (0.4 for
Stable-SAM), optionally redrawn until their IoU with the tight box reaches a minimum (our
reconstruction of Stable-SAM's unpublished filter); point prompts are uniform random foreground
pixels (HQ-SAM) or the oracle first click (the deepest interior pixel, RITM). Multimask output keeps
the mask with the highest predicted IoU (SAM's convention for ambiguous prompts).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sam_repro.prompts import mask_to_box, noisy_box, oracle_first_click, random_points

PROMPT_KINDS = ("box", "noisy_box", "points", "oracle_point")


@dataclass(frozen=True)
class PromptProtocol:
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


TIGHT_BOX = PromptProtocol("tight_box", "box")
CENTER_POINT = PromptProtocol("center_point", "oracle_point", multimask=True)


def noisy_box_protocol(scale: float, min_iou: float | None = None) -> PromptProtocol:
    suffix = "" if min_iou is None else f"_iou{min_iou:g}"
    return PromptProtocol(f"noisy_box_{scale:g}{suffix}", "noisy_box", noise_scale=scale, min_box_iou=min_iou)


def points_protocol(n_points: int, multimask: bool | None = None) -> PromptProtocol:
    """``n`` random positive points; a single point is ambiguous, so it gets multimask by default."""
    return PromptProtocol(f"{n_points}_points", "points", n_points=n_points,
                          multimask=(n_points == 1) if multimask is None else multimask)
