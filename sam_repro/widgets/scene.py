"""The demos' image at another size (the latency benchmark and the browser check measure 1024 px)."""
from __future__ import annotations

import numpy as np
from PIL import Image


def resize_scene(image: np.ndarray, masks: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Resize an (H, W, 3) uint8 image (bilinear) and its (K, H, W) bool masks (nearest) so that the long side is
    ``side`` px; returns (image, masks, factor) with factor = new / old size (multiply prompts by it)."""
    if side < 1:
        raise ValueError(f"side must be >= 1, got {side}")
    factor = side / max(image.shape[:2])
    height, width = round(image.shape[0] * factor), round(image.shape[1] * factor)
    resized = np.asarray(Image.fromarray(np.asarray(image, np.uint8)).resize((width, height), Image.BILINEAR))
    masks = np.asarray(masks, bool)
    resized_masks = np.stack([np.asarray(Image.fromarray(m).resize((width, height), Image.NEAREST)) for m in masks]) \
        if len(masks) else np.zeros((0, height, width), bool)
    return resized, resized_masks.astype(bool), factor
