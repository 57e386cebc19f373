"""Image encoders of the SAM family and the one interface the rest of the package reads them through.

SAM's ``ImageEncoderViT`` is one of them; the embedded world adds convolutional and hybrid encoders
(:class:`ConvImageEncoder`) that are cheaper on a CPU at equal quality (``shared/research/tiny-sam-pilot.md``).
Every encoder maps preprocessed ``(N, 3, S, S)`` images (``S = img_size``) to an ``(N, C, g, g)``
image embedding (``C`` = the prompt dim, ``g = S / stride``), exactly what SAM's prompt encoder and mask
decoder expect, and can also return its **early feature**, the ``(N, g, g, D)`` channels-last map that
HQ-SAM fuses into its high-quality feature:

* ViT: the output of the first global-attention block (HQ-SAM's choice for ViT-B/L/H);
* convolutional / hybrid: the output of the first stage at the embedding stride (HQ-SAM's light variant
  likewise takes an intermediate TinyViT stage at the embedding grid).

The rest of the package never reaches into ``.blocks`` or ``.patch_embed``: it calls
:func:`encoder_stride`, :func:`early_feature_dim` and :func:`encode_with_early`.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.image_encoder import Block, ImageEncoderViT
from torch import nn


class _BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs) with GroupNorm: no running statistics, so a frozen encoder
    stays frozen whatever mode a trainer leaves it in, and batch size does not change its output."""

    def __init__(self, in_chans: int, out_chans: int, stride: int, groups: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, out_chans, 3, stride, 1, bias=False)
        self.norm1 = nn.GroupNorm(groups, out_chans)
        self.conv2 = nn.Conv2d(out_chans, out_chans, 3, 1, 1, bias=False)
        self.norm2 = nn.GroupNorm(groups, out_chans)
        self.act = nn.GELU()
        self.shortcut = (
            nn.Identity() if stride == 1 and in_chans == out_chans
            else nn.Sequential(nn.Conv2d(in_chans, out_chans, 1, stride, bias=False), nn.GroupNorm(groups, out_chans))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.norm1(self.conv1(x)))
        return self.act(self.norm2(self.conv2(y)) + self.shortcut(x))


