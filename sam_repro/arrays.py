"""Array conversion shared by the metrics and prompt modules' input checks."""
from __future__ import annotations

from typing import Any

import numpy as np


def as_numpy(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a numpy array; torch tensors are detached and moved to the CPU (torch is not imported).

    Raises:
        TypeError: when ``x`` is not array-like (e.g. ``None`` or a string), naming ``name``.
    """
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        return x.detach().cpu().numpy()
    if x is None or isinstance(x, (str, bytes, dict)):
        raise TypeError(f"{name}: expected a numpy array of shape (H, W), got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"{name}: expected a numeric numpy array of shape (H, W), got an object array")
    return arr
