"""Stable-SAM weights: the trained parts alone (a few hundred KB for tiny), tied to the SAM weights under them.

No official weights exist (research/methods.md §5): every Stable-SAM file is one trained by ``sam-repro train
stablesam``. The file (:func:`save_stable_parts`, a :mod:`parts-only <sam_repro.backbones.parts>` file) holds the
plug-ins (``mask_decoder.transformer.layers.1.dsp.*`` / ``.drp.*``), or, for the ``decoder_ft`` ablation, SAM's whole
fine-tuned mask decoder with its plug-ins, with the variant and the plug-in configuration in its metadata, so a file rebuilds exactly
the model it was trained as.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import torch

from sam_repro.backbones.checkpoints import CheckpointError, WeightsNotFoundError, read_state_dict, sha256_file
from sam_repro.backbones.build import build_sam
from sam_repro.backbones.parts import check_base, load_parts, read_parts_checkpoint, save_parts_checkpoint
from sam_repro.backbones.registry import get_backbone
from sam_repro.backbones.specs import BackboneSpec
from sam_repro.backbones.weights import (
    STABLE_TRAIN_COMMAND, get_weights, resolve_method_weights, resolve_sam_weights,
)
from sam_repro.backbones.checkpoints import load_strict
from sam_repro.device import resolve_device
from sam_repro.methods.stablesam.plugins import (
    DECODER_TRAINED_VARIANTS, VARIANTS, StablePluginConfig, attach_plugins, is_plugin_parameter,
)

TRAIN_COMMAND = STABLE_TRAIN_COMMAND


def variant_config(variant: str) -> StablePluginConfig | None:
    """The plug-in configuration of a trained variant.

    Raises:
        ValueError: unknown variant (the message lists the known ones).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    return VARIANTS[variant]


def is_trained_parameter(name: str, variant: str) -> bool:
    """Whether parameter ``name`` is trained (and stored) in ``variant``: the plug-ins, or for ``decoder_ft`` the
    whole mask decoder with them."""
    variant_config(variant)  # validates the name
    return name.startswith("mask_decoder.") if variant in DECODER_TRAINED_VARIANTS else is_plugin_parameter(name)


def build_stable_sam(backbone: str | BackboneSpec, variant: str = "full", plugin_config: StablePluginConfig | None = None,
                     seed: int = 0) -> torch.nn.Module:
    """A seeded SAM of ``backbone`` with the identity plug-ins of ``variant`` (or ``plugin_config``) attached."""
    spec = get_backbone(backbone) if isinstance(backbone, str) else backbone
    config = plugin_config if plugin_config is not None else variant_config(variant)
    model = build_sam(spec.config, seed=seed)
    return model if config is None else attach_plugins(model, config)


def save_stable_parts(model: torch.nn.Module, path: str | os.PathLike, *, variant: str, base_sha256: str,
                      backbone: str, plugin_config: StablePluginConfig | None,
                      meta: dict[str, Any] | None = None) -> str:
    """Write the trained parts of ``model`` with the variant and plug-in configuration; return the file's sha256."""
    state = {k: v for k, v in model.state_dict().items() if is_trained_parameter(k, variant)}
    info = {**dict(meta or {}), "variant": variant,
            "plugin_config": None if plugin_config is None else dataclasses.asdict(plugin_config)}
    return save_parts_checkpoint(state, path, method="stablesam", backbone=backbone, base_sha256=base_sha256,
                                 meta=info)



SHIPPED_VARIANTS: dict[str, str] = {
    "decoder_ft": "85dd7a756a15bd4f65e40b8e8aae237993a238f5a8f8c328a6feac7bb69c2b92",
    "spatial_attn": "a8b1ec51135b6553f1a037db8273ef1e3af032d7362974b8c0797cc87b9f4515",
    "no_amplitude": "b29d9ef097761882ab404403835dcdf79a700cec072af0902bd2f79bf442f4a5",
    "fixed_alpha": "749fc3dfb1fa056295eaabb9b22df15803fde965f51bfff4e1f6d036a06d7126",
    "no_rts": "7dc2595b58afc7f70ea161fbef77b586b662847747b8c05a7a31d655c9bcc8f8",
}
"""sha256 of the Table 8 ablations shipped for the tiny SAM (``stable_sam_tiny_<variant>.pt`` next to the registered
``stable_sam_tiny.pt``, each from ``sam-repro train stablesam --variant <variant>``); a variant missing here is not
shipped."""


def shipped_variant(variant: str) -> tuple[Any, str]:
    """The shipped file of a tiny-SAM ablation and its sha256.

    Raises:
        WeightsNotFoundError: the variant is not shipped (the message says how to train it).
    """
    variant_config(variant)
    entry = get_weights("stablesam", "tiny")
    path = entry.checkpoint.shipped.with_name(f"stable_sam_tiny_{variant}.pt")
    if variant not in SHIPPED_VARIANTS or not path.is_file():
        raise WeightsNotFoundError(f"the Stable-SAM ablation {variant!r} is not shipped for the tiny SAM; train it with "
                                   f"`{TRAIN_COMMAND} --variant {variant}` and pass checkpoint=PATH")
    return path, SHIPPED_VARIANTS[variant]


