"""AlignSAM weights: the trained parts alone (agents and SRMs of every task), tied to the SAM and CLIP under them.

No official AlignSAM weights or code exist (research/methods.md §1): every file is one trained by ``sam-repro train
alignsam``. The file is a :mod:`parts-only <sam_repro.backbones.parts>` file holding ``TASK.agent.*``,
``TASK.implicit.*`` and ``TASK.explicit.*`` with the tasks and the parts' configuration in its metadata, the SAM
weights' sha256 (``base_sha256``, checked at load) and the CLIP's (``clip_sha256``: the explicit branch refuses any
other CLIP, since its SRM learnt that CLIP's maps).
"""
from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from sam_repro.backbones.checkpoints import CheckpointError, WeightsNotFoundError, read_state_dict, sha256_file
from sam_repro.backbones.parts import check_base, load_parts, read_parts_checkpoint, save_parts_checkpoint
from sam_repro.backbones.weights import ALIGN_TRAIN_COMMAND, get_weights, resolve_sam_weights, resolve_weights
from sam_repro.methods.alignsam.model import build_heads

TRAIN_COMMAND = ALIGN_TRAIN_COMMAND


def save_alignsam_parts(heads: nn.ModuleDict, path: str | os.PathLike, *, backbone: str, base_sha256: str,
                        clip_sha256: str | None, head_config: dict[str, Any], meta: dict[str, Any] | None = None,
                        dtype: torch.dtype | None = None) -> str:
    """Write every task's parts with the head configuration and the CLIP's sha256; return the file's sha256."""
    info = {**dict(meta or {}), "tasks": list(heads.keys()), "head_config": dict(head_config),
            "clip_sha256": clip_sha256}
    return save_parts_checkpoint(heads.state_dict(), path, method="alignsam", backbone=backbone,
                                 base_sha256=base_sha256, meta=info, dtype=dtype)


def resolve_alignsam_checkpoint(backbone: str, checkpoint: str | os.PathLike | None) -> tuple[Any, str | None]:
    """The AlignSAM parts file for ``backbone`` and its expected sha256.

    Raises:
        WeightsNotFoundError: none registered and none given, or not on this machine (with how to get one).
    """
    alternatives = f"pass checkpoint=PATH (an AlignSAM parts file), random_init=True, or train one with `{TRAIN_COMMAND}`"
    entry = get_weights("alignsam", backbone)
    if entry is None:
        if checkpoint is None:
            raise WeightsNotFoundError(f"no AlignSAM weights are registered for backbone {backbone!r}; {alternatives}")
        if not os.path.isfile(os.fspath(checkpoint)):
            raise WeightsNotFoundError(f"checkpoint={os.fspath(checkpoint)!r}: no such file")
        return checkpoint, None
    return resolve_weights(entry, checkpoint, missing_hint=alternatives)


def check_clip(path: Any, meta: dict[str, Any], clip_sha256: str | None) -> None:
    """Refuse a CLIP other than the one the parts in ``path`` were trained with.

    Raises:
        CheckpointError: naming both digests and the command that retrains the parts.
    """
    recorded = meta.get("clip_sha256")
    if recorded is None:
        raise CheckpointError(f"parts file {path} was trained without a CLIP: its explicit branch cannot run (use the "
                              f"implicit branch, or retrain with a CLIP: `{TRAIN_COMMAND}`)")
    if clip_sha256 is None or clip_sha256.lower() != str(recorded).lower():
        raise CheckpointError(f"parts file {path} was trained with the CLIP of sha256 {recorded}, but the CLIP given "
                              f"has sha256 {clip_sha256}: load the CLIP it was trained with, or retrain the parts "
                              f"with `{TRAIN_COMMAND}`")


def load_alignsam_parts(model: nn.Module, backbone: str, checkpoint: str | os.PathLike | None = None, *,
                        random_init: bool = False, seed: int = 0, base_sha256: str | None = None,
                        head_config: dict[str, Any] | None = None,
                        base_path: Any = None) -> tuple[nn.ModuleDict, dict[str, Any]]:
    """The task heads for a loaded SAM ``model``: seeded random ones, or a parts file's (checked against
    ``base_sha256``, the SAM file's digest).

    Returns:
        (heads in eval mode on the model's device, provenance with checkpoint, checkpoint_sha256, clip_sha256 (the
        CLIP the parts were trained with), head_config).

    Raises:
        CheckpointError: not an AlignSAM parts file, of another backbone, trained on other SAM weights, or not
            fitting; WeightsNotFoundError: nothing to load.
    """
    device = next(model.parameters()).device
    channels = int(model.prompt_encoder.embed_dim)
    if random_init:
        config = dict(head_config or {})
        heads = build_heads(channels, seed=seed, **config)
        return heads.to(device).eval(), {"checkpoint": None, "checkpoint_sha256": None, "clip_sha256": None,
                                         "head_config": config, "parts": f"random(seed={seed})"}
    path, expected = resolve_alignsam_checkpoint(backbone, checkpoint)
    parts, meta = read_parts_checkpoint(path, method="alignsam", backbone=backbone, expected_sha256=expected)
    if base_sha256 is None:
        raise CheckpointError(f"{path}: AlignSAM parts need SAM weights with a known sha256 under them")
    check_base(path, meta, base_path, base_sha256, TRAIN_COMMAND)
    config = dict(meta.get("head_config") or {})
    heads = build_heads(channels, tasks=list(meta.get("tasks") or []), seed=seed, **config)
    load_parts(heads, parts, list(heads.state_dict()), path)
    return heads.to(device).eval(), {"checkpoint": str(path), "checkpoint_sha256": expected or sha256_file(path),
                                     "clip_sha256": meta.get("clip_sha256"), "head_config": config,
                                     "parts_meta": {k: meta[k] for k in ("steps", "command") if k in meta}}


def freeze(module: nn.Module) -> nn.Module:
    """No gradient for ``module``'s parameters (SAM and CLIP stay frozen: the paper's "keeping its parameters
    frozen"); returns it in eval mode."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module.eval()


__all__ = ["TRAIN_COMMAND", "check_clip", "freeze", "load_alignsam_parts", "read_state_dict",
           "resolve_alignsam_checkpoint", "resolve_sam_weights", "save_alignsam_parts"]
