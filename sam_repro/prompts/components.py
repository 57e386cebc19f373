"""DIS-SAM's per-component box prompts (``SAM/notebooks/automatic_mask_generator_example.ipynb``).

DIS-SAM splits the GT (``>= 128``) into 8-connected components (``skimage.measure.label``,
connectivity 2), drops components smaller than 0.4% of the image area (``area < 0.004 * H * W``),
and, when more than one component survives, adds the whole GT mask (all of it, small components
included) as a further entry. Each entry gets the tight inclusive box and one SAM ViT-L call.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from ._validate import check_mask
from .boxes import mask_to_box

#: Components smaller than this fraction of the image area are dropped.
DIS_SAM_MIN_AREA_FRACTION = 0.004

__all__ = ["DIS_SAM_MIN_AREA_FRACTION", "component_masks", "component_boxes"]


def component_masks(
    mask: Any,
    *,
    min_area_fraction: float = DIS_SAM_MIN_AREA_FRACTION,
    add_whole: bool = True,
) -> list[np.ndarray]:
    """DIS-SAM's prompt masks: the large 8-connected components, plus the whole mask if > 1 of them.

    Args:
        mask: (H, W) bool GT.
        min_area_fraction: components with ``area < min_area_fraction * H * W`` are dropped.
        add_whole: append the whole mask when more than one component is kept (DIS-SAM: yes).

    Returns:
        (H, W) bool masks: components in row-major order of their first pixel, then the whole mask.
        Empty when no component is large enough (DIS-SAM then produces no sample).
    """
    m = check_mask(mask, "mask")
    if not 0.0 <= float(min_area_fraction) < 1.0:
        raise ValueError(f"min_area_fraction: expected a value in [0, 1), got {min_area_fraction!r}")
    labels, n = ndimage.label(m, structure=np.ones((3, 3), dtype=bool))
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    min_area = float(min_area_fraction) * m.shape[0] * m.shape[1]
    kept = [labels == i for i in range(1, n + 1) if areas[i] >= min_area]
    if add_whole and len(kept) > 1:
        kept.append(m.copy())
    return kept


def component_boxes(
    mask: Any,
    *,
    min_area_fraction: float = DIS_SAM_MIN_AREA_FRACTION,
    add_whole: bool = True,
) -> np.ndarray:
    """Tight boxes (HQ-SAM/DIS-SAM inclusive convention) of :func:`component_masks`.

    Returns:
        (N, 4) float64 xyxy, in the order of :func:`component_masks`; (0, 4) when none qualifies.
    """
    masks = component_masks(mask, min_area_fraction=min_area_fraction, add_whole=add_whole)
    return np.array([mask_to_box(c) for c in masks], dtype=np.float64).reshape(-1, 4)
