"""HQ-SAM weights: the official full state dicts and the embedded world's HQ-only files.

Two layouts load: the official full state dict (``sam_hq_vit_{b,l,h}.pth``: SAM and HQ parts together),
and an *HQ-only* file (:func:`save_hq_checkpoint`; the embedded world's ``hq_sam_tiny.pt``, written by
``sam-repro train hqsam``) that holds exactly the HQ parameters and, in its metadata, the sha256 of the
SAM weights they were trained on. An HQ-only file is loaded on top of the backbone's SAM weights (or
``base_checkpoint``) only when their digest matches, so the shipped file stays small and can never
silently sit on a retrained SAM.
"""
from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from sam_repro.backbones.build import PIXEL_MEAN, PIXEL_STD
from sam_repro.backbones.checkpoints import (
    CheckpointError, load_strict, read_checkpoint, read_state_dict, sha256_file,
)
from sam_repro.backbones.weights import (
    HQ_TRAIN_COMMAND, resolve_method_weights, resolve_sam_weights,
)
from sam_repro.backbones.registry import get_backbone
from sam_repro.backbones.specs import BackboneSpec
from sam_repro.device import resolve_device
from sam_repro.methods.hqsam.decoder import hq_parameter_names, is_hq_parameter
from sam_repro.methods.hqsam.model import SamHQ, build_hq_sam


_PIXEL_STATS = {"pixel_mean": PIXEL_MEAN, "pixel_std": PIXEL_STD}


def load_hq_state(model: SamHQ, state: dict[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load a full HQ-SAM state dict (the official layout) strictly.

    ``pixel_mean`` / ``pixel_std`` (non-persistent buffers in ``segment_anything``) are accepted and
    dropped when present, but only with SAM's normalisation values.

    Raises:
        CheckpointError: missing / unexpected / mis-shaped keys (named), a plain SAM checkpoint (with the
            fix), or pixel statistics other than SAM's.
    """
    state = dict(state)
    for key, values in _PIXEL_STATS.items():
        if key in state:
            stored = state.pop(key).detach().float().flatten().cpu()
            if not torch.allclose(stored, torch.tensor(values)):
                raise CheckpointError(f"checkpoint {source}: {key} = {stored.tolist()} is not SAM's {list(values)}")
    expected_hq = [name for name in model.state_dict() if is_hq_parameter(name)]
    if not any(is_hq_parameter(name) for name in state) and set(state) == set(model.state_dict()) - set(expected_hq):
        raise CheckpointError(
            f"checkpoint {source} is a plain SAM checkpoint (no HQ-SAM parameters such as {expected_hq[0]}); pass "
            "it with random_init_hq=True to start from SAM with freshly initialised HQ parts, or load an HQ-SAM file"
        )
    load_strict(model, state, source)


def load_sam_part(model: SamHQ, state: dict[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load a plain SAM state dict into the SAM parts of ``model`` strictly; the HQ parts keep their values."""
    present_hq = sorted(name for name in state if is_hq_parameter(name))
    if present_hq:
        raise CheckpointError(f"checkpoint {source} already holds HQ-SAM parameters ({present_hq[0]}, ...); "
                              "load it as an HQ-SAM checkpoint (without random_init_hq)")
    hq_state = {name: value for name, value in model.state_dict().items() if is_hq_parameter(name)}
    load_strict(model, {**state, **hq_state}, source)


HQ_ONLY_FORMAT = "sam-repro/hq-only/1"
"""``meta["format"]`` of an HQ-only checkpoint (:func:`save_hq_checkpoint`): the HQ parameters alone,
trained on top of the SAM weights whose sha256 is ``meta["base_sha256"]``."""


def hq_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The HQ-only entries of ``model``'s state dict (exactly :func:`hq_parameter_names`: the HQ
    modules hold no buffers), detached copies on the CPU."""
    names = set(hq_parameter_names(model))
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items() if name in names}


def save_hq_checkpoint(model: nn.Module, path: str | os.PathLike, *, base_sha256: str, backbone: str,
                       meta: dict[str, Any] | None = None, dtype: torch.dtype | None = None) -> str:
    """Write the HQ parameters of ``model`` alone (a small file: SAM's weights are not repeated),
    atomically, with ``meta`` plus ``format`` (:data:`HQ_ONLY_FORMAT`), ``backbone`` and
    ``base_sha256`` (the SAM weights the HQ parts were trained on); returns the file's sha256.

    :func:`load_hq_sam_model` loads such a file on top of the backbone's SAM weights and refuses
    SAM weights with another digest."""
    from sam_repro.backbones.checkpoints import save_checkpoint

    if not isinstance(base_sha256, str) or len(base_sha256) != 64:
        raise ValueError(f"base_sha256 must be the 64-hex-digit sha256 of the SAM weights, got {base_sha256!r}")
    info = {**dict(meta or {}), "format": HQ_ONLY_FORMAT, "backbone": backbone, "base_sha256": base_sha256.lower()}
    return save_checkpoint(hq_state_dict(model), path, meta=info, dtype=dtype)


def is_hq_only_checkpoint(state: dict[str, torch.Tensor], meta: dict[str, Any]) -> bool:
    """Whether a checkpoint is an HQ-only file: its metadata says so, or every key is an HQ parameter."""
    return meta.get("format") == HQ_ONLY_FORMAT or (bool(state) and all(is_hq_parameter(k) for k in state))


def load_hq_only_state(model: SamHQ, state: dict[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load an HQ-only state dict into the HQ parts of ``model``; SAM's parts keep their values.

    Strict: the keys must be exactly the model's HQ parameters (any missing or extra key, SAM keys
    included, and any shape mismatch is named with the file).

    Raises:
        CheckpointError: the keys or shapes do not fit.
    """
    current = model.state_dict()
    expected = [name for name in current if is_hq_parameter(name)]
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"missing HQ keys ({len(missing)}): {', '.join(missing[:12])}")
        if unexpected:
            problems.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:12])}")
        raise CheckpointError(f"HQ-only checkpoint {source} does not hold exactly the HQ parameters of the model: "
                              + "; ".join(problems))
    sam_state = {name: value for name, value in current.items() if not is_hq_parameter(name)}
    load_strict(model, {**sam_state, **state}, source)  # shapes are checked (and named) here



