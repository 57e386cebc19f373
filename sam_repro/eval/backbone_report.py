"""The grid round trip: how much of an object a SAM's low-resolution mask grid can hold (the backbone report's
``grid round trip`` column, the thin stand-ins' calibration and the HQ / Pi / Stable-SAM notebooks' ceiling). The
report itself, which builds the paper-layer result rows, is :mod:`sam_repro.reproduce.backbone_report`."""
from __future__ import annotations

import numpy as np


def low_res_round_trip_iou(gt: np.ndarray, low_res_size: int) -> float:
    """IoU of a ground truth with itself after a round trip through a SAM's low-resolution mask grid.

    SAM (and HQ-SAM) predict masks on a ``low_res_size`` x ``low_res_size`` grid over the image
    resized so that its longest side fills the grid, then upsample bilinearly. Area-averaging ``gt``
    onto that grid, upsampling it bilinearly back and thresholding at 0.5 shows how much of the
    object such a grid can hold: structures much thinner than one grid cell vanish. It is an
    estimate of the ceiling, not a strict bound (a model's logits need not be area averages).

    Args:
        gt: (H, W) bool mask at image resolution.
        low_res_size: the model's low-res mask side (``segmenter.low_res_size``; 256 for full SAM).

    Returns:
        IoU in [0, 1] (NaN for an empty mask).
    """
    import torch
    import torch.nn.functional as F

    from sam_repro.metrics import iou

    gt = np.asarray(gt, dtype=bool)
    if gt.ndim != 2:
        raise ValueError(f"gt must be an (H, W) mask, got shape {gt.shape}")
    if int(low_res_size) < 1:
        raise ValueError(f"low_res_size must be a positive int, got {low_res_size!r}")
    height, width = gt.shape
    scale = low_res_size / max(height, width)
    grid = (max(1, round(height * scale)), max(1, round(width * scale)))
    mask = torch.tensor(gt, dtype=torch.float32)[None, None]  # a copy: samples may be read-only
    coarse = F.interpolate(mask, size=grid, mode="area")
    back = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)[0, 0]
    return iou(back.numpy() > 0.5, gt)
