"""Action distributions shared by a policy (AlignSAM's agent, :mod:`sam_repro.methods.alignsam.agent`) and its
trainer (:mod:`sam_repro.train.ppo`): the method must not import from the trainer."""
from __future__ import annotations

import torch


def masked_categorical(logits: torch.Tensor, available: torch.Tensor | None) -> torch.distributions.Categorical:
    """A categorical over actions whose unavailable entries (``available`` False) get probability exactly 0.

    Args:
        logits: (B, A) float; available: (B, A) bool or None (all available).
    """
    if available is not None:
        if not bool(available.any(dim=-1).all()):
            raise ValueError("every state needs at least one available action")
        logits = logits.masked_fill(~available, torch.finfo(logits.dtype).min)
    return torch.distributions.Categorical(logits=logits)
