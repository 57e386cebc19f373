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

The working grid is the segmenter's low-res grid (``segmenter.low_res_size``: 256 for the official models,
64 for the tiny SAM), not a constant: :data:`PI_SAM_RESOLUTION` is the official value only.
:func:`mask_to_grid` puts an image-resolution ground truth on that grid the way Pi-SAM does (resize to the
input size, pad, bilinear to the grid), :func:`valid_grid` marks the grid cells inside the image (the rest is
padding) and :func:`grid_to_image` maps grid clicks back to image pixels.

For the interaction tables (Pi-SAM Tables 2 and 7): :func:`common_error_regions` are the errors shared by
several predictions (SAM, HQ-SAM and Pi-SAM), and :func:`error_region_clicks` takes ``n`` (exactly n clicks)
and ``polarity`` (all / positive = FG / negative = BG clicks). The paper's supplement with its exact
selection is not available; the choices are documented on each function.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from ._validate import as_array, check_2d, check_mask, check_positive_int, check_rng, check_size
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
    "common_error_regions",
    "mask_to_grid",
    "valid_grid",
    "grid_to_image",
]

POLARITIES = ("all", "positive", "negative")

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


def common_error_regions(gt: Any, preds: Any, *, min_area: int = PI_SAM_MIN_AREA) -> list[ErrorRegion]:
    """The error regions **common to several predictions** (Pi-SAM Table 2 evaluates clicks on the errors
    that SAM, HQ-SAM and Pi-SAM share, so every model receives the same clicks).

    A pixel is a common false negative when it is sure foreground and *every* prediction misses it, a common
    false positive when it is sure background and *every* prediction marks it; the result then goes through
    the official rule (boundary strip, 8-connected components with area >= ``min_area``), as
    :func:`error_regions`. With one prediction it equals :func:`error_regions`.

    Args:
        gt: (H, W) bool or float in [0, 1]; preds: a non-empty sequence of (H, W) bool predictions.
    """
    fg, bg = _check_gt(gt)
    if isinstance(preds, np.ndarray) and preds.ndim == 2:
        preds = [preds]
    preds = list(preds)
    if not preds:
        raise ValueError("preds: need at least one prediction")
    missed, marked = fg.copy(), bg.copy()
    for i, pred in enumerate(preds):
        p = check_mask(pred, f"preds[{i}]", shape=fg.shape)
        missed &= ~p
        marked &= p
    min_area = check_positive_int(min_area, "min_area")
    regions = _components(strip_boundary(missed), min_area, True)
    regions += _components(strip_boundary(marked), min_area, False)
    return sorted(regions, key=lambda r: -r.area)


def error_region_clicks(
    gt: Any,
    pred: Any,
    rng: np.random.Generator,
    *,
    training: bool = False,
    max_points: int = PI_SAM_MAX_POINTS,
    min_area: int = PI_SAM_MIN_AREA,
    n: int | None = None,
    polarity: str = "all",
) -> list[Click]:
    """Pi-SAM's simulated clicks: one random pixel in each of the largest error components.

    Args:
        gt: (H, W) bool, or float in [0, 1], at the working resolution (the segmenter's low-res grid:
            Pi-SAM 256, tiny 64; see :func:`mask_to_grid`).
        pred: (H, W) bool prediction at the same resolution, or a sequence of them: the errors common to
            all (:func:`common_error_regions`).
        rng: draws k (training) and the pixel in each component.
        training: False (evaluation): one click in the largest component. True: k drawn uniformly
            from 1..min(max_points, number of components), one click in each of the k largest.
        max_points: Pi-SAM: 10.
        min_area: Pi-SAM: 2.
        n: exactly ``n`` clicks (evaluation with 1 / 2 / 5 clicks at once, Table 2), instead of the
            ``training`` rule: one random pixel in each of the n largest regions; with fewer regions than n,
            further clicks go round the regions again, largest first, each at a pixel not yet clicked (our
            choice: the supplement is not available). Fewer than n only when the regions hold fewer pixels.
        polarity: ``"all"``, ``"positive"`` (FG clicks only: false-negative regions) or ``"negative"`` (BG
            clicks only), applied before the selection (Table 7).

    Returns:
        Clicks (positive for FN components), largest component first; empty when no component
        qualifies (Pi-SAM then marks the sample invalid for the interaction loss).
    """
    rng = check_rng(rng)
    max_points = check_positive_int(max_points, "max_points")
    if polarity not in POLARITIES:
        raise ValueError(f"polarity: expected one of {', '.join(POLARITIES)}, got {polarity!r}")
    if n is not None:
        n = check_positive_int(n, "n")
        if training:
            raise ValueError("n: exactly n clicks is an evaluation rule; pass training=False with n")
    if isinstance(pred, (list, tuple)):
        regions = common_error_regions(gt, pred, min_area=min_area)
    else:
        regions = error_regions(gt, pred, min_area=min_area)
    if polarity != "all":
        regions = [r for r in regions if r.positive == (polarity == "positive")]
    if not regions:
        return []
    if n is not None:
        return _exactly_n_clicks(regions, n, rng)
    k = int(rng.integers(1, min(max_points, len(regions)) + 1)) if training else 1
    clicks = []
    for region in regions[:k]:
        ys, xs = np.nonzero(region.mask)  # row-major, like torch.nonzero
        i = int(rng.integers(ys.size))
        clicks.append(Click(x=int(xs[i]), y=int(ys[i]), positive=region.positive))
    return clicks


