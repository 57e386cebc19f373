"""Prompt protocols of the five papers: boxes, points, simulated clicks, coarse masks.

Formats (those of ``segment_anything.SamPredictor.predict``):

* masks in: (H, W) **bool** arrays (convert 0/255 PNGs with ``> 128``);
* boxes: float64 (4,) xyxy image pixels ``[x0, y0, x1, y1]`` (x = column, y = row);
* points: float64 (N, 2) xy pixel indices with int64 (N,) labels, 1 positive / 0 negative;
* clicks: :class:`Click` (x, y, positive), converted with :func:`clicks_to_prompts`.

All randomness comes from an explicit ``numpy.random.Generator`` argument; nothing touches global
random state.

Modules: :mod:`.boxes` (tight/noisy boxes: HQ-SAM, Stable-SAM), :mod:`.points` (random points:
HQ-SAM), :mod:`.clicks` (RITM clicker, Schön et al.'s variant, :class:`Clicker`),
:mod:`.error_regions` (Pi-SAM), :mod:`.coarse_masks` (HQ-SAM noisy masks), :mod:`.components`
(DIS-SAM per-component boxes).
"""
from .boxes import (
    STABLE_SAM_BOX_NOISE_SCALE,
    STABLE_SAM_MIN_IOU,
    BoxNoiseError,
    box_iou,
    mask_to_box,
    noisy_box,
)
from .clicks import Click, Clicker, clicks_to_prompts, oracle_first_click, ritm_click, simple_click
from .coarse_masks import (
    HQ_SAM_BAND_FACTOR,
    HQ_SAM_BAND_THRESHOLD,
    HQ_SAM_MASK_SIZE,
    binary_mask_prompt,
    coarse_mask,
    hq_sam_mask_input,
    incoherent_band,
    resize_bilinear,
)
from .components import DIS_SAM_MIN_AREA_FRACTION, component_boxes, component_masks
from .error_regions import (
    PI_SAM_MAX_POINTS,
    PI_SAM_MIN_AREA,
    PI_SAM_RESOLUTION,
    ErrorRegion,
    common_error_regions,
    error_region_clicks,
    error_regions,
    grid_to_image,
    mask_to_grid,
    strip_boundary,
    valid_grid,
)
from .points import HQ_SAM_NUM_POINTS, random_points

__all__ = [
    # boxes
    "mask_to_box",
    "noisy_box",
    "box_iou",
    "BoxNoiseError",
    "STABLE_SAM_BOX_NOISE_SCALE",
    "STABLE_SAM_MIN_IOU",
    # points
    "random_points",
    "HQ_SAM_NUM_POINTS",
    # clicks
    "Click",
    "clicks_to_prompts",
    "ritm_click",
    "simple_click",
    "oracle_first_click",
    "Clicker",
    # Pi-SAM
    "ErrorRegion",
    "strip_boundary",
    "error_regions",
    "error_region_clicks",
    "common_error_regions",
    "mask_to_grid",
    "valid_grid",
    "grid_to_image",
    "PI_SAM_RESOLUTION",
    "PI_SAM_MAX_POINTS",
    "PI_SAM_MIN_AREA",
    # coarse masks
    "binary_mask_prompt",
    "coarse_mask",
    "incoherent_band",
    "resize_bilinear",
    "hq_sam_mask_input",
    "HQ_SAM_MASK_SIZE",
    "HQ_SAM_BAND_FACTOR",
    "HQ_SAM_BAND_THRESHOLD",
    # DIS-SAM
    "component_masks",
    "component_boxes",
    "DIS_SAM_MIN_AREA_FRACTION",
]
