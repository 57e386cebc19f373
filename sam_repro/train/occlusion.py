"""Stable-SAM's occlusion image synthesis (its supplement, "Occlusion Image Synthesis"), as a pure function.

For a training image, another image (already flipped and scale-jittered by the caller) gives an *occluder*: one of
its objects, cut out with its mask and pasted so that its centre falls inside the bounding box of an *occludee*
object of the training image. The masks of the training image's objects lose what the occluder covers; objects
left with (almost) nothing are removed. The paper does not say whether the occluder becomes an annotated object:
here it does (copy-paste practice), so the pasted object can also be a prompt's target.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Occlusion:
    """What :func:`paste_occluder` did (for tests and figures): the occludee's index and box (xyxy, inclusive
    pixel bounds) before pasting, the pasted centre (x, y) and the indices of the objects kept."""

    occludee: int
    occludee_box: tuple[int, int, int, int]
    centre: tuple[float, float]
    kept: list[int]


def paste_occluder(image: np.ndarray, coverage: np.ndarray, occluder_image: np.ndarray, occluder_soft: np.ndarray,
                   rng: np.random.Generator, *, min_area: int = 16) -> tuple[np.ndarray, np.ndarray, Occlusion | None]:
    """Paste the occluder onto ``image`` over a random object and update the masks.

    Args:
        image: (h, w, 3) uint8 training image; coverage: (K, h, w) float32 in [0, 1], its objects.
        occluder_image: (h2, w2, 3) uint8; occluder_soft: (h2, w2) float32 coverage of the occluder object in it.
        min_area: an object keeping fewer pixels >= 0.5 is removed (fully occluded); an occluder smaller than this
            is not pasted.

    Returns:
        the new image, the new (K', h, w) coverage (kept objects in order, then the occluder) and an
        :class:`Occlusion` (None when nothing was pasted: no visible object to occlude or an empty occluder).
    """
    if coverage.ndim != 3 or coverage.shape[1:] != image.shape[:2]:
        raise ValueError(f"coverage must be (K, h, w) for image {image.shape}, got {coverage.shape}")
    if occluder_soft.shape != occluder_image.shape[:2]:
        raise ValueError(f"occluder_soft {occluder_soft.shape} does not match occluder_image {occluder_image.shape}")
    visible = [k for k in range(len(coverage)) if np.count_nonzero(coverage[k] >= 0.5) >= min_area]
    rows, cols = np.nonzero(occluder_soft >= 0.5)
    if not visible or len(rows) < min_area:
        return image, coverage, None
    occludee = visible[int(rng.integers(len(visible)))]
    orow, ocol = np.nonzero(coverage[occludee] >= 0.5)
    box = (int(ocol.min()), int(orow.min()), int(ocol.max()), int(orow.max()))
    cx, cy = rng.uniform(box[0], box[2] + 1), rng.uniform(box[1], box[3] + 1)
    top, left, bottom, right = rows.min(), cols.min(), rows.max() + 1, cols.max() + 1
    patch = occluder_image[top:bottom, left:right].astype(np.float32)
    alpha = occluder_soft[top:bottom, left:right].astype(np.float32)
    ph, pw = alpha.shape
    y0, x0 = int(round(cy - ph / 2)), int(round(cx - pw / 2))
    height, width = coverage.shape[1:]
    # the part of the patch that lands on the image
    sy0, sx0 = max(0, -y0), max(0, -x0)
    dy0, dx0 = max(0, y0), max(0, x0)
    dy1, dx1 = min(height, y0 + ph), min(width, x0 + pw)
    layer = np.zeros((height, width), np.float32)
    layer[dy0:dy1, dx0:dx1] = alpha[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    pasted = np.zeros((height, width, 3), np.float32)
    pasted[dy0:dy1, dx0:dx1] = patch[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    out = image.astype(np.float32) * (1 - layer[..., None]) + pasted * layer[..., None]
    remaining = coverage * (1 - layer)[None]
    kept = [k for k in range(len(coverage)) if np.count_nonzero(remaining[k] >= 0.5) >= min_area]
    new_coverage = np.concatenate([remaining[kept], layer[None]]) if np.count_nonzero(layer >= 0.5) >= min_area \
        else remaining[kept]
    if not len(new_coverage):
        return image, coverage, None
    return (np.clip(np.round(out), 0, 255).astype(np.uint8), new_coverage.astype(np.float32),
            Occlusion(occludee, box, (float(cx), float(cy)), kept))
