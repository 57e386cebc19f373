"""Specifications of SAM-family backbones: architecture configuration and checkpoint metadata."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SamConfig:
    """Architecture of a SAM built from ``segment_anything``'s own classes.

    The official models (vit_b/l/h) differ only in the encoder fields; the tiny configurations of the
    embedded world shrink every part. ``img_size`` is the encoder's square input (long side after
    ``ResizeLongestSide``); low-resolution masks come out at ``img_size // 4``.
    """

    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: tuple[int, ...]
    img_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    mlp_ratio: float = 4.0
    prompt_embed_dim: int = 256
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256
    encoder: str = "vit"
    """``vit`` (SAM's ``ImageEncoderViT``: the ``encoder_*`` fields) or ``conv`` (a convolutional or hybrid
    :class:`~sam_repro.backbones.encoders.ConvImageEncoder`: the ``conv_*`` fields, ``encoder_num_heads`` for
    its attention blocks; ``encoder_embed_dim`` / ``encoder_depth`` are then unused)"""
    conv_stem_chans: int = 24
    conv_stage_chans: tuple[int, ...] = (32, 64, 128, 192)
    conv_stage_depths: tuple[int, ...] = (1, 1, 2, 2)
    conv_attn_depth: int = 0
    """global-attention transformer blocks after the convolutional stages (0 = purely convolutional)"""

    @property
    def embedding_size(self) -> int:
        """Side of the image embedding grid (64 for the official models); ``patch_size`` is the encoder's
        total stride for every encoder kind."""
        return self.img_size // self.patch_size

    @property
    def low_res_size(self) -> int:
        """Side of the low-resolution mask logits (256 for the official models)."""
        return 4 * self.embedding_size


@dataclass(frozen=True)
class CheckpointSpec:
    """Where a backbone's weights come from and how to check them.

    Attributes:
        filename: file name in the weights cache (or inside the package for shipped weights).
        url: official download URL; None for weights that ship with the package.
        sha256: hex digest of the file; None when not published/measured (then no check is possible).
        size_bytes: file size when known.
        license: license of the weights.
        paper: the paper that introduced them.
        shipped: path of a file shipped inside the package (tiny embedded-world weights), else None.
        regenerate: the command that regenerates shipped weights.
    """

    filename: str
    url: str | None
    sha256: str | None
    size_bytes: int | None
    license: str
    paper: str
    shipped: Path | None = None
    regenerate: str | None = None


@dataclass(frozen=True)
class BackboneSpec:
    """A named SAM-family backbone: how to build it and where its weights are."""

    name: str
    config: SamConfig
    checkpoint: CheckpointSpec | None
    description: str
    tags: tuple[str, ...] = field(default_factory=tuple)
