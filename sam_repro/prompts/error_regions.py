"""Pi-SAM's simulated interaction clicks from error regions.

Reference: Pi-SAM ``segment_anything/modeling/mask_decoder_pi.py`` (``PointInteract`` and its
``BlockTargetGenerator``), reproduced from its description:

1. At the decoder's low resolution (256x256): FN = GT & ~pred gives positive candidates, FP =
   pred & ~GT negative ones. Pi-SAM compares ``GT/255`` of a *bilinearly downsampled* label with
   the binary prediction exactly, so for a soft GT only pixels equal to 1 can be FN and only pixels
   equal to 0 can be FP; a float ``gt`` here follows the same rule.
2. Each region loses its 1-pixel boundary: a 3x3 Laplacian (8 at the centre, -1 around) on the
   zero-padded region, clamped at 0, divided by 9 and thresholded at 0.1 marks every region pixel
   with at least one 8-neighbour outside the region (or outside the image). What remains is the
   3x3 erosion of the region with the image border counting as background.
3. 8-connected components of what remains, keeping those with area >= 2.
4. Evaluation: one click in the single largest component over FN and FP together. Training: a
   random k in 1..min(10, number of components), the k largest components. Each click is a
   uniformly random pixel of its component (not the centroid).

Clicks come back in the pixel grid of the inputs (x = column, y = row). Pi-SAM's decoder takes
them divided by the grid size (256); note its code passes (row, col) where it means (x, y).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from ._validate import as_array, check_2d, check_mask, check_positive_int, check_rng
from .clicks import Click

#: Grid of Pi-SAM's low-resolution prediction, where its clicks are simulated.
PI_SAM_RESOLUTION = 256
#: At most this many interaction points per sample (Pi-SAM ``max_points``).
PI_SAM_MAX_POINTS = 10
#: Smallest error component that can receive a click (Pi-SAM ``min_area_thr``).
PI_SAM_MIN_AREA = 2

__all__ = [
    "PI_SAM_RESOLUTION",
    "PI_SAM_MAX_POINTS",
    "PI_SAM_MIN_AREA",
    "ErrorRegion",
    "strip_boundary",
    "error_regions",
    "error_region_clicks",
]

_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class ErrorRegion:
    """One connected error component: ``mask`` (H, W) bool, its pixel ``area``, and ``positive``
    (True for a false-negative region, which asks for a positive click)."""

    mask: np.ndarray
    area: int
    positive: bool


def strip_boundary(region: Any) -> np.ndarray:
    """Interior of a region: drop every pixel with an 8-neighbour outside it or outside the image.

    Equals Pi-SAM's 3x3 Laplacian boundary removal (width 1, cut-off 0.1), see the module notes.

    Args:
        region: (H, W) bool.

    Returns:
        (H, W) bool interior.
    """
    r = check_mask(region, "region")
    return ndimage.binary_erosion(r, structure=_EIGHT, border_value=0)


def _check_gt(gt: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return (sure foreground, sure background) of a bool or [0, 1] float ground truth."""
    arr = as_array(gt, "gt")
    if arr.dtype == np.bool_:
        check_2d(arr, "gt")
        return arr, ~arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(
            f"gt: expected a bool mask or a float map in [0, 1], got dtype {arr.dtype}"
            + (" (for a 0/255 label use label / 255.0)" if arr.dtype == np.uint8 else "")
        )
    check_2d(arr, "gt")
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ValueError("gt: a float ground truth must have values in [0, 1]")
    return arr == 1, arr == 0


def _components(region: np.ndarray, min_area: int, positive: bool) -> list[ErrorRegion]:
    labels, n = ndimage.label(region, structure=_EIGHT)  # labels in row-major order of first pixel
    if n == 0:
        return []
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    return [
        ErrorRegion(mask=labels == i, area=int(areas[i]), positive=positive)
        for i in range(1, n + 1)
        if areas[i] >= min_area
    ]


def error_regions(gt: Any, pred: Any, *, min_area: int = PI_SAM_MIN_AREA) -> list[ErrorRegion]:
    """Pi-SAM's candidate regions: boundary-stripped FN and FP components with area >= ``min_area``.

    Args:
        gt: (H, W) bool, or float in [0, 1] (see the module notes on soft labels).
        pred: (H, W) bool prediction at the same resolution (Pi-SAM: low-res logits > 0).
        min_area: smallest component kept (Pi-SAM: 2).

    Returns:
        Regions sorted by area, largest first; equal areas keep FN before FP, then row-major order
        of their first pixel (Pi-SAM's ``topk`` leaves tie order unspecified).
    """
    fg, bg = _check_gt(gt)
    p = check_mask(pred, "pred", shape=fg.shape)
    min_area = check_positive_int(min_area, "min_area")
    regions = _components(strip_boundary(fg & ~p), min_area, True)
    regions += _components(strip_boundary(bg & p), min_area, False)
    return sorted(regions, key=lambda r: -r.area)  # sorted() is stable


def error_region_clicks(
    gt: Any,
    pred: Any,
    rng: np.random.Generator,
    *,
    training: bool = False,
    max_points: int = PI_SAM_MAX_POINTS,
    min_area: int = PI_SAM_MIN_AREA,
) -> list[Click]:
    """Pi-SAM's simulated clicks: one random pixel in each of the largest error components.

    Args:
        gt: (H, W) bool, or float in [0, 1], at the working resolution (Pi-SAM: 256x256).
        pred: (H, W) bool prediction at the same resolution.
        rng: draws k (training) and the pixel in each component.
        training: False (evaluation): one click in the largest component. True: k drawn uniformly
            from 1..min(max_points, number of components), one click in each of the k largest.
        max_points: Pi-SAM: 10.
        min_area: Pi-SAM: 2.

    Returns:
        Clicks (positive for FN components), largest component first; empty when no component
        qualifies (Pi-SAM then marks the sample invalid for the interaction loss).
    """
    rng = check_rng(rng)
    max_points = check_positive_int(max_points, "max_points")
    regions = error_regions(gt, pred, min_area=min_area)
    if not regions:
        return []
    k = int(rng.integers(1, min(max_points, len(regions)) + 1)) if training else 1
    clicks = []
    for region in regions[:k]:
        ys, xs = np.nonzero(region.mask)  # row-major, like torch.nonzero
        i = int(rng.integers(ys.size))
        clicks.append(Click(x=int(xs[i]), y=int(ys[i]), positive=region.positive))
    return clicks