class ConvImageEncoder(nn.Module):
    """A ResNet-style encoder with optional global-attention blocks at the embedding stride, and SAM's neck.

    Layout: a stride-2 3x3 stem, then one stage per entry of ``stage_chans`` (the first at stride 4, each
    later one halving the resolution until the embedding stride ``patch_size`` is reached, then staying
    there), ``stage_depths`` basic blocks each; then ``attn_depth`` transformer blocks of
    ``segment_anything`` (global attention with relative positions) at the embedding grid; then SAM's neck
    (1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d) to ``out_chans``.

    Args:
        img_size: S, the square input side.
        patch_size: the total stride (16 as SAM's ViT: a 16x16 embedding grid at S = 256).
        stem_chans: channels of the stride-2 stem.
        stage_chans / stage_depths: per stage (stride 4, 8, 16, 16, ...).
        attn_depth / attn_heads: transformer blocks at the embedding grid (0 = purely convolutional).
        out_chans: C, the embedding channels (the prompt dim).
        norm_groups: GroupNorm groups of the convolutional stages.

    Attributes:
        img_size: as SAM's ViT (``ResizeLongestSide`` and ``SamPredictor`` read it).
        early_stage: index of the stage whose output is the early feature (the first at the embedding stride).
    """

    def __init__(self, img_size: int = 256, patch_size: int = 16, stem_chans: int = 24,
                 stage_chans: Sequence[int] = (32, 64, 128, 192), stage_depths: Sequence[int] = (1, 1, 2, 2),
                 attn_depth: int = 0, attn_heads: int = 6, out_chans: int = 96, norm_groups: int = 8):
        super().__init__()
        if len(stage_chans) != len(stage_depths) or not stage_chans:
            raise ValueError(f"stage_chans {tuple(stage_chans)} and stage_depths {tuple(stage_depths)} must be "
                             "non-empty and of equal length")
        if patch_size < 4 or patch_size & (patch_size - 1):
            raise ValueError(f"patch_size (the total stride) must be a power of two >= 4, got {patch_size}")
        if img_size % patch_size:
            raise ValueError(f"img_size {img_size} must be a multiple of patch_size {patch_size}")
        self.img_size = img_size
        self.patch_size = patch_size
        self.stem = nn.Sequential(nn.Conv2d(3, stem_chans, 3, 2, 1, bias=False), nn.GroupNorm(norm_groups, stem_chans),
                                  nn.GELU())
        stages, stride, chans, early = [], 2, stem_chans, None
        for index, (width, depth) in enumerate(zip(stage_chans, stage_depths)):
            step = 2 if stride < patch_size else 1
            stride *= step
            blocks = [_BasicBlock(chans, width, step, norm_groups)]
            blocks += [_BasicBlock(width, width, 1, norm_groups) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
            chans = width
            if early is None and stride == patch_size:
                early = index
        if stride != patch_size:
            raise ValueError(f"{len(stage_chans)} stages reach stride {stride}, not patch_size {patch_size}: add stages")
        self.stages = nn.ModuleList(stages)
        self.early_stage = early
        self.early_dim = stage_chans[early]
        grid = img_size // patch_size
        self.blocks = nn.ModuleList(
            Block(dim=chans, num_heads=attn_heads, mlp_ratio=4.0, qkv_bias=True, use_rel_pos=True, window_size=0,
                  input_size=(grid, grid))
            for _ in range(attn_depth)
        )
        self.neck = nn.Sequential(
            nn.Conv2d(chans, out_chans, 1, bias=False), LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, 3, padding=1, bias=False), LayerNorm2d(out_chans),
        )

    def forward_with_early(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, S, S) -> embedding (N, C, g, g) and early feature (N, g, g, D) channels-last."""
        x = self.stem(x)
        early = None
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index == self.early_stage:
                early = x.permute(0, 2, 3, 1)
        if self.blocks:
            x = x.permute(0, 2, 3, 1)
            for block in self.blocks:
                x = block(x)
            x = x.permute(0, 3, 1, 2)
        return self.neck(x), early

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_early(x)[0]


# -- the interface every other module uses ------------------------------------------------------------------
def encoder_stride(encoder: nn.Module) -> int:
    """Pixels of the (padded) input per embedding cell: 16 for SAM's ViTs and the tiny encoders."""
    if isinstance(encoder, ImageEncoderViT):
        return int(encoder.patch_embed.proj.kernel_size[0])
    if isinstance(encoder, ConvImageEncoder):
        return encoder.patch_size
    raise TypeError(f"unsupported image encoder {type(encoder).__name__}")


def embedding_grid(encoder: nn.Module) -> int:
    """g, the side of the image embedding (64 for SAM, 16 for the tiny SAM)."""
    return int(encoder.img_size) // encoder_stride(encoder)


def first_global_block(encoder: ImageEncoderViT) -> int:
    """Index of the first global-attention ViT block: HQ-SAM's early feature is its output."""
    for index, block in enumerate(encoder.blocks):
        if block.window_size == 0:
            return index
    raise ValueError("the image encoder has no global-attention block (HQ-SAM fuses the first one's output)")


def early_feature_dim(encoder: nn.Module) -> int:
    """D, the channels of the early feature (the ViT width for SAM's ViTs)."""
    if isinstance(encoder, ImageEncoderViT):
        return int(encoder.blocks[first_global_block(encoder)].norm1.normalized_shape[0])
    if isinstance(encoder, ConvImageEncoder):
        return encoder.early_dim
    raise TypeError(f"unsupported image encoder {type(encoder).__name__}")


def encode_with_early(encoder: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Preprocessed (N, 3, S, S) images -> embedding (N, C, g, g) and early feature (N, g, g, D)."""
    if isinstance(encoder, ConvImageEncoder):
        return encoder.forward_with_early(images)
    if not isinstance(encoder, ImageEncoderViT):
        raise TypeError(f"unsupported image encoder {type(encoder).__name__}")
    captured: list[torch.Tensor] = []
    handle = encoder.blocks[first_global_block(encoder)].register_forward_hook(
        lambda _module, _inputs, output: captured.append(output))
    try:
        features = encoder(images)
    finally:
        handle.remove()
    return features, captured[0]