def resolve_hq_checkpoint(backbone: str, checkpoint: str | os.PathLike | None) -> tuple["os.PathLike", str | None]:
    """The HQ-SAM file to load for ``backbone`` (the weights registry's ``hqsam:BACKBONE``, or an explicit
    file) and the sha256 it must have (None: unchecked)."""
    return resolve_method_weights(
        "hqsam", backbone, checkpoint, label="HQ-SAM",
        alternatives="pass checkpoint=PATH (an HQ-SAM state dict), random_init_hq=True (the backbone's SAM weights "
                     "with freshly initialised HQ parts) or random_init=True")


def load_hq_sam_model(backbone: str | BackboneSpec, checkpoint: str | os.PathLike | None = None,
                      device: str | torch.device = "auto", random_init: bool = False, random_init_hq: bool = False,
                      seed: int = 0, base_checkpoint: str | os.PathLike | None = None) -> tuple[SamHQ, dict[str, Any]]:
    """Build a backbone's HQ-SAM and load its weights (strict, safe; verified where a digest is known).

    Args:
        backbone: SAM registry name or spec.
        checkpoint: with the default mode, an HQ-SAM file (None: the HQ registry's): either a full
            state dict (the official ``sam_hq_vit_*.pth`` layout) or an HQ-only file written by
            :func:`save_hq_checkpoint` (``hq_sam_tiny.pt``), which is loaded on top of SAM weights;
            with ``random_init_hq``, a plain SAM file (None: the backbone registry's SAM weights).
        random_init: no weights at all (seeded): tests, timing.
        random_init_hq: SAM weights plus freshly initialised (``seed``) HQ parts: the start of training.
        base_checkpoint: for an HQ-only file, the SAM weights to put under it (None: the backbone
            registry's). Their sha256 must be the one recorded in the HQ-only file.

    Returns:
        (model in eval mode on the device, provenance: backbone, device, checkpoint, checkpoint_sha256,
        sha256_verified, weights; for an HQ-only file also base_checkpoint and base_checkpoint_sha256).

    Raises:
        CheckpointError: a file does not fit (keys named), an HQ-only file without its base digest, or
            SAM weights other than the ones the HQ parts were trained on.
    """
    if random_init and random_init_hq:
        raise ValueError("pass random_init (no weights) or random_init_hq (SAM weights + new HQ parts), not both")
    if base_checkpoint is not None and (random_init or random_init_hq):
        raise ValueError("base_checkpoint is the SAM file under an HQ-only checkpoint; with random_init_hq pass the "
                         "SAM file as checkpoint, with random_init nothing is loaded")
    spec = get_backbone(backbone) if isinstance(backbone, str) else backbone
    target = resolve_device(device)
    provenance: dict[str, Any] = {"backbone": spec.name, "device": str(target)}
    state = base_state = None
    if random_init:
        provenance.update(checkpoint=None, checkpoint_sha256=None, sha256_verified=False,
                          weights=f"random(seed={seed})")
    elif random_init_hq:
        path, expected = resolve_sam_weights(spec.name, checkpoint)
        state = read_state_dict(path, expected_sha256=expected)  # read (and verify) before building
        provenance.update(checkpoint=str(path), checkpoint_sha256=expected or sha256_file(path),
                          sha256_verified=expected is not None,
                          weights=f"SAM checkpoint + random HQ parts (seed={seed})")
    else:
        path, expected = resolve_hq_checkpoint(spec.name, checkpoint)
        state, meta = read_checkpoint(path, expected_sha256=expected)
        provenance.update(checkpoint=str(path), checkpoint_sha256=expected or sha256_file(path),
                          sha256_verified=expected is not None, weights="checkpoint")
        if is_hq_only_checkpoint(state, meta):
            base_state, base_info = _read_base(spec, path, meta, base_checkpoint)
            provenance.update(base_info, weights="SAM checkpoint + HQ-only checkpoint")
        elif base_checkpoint is not None:
            raise CheckpointError(f"base_checkpoint was given, but {path} is a full HQ-SAM checkpoint (it holds its "
                                  "own SAM weights); pass base_checkpoint only with an HQ-only file")
    model = build_hq_sam(spec.config, seed=seed)
    if base_state is not None:
        load_sam_part(model, base_state, provenance["base_checkpoint"])
        load_hq_only_state(model, state, provenance["checkpoint"])
    elif state is not None:
        (load_sam_part if random_init_hq else load_hq_state)(model, state, provenance["checkpoint"])
    return model.to(target).eval(), provenance


