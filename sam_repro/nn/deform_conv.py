"""Deformable convolution (v1 and modulated v2) in pure torch, with ``torchvision.ops.deform_conv2d``'s semantics.

Pi-SAM's object embedder uses 3x3 and 7x7 modulated deformable convolutions. torchvision ships the op, but its
compiled kernels do not load on this package's CPU stack (a CUDA-only torchvision wheel, see ``_compat.py``), so
the embedded world runs this implementation; where torchvision's kernels load (a GPU machine) the two agree
(tested there).

Semantics (those of ``torchvision.ops.deform_conv2d``):

* output location (i, j), kernel tap (ki, kj) of offset group g samples the input at row
  ``i * stride_h - pad_h + ki * dilation_h + dy`` and column ``j * stride_w - pad_w + kj * dilation_w + dx``;
* ``offset`` is (N, 2 * G * kh * kw, H_out, W_out), per group and tap (row-major over the kernel) the pair
  **(dy, dx)**, in pixels; ``mask`` (modulated / v2) is (N, G * kh * kw, H_out, W_out) and scales each sample;
* sampling is bilinear between the four neighbouring pixels, a neighbour outside the image counting as 0 (so a
  sample more than one pixel outside reads 0 and one at the border fades out);
* the offset groups split the input channels into G equal groups sharing one offset field each; ``groups``
  is the usual convolution grouping of the weight.

The whole op is differentiable in input, offset, mask, weight and bias by autograd (gathers and products).
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.modules.utils import _pair


def deform_conv2d(input: Tensor, offset: Tensor, weight: Tensor, bias: Tensor | None = None,
                  stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                  dilation: int | tuple[int, int] = 1, mask: Tensor | None = None) -> Tensor:
    """Deformable 2-D convolution (see the module docstring for the layout of ``offset`` and ``mask``).

    Args:
        input: (N, C_in, H, W).
        offset: (N, 2 * G * kh * kw, H_out, W_out), (dy, dx) per offset group and kernel tap.
        weight: (C_out, C_in / groups, kh, kw); the number of groups is C_in / weight.shape[1].
        bias: (C_out,) or None.
        mask: (N, G * kh * kw, H_out, W_out) modulation, or None (v1).

    Returns:
        (N, C_out, H_out, W_out).
    """
    stride_h, stride_w = _pair(stride)
    pad_h, pad_w = _pair(padding)
    dil_h, dil_w = _pair(dilation)
    n, c_in, height, width = input.shape
    c_out, c_per_group, kh, kw = weight.shape
    if c_in % c_per_group:
        raise ValueError(f"weight {tuple(weight.shape)} does not divide the {c_in} input channels into groups")
    groups = c_in // c_per_group
    out_h = (height + 2 * pad_h - dil_h * (kh - 1) - 1) // stride_h + 1
    out_w = (width + 2 * pad_w - dil_w * (kw - 1) - 1) // stride_w + 1
    taps = kh * kw
    if offset.shape[0] != n or offset.shape[2:] != (out_h, out_w) or offset.shape[1] % (2 * taps):
        raise ValueError(f"offset must be (N={n}, 2 * offset_groups * {taps}, {out_h}, {out_w}), "
                         f"got {tuple(offset.shape)}")
    offset_groups = offset.shape[1] // (2 * taps)
    if c_in % offset_groups:
        raise ValueError(f"{offset_groups} offset groups do not divide the {c_in} input channels")
    if mask is not None and tuple(mask.shape) != (n, offset_groups * taps, out_h, out_w):
        raise ValueError(f"mask must be (N={n}, {offset_groups * taps}, {out_h}, {out_w}), got {tuple(mask.shape)}")

    # sampling positions (N, G, K, H_out, W_out) in input pixels
    offset = offset.view(n, offset_groups, taps, 2, out_h, out_w)
    ki = torch.arange(kh, device=input.device, dtype=input.dtype).repeat_interleave(kw)  # tap -> kernel row
    kj = torch.arange(kw, device=input.device, dtype=input.dtype).repeat(kh)  # tap -> kernel column
    base_y = (torch.arange(out_h, device=input.device, dtype=input.dtype) * stride_h - pad_h)
    base_x = (torch.arange(out_w, device=input.device, dtype=input.dtype) * stride_w - pad_w)
    y = base_y[None, None, None, :, None] + (ki * dil_h)[None, None, :, None, None] + offset[:, :, :, 0]
    x = base_x[None, None, None, None, :] + (kj * dil_w)[None, None, :, None, None] + offset[:, :, :, 1]

    if height > 1 and width > 1:
        sampled = _sample_grid(input, y, x, offset_groups)
    else:  # grid_sample's pixel scale 2 / (side - 1) is undefined on a side of 1
        sampled = _sample_gather(input, y, x, offset_groups)
    if mask is not None:
        sampled = sampled * mask.view(n, offset_groups, 1, taps, out_h, out_w)

    # (N, C_in, K, L) columns times the weight, per convolution group
    columns = sampled.reshape(n, groups, c_per_group * taps, out_h * out_w)
    kernels = weight.view(groups, c_out // groups, c_per_group * taps)
    out = torch.einsum("gok,ngkl->ngol", kernels, columns).reshape(n, c_out, out_h, out_w)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def _sample_grid(input: Tensor, y: Tensor, x: Tensor, offset_groups: int) -> Tensor:
    """Bilinear samples (N, G, C / G, K, H_out, W_out) of ``input`` at rows ``y`` and columns ``x`` (N, G, K, H_out,
    W_out) through ``F.grid_sample`` (``align_corners=True`` puts -1 and 1 on the first and last pixel centres; its
    zero padding makes a neighbour outside the image count as 0, as torchvision does). Several times faster on a CPU
    than four gathers."""
    import torch.nn.functional as F

    n, c_in, height, width = input.shape
    _, groups, taps, out_h, out_w = y.shape
    grid = torch.stack([2 * x / (width - 1) - 1, 2 * y / (height - 1) - 1], dim=-1)  # (N, G, K, Ho, Wo, 2)
    grid = grid.reshape(n * groups, taps * out_h, out_w, 2)
    per_group = input.reshape(n * groups, c_in // groups, height, width)
    sampled = F.grid_sample(per_group, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return sampled.view(n, groups, c_in // groups, taps, out_h, out_w)


def _sample_gather(input: Tensor, y: Tensor, x: Tensor, offset_groups: int) -> Tensor:
    """:func:`_sample_grid` by four explicit gathers with their bilinear weights (the reference it is tested
    against, and the path for a side of 1)."""
    n, c_in, height, width = input.shape
    _, groups, taps, out_h, out_w = y.shape
    y0, x0 = torch.floor(y), torch.floor(x)
    wy1, wx1 = y - y0, x - x0
    wy0, wx0 = 1 - wy1, 1 - wx1
    channels = input.reshape(n, groups, c_in // groups, height * width)
    sampled = input.new_zeros(n, groups, c_in // groups, taps, out_h, out_w)
    for dy, wy in ((0, wy0), (1, wy1)):
        for dx, wx in ((0, wx0), (1, wx1)):
            yy, xx = y0 + dy, x0 + dx
            valid = (yy >= 0) & (yy <= height - 1) & (xx >= 0) & (xx <= width - 1)
            index = (yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)).long()  # (N, G, K, Ho, Wo)
            gathered = torch.gather(channels, 3, index.view(n, groups, 1, -1).expand(-1, -1, c_in // groups, -1))
            weight_map = (wy * wx * valid).view(n, groups, 1, -1)
            sampled = sampled + (gathered * weight_map).view_as(sampled)
    return sampled

