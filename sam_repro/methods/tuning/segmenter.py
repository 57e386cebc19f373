"""Tuned SAM baselines under the common interface (``lora:BACKBONE``, ``adapter:BACKBONE``, ``ptsam:BACKBONE``), and
their parts files (the trained modules and prediction layer alone, tied to the SAM weights under them)."""
from __future__ import annotations

import os
from typing import Any

import torch

from sam_repro.backbones.checkpoints import sha256_file
from sam_repro.backbones.engine import SamEngine
from sam_repro.backbones.parts import check_base, load_parts, read_parts_checkpoint, save_parts_checkpoint
from sam_repro.backbones.weights import resolve_method_weights
from sam_repro.methods.sam import SamSegmenter, load_sam_model
from sam_repro.methods.tuning.modules import KINDS, attach, is_trained_parameter, prediction_layer_names

TRAIN_COMMAND = "sam-repro train tuning"
METHOD_NAMES = {"lora": "lora", "adapter": "adapter", "prompt": "ptsam"}


def trained_names(model: torch.nn.Module, kind: str) -> list[str]:
    """The parameter names ``kind`` trains on ``model`` (attached)."""
    prediction = set(prediction_layer_names(model))
    return [n for n, _ in model.named_parameters() if is_trained_parameter(n, kind, prediction)]


def save_tuned_parts(model: torch.nn.Module, path: str | os.PathLike, *, kind: str, base_sha256: str, backbone: str,
                     options: dict[str, Any], meta: dict[str, Any] | None = None) -> str:
    """Write the trained parameters of ``model`` with the kind and its options; return the file's sha256."""
    names = set(trained_names(model, kind))
    state = {k: v for k, v in model.state_dict().items() if k in names}
    return save_parts_checkpoint(state, path, method=METHOD_NAMES[kind], backbone=backbone, base_sha256=base_sha256,
                                 meta={**dict(meta or {}), "kind": kind, "options": options})


def load_tuned_model(kind: str, backbone: str, checkpoint: str | os.PathLike | None = None,
                     device: str = "auto", *, random_init: bool = False, untrained: bool = False, seed: int = 0,
                     base_checkpoint: str | os.PathLike | None = None,
                     **options: Any) -> tuple[torch.nn.Module, dict[str, Any]]:
    """SAM (its registered weights or ``base_checkpoint``; random with ``random_init``) with the ``kind`` modules
    attached: untrained (``untrained`` or ``random_init``, with ``options``) or from a parts file ``checkpoint``
    (None: the weights registry's ``METHOD:BACKBONE`` file, verified against its sha256).

    Raises:
        WeightsNotFoundError: no file given and none registered or present for this backbone.
        CheckpointError: a file of another kind, backbone or base SAM, or that does not fit.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    method = METHOD_NAMES[kind]
    expected = None
    if not (random_init or untrained):  # the parts file first: what is missing is named before SAM is loaded
        checkpoint, expected = resolve_method_weights(
            method, backbone, checkpoint, label=method,
            alternatives=f"train them with `{TRAIN_COMMAND} --kind {kind} --backbone {backbone}` and pass "
                         "checkpoint=PATH, or pass untrained=True")
    model, provenance = load_sam_model(backbone, base_checkpoint, device, random_init=random_init, seed=seed)
    base_sha = provenance.get("checkpoint_sha256")
    provenance.update(kind=kind, base_checkpoint=provenance.get("checkpoint"), base_checkpoint_sha256=base_sha)
    if random_init or untrained:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            attach(model, kind, **options)
        provenance.update(options=options, weights=f"{provenance['weights']} + untrained {kind}")
        return model.to(next(model.parameters()).device).eval(), provenance
    parts, meta = read_parts_checkpoint(checkpoint, method=method, backbone=backbone, expected_sha256=expected)
    check_base(checkpoint, meta, provenance["checkpoint"], base_sha, f"{TRAIN_COMMAND} --kind {kind}")
    attach(model, kind, **meta.get("options", {}))
    load_parts(model, parts, trained_names(model, kind), checkpoint)
    provenance.update(options=meta.get("options", {}), checkpoint=str(checkpoint),
                      checkpoint_sha256=sha256_file(checkpoint), weights=f"SAM + trained {kind}")
    return model.eval(), provenance


class TunedSamSegmenter(SamSegmenter):
    """A tuned SAM baseline: plain SAM's segmenter on the tuned model (its encoder differs from SAM's for LoRA and
    adapters, so its embeddings are cached under the tuned file's digest, never shared with plain SAM's)."""

    kind: str = "lora"

    @classmethod
    def factory(cls, kind: str):
        """The ``load_segmenter`` factory of ``kind`` (arguments as :func:`load_tuned_model`, plus engine options)."""

        def build(backbone: str, checkpoint: str | os.PathLike | None = None, device: str = "auto", *,
                  random_init: bool = False, untrained: bool = False, seed: int = 0,
                  base_checkpoint: str | os.PathLike | None = None, rank: int = 4, bottleneck: int | None = None,
                  num_tokens: int = 4, **engine_options: Any) -> "TunedSamSegmenter":
            options = {"prompt": {"num_tokens": num_tokens}, "lora": {"rank": rank},
                       "adapter": {"bottleneck": bottleneck}}[kind]
            model, provenance = load_tuned_model(kind, backbone, checkpoint, device, random_init=random_init,
                                                 untrained=untrained, seed=seed, base_checkpoint=base_checkpoint,
                                                 **options)
            # PT-SAM leaves the encoder alone (SAM's embeddings); LoRA and adapters change it
            weights_id = provenance.get("base_checkpoint_sha256") if kind == "prompt" else \
                f"{kind}:{provenance.get('checkpoint_sha256')}:{random_init or untrained}:{seed}"
            segmenter = cls(model, provenance, name=f"{METHOD_NAMES[kind]}:{backbone}",
                            engine=SamEngine(model, weights_id=weights_id, **engine_options))
            segmenter.kind = kind
            return segmenter

        return build

    def info(self) -> dict[str, Any]:
        return {"method": METHOD_NAMES[self.kind], "name": self.name, **self.provenance}
