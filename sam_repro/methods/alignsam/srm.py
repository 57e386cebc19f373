"""The semantic recalibration module (SRM, AlignSAM §3.3, eq. 11-13): a foreground map y_r on the embedding grid
whose value at a chosen point labels it positive or negative.

y_r = K(V(s_c, s_t)) (eq. 12), with a switchable V:

* **implicit** V(0, s_t): "two convolution blocks" on s_t alone; a block here is conv3x3 - GroupNorm - ReLU
  (GroupNorm, not BatchNorm: the SRM trains on one state at a time);
* **explicit** V(s_c, s_t): "three convolution layers to aggregate the two states", then "a self-attention
  layer", then "two convolution layers": conv3x3 on [s_c, s_t] (2C -> w), conv3x3, conv3x3 (ReLU between), one
  multi-head self-attention over the g*g cells (``heads`` heads, residual, LayerNorm; no positional encoding: the
  convolutions before it carry the spatial context), two conv3x3 - ReLU;
* K: a 1x1 convolution to one logit per cell.

Widths are not in the paper: w = 64 and 4 heads by default (documented choices). The loss is Dice + BCE (eq. 13)
against the ground truth area-averaged to the grid (:meth:`Geometry.target_grid
<sam_repro.methods.alignsam.grid.Geometry.target_grid>`), with ignored pixels (255) and the padding weighted out.
A point's label is y_r > 0.5 at the point (bilinear on the grid, :func:`label_points`).

Evaluation starts (the paper: "a positive point and a negative point ... with the highest and the lowest scores
predicted as foreground areas by the SRM") from :func:`initial_points`: before any SAM prediction M is unknown, so
the SRM reads s_0 = E_I(x) * 1 (M = 1 everywhere; paper silent) and the positive and negative points are the
centres of the cells of highest and lowest y_r among the cells inside the image.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sam_repro.methods.alignsam.grid import Geometry

BRANCHES = ("implicit", "explicit")


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    groups = 8 if out_channels % 8 == 0 else 1
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.GroupNorm(groups, out_channels),
                         nn.ReLU())


class ImplicitSRM(nn.Module):
    """V(0, s_t): two conv blocks on s_t, then the 1x1 classifier K. Input (N, C, g, g) -> logits (N, 1, g, g)."""

    branch = "implicit"

    def __init__(self, channels: int, width: int = 64):
        super().__init__()
        self.channels, self.width = int(channels), int(width)
        self.body = nn.Sequential(_block(channels, width), _block(width, width))
        self.classifier = nn.Conv2d(width, 1, 1)

    def config(self) -> dict[str, int]:
        return {"channels": self.channels, "width": self.width}

    def forward(self, s_c: torch.Tensor | None, s_t: torch.Tensor) -> torch.Tensor:
        """``s_c`` is ignored (the implicit branch has no text: V(0, s_t))."""
        return self.classifier(self.body(s_t))


class ExplicitSRM(nn.Module):
    """V(s_c, s_t): three convs on [s_c, s_t], self-attention, two convs, then K. Inputs (N, C, g, g) each."""

    branch = "explicit"

    def __init__(self, channels: int, width: int = 64, heads: int = 4):
        super().__init__()
        self.channels, self.width, self.heads = int(channels), int(width), int(heads)
        self.aggregate = nn.Sequential(nn.Conv2d(2 * channels, width, 3, padding=1), nn.ReLU(),
                                       nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                       nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.decode = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                    nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.classifier = nn.Conv2d(width, 1, 1)

    def config(self) -> dict[str, int]:
        return {"channels": self.channels, "width": self.width, "heads": self.heads}

    def forward(self, s_c: torch.Tensor | None, s_t: torch.Tensor) -> torch.Tensor:
        """Raises ValueError without s_c (the explicit branch needs a text and a CLIP map)."""
        if s_c is None:
            raise ValueError("the explicit SRM branch needs the semantic state s_c = E_I(x) * M_c: give a text and a "
                             "CLIP (or use the implicit branch)")
        x = self.aggregate(torch.cat([s_c, s_t], dim=1))
        n, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (N, g*g, w)
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        tokens = self.norm(tokens + attended)
        x = tokens.transpose(1, 2).reshape(n, c, h, w)
        return self.classifier(self.decode(x))


def build_srm(branch: str, channels: int, **options: int) -> nn.Module:
    """The SRM of ``branch`` (``implicit`` or ``explicit``).

    Raises:
        ValueError: unknown branch.
    """
    if branch == "implicit":
        return ImplicitSRM(channels, **options)
    if branch == "explicit":
        return ExplicitSRM(channels, **options)
    raise ValueError(f"SRM branch must be one of {', '.join(BRANCHES)}, got {branch!r}")


def srm_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Eq. 13: Dice + BCE of (N, 1, g, g) logits against soft targets in [0, 1], per-cell ``weight`` (0 = ignored)."""
    target = target.reshape(logits.shape).to(logits.dtype)
    weight = weight.reshape(logits.shape).to(logits.dtype)
    bce = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight).sum() \
        / weight.sum().clamp_min(1e-6)
    probability = torch.sigmoid(logits) * weight
    masked_target = target * weight
    dice = 1.0 - (2.0 * (probability * masked_target).sum() + smooth) / \
        (probability.sum() + masked_target.sum() + smooth)
    return bce + dice


def label_points(y_r_logits: torch.Tensor, geometry: Geometry, points: np.ndarray) -> np.ndarray:
    """(N,) int labels (1 = positive) of original-image xy points: y_r > 0.5 at each point (bilinear)."""
    probability = torch.sigmoid(y_r_logits.detach().reshape(geometry.grid, geometry.grid).float())
    return (geometry.sample(probability, points) > 0.5).to(torch.int64).cpu().numpy()


def initial_points(y_r_logits: torch.Tensor, geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Evaluation's P_0: the centres of the highest- and lowest-scoring cells of y_r inside the image.

    Returns:
        points (2, 2) xy in original pixels (positive first), labels [1, 0].
    """
    scores = y_r_logits.detach().reshape(-1).float().cpu().numpy()
    inside = geometry.valid_cells.reshape(-1) > 0.5
    if not inside.any():
        inside = geometry.valid_cells.reshape(-1) > 0
    index = np.flatnonzero(inside)
    best, worst = index[int(np.argmax(scores[index]))], index[int(np.argmin(scores[index]))]
    height, width = geometry.original_size
    centres = geometry.cell_centres()[[best, worst]]
    centres = np.clip(centres, 0.0, [width - 1e-3, height - 1e-3])
    return centres, np.array([1, 0])