def _read_base(spec: BackboneSpec, path: os.PathLike, meta: dict[str, Any],
               base_checkpoint: str | os.PathLike | None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The SAM weights under the HQ-only file ``path`` (checked against its recorded base digest)."""
    recorded = meta.get("base_sha256")
    if meta.get("format") != HQ_ONLY_FORMAT or not isinstance(recorded, str):
        raise CheckpointError(
            f"HQ-only checkpoint {path} holds only HQ parameters but no record of the SAM weights it was trained on "
            f"(meta format {HQ_ONLY_FORMAT!r} with base_sha256); write it with save_hq_checkpoint")
    if meta.get("backbone") not in (None, spec.name):
        raise CheckpointError(f"HQ-only checkpoint {path} was trained for backbone {meta['backbone']!r}, "
                              f"not {spec.name!r}")
    base_path, expected = resolve_sam_weights(spec.name, base_checkpoint)
    base_state = read_state_dict(base_path, expected_sha256=expected)
    actual = (expected or sha256_file(base_path)).lower()
    if actual != recorded.lower():
        raise CheckpointError(
            f"HQ-only checkpoint {path} was trained on top of SAM weights with sha256 {recorded}, but the SAM weights "
            f"loaded under it ({base_path}) have sha256 {actual}. Load it with the SAM weights it was trained on "
            f"(base_checkpoint=PATH), or retrain the HQ parts on these weights with `{HQ_TRAIN_COMMAND}`")
    return base_state, {"base_checkpoint": str(base_path), "base_checkpoint_sha256": actual,
                        "base_sha256_verified": expected is not None}
