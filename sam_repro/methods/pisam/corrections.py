"""Corrective clicks for Pi-SAM's interactor: validation and image pixels -> the interactor's frame.

Clicks are given like SAM's points: ``corrections`` (K, 2) **xy** image pixel coordinates (x = column,
y = row; the pixel whose centre is (x + 0.5, y + 0.5)) with ``correction_labels`` (K,) in {0, 1}: 1 = a
missed foreground pixel (the official flag 1: a false negative to add), 0 = a false foreground pixel (flag 0:
a false positive to remove). So a user's "add" click is 1 and "remove" click 0, as for SAM's points.

The interactor reads clicks normalised over its G x G map, which covers the padded S x S input: the pixel
centre (x + 0.5) is scaled by ``ResizeLongestSide`` (per axis: new_w / W and new_h / H, as SAM scales its
points) and divided by S, so a click at map cell i lands at (i + 0.5) / G, the map's and the image PE's
pixel-centre convention (the official code's (row, col) / 256 is corrected here, see :mod:`.interactor`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sam_repro.methods.pisam.interactor import MAX_CORRECTIONS


def check_corrections(corrections: Any, labels: Any, size: tuple[int, int],
                      max_points: int = MAX_CORRECTIONS) -> tuple[np.ndarray, np.ndarray] | None:
    """Validate corrective clicks on an (H, W) image.

    Returns:
        (xy float64 (K, 2), labels int64 (K,)), or None for no corrections (both None, or K = 0).

    Raises:
        ValueError: a missing half, a bad shape, more than ``max_points`` clicks, labels not 0/1, NaN, or a
            click off the image; each message names ``corrections`` / ``correction_labels``.
    """
    if corrections is None and labels is None:
        return None
    if corrections is None or labels is None:
        raise ValueError("corrections and correction_labels must be given together (correction_labels: 1 = missed "
                         "foreground, 0 = false foreground)")
    pts = np.asarray(corrections, dtype=np.float64)
    lab = np.asarray(labels)
    if pts.size == 0 and lab.size == 0:
        return None
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"corrections must be a (K, 2) array of xy pixel coordinates, got shape {pts.shape}")
    if pts.shape[0] > max_points:
        raise ValueError(f"corrections: at most {max_points} clicks per prediction (Pi-SAM's interactor), "
                         f"got {pts.shape[0]}")
    if lab.shape != (pts.shape[0],):
        raise ValueError(f"correction_labels must have shape ({pts.shape[0]},) to match corrections, got {lab.shape}")
    if not np.all(np.isin(lab, (0, 1))):
        raise ValueError("correction_labels must be 1 (missed foreground) or 0 (false foreground), got values "
                         f"{np.unique(lab).tolist()}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("corrections contain NaN or infinite coordinates")
    height, width = size
    outside = (pts[:, 0] < 0) | (pts[:, 0] > width - 1) | (pts[:, 1] < 0) | (pts[:, 1] > height - 1)
    if outside.any():
        raise ValueError(f"corrections {pts[outside].tolist()} lie off the {width}x{height} image (x in [0, "
                         f"{width - 1}], y in [0, {height - 1}] pixel indices); corrections are xy (column, row)")
    return pts, lab.astype(np.int64)


def corrections_to_grid(points: np.ndarray, original_size: tuple[int, int], img_size: int) -> np.ndarray:
    """(K, 2) xy image pixel indices -> (K, 2) xy normalised over the model's padded S x S input (and so over
    its G x G map): ``(x + 0.5) * new_w / W / S``, ``(y + 0.5) * new_h / H / S``."""
    from segment_anything.utils.transforms import ResizeLongestSide

    height, width = original_size
    new_h, new_w = ResizeLongestSide.get_preprocess_shape(height, width, img_size)
    pts = np.asarray(points, dtype=np.float64)
    scale = np.array([new_w / width, new_h / height]) / img_size
    return (pts + 0.5) * scale
