"""The prompting agent: a fully convolutional actor (one logit per patch) and a critic (AlignSAM §3.2).

The paper gives no architecture (research/methods.md §1). Ours, chosen small and documented:

* **actor** pi_theta: conv3x3(C_in -> w) - ReLU - conv3x3(w -> w) - ReLU - conv1x1(w -> 1) gives a logit per
  embedding cell; :attr:`Geometry.patch_pooling <sam_repro.methods.alignsam.grid.Geometry.patch_pooling>` averages
  the cells of each patch, so there is one logit per action whatever the image size (fully convolutional, no
  flattening layer tied to a grid size);
* **critic** V: its own conv3x3 - ReLU - conv3x3 - ReLU trunk, a mean over the cells the image covers, a linear
  layer to a scalar (actor and critic are separate networks, as the paper's pi_theta and V_theta);
* the input is s_t (C channels), or [s_t, s_c] (2C) with ``sees_semantic`` (a parameter: the paper's actor reads
  s_t only, eq. 5, while the SRM reads both);
* patches already chosen are **masked** (``mask_chosen``, default on: the paper is silent; re-prompting a point
  adds nothing); the masked distribution gives them probability exactly 0.

A zero last actor layer gives equal logits, hence a uniform policy over the available patches (tested).
"""
from __future__ import annotations

import torch
from torch import nn

from sam_repro.nn.distributions import masked_categorical


def _trunk(in_channels: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(width, width, 3, padding=1), nn.ReLU())


class ActorCritic(nn.Module):
    """pi_theta and V_theta on (N, C_in, g, g) states.

    Args:
        channels: C, SAM's embedding channels.
        width: hidden channels of both trunks.
        sees_semantic: the input is [s_t, s_c] (2C channels) instead of s_t.
    """

    def __init__(self, channels: int, width: int = 32, sees_semantic: bool = False):
        super().__init__()
        self.channels, self.width, self.sees_semantic = int(channels), int(width), bool(sees_semantic)
        in_channels = channels * (2 if sees_semantic else 1)
        self.actor_trunk = _trunk(in_channels, width)
        self.actor_head = nn.Conv2d(width, 1, 1)
        self.critic_trunk = _trunk(in_channels, width)
        self.critic_head = nn.Linear(width, 1)

    def config(self) -> dict[str, int | bool]:
        """Constructor arguments (stored with the weights)."""
        return {"channels": self.channels, "width": self.width, "sees_semantic": self.sees_semantic}

    def inputs(self, s_t: torch.Tensor, s_c: torch.Tensor | None) -> torch.Tensor:
        """The network input: s_t, or [s_t, s_c] when the actor sees the semantic state.

        Raises:
            ValueError: ``sees_semantic`` without s_c.
        """
        if not self.sees_semantic:
            return s_t
        if s_c is None:
            raise ValueError("this agent sees the semantic state s_c (sees_semantic=True) but none was given: the "
                             "explicit branch needs a text and a CLIP")
        return torch.cat([s_t, s_c], dim=1)

    def forward(self, x: torch.Tensor, pooling: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-action logits (N, A) and values (N,).

        Args:
            x: (N, C_in, g, g) network input (:meth:`inputs`).
            pooling: (A, g*g) patch pooling matrix of the image (A = G*G).
            valid: (g, g) image coverage of each cell (the critic averages over the image only).
        """
        cells = self.actor_head(self.actor_trunk(x)).flatten(1)  # (N, g*g)
        logits = cells @ pooling.t().to(cells.dtype)
        features = self.critic_trunk(x)  # (N, w, g, g)
        weights = valid.to(features.dtype)
        pooled = (features * weights).sum(dim=(-2, -1)) / weights.sum().clamp_min(1e-6)
        return logits, self.critic_head(pooled)[:, 0]

    def distribution(self, logits: torch.Tensor, available: torch.Tensor | None) -> torch.distributions.Categorical:
        """The policy over available actions (masked ones get probability 0)."""
        return masked_categorical(logits, available)
