"""Random positive point prompts (HQ-SAM training; Stable-SAM's 1-point / 3-point evaluation).

Points are (N, 2) float64 arrays of **integer pixel indices** in xy order (x = column, y = row)
with (N,) int64 labels (1 = positive, 0 = negative), the format of
``SamPredictor.predict(point_coords=..., point_labels=...)``. Integer indices, not pixel centres
``+0.5``: SAM's prompt encoder adds the half-pixel shift itself, and HQ-SAM samples from an
``arange`` grid.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import check_mask, check_positive_int, check_rng

#: Number of random positive points in HQ-SAM's point prompt.
HQ_SAM_NUM_POINTS = 10

__all__ = ["HQ_SAM_NUM_POINTS", "random_points"]


def random_points(
    mask: Any,
    rng: np.random.Generator,
    k: int = HQ_SAM_NUM_POINTS,
    *,
    allow_fewer: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` distinct foreground pixels drawn uniformly (HQ-SAM ``misc.masks_sample_points``).

    Sampling is without replacement, like HQ-SAM's random permutation of the foreground pixels.

    Args:
        mask: (H, W) bool.
        rng: the only source of randomness.
        k: number of points (HQ-SAM: 10).
        allow_fewer: when the mask has fewer than ``k`` pixels, return all of them (shuffled)
            instead of raising. HQ-SAM drops the point prompt for such a batch.

    Returns:
        points (min(k, n), 2) float64 xy pixel indices, labels (min(k, n),) int64 all 1.

    Raises:
        ValueError: empty mask, or fewer than ``k`` foreground pixels without ``allow_fewer``.
    """
    m = check_mask(mask, "mask", allow_empty=False)
    rng = check_rng(rng)
    k = check_positive_int(k, "k")
    ys, xs = np.nonzero(m)
    n = ys.size
    if n < k and not allow_fewer:
        raise ValueError(
            f"mask: has {n} foreground pixels, fewer than k={k} distinct points "
            "(HQ-SAM drops the point prompt then); pass allow_fewer=True to get all of them"
        )
    idx = rng.choice(n, size=min(k, n), replace=False)
    points = np.stack([xs[idx], ys[idx]], axis=1).astype(np.float64)
    return points, np.ones(len(idx), dtype=np.int64)
