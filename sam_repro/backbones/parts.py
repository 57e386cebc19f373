"""Parts-only checkpoints: the trained parts of a method (plug-ins, extra heads), stored without the SAM weights
they sit on, tied to those weights by sha256.

A method that freezes SAM and trains a few parts ships only those parts (a few hundred KB instead of SAM's MB), with
the sha256 of the SAM file they were trained on in the file's metadata. Loading puts them on top of SAM weights of
that digest only: retraining the tiny SAM can never leave a method silently sitting on weights it was not trained
with. (HQ-SAM's ``hq_sam_tiny.pt`` predates this module and keeps its own, equivalent format tag.)
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from sam_repro.backbones.checkpoints import CheckpointError, read_checkpoint, save_checkpoint

PARTS_FORMAT = "sam-repro/parts/1"
"""``meta["format"]`` of a parts-only file (:func:`save_parts_checkpoint`)."""


def save_parts_checkpoint(state: Mapping[str, torch.Tensor], path: str | os.PathLike, *, method: str, backbone: str,
                          base_sha256: str, meta: Mapping[str, Any] | None = None,
                          dtype: torch.dtype | None = None) -> str:
    """Write ``state`` (the trained parts, full state-dict names) atomically with ``meta`` plus ``format``,
    ``method``, ``backbone`` and ``base_sha256``; return the file's sha256.

    Raises:
        ValueError: ``base_sha256`` is not a 64-hex-digit digest, or ``state`` is empty.
    """
    if not isinstance(base_sha256, str) or len(base_sha256) != 64:
        raise ValueError(f"base_sha256 must be the 64-hex-digit sha256 of the SAM weights, got {base_sha256!r}")
    if not state:
        raise ValueError("state holds no parameters: nothing to save")
    info = {**dict(meta or {}), "format": PARTS_FORMAT, "method": method, "backbone": backbone,
            "base_sha256": base_sha256.lower()}
    return save_checkpoint({k: v.detach().cpu() for k, v in state.items()}, path, meta=info, dtype=dtype)


def read_parts_checkpoint(path: str | os.PathLike, *, method: str, backbone: str,
                          expected_sha256: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The parts and metadata of a parts-only file of ``method`` for ``backbone``.

    Raises:
        CheckpointError: not a parts-only file (naming the file and what it lacks), of another method or backbone;
            and the errors of :func:`~sam_repro.backbones.checkpoints.read_checkpoint`.
    """
    state, meta = read_checkpoint(path, expected_sha256=expected_sha256)
    if meta.get("format") != PARTS_FORMAT or not isinstance(meta.get("base_sha256"), str):
        raise CheckpointError(f"checkpoint {path} is not a parts-only file of {method} (meta format {PARTS_FORMAT!r} "
                              "with base_sha256, written by save_parts_checkpoint)")
    if meta.get("method") != method:
        raise CheckpointError(f"checkpoint {path} holds parts of method {meta.get('method')!r}, not {method!r}")
    if meta.get("backbone") != backbone:
        raise CheckpointError(f"checkpoint {path} was trained for backbone {meta.get('backbone')!r}, not {backbone!r}")
    return state, meta


def check_base(path: str | os.PathLike, meta: Mapping[str, Any], base_path: str | os.PathLike, base_sha256: str,
               train_command: str) -> None:
    """Refuse SAM weights other than the ones the parts in ``path`` were trained on.

    Raises:
        CheckpointError: naming both files, both digests and the command that retrains the parts.
    """
    recorded = str(meta["base_sha256"]).lower()
    if base_sha256.lower() != recorded:
        raise CheckpointError(
            f"parts file {path} was trained on top of SAM weights with sha256 {recorded}, but the SAM weights loaded "
            f"under it ({base_path}) have sha256 {base_sha256.lower()}. Load it with the SAM weights it was trained "
            f"on (base_checkpoint=PATH), or retrain the parts on these weights with `{train_command}`")


def load_parts(model: torch.nn.Module, parts: Mapping[str, torch.Tensor], expected: list[str],
               source: str | os.PathLike) -> None:
    """Copy ``parts`` into ``model``: the keys must be exactly ``expected`` and every shape must fit.

    Raises:
        CheckpointError: missing, unexpected or mis-shaped keys, named with ``source``.
    """
    missing, unexpected = sorted(set(expected) - set(parts)), sorted(set(parts) - set(expected))
    current = model.state_dict()
    shapes = [f"{k}: {tuple(parts[k].shape)} vs {tuple(current[k].shape)}" for k in expected
              if k in parts and tuple(parts[k].shape) != tuple(current[k].shape)]
    if missing or unexpected or shapes:
        problems = ([f"missing ({len(missing)}): {', '.join(missing[:8])}"] if missing else []) + \
                   ([f"unexpected ({len(unexpected)}): {', '.join(unexpected[:8])}"] if unexpected else []) + \
                   ([f"shape mismatch: {'; '.join(shapes[:8])}"] if shapes else [])
        raise CheckpointError(f"parts file {source} does not fit the model: " + "; ".join(problems))
    with torch.no_grad():
        for key in expected:
            current[key].copy_(parts[key])
