"""Mask losses: SAM's recipe (sigmoid focal + dice on the mask, MSE on the IoU head) and HQ-SAM's
(BCE + dice on PointRend-style uncertain points)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Focal loss (Lin et al. 2017) per mask, averaged over pixels.

    Args:
        logits, targets: (..., H, W); targets in {0, 1}.

    Returns:
        (...) loss per mask.
    """
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.flatten(-2).mean(-1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per mask. Args (..., H, W); returns (...)."""
    prob = logits.sigmoid().flatten(-2)
    targets = targets.flatten(-2)
    numerator = 2 * (prob * targets).sum(-1) + smooth
    denominator = prob.sum(-1) + targets.sum(-1) + smooth
    return 1 - numerator / denominator


def mask_iou(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU of (logits > 0) with binary targets, per mask (..., H, W) -> (...); 1 when both are empty."""
    pred = logits > 0
    gt = targets > 0.5
    inter = (pred & gt).flatten(-2).sum(-1).float()
    union = (pred | gt).flatten(-2).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


# -- PointRend-style point losses (HQ-SAM's mask loss, after Mask2Former) ------------------------------------
def point_sample(maps: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear values of ``maps`` at normalised points.

    Args:
        maps: (N, C, H, W).
        coords: (N, P, 2) xy in [0, 1] over the whole map (0 and 1 are its outer edges, as
            ``align_corners=False``), so maps of different resolutions are sampled at the same places.

    Returns:
        (N, C, P).
    """
    grid = (2.0 * coords - 1.0).unsqueeze(2)  # (N, P, 1, 2) in grid_sample's [-1, 1]
    return F.grid_sample(maps, grid, mode="bilinear", align_corners=False).squeeze(3)


def uncertain_point_coords(logits: torch.Tensor, num_points: int, oversample_ratio: float = 3.0,
                           importance_sample_ratio: float = 0.75,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Where to evaluate a mask loss, PointRend's training rule (Kirillov et al. 2020).

    Draw ``oversample_ratio * num_points`` uniform points, keep the ``importance_sample_ratio`` share
    of ``num_points`` whose logits are closest to 0 (the most uncertain, |logit| smallest), and fill
    the rest with fresh uniform points. No gradient flows through the choice.

    Args:
        logits: (N, 1, h, w) mask logits.

    Returns:
        (N, num_points, 2) xy in [0, 1] (see :func:`point_sample`).
    """
    if num_points < 1 or oversample_ratio < 1 or not 0 <= importance_sample_ratio <= 1:
        raise ValueError(f"need num_points >= 1, oversample_ratio >= 1 and importance_sample_ratio in [0, 1], got "
                         f"{num_points}, {oversample_ratio}, {importance_sample_ratio}")
    n = logits.shape[0]
    device = logits.device
    with torch.no_grad():
        candidates = torch.rand(n, int(num_points * oversample_ratio), 2, device=device, generator=generator)
        uncertainty = -point_sample(logits.detach()[:, :1], candidates)[:, 0].abs()  # (N, P * ratio)
        num_uncertain = int(importance_sample_ratio * num_points)
        chosen = uncertainty.topk(num_uncertain, dim=1).indices
        coords = torch.gather(candidates, 1, chosen.unsqueeze(-1).expand(-1, -1, 2))
        num_random = num_points - num_uncertain
        if num_random:
            coords = torch.cat([coords, torch.rand(n, num_random, 2, device=device, generator=generator)], dim=1)
    return coords


def bce_dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary cross-entropy (mean over elements) and dice (smooth 1) per mask.

    Args:
        logits, targets: (N, ...) with soft targets in [0, 1]; everything after N is one mask
            (an (H, W) map or (1, P) sampled points).

    Returns:
        (N,) BCE and (N,) dice loss.
    """
    flat_logits, flat_targets = logits.flatten(1), targets.flatten(1)
    bce = F.binary_cross_entropy_with_logits(flat_logits, flat_targets, reduction="none").mean(1)
    return bce, dice_loss(flat_logits.unsqueeze(1), flat_targets.unsqueeze(1))


#: HQ-SAM's 112 x 112 loss points per 256 x 256 logit map, as a share of the logit cells.
HQ_SAM_POINT_SHARE = 112 * 112 / (256 * 256)


def point_sampled_bce_dice(logits: torch.Tensor, targets: torch.Tensor, *, point_sampling: bool = True,
                           num_points: int = 0, oversample_ratio: float = 3.0, importance_sample_ratio: float = 0.75,
                           bce_weight: float = 1.0, dice_weight: float = 1.0,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """HQ-SAM's mask loss (also Stable-SAM's and Pi-SAM's), averaged over masks: ``bce_weight`` * BCE +
    ``dice_weight`` * dice at PointRend uncertain points (``point_sampling``) or densely on the logits upsampled
    to the targets' size.

    Args:
        logits: (N, 1, h, w) low-res logits; targets: (N, 1, H, W) soft masks in [0, 1].
        num_points: points per mask (0: HQ-SAM's share of the logit map, :data:`HQ_SAM_POINT_SHARE`).
    """
    if point_sampling:
        count = num_points or max(1, round(HQ_SAM_POINT_SHARE * logits.shape[-2] * logits.shape[-1]))
        coords = uncertain_point_coords(logits, count, oversample_ratio, importance_sample_ratio, generator=generator)
        logits, targets = point_sample(logits, coords), point_sample(targets, coords)
    else:
        logits = F.interpolate(logits, targets.shape[-2:], mode="bilinear", align_corners=False)
    bce, dice = bce_dice_loss(logits, targets)
    return (bce_weight * bce + dice_weight * dice).mean()



def iou_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """DIS-SAM's IoU loss per map, on probabilities: 1 - (sum(p*t) + 1) / (sum(p + t - p*t) + 1).

    Args:
        logits: (N, ...) logits; targets: (N, ...) in [0, 1].

    Returns:
        (N,) losses (0 for a confident, exact prediction; about 1 for a disjoint one).
    """
    probs, flat = torch.sigmoid(logits).flatten(1), targets.flatten(1)
    intersection = (probs * flat).sum(1)
    union = (probs + flat - probs * flat).sum(1)
    return 1 - (intersection + 1) / (union + 1)


def ortho_loss(parameters, include: str = "weights") -> torch.Tensor:
    """DIS-SAM's orthogonality regulariser: sum over the selected tensors W, flattened to (out, -1), of
    ``|W W^T - I|_1`` (element-wise absolute sum).

    Args:
        parameters: an iterable of ``(name, tensor)`` (``module.named_parameters()``).
        include: ``"weights"``: every non-bias tensor, as the official code does (batch-norm weights included: a
            (C,) vector becomes a (C, 1) matrix, so its W W^T is the C x C outer product); ``"conv"``: the
            convolution kernels alone (4-D tensors), as the paper's text says.

    Returns:
        a scalar (0 for rows that are orthonormal).
    """
    if include not in ("weights", "conv"):
        raise ValueError(f"include must be 'weights' or 'conv', got {include!r}")
    total = None
    for name, tensor in parameters:
        if name.endswith("bias") or (include == "conv" and tensor.ndim != 4):
            continue
        matrix = tensor.reshape(tensor.shape[0], -1)
        gram = matrix @ matrix.t()
        term = (gram - torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)).abs().sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("no tensor was selected for the orthogonality loss")
    return total
