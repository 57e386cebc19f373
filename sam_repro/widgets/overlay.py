"""What travels to the browser: the image layer once per image, a mask overlay after every action.

The overlay is a 2-colour palette PNG (transparent / the mask colour at ``alpha``), so it stays small and
fast to encode at 1024 px (a few kB for a compact object) and the browser draws it as-is on the mask layer.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

#: RGB of the mask overlay (SAM's demo blue) and its opacity.
MASK_COLOR = (30, 144, 255)
MASK_ALPHA = 0.55


def mask_overlay_png(mask: np.ndarray, color: tuple[int, int, int] = MASK_COLOR, alpha: float = MASK_ALPHA,
                     compress_level: int = 1) -> bytes:
    """Encode an (H, W) bool mask as a PNG overlay: ``color`` at opacity ``alpha`` inside, fully transparent
    outside (a 1-bit palette image with a transparency chunk).

    Args:
        compress_level: zlib level; 1 is fastest and the mask is mostly runs, so it still compresses well.

    Raises:
        ValueError: ``mask`` is not 2-D or ``alpha`` is outside [0, 1].
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    image = Image.fromarray(mask.astype(bool).astype(np.uint8), mode="L").convert("P")
    image.putpalette([0, 0, 0, *color])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=bytes([0, int(round(alpha * 255))]), bits=1,
               compress_level=compress_level, optimize=False)
    return buffer.getvalue()


def image_png(image: np.ndarray, compress_level: int = 1) -> bytes:
    """Encode an (H, W, 3) uint8 RGB image as PNG (lossless: the person sees the pixels the model sees)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def decode_rgba(png: bytes) -> np.ndarray:
    """PNG bytes -> (H, W, 4) uint8 RGBA (what the browser draws; used by tests and the benchmark)."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
