"""DIS-SAM's second-stage input: the image, SAM's coarse mask and the prompt box as one 5-channel map.

Channel order follows the official code (RGB, SAM mask, box mask); the paper's text puts the box before the mask
(``order="paper"`` swaps them: a file trained one way must be run the same way). RGB is normalised as the code does,
``x / 255 - 0.5`` (std 1); the mask and the box stay in [0, 1]. The box is a filled rectangle over the pixels whose
centres lie in the tight box (inclusive bounds, HQ-SAM's ``mask_to_box`` convention). DIS-SAM's Table 2 ablations
feed all-zero channels for the inputs a row leaves out (``use_mask`` / ``use_box``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

ORDERS = ("code", "paper")


def box_map(box: Any, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float32: 1 inside the xyxy ``box`` (inclusive pixel bounds, fractional bounds rounded inwards to the
    pixel centres they contain), 0 outside; a box that holds no pixel centre gives all zeros."""
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    height, width = shape
    out = np.zeros((height, width), np.float32)
    c0, c1 = max(0, int(np.ceil(x0))), min(width - 1, int(np.floor(x1)))
    r0, r1 = max(0, int(np.ceil(y0))), min(height - 1, int(np.floor(y1)))
    if c0 <= c1 and r0 <= r1:
        out[r0 : r1 + 1, c0 : c1 + 1] = 1.0
    return out


def five_channel_input(image: np.ndarray, sam_mask: np.ndarray | None, box: Any | None, *, use_mask: bool = True,
                       use_box: bool = True, order: str = "code") -> np.ndarray:
    """The (5, H, W) float32 input of DIS-SAM's IS-Net.

    Args:
        image: (H, W, 3) uint8 RGB.
        sam_mask: (H, W) bool or float in [0, 1], SAM's coarse mask (None only with ``use_mask=False``).
        box: (4,) xyxy in pixels (None only with ``use_box=False``).
        use_mask, use_box: False fills that channel with zeros (Table 2's rows without it).
        order: ``"code"`` (RGB, mask, box) or ``"paper"`` (RGB, box, mask).

    Raises:
        ValueError: a wrong shape, an order not in :data:`ORDERS`, or a used input that is None.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    shape = image.shape[:2]
    rgb = image.astype(np.float32).transpose(2, 0, 1) / 255.0 - 0.5
    mask = np.zeros(shape, np.float32)
    if use_mask:
        if sam_mask is None:
            raise ValueError("sam_mask: needed with use_mask=True (pass use_mask=False for a row without it)")
        if sam_mask.shape != shape:
            raise ValueError(f"sam_mask must have the image's shape {shape}, got {sam_mask.shape}")
        mask = np.clip(sam_mask.astype(np.float32), 0.0, 1.0)
    boxes = np.zeros(shape, np.float32)
    if use_box:
        if box is None:
            raise ValueError("box: needed with use_box=True (pass use_box=False for a row without it)")
        boxes = box_map(box, shape)
    extra = [mask, boxes] if order == "code" else [boxes, mask]
    return np.concatenate([rgb, np.stack(extra)], axis=0)
