"""The ceiling of AlignSAM's prompting on a stand-in: the frozen SAM given ideal prompts at the agent's patch centres.

AlignSAM's agent chooses patch centres (eq. 3) and the SRM labels them; neither can give SAM better prompts than an
oracle that labels every centre from the ground truth and always clicks where SAM is still wrong. What SAM reaches
then bounds what the method can show on a stand-in: a stand-in whose ceiling is far below the paper's AlignSAM figure
measures the model's capacity, not the prompting (issue #20: the first blur stand-in's ceiling was 0.24).

The oracle (**our definition**, the paper has none): P_0 = the first centre (row-major) on the target and the first
on its background, as Alg. 1 starts from one positive and one negative point; then ``steps`` more prompts, each the
first centre not yet prompted whose current prediction disagrees with its ground-truth label (the first unprompted
labelled centre when none does). Centres on the ignore label 255 (VOC's borders, where the reward is 0) are never
prompted, and the IoU leaves those pixels out, as VOC's mIoU does. A target that no centre falls on scores 0: the
agent cannot prompt it either.
"""
from __future__ import annotations

import numpy as np

from sam_repro.data.sample import IGNORE_INDEX
from sam_repro.methods.alignsam.grid import geometry_of, pixel_at


def oracle_prompting_iou(segmenter, target: np.ndarray, *, actions: int = 10, steps: int = 15) -> float:
    """Foreground IoU of SAM's last prediction under the oracle prompter (module notes).

    Args:
        segmenter: a :class:`~sam_repro.methods.base.SamBacked` segmenter whose current image is the target's
            (``set_image`` done).
        target: (H, W) ground truth of the image: bool, or uint8 in {0, 1, 255} as the trainer's targets
            (:func:`sam_repro.train.alignsam.binary_targets`; 255 = ignore).
        actions: G, the side of the action grid (the paper: 10).
        steps: prompts after P_0 (the paper's T = 15).

    Returns:
        IoU in [0, 1] of the (H, W) prediction after P_0 and ``steps`` prompts, over the pixels not ignored.

    Raises:
        ValueError: a target whose shape is not the image's, or a negative ``steps``.
    """
    target = np.asarray(target).astype(np.uint8)
    geometry = geometry_of(segmenter.embedding, segmenter.model, actions)
    if target.shape != tuple(geometry.original_size):
        raise ValueError(f"target: expected the image's shape {tuple(geometry.original_size)}, got {target.shape}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    centres = geometry.centres().astype(np.float32)
    cells = [pixel_at(point, target.shape) for point in centres]
    labels = np.array([target[cell] for cell in cells], dtype=np.int64)
    positives, negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if not len(positives):
        return 0.0
    chosen = [int(positives[0])] + [int(k) for k in negatives[:1]]
    for step in range(steps + 1):
        mask = segmenter.predict(points=centres[chosen], labels=labels[chosen], multimask=False).masks[0]
        rest = [k for k in range(len(centres)) if k not in chosen and labels[k] != IGNORE_INDEX]
        if step == steps or not rest:
            break
        wrong = [k for k in rest if int(mask[cells[k]]) != labels[k]]
        chosen.append((wrong or rest)[0])
    foreground, scored = target == 1, target != IGNORE_INDEX
    return float((mask & foreground).sum() / ((mask | foreground) & scored).sum())


__all__ = ["oracle_prompting_iou"]
