"""Input checks shared by every segmenter: images and prompts in, clear errors out."""
from __future__ import annotations

from typing import Any

import numpy as np


def as_rgb_image(image: Any, name: str = "image") -> np.ndarray:
    """Return ``image`` as an (H, W, 3) uint8 RGB array.

    Accepts (H, W, 3) uint8 RGB as is, converts grayscale ((H, W) or (H, W, 1)) by repeating the
    channel and RGBA ((H, W, 4)) by dropping alpha. PIL images are read as the package's image reader
    reads files (:func:`sam_repro.data.image_io.pil_to_rgb`): 16-bit grayscale is scaled to 8 bits
    (``>> 8``; Pillow's own conversion would saturate it to white), 32-bit / float grayscale is kept up
    to 255 and otherwise scaled by its maximum, other modes go through Pillow. A torch tensor is
    accepted in the same (H, W, 3) uint8 layout (moved to the CPU); a (3, H, W) tensor is refused with a
    hint to permute it.

    Raises:
        TypeError: not an array, tensor or PIL image, or not uint8.
        ValueError: wrong number of dimensions/channels, or an empty image.
    """
    if hasattr(image, "detach") and hasattr(image, "cpu") and hasattr(image, "numpy"):
        # a torch tensor, recognised without importing torch (checked first: tensors also have .mode and .size)
        tensor_shape = tuple(image.shape)
        image = image.detach().cpu().numpy()
        if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[2] not in (1, 3, 4):
            raise ValueError(f"{name}: got a (C, H, W) tensor of shape {tensor_shape}; expected (H, W, 3) uint8 RGB "
                             "(use tensor.permute(1, 2, 0))")
    elif type(image).__module__.startswith("PIL.") and hasattr(image, "mode") and hasattr(image, "convert"):
        from sam_repro.data.image_io import pil_to_rgb  # PIL only matters when a PIL image is passed

        image = pil_to_rgb(image)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array (H, W, 3) uint8 RGB (or a PIL image, or an (H, W, 3) "
                        f"uint8 torch tensor), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(
            f"{name} must have dtype uint8 with values 0..255, got {image.dtype}"
            + (" (for a float image in [0, 1], pass (image * 255).round().astype(np.uint8))"
               if np.issubdtype(image.dtype, np.floating) else "")
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    elif not (image.ndim == 3 and image.shape[2] == 3):
        raise ValueError(f"{name} must be (H, W, 3) RGB, (H, W) grayscale or (H, W, 4) RGBA; got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    return np.ascontiguousarray(image)


def check_points(points: Any, labels: Any, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """Validate point prompts: ``points`` (N, 2) xy pixels inside the (H, W) image, ``labels`` (N,) in {0, 1}.

    Returns:
        (points float64 (N, 2), labels int64 (N,)), or (None, None) when both are None.
    """
    if points is None and labels is None:
        return None, None
    if points is None or labels is None:
        raise ValueError("points and labels must be given together (labels: 1 = foreground, 0 = background)")
    pts = np.asarray(points, dtype=np.float64)
    lab = np.asarray(labels)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] == 0:
        raise ValueError(f"points must be an (N, 2) array of xy pixel coordinates with N >= 1, got shape {pts.shape}")
    if lab.shape != (pts.shape[0],):
        raise ValueError(f"labels must have shape ({pts.shape[0]},) to match points, got {lab.shape}")
    if not np.all(np.isin(lab, (0, 1))):
        raise ValueError(f"labels must be 1 (foreground) or 0 (background), got values {np.unique(lab).tolist()}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("points contain NaN or infinite coordinates")
    height, width = size
    outside = (pts[:, 0] < 0) | (pts[:, 0] > width) | (pts[:, 1] < 0) | (pts[:, 1] > height)
    if outside.any():
        raise ValueError(
            f"points {pts[outside].tolist()} lie outside the image (x in [0, {width}], y in [0, {height}]); "
            "points are xy (column, row) pixel coordinates"
        )
    return pts, lab.astype(np.int64)


def check_box(box: Any, size: tuple[int, int]) -> np.ndarray | None:
    """Validate a box prompt: (4,) or (1, 4) xyxy pixels with x0 <= x1, y0 <= y1, overlapping the image."""
    if box is None:
        return None
    arr = np.asarray(box, dtype=np.float64).reshape(-1)
    if arr.shape != (4,):
        raise ValueError(f"box must be 4 numbers x0, y0, x1, y1 (xyxy pixels), got shape {np.shape(box)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"box {arr.tolist()} contains NaN or infinite values")
    x0, y0, x1, y1 = arr
    if x1 < x0 or y1 < y0:
        raise ValueError(f"box {arr.tolist()} must be xyxy with x0 <= x1 and y0 <= y1")
    height, width = size
    if x1 < 0 or y1 < 0 or x0 > width or y0 > height:
        raise ValueError(f"box {arr.tolist()} lies entirely outside the {width}x{height} image")
    return arr


def check_mask_input(mask_input: Any, low_res_size: int) -> np.ndarray | None:
    """Validate a mask prompt: the (1, h, w) low-res logits of a previous prediction (h = w = low_res_size)."""
    if mask_input is None:
        return None
    arr = np.asarray(mask_input, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape != (1, low_res_size, low_res_size):
        raise ValueError(
            f"mask_input must be the (1, {low_res_size}, {low_res_size}) low-res logits of a previous prediction "
            f"(Prediction.low_res), got shape {np.shape(mask_input)}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("mask_input contains NaN or infinite values")
    return arr
