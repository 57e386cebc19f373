"""DIS-SAM's data enrichment (its Appendix A; the official notebook that writes the training triplets).

A ground truth is split into its 8-connected parts; parts under ``min_fraction`` of the image (0.4%) are dropped;
when more than one part remains the whole ground truth is kept as well. Each kept mask becomes a training target
with its own tight box and its own SAM mask, so the second stage learns that the box says which structure is meant.
"""
from __future__ import annotations

import numpy as np

MIN_PART_FRACTION = 0.004


def enrich_gt(gt: np.ndarray, min_fraction: float = MIN_PART_FRACTION) -> list[np.ndarray]:
    """The enriched targets of one (H, W) bool ground truth: its 8-connected parts of at least ``min_fraction`` of
    the image, plus the whole mask when more than one part is kept. With exactly one part kept, that part alone (as
    the official notebook does: the dropped specks are not part of the target); with none, the whole mask (there is
    nothing else to train on). Empty ground truths give ``[]``.

    Raises:
        ValueError: ``gt`` is not 2-D, or ``min_fraction`` is outside [0, 1).
    """
    import cv2

    if gt.ndim != 2:
        raise ValueError(f"gt must be (H, W), got shape {gt.shape}")
    if not 0 <= min_fraction < 1:
        raise ValueError(f"min_fraction must be in [0, 1), got {min_fraction}")
    binary = gt.astype(bool)
    if not binary.any():
        return []
    count, labels = cv2.connectedComponents(binary.astype(np.uint8), connectivity=8)
    minimum = min_fraction * binary.size
    parts = [labels == k for k in range(1, count) if np.count_nonzero(labels == k) >= minimum]
    if not parts:
        return [binary]
    return parts if len(parts) == 1 else parts + [binary]
