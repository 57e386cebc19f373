"""Box prompts: the tight GT box (HQ-SAM) and DN-DETR-style noisy boxes (Stable-SAM).

Boxes are float64 numpy arrays of shape (4,) in xyxy image pixel coordinates
``[x0, y0, x1, y1]`` (x = column, y = row), the format ``SamPredictor.predict(box=...)`` takes.
"""
from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ._validate import check_mask, check_positive_int, check_rng, check_size

#: DN-DETR noise scale of Stable-SAM's noisy-box protocol (its supplement).
STABLE_SAM_BOX_NOISE_SCALE = 0.4
#: Minimum IoU with the tight box for Stable-SAM's noisy boxes. The filter is not public: this
#: value and the rejection sampling in :func:`noisy_box` are our reconstruction.
STABLE_SAM_MIN_IOU = 0.5

__all__ = [
    "STABLE_SAM_BOX_NOISE_SCALE",
    "STABLE_SAM_MIN_IOU",
    "BoxNoiseError",
    "mask_to_box",
    "box_iou",
    "noisy_box",
]


class BoxNoiseError(RuntimeError):
    """No noisy box reached ``min_iou`` within ``max_tries`` draws."""


def mask_to_box(mask: Any) -> np.ndarray:
    """Tight box of a mask, HQ-SAM convention (``train/utils/misc.py::masks_to_boxes``).

    The inclusive min/max column and row of the foreground pixels, with **no +1**: a single pixel
    at (row 5, col 7) gives ``[7, 5, 7, 5]``. HQ-SAM computes it on the label resized to the model
    input (1024x1024); call this on whatever grid the prompt is meant for.

    Args:
        mask: (H, W) bool.

    Returns:
        (4,) float64 ``[x_min, y_min, x_max, y_max]``.

    Raises:
        ValueError: the mask is empty (HQ-SAM would silently produce x_min = 1e8).
    """
    m = check_mask(mask, "mask")
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        raise ValueError("mask: is empty (no foreground pixel), so it has no bounding box")
    cols = np.flatnonzero(m.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.float64)


def _check_box(box: Any, name: str) -> np.ndarray:
    arr = np.asarray(box, dtype=np.float64)
    if arr.shape != (4,):
        raise ValueError(f"{name}: expected a (4,) xyxy box [x0, y0, x1, y1], got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: {arr.tolist()} contains NaN or infinite values")
    if arr[2] < arr[0] or arr[3] < arr[1]:
        raise ValueError(f"{name}: {arr.tolist()} must be xyxy with x0 <= x1 and y0 <= y1")
    return arr


def _interval_iou(a0: float, a1: float, b0: float, b1: float) -> float:
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = (a1 - a0) + (b1 - b0) - inter
    return inter / union if union > 0 else float(a0 == b0 and a1 == b1)


def box_iou(box_a: Any, box_b: Any) -> float:
    """IoU of two xyxy boxes with continuous areas ``(x1 - x0) * (y1 - y0)`` (torchvision convention).

    A tight box of a one-pixel-wide (or -high) object has zero area, and so do its noisy versions
    (the noise scales with the size). Two zero-area boxes on the same vertical (horizontal) line are
    therefore compared as intervals along y (x); other zero-area pairs give 1.0 when identical,
    else 0.0. Without this a rejection filter could never accept a box for such objects.

    Args:
        box_a, box_b: (4,) xyxy.

    Returns:
        IoU in [0, 1].
    """
    a = _check_box(box_a, "box_a")
    b = _check_box(box_b, "box_b")
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    if union > 0:
        return float(inter / union)
    if a[0] == a[2] == b[0] == b[2]:
        return _interval_iou(a[1], a[3], b[1], b[3])
    if a[1] == a[3] == b[1] == b[3]:
        return _interval_iou(a[0], a[2], b[0], b[2])
    return float(np.array_equal(a, b))


