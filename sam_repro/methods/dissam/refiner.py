"""Running DIS-SAM's second stage (an :class:`~sam_repro.methods.isnet.ISNet`) on one image: resize the input map to
the network's square input, take side output 1, bring it back to the image size.

The official code resizes every input to a square of ``input_size`` (1024) with bilinear interpolation, whatever the
aspect ratio, and saves the prediction min-max normalised to [0, 1] (``normalization="minmax"``, the default here);
``"sigmoid"`` keeps the network's probabilities as they are.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

NORMALIZATIONS = ("minmax", "sigmoid")
_EPS = 1e-6


@torch.no_grad()
def refine(network: torch.nn.Module, inputs: np.ndarray, input_size: int,
           normalization: str = "minmax") -> np.ndarray:
    """(C, H, W) float32 input map -> (H, W) float32 probability map of side output 1 at the image size.

    Raises:
        ValueError: a normalization not in :data:`NORMALIZATIONS`, or a channel count the network was not built for.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    device = next(network.parameters()).device
    tensor = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))[None].to(device)
    height, width = tensor.shape[-2:]
    resized = F.interpolate(tensor, (input_size, input_size), mode="bilinear", align_corners=False)
    sides, _ = network(resized)
    logits = F.interpolate(sides[0], (height, width), mode="bilinear", align_corners=False)[0, 0]
    probability = torch.sigmoid(logits.float())
    if normalization == "minmax":
        low, high = probability.min(), probability.max()
        probability = (probability - low) / (high - low) if float(high - low) > 0 else probability
    return probability.cpu().numpy().astype(np.float32)


def probability_to_logits(probability: np.ndarray) -> np.ndarray:
    """The logits whose sigmoid is ``probability`` (clipped away from 0 and 1): how a soft map travels in a
    :class:`~sam_repro.methods.base.Prediction`, whose ``probability`` is the sigmoid of its logits."""
    p = np.clip(probability.astype(np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p)).astype(np.float32)
