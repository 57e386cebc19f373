"""Where layer 2's output token looks: the supplement's Figures 2-12 draw the image locations that SAM's second
decoder layer attends to most (token-to-image attention), as circles whose radius grows with the score.

For Stable-SAM a key at grid cell j carries the features sampled at j + Δp_j (its deformable sampling), so its
attention lands at the sampled position; for SAM (α1 forced to 0, exactly SAM's decoder) at the cell centre.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sam_repro.methods.base import Prediction
from sam_repro.methods.stablesam.segmenter import StableSamSegmenter

MASK_TOKEN = 1
"""Index of the single-mask output token among the decoder's tokens (SAM: the IoU token, then the mask tokens)."""


@dataclass
class AttentionPoints:
    """The ``top_k`` most attended locations of one prediction.

    Attributes:
        xy: (k, 2) float positions in image pixels (x, y), sampled positions for Stable-SAM.
        scores: (k,) attention weights (mean over heads), descending.
        alpha_1: the routing weight of the prediction (0 for plain SAM).
        prediction: the prediction itself.
    """

    xy: np.ndarray
    scores: np.ndarray
    alpha_1: float
    prediction: Prediction


def attended_points(segmenter: StableSamSegmenter, *, top_k: int = 16, as_sam: bool = False,
                    **prompts: Any) -> AttentionPoints:
    """Predict with ``prompts`` (``predict``'s keyword arguments, single-mask output) and return where the output
    token's layer-2 attention goes. ``as_sam`` forces α1 = 0: plain SAM's decoder, attending at the cell centres.

    Raises:
        ValueError: the segmenter has no plug-in block or ``prompts`` ask for multimask.
    """
    block = segmenter.plugin_block
    if block is None:
        raise ValueError(f"{segmenter.name}: no plug-in block to read the attention of")
    if prompts.get("multimask"):
        raise ValueError("attended_points reads the single-mask output token: pass multimask=False")
    previous_force, previous_record = segmenter.force_alpha, block.record_attention
    block.record_attention = True
    try:
        if as_sam:
            segmenter.force_alpha = 0.0
        prediction = segmenter.predict(**prompts, multimask=False)
        weights = block.last_attention[0, :, MASK_TOKEN].mean(0).cpu().numpy()  # (g*g,)
        offsets = block.last_offsets[0].cpu().numpy()  # (2, g, g) in cells, x then y
        alpha = float(block.last_alpha[0, 0])
    finally:
        segmenter.force_alpha = previous_force
        block.record_attention = previous_record
        block.last_attention = None
    grid = block.grid
    rows, cols = np.divmod(np.arange(grid * grid), grid)
    x_cells, y_cells = cols + 0.5, rows + 0.5
    if not as_sam:
        x_cells = x_cells + offsets[0].ravel()
        y_cells = y_cells + offsets[1].ravel()
    image_size = segmenter.model.image_encoder.img_size
    height, width = segmenter.embedding.original_size
    to_image = image_size / grid / (image_size / max(height, width))  # grid cell -> resized input -> image px
    order = np.argsort(-weights)[:top_k]
    xy = np.stack([x_cells[order], y_cells[order]], axis=1) * to_image
    return AttentionPoints(xy, weights[order], 0.0 if as_sam else alpha, prediction)