def _exactly_n_clicks(regions: list[ErrorRegion], n: int, rng: np.random.Generator) -> list[Click]:
    """Round-robin over the regions (largest first): each visit clicks a random pixel not clicked before."""
    pixels = [np.flatnonzero(region.mask) for region in regions]  # row-major, like torch.nonzero
    width = regions[0].mask.shape[1]
    used: list[set[int]] = [set() for _ in regions]
    clicks: list[Click] = []
    while len(clicks) < n:
        progressed = False
        for region, flat, taken in zip(regions, pixels, used):
            if len(clicks) == n:
                break
            free = flat if not taken else flat[~np.isin(flat, list(taken))]
            if free.size == 0:
                continue
            index = int(free[int(rng.integers(free.size))])
            taken.add(index)
            clicks.append(Click(x=index % width, y=index // width, positive=region.positive))
            progressed = True
        if not progressed:
            break
    return clicks


def _preprocess_shape(original_size: tuple[int, int], img_size: int) -> tuple[int, int]:
    """(h, w) of an (H, W) image after ``ResizeLongestSide(img_size)`` (the same rounding)."""
    height, width = original_size
    scale = img_size / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def mask_to_grid(mask: Any, grid: int, img_size: int) -> np.ndarray:
    """An image-resolution ground truth on a model's low-res grid, the way Pi-SAM builds its 256 labels.

    The mask is resized (bilinear) to the model's input frame (``ResizeLongestSide(img_size)``), zero-padded
    to img_size x img_size, and resized (bilinear, ``align_corners=False``, as Pi-SAM's ``F.interpolate``) to
    ``grid`` x ``grid`` (the segmenter's ``low_res_size``).

    Args:
        mask: (H, W) bool or float in [0, 1].
        grid: G; img_size: S (the encoder's input side).

    Returns:
        (G, G) float32 in [0, 1] (soft at boundaries: only exact 1 / 0 count as sure fg / bg for the clicks).
    """
    import torch
    import torch.nn.functional as F

    arr = as_array(mask, "mask")
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"mask: expected a bool mask or a float map in [0, 1], got dtype {arr.dtype}")
    check_2d(arr, "mask")
    grid = check_positive_int(grid, "grid")
    img_size = check_positive_int(img_size, "img_size")
    new_h, new_w = _preprocess_shape(arr.shape, img_size)
    tensor = torch.as_tensor(arr.astype(np.float32))[None, None]
    resized = F.interpolate(tensor, (new_h, new_w), mode="bilinear", align_corners=False)
    padded = F.pad(resized, (0, img_size - new_w, 0, img_size - new_h))
    out = F.interpolate(padded, (grid, grid), mode="bilinear", align_corners=False)[0, 0]
    return out.clamp(0, 1).numpy()


def valid_grid(original_size: Any, grid: int, img_size: int) -> np.ndarray:
    """(G, G) bool: the grid cells whose centre lies inside the image (the rest covers the padding). Restrict
    predictions to it (``pred & valid_grid(...)``) so no click is simulated in the padding."""
    height, width = check_size(original_size, "original_size")
    new_h, new_w = _preprocess_shape((height, width), check_positive_int(img_size, "img_size"))
    centres = (np.arange(check_positive_int(grid, "grid")) + 0.5) * img_size / grid
    return (centres[:, None] < new_h) & (centres[None, :] < new_w)


def grid_to_image(clicks: Any, grid: int, original_size: Any, img_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Clicks on a model's G x G low-res grid -> image pixel prompts.

    A grid cell (x, y) covers input pixels [x, x + 1) * S / G of the padded S x S input; its centre is mapped
    through the inverse of ``ResizeLongestSide`` (per axis, W / new_w) to the image and returned as a pixel
    index (centre minus 0.5), so that :func:`sam_repro.methods.pisam.corrections_to_grid` maps it back to
    ``(x + 0.5) / G`` exactly.

    Returns:
        points (N, 2) float64 xy image pixel indices and labels (N,) int64 (1 positive, 0 negative).

    Raises:
        ValueError: a click in the padding (outside :func:`valid_grid`).
    """
    from .clicks import clicks_to_prompts

    height, width = check_size(original_size, "original_size")
    grid = check_positive_int(grid, "grid")
    img_size = check_positive_int(img_size, "img_size")
    points, labels = clicks_to_prompts(clicks)
    inside = valid_grid((height, width), grid, img_size)
    for x, y in points.astype(int):
        if not (0 <= x < grid and 0 <= y < grid) or not inside[y, x]:
            raise ValueError(f"clicks: grid cell (x={x}, y={y}) lies outside the image's part of the {grid}x{grid} "
                             "grid (padding); restrict the prediction with valid_grid()")
    new_h, new_w = _preprocess_shape((height, width), img_size)
    scale = np.array([width / new_w, height / new_h]) * img_size / grid
    xy = (points + 0.5) * scale - 0.5
    return xy, labels
