"""Pi-SAM's Object Embedder (§3.2): the low-res mask fused into the mask feature, then an ASPP-like block of
3x3 and 7x7 modulated deformable convolutions beside a skip.

Shapes (d = the mask feature's channels, C/8: 32 for the official models, 12 for tiny; G = 4g, the
low-res grid: 256 official, 64 tiny; B = prompts):

* input: the mask feature (B, d, G, G) and the low-res logits (B, 1, G, G), concatenated (B, d + 1, G, G);
* ``mask_embedding``: Conv1x1(d + 1 -> d) -> LayerNorm2d -> GELU -> Conv3x3(d -> d) -> LayerNorm2d -> GELU = x;
* ``aspp1`` / ``aspp2``: a modulated deformable conv (kernel 3 pad 1 / kernel 7 pad 3, no bias) on x, each
  followed by LayerNorm2d -> GELU;
* ``conv_out``: [x, x3, x7] (B, 3d, G, G) -> Conv1x1(3d -> d, no bias) -> LayerNorm2d -> GELU: (B, d, G, G).

The deformable convolution follows the official ``DeformableConv2d``: offsets (2 k^2 channels, (dy, dx) per
tap) and the modulator (k^2 channels, ``2 * sigmoid``) come from plain k x k convolutions that are
zero-initialised, so at initialisation every offset is 0 and every modulator is exactly 1: the block is
then a plain convolution with ``regular_conv``'s weight (tested). The op itself is the package's pure-torch
:func:`sam_repro.nn.deform_conv.deform_conv2d` (torchvision's kernels do not load on the CPU stack).

Module and parameter names are the official ones (``mask_aspp.aspp1.atrous_conv.0.offset_conv.weight`` ...),
so an official state dict maps onto them by prefix only.
"""
from __future__ import annotations

import torch
from segment_anything.modeling.common import LayerNorm2d
from torch import nn

from sam_repro.nn.deform_conv import deform_conv2d


class DeformableConv2d(nn.Module):
    """A modulated (v2) deformable convolution with zero-initialised offset and modulator convolutions.

    Args:
        in_channels, out_channels: channels of the input and output.
        kernel_size: k (square kernel); padding: the usual zero padding (k // 2 keeps the size).
        bias: a bias on the deformable convolution itself (official: False).

    Input (N, in_channels, H, W) -> output (N, out_channels, H, W) for stride 1 and padding k // 2.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1,
                 bias: bool = False) -> None:
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.padding = int(padding)
        taps = self.kernel_size ** 2
        self.offset_conv = nn.Conv2d(in_channels, 2 * taps, self.kernel_size, 1, self.padding, bias=True)
        self.modulator_conv = nn.Conv2d(in_channels, taps, self.kernel_size, 1, self.padding, bias=True)
        # zero init: offsets 0 and modulators 2 * sigmoid(0) = 1, i.e. a plain convolution at the start
        for conv in (self.offset_conv, self.modulator_conv):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.regular_conv = nn.Conv2d(in_channels, out_channels, self.kernel_size, 1, self.padding, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = self.offset_conv(x)
        modulator = 2.0 * torch.sigmoid(self.modulator_conv(x))
        return deform_conv2d(x, offset, self.regular_conv.weight, self.regular_conv.bias, padding=self.padding,
                             mask=modulator)


class DeformableBranch(nn.Module):
    """One ASPP branch: :class:`DeformableConv2d` -> LayerNorm2d -> GELU (official ``_ASPPModuleDeformable``)."""

    def __init__(self, channels: int, kernel_size: int, padding: int) -> None:
        super().__init__()
        self.atrous_conv = nn.Sequential(
            DeformableConv2d(channels, channels, kernel_size, padding, bias=False), LayerNorm2d(channels), nn.GELU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.atrous_conv(x)


class ObjectEmbedder(nn.Module):
    """Pi-SAM's Object Embedder (official ``MaskASPPDeformable``; see the module docstring).

    Args:
        channels: d, the mask feature's channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        d = channels
        self.mask_embedding = nn.Sequential(
            nn.Conv2d(d + 1, d, 1, 1, 0), LayerNorm2d(d), nn.GELU(),
            nn.Conv2d(d, d, 3, 1, 1), LayerNorm2d(d), nn.GELU(),
        )
        self.aspp1 = DeformableBranch(d, 3, 1)
        self.aspp2 = DeformableBranch(d, 7, 3)
        self.conv_out = nn.Sequential(nn.Conv2d(3 * d, d, 1, 1, 0, bias=False), LayerNorm2d(d), nn.GELU())

    def forward(self, features: torch.Tensor, low_res_logits: torch.Tensor) -> torch.Tensor:
        """(B, d, G, G) mask feature and (B, 1, G, G) low-res logits -> (B, d, G, G) enhanced feature."""
        x = self.mask_embedding(torch.cat([features, low_res_logits], dim=1))
        return self.conv_out(torch.cat([x, self.aspp1(x), self.aspp2(x)], dim=1))