def _jitter(box: np.ndarray, scale: float, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    w, h = box[2] - box[0], box[3] - box[1]
    u = rng.uniform(-1.0, 1.0, size=4)
    # DN-DETR: the centre moves by up to scale * half the size, the size changes by up to scale * size.
    cx += u[0] * scale * w / 2
    cy += u[1] * scale * h / 2
    w += u[2] * scale * w
    h += u[3] * scale * h
    out = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    # HQ-SAM clamps to [0, 1024] for a 1024x1024 input, i.e. to [0, image size].
    out[0::2] = np.clip(out[0::2], 0.0, width)
    out[1::2] = np.clip(out[1::2], 0.0, height)
    return out


def noisy_box(
    box: Any,
    image_size: Any,
    rng: np.random.Generator,
    *,
    scale: float = STABLE_SAM_BOX_NOISE_SCALE,
    min_iou: float | None = None,
    max_tries: int = 100,
    on_failure: Literal["raise", "best"] = "raise",
) -> np.ndarray:
    """DN-DETR-style noisy box (HQ-SAM ``misc.box_noise``; Stable-SAM's noisy-box prompts).

    With ``(cx, cy, w, h)`` the centre and size of ``box``, draws ``u ~ U(-1, 1)^4`` and sets
    ``(cx, cy, w, h) += u * scale * (w/2, h/2, w, h)``, converts back to xyxy and clamps x to
    ``[0, W]`` and y to ``[0, H]`` (HQ-SAM clamps to [0, 1024] on its 1024x1024 input). So before
    clamping the centre moves by at most ``scale * w / 2`` (``scale * h / 2``) and the width (height)
    changes by at most ``scale * w`` (``scale * h``). ``scale`` is limited to [0, 1] so the size never
    turns negative; the centre then stays inside the input box, hence inside the image.

    With ``min_iou`` set, boxes are redrawn until ``box_iou(noisy, box) >= min_iou`` (IoU of the
    clamped box). Stable-SAM reports scale 0.4 with IoU >= 0.5 but its filter is not public; this
    rejection sampling is our reconstruction (HQ-SAM's own function has no filter). At scale 0.4
    and min IoU 0.5 about nine draws in ten are accepted for a box away from the image border
    (the worst unclamped IoU is about 0.36), so 100 tries practically never run out.

    Args:
        box: (4,) xyxy, typically :func:`mask_to_box` of the GT.
        image_size: (H, W) of the image the box lives in (an int n means (n, n)).
        rng: the only source of randomness.
        scale: noise scale in [0, 1]; 0.4 for Stable-SAM.
        min_iou: None (no filter) or the minimum IoU in (0, 1].
        max_tries: draws allowed before giving up (only with ``min_iou``).
        on_failure: ``"raise"`` (:class:`BoxNoiseError`) or ``"best"``: return the draw with the
            highest IoU seen.

    Returns:
        (4,) float64 xyxy.
    """
    b = _check_box(box, "box")
    height, width = check_size(image_size, "image_size")
    rng = check_rng(rng)
    if not 0.0 <= float(scale) <= 1.0:
        raise ValueError(f"scale: expected a value in [0, 1], got {scale!r}")
    if min_iou is not None and not 0.0 < float(min_iou) <= 1.0:
        raise ValueError(f"min_iou: expected None or a value in (0, 1], got {min_iou!r}")
    max_tries = check_positive_int(max_tries, "max_tries")
    if on_failure not in ("raise", "best"):
        raise ValueError(f"on_failure: expected 'raise' or 'best', got {on_failure!r}")

    if min_iou is None:
        return _jitter(b, float(scale), rng, height, width)
    best, best_iou = None, -1.0
    for _ in range(max_tries):
        candidate = _jitter(b, float(scale), rng, height, width)
        iou = box_iou(candidate, b)
        if iou >= min_iou:
            return candidate
        if iou > best_iou:
            best, best_iou = candidate, iou
    if on_failure == "best":
        return best
    raise BoxNoiseError(
        f"no noisy box with IoU >= {min_iou} in {max_tries} draws (scale {scale}, box {b.tolist()}, "
        f"best IoU {best_iou:.3f}); raise max_tries, lower min_iou or pass on_failure='best'"
    )