def resolve_stable_checkpoint(backbone: str, checkpoint: str | os.PathLike | None,
                              variant: str = "full") -> tuple[Any, str | None]:
    """The Stable-SAM file for ``backbone`` (the registry's ``stablesam:BACKBONE``, a shipped tiny-SAM ablation when
    ``variant`` is not ``full``, or an explicit file) and its expected sha256."""
    if checkpoint is None and variant != "full" and backbone == "tiny":
        return shipped_variant(variant)
    return resolve_method_weights(
        "stablesam", backbone, checkpoint, label="Stable-SAM",
        alternatives="pass checkpoint=PATH (a Stable-SAM parts file) or random_init_plugins=True (SAM with "
                     "untrained, identity plug-ins: plain SAM's masks)")


def load_stable_sam_model(backbone: str | BackboneSpec, checkpoint: str | os.PathLike | None = None,
                          device: str | torch.device = "auto", *, random_init: bool = False,
                          random_init_plugins: bool = False, variant: str = "full",
                          plugin_config: StablePluginConfig | None = None, seed: int = 0,
                          base_checkpoint: str | os.PathLike | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build a backbone's Stable-SAM and load its weights (strict, verified where a digest is known).

    Args:
        checkpoint: a Stable-SAM parts file (None: the registry's, or for a ``variant`` other than ``full`` on the tiny
            SAM the shipped ablation); with ``random_init_plugins``, a plain SAM file (None: the backbone's registered
            SAM weights).
        variant: the ablation to load when ``checkpoint`` is None (a given file says its own variant).
        random_init: no weights at all (seeded): tests, timing.
        random_init_plugins: SAM weights plus identity plug-ins of ``variant`` / ``plugin_config``: the start of
            training (and plain SAM's masks).
        base_checkpoint: the SAM file under a parts file (None: the backbone's registered one); its sha256 must be
            the one the file records.

    Returns:
        (model in eval mode on the device, provenance: backbone, device, variant, plugin_config, checkpoint,
        checkpoint_sha256, base_checkpoint, base_checkpoint_sha256, weights).

    Raises:
        CheckpointError: a file that does not fit (keys named), of another method or backbone, or trained on other
            SAM weights. WeightsNotFoundError: nothing to load.
    """
    if random_init and random_init_plugins:
        raise ValueError("pass random_init (no weights) or random_init_plugins (SAM weights + identity plug-ins), "
                         "not both")
    spec = get_backbone(backbone) if isinstance(backbone, str) else backbone
    target = resolve_device(device)
    provenance: dict[str, Any] = {"backbone": spec.name, "device": str(target)}
    if random_init or random_init_plugins:
        config = plugin_config if plugin_config is not None else variant_config(variant)
        model = build_stable_sam(spec, variant, config, seed)
        provenance.update(variant=variant, plugin_config=None if config is None else dataclasses.asdict(config))
        if random_init:
            provenance.update(checkpoint=None, checkpoint_sha256=None, weights=f"random(seed={seed})")
        else:
            path, expected = resolve_sam_weights(spec.name, checkpoint)
            state = read_state_dict(path, expected_sha256=expected)
            sam_keys = {k for k in model.state_dict() if not is_plugin_parameter(k)}
            load_strict(model, {**{k: v for k, v in model.state_dict().items() if k not in sam_keys}, **state}, path)
            digest = expected or sha256_file(path)
            provenance.update(checkpoint=str(path), checkpoint_sha256=digest, base_checkpoint=str(path),
                              base_checkpoint_sha256=digest, weights=f"SAM checkpoint + identity plug-ins ({variant})")
        return model.to(target).eval(), provenance
    if plugin_config is not None:
        raise ValueError("plugin_config is read from the Stable-SAM file; pass it only with random_init or "
                         "random_init_plugins")
    path, expected = resolve_stable_checkpoint(spec.name, checkpoint, variant)
    parts, meta = read_parts_checkpoint(path, method="stablesam", backbone=spec.name, expected_sha256=expected)
    file_variant = meta.get("variant", "full")
    if checkpoint is None and file_variant != variant:
        raise CheckpointError(f"Stable-SAM file {path} holds variant {file_variant!r}, not the {variant!r} asked for")
    config = None if meta.get("plugin_config") is None else StablePluginConfig(**meta["plugin_config"])
    if config is None and variant_config(file_variant) is not None:
        raise CheckpointError(f"Stable-SAM file {path}: variant {file_variant!r} needs a plugin_config in its meta")
    base_path, base_expected = resolve_sam_weights(spec.name, base_checkpoint)
    base_state = read_state_dict(base_path, expected_sha256=base_expected)
    base_sha = (base_expected or sha256_file(base_path)).lower()
    check_base(path, meta, base_path, base_sha, TRAIN_COMMAND)
    model = build_stable_sam(spec, file_variant, config, seed)
    plugin_state = {k: v for k, v in model.state_dict().items() if is_plugin_parameter(k)}
    load_strict(model, {**plugin_state, **base_state}, base_path)
    load_parts(model, parts, [k for k in model.state_dict() if is_trained_parameter(k, file_variant)], path)
    provenance.update(variant=file_variant, plugin_config=meta.get("plugin_config"), checkpoint=str(path),
                      checkpoint_sha256=expected or sha256_file(path), base_checkpoint=str(base_path),
                      base_checkpoint_sha256=base_sha, weights=f"SAM checkpoint + Stable-SAM parts ({file_variant})")
    return model.to(target).eval(), provenance
