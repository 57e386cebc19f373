"""Input checks shared by the prompt generators: every error names the offending argument."""
from __future__ import annotations

from typing import Any

import numpy as np

from sam_repro.arrays import as_numpy as as_array  # noqa: F401


def check_2d(arr: np.ndarray, name: str, shape: tuple[int, int] | None = None) -> None:
    """Require a non-empty 2-D array, optionally of a given (H, W)."""
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 3 and (arr.shape[0] == 1 or arr.shape[-1] == 1):
            hint = " (squeeze the batch/channel axis first)"
        raise ValueError(f"{name}: expected a 2-D (H, W) array, got shape {arr.shape}{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty (H, W) array, got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name}: shape {arr.shape} differs from the ground truth's {tuple(shape)}")


def check_mask(
    mask: Any,
    name: str = "mask",
    *,
    allow_empty: bool = True,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Validate a binary mask: an (H, W) **bool** array (other dtypes are refused, not guessed).

    A uint8 0/255 PNG, a 0/1 label map and a probability map look alike as numbers, so the caller
    converts explicitly (``png > 128`` is the HQ-SAM/DIS convention, ``logits > 0`` for SAM output).

    Raises:
        TypeError: not an array or not bool.
        ValueError: not 2-D, zero-sized, the wrong shape, or empty when ``allow_empty`` is False.
    """
    arr = as_array(mask, name)
    if arr.dtype != np.bool_:
        hint = ""
        if arr.dtype == np.uint8:
            hint = " (for a 0/255 PNG use mask > 128, the HQ-SAM/DIS convention)"
        elif np.issubdtype(arr.dtype, np.integer):
            hint = " (for a 0/1 label map use mask == 1)"
        elif np.issubdtype(arr.dtype, np.floating):
            hint = " (threshold it first, e.g. prob > 0.5 or logits > 0)"
        raise TypeError(f"{name}: expected a bool (H, W) mask, got dtype {arr.dtype}{hint}")
    check_2d(arr, name, shape)
    if not allow_empty and not arr.any():
        raise ValueError(f"{name}: is empty (no foreground pixel)")
    return arr


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """Require an explicit ``numpy.random.Generator`` (no global state, no legacy RandomState)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name}: expected a numpy.random.Generator (e.g. numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def check_size(size: Any, name: str = "size") -> tuple[int, int]:
    """Validate an (H, W) pair of positive integers (an int n means (n, n))."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    try:
        height, width = size
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected (H, W), got {size!r}") from None
    for v in (height, width):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}: expected two positive integers (H, W), got {size!r}")
    return int(height), int(width)


def check_positive_int(value: Any, name: str) -> int:
    """Require an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    return int(value)
