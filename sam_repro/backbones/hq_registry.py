"""HQ-SAM weights by backbone: the official ``sam_hq_vit_{b,l,h}.pth`` files and the embedded world's
``hq_sam_tiny.pt``.

HQ-SAM (Ke et al., NeurIPS 2023) keeps a SAM backbone's architecture and adds a few decoder modules, so
its weights are described per SAM backbone of :mod:`sam_repro.backbones.registry` (``vit_b`` -> the
HQ-SAM ViT-B file). The files are the official full-model state dicts (image encoder, prompt encoder
and the HQ mask decoder), downloaded into the weights cache like SAM's (``sam-repro data fetch
sam_hq_vit_b``; the entries of ``data_manifest.yaml`` of the same name describe the same files).

``hq_sam_tiny.pt`` is different: it holds only the HQ parameters (trained by ``sam-repro train
hq-sam`` on top of the shipped tiny SAM), and its metadata records the sha256 of the SAM weights they
were trained on; ``load_segmenter("hqsam:tiny")`` loads the tiny SAM's weights plus this file and
refuses SAM weights with another digest (see :func:`sam_repro.methods.hq_sam.load_hq_sam_model`).
The shipped file is the default run of ``sam-repro train hq-sam`` (16,000 steps of 4 images, 41.6 min
on 2 CPU cores; float32, 0.47 MB); its own sha256 is registered and checked like the tiny SAM's.

For the official files the maintainers publish no checksums and none were measured here, so their sha256 is
None (``verified=False``): a file with the right name is loaded without a checksum check, and the
provenance records the digest actually loaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sam_repro.backbones.checkpoints import WeightsNotFoundError, cached_path
from sam_repro.backbones.registry import SHIPPED_WEIGHTS_DIR
from sam_repro.backbones.specs import CheckpointSpec

HQ_PAPER = "Ke et al., Segment Anything in High Quality, NeurIPS 2023 (arXiv:2306.01567)"
HQ_LICENSE = "Apache-2.0"
_HQ_URL = "https://huggingface.co/lkeab/hq-sam/resolve/main/"
TRAIN_COMMAND = "sam-repro train hq-sam"
"""The command that trains the embedded world's HQ parts (writes ``hq_sam_tiny.pt``)."""


@dataclass(frozen=True)
class HqSamWeights:
    """Where an HQ-SAM checkpoint for one SAM backbone comes from.

    Attributes:
        backbone: the SAM backbone (registry name) whose architecture the file fits.
        checkpoint: file name, URL, sha256 (None: unpublished and unmeasured), license, paper.
        manifest_name: the ``data_manifest.yaml`` checkpoint entry of the same file, if any.
        verified: whether ``checkpoint.sha256`` is a known digest of the file (the official one, or
            the shipped one measured when it was trained).
        note: what a user should know about these weights.
    """

    backbone: str
    checkpoint: CheckpointSpec
    manifest_name: str | None
    verified: bool
    note: str


def _official(backbone: str) -> HqSamWeights:
    filename = f"sam_hq_{backbone}.pth"
    return HqSamWeights(
        backbone=backbone,
        checkpoint=CheckpointSpec(filename=filename, url=_HQ_URL + filename, sha256=None, size_bytes=None,
                                  license=HQ_LICENSE, paper=HQ_PAPER),
        manifest_name=f"sam_hq_{backbone}",
        verified=False,
        note="official HQ-SAM checkpoint (SysCV/sam-hq, mirrored on Hugging Face lkeab/hq-sam); no sha256 is "
             "published and none was measured here (data_manifest.yaml marks it unverified)",
    )


_HQ_WEIGHTS: dict[str, HqSamWeights] = {name: _official(name) for name in ("vit_b", "vit_l", "vit_h")}
_HQ_WEIGHTS["tiny"] = HqSamWeights(
    backbone="tiny",
    checkpoint=CheckpointSpec(
        filename="hq_sam_tiny.pt", url=None,
        sha256="e356f88c867995babef6b292d5398312cac593d225f001bb81987e7aceeb83e8", size_bytes=466_634,
        license="Apache-2.0",
        paper="sam-repro embedded world (architecture of " + HQ_PAPER + ")",
        shipped=SHIPPED_WEIGHTS_DIR / "hq_sam_tiny.pt", regenerate=TRAIN_COMMAND,
    ),
    manifest_name=None,
    verified=True,
    note=f"HQ-only file: the HQ parts trained by `{TRAIN_COMMAND}` on top of the shipped tiny SAM (whose sha256 "
         "it records and checks at load time)",
)


def list_hq_backbones() -> list[str]:
    """SAM backbones with registered HQ-SAM weights."""
    return sorted(_HQ_WEIGHTS)


def get_hq_weights(backbone: str) -> HqSamWeights | None:
    """The HQ-SAM weights registered for ``backbone``, or None."""
    return _HQ_WEIGHTS.get(backbone)


def locate_hq(weights: HqSamWeights) -> Path | None:
    """The local file of ``weights`` (shipped or in the weights cache), or None."""
    ckpt = weights.checkpoint
    candidates = [ckpt.shipped] if ckpt.shipped is not None else []
    candidates.append(cached_path(ckpt))
    return next((p for p in candidates if p is not None and p.is_file()), None)


def resolve_hq_checkpoint(backbone: str, checkpoint: str | os.PathLike | None) -> tuple[Path, str | None]:
    """Which HQ-SAM file to load for ``backbone`` and the sha256 it must have (None: unchecked).

    Args:
        checkpoint: an explicit file (verified against a registered digest only when it carries the
            registered file name and a digest is known), or None for the registered file.

    Raises:
        WeightsNotFoundError: no such file / nothing registered / not on this machine; the message
            says how to get the weights and which alternatives ``load_segmenter`` accepts.
    """
    weights = get_hq_weights(backbone)
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"checkpoint={str(checkpoint)!r}: no such file")
        ckpt = weights.checkpoint if weights is not None else None
        expected = ckpt.sha256 if ckpt is not None and path.name == ckpt.filename else None
        return path, expected
    alternatives = ("pass checkpoint=PATH (an HQ-SAM state dict), random_init_hq=True (the backbone's SAM "
                    "weights with freshly initialised HQ parts) or random_init=True")
    if weights is None:
        raise WeightsNotFoundError(
            f"no HQ-SAM weights are registered for backbone {backbone!r} (registered: "
            f"{', '.join(list_hq_backbones())}); {alternatives}"
        )
    path = locate_hq(weights)
    if path is not None:
        return path, weights.checkpoint.sha256
    ckpt = weights.checkpoint
    if ckpt.url is None:
        raise WeightsNotFoundError(
            f"hqsam:{backbone} has no trained HQ weights yet ({ckpt.shipped} is missing): train them with "
            f"`{ckpt.regenerate}`, or {alternatives}"
        )
    raise WeightsNotFoundError(
        f"the HQ-SAM weights of backbone {backbone!r} are not on this machine. Run `sam-repro data fetch "
        f"{weights.manifest_name}`, or download {ckpt.url} yourself and put it at {cached_path(ckpt)} "
        "(set SAM_REPRO_WEIGHTS to move the weights directory; no sha256 is published, so the file is "
        f"not checksum-verified). Otherwise {alternatives}."
    )
