"""IS-Net (Qin et al., "Highly Accurate Dichotomous Image Segmentation", ECCV 2022): the DIS baseline and DIS-SAM's
second stage.

A U2-Net-style encoder-decoder of residual U-blocks (RSU): six encoder stages (RSU-7, 6, 5, 4, 4F, 4F with a
2x max pool between stages), five decoder stages fed by the upsampled deeper stage concatenated with the skip,
and six side outputs (3x3 conv to one channel, upsampled to the input size; side 1 is the full-resolution
prediction). The ground-truth encoder (:class:`ISNetGTEncoder`) is the encoder half with its own side outputs, used
for intermediate supervision (its stage features are the targets of the MSE feature loss).

Parameter names follow the official code (xuebinqin/DIS ``IS-Net/models/isnet.py``; written here, not copied), so
``isnet.pth`` (3 input channels) and DIS-SAM's ``dis_sam.pth`` (5: RGB, SAM's mask, the box) load strictly at
``width=1``. ``width`` scales every channel count (the embedded world trains ``width=0.25``), ``in_ch`` sets the
input channels. Outputs are logits (the official forward applies a sigmoid; :meth:`ISNet.forward` returns
``(side logits, decoder features)`` and callers apply the sigmoid where the official code does).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: (in, mid, out) channels of the official encoder stages 1-6 and decoder stages 5d-1d (width 1).
ENCODER_STAGES = ((64, 32, 64), (64, 32, 128), (128, 64, 256), (256, 128, 512), (512, 256, 512), (512, 256, 512))
DECODER_STAGES = ((1024, 256, 512), (1024, 128, 256), (512, 64, 128), (256, 32, 64), (128, 16, 64))
GT_ENCODER_STAGES = ((16, 16, 64), (64, 16, 64), (64, 32, 128), (128, 32, 256), (256, 64, 512), (512, 64, 512))
#: RSU height per encoder stage (4 at stages 5-6 is RSU-4F, dilated and without pooling).
STAGE_HEIGHTS = (7, 6, 5, 4, 4, 4)
DILATED_STAGES = (4, 5)


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


class ConvBnRelu(nn.Module):
    """3x3 convolution (dilation d, padding d) + BatchNorm + ReLU; the official REBNCONV (``conv_s1``, ``bn_s1``)."""

    def __init__(self, in_ch: int, out_ch: int, dilation: int = 1):
        super().__init__()
        self.conv_s1 = nn.Conv2d(in_ch, out_ch, 3, padding=dilation, dilation=dilation)
        self.bn_s1 = nn.BatchNorm2d(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn_s1(self.conv_s1(x)))


def _upsample_like(x: Tensor, reference: Tensor) -> Tensor:
    return F.interpolate(x, size=reference.shape[2:], mode="bilinear", align_corners=False)


class RSU(nn.Module):
    """Residual U-block of height ``height``: an input conv, a small U-Net of ``height`` convs and the residual sum.

    Plain RSU-L: convs 1..L-1 (dilation 1) with a 2x max pool after each of the first L-2, conv L with dilation 2,
    then decoder convs (L-1)d..1d on [upsampled deeper, skip]. RSU-4F (``dilated``): no pooling; dilations
    1, 2, 4, 8 down and 4, 2, 1 up. Module names are the official ones (rebnconvin, rebnconv{i}, rebnconv{i}d).
    """

    def __init__(self, height: int, in_ch: int, mid_ch: int, out_ch: int, dilated: bool = False):
        super().__init__()
        if height < 3:
            raise ValueError(f"an RSU needs height >= 3, got {height}")
        self.height = height
        self.dilated = dilated
        self.rebnconvin = ConvBnRelu(in_ch, out_ch)
        down = [2 ** i for i in range(height)] if dilated else [1] * (height - 1) + [2]
        for i in range(1, height + 1):
            setattr(self, f"rebnconv{i}", ConvBnRelu(out_ch if i == 1 else mid_ch, mid_ch, down[i - 1]))
        for i in range(height - 1, 0, -1):
            dilation = down[i - 1] if dilated else 1
            setattr(self, f"rebnconv{i}d", ConvBnRelu(2 * mid_ch, out_ch if i == 1 else mid_ch, dilation))

    def forward(self, x: Tensor) -> Tensor:
        x_in = self.rebnconvin(x)
        skips = []
        hx = x_in
        for i in range(1, self.height):
            hx = getattr(self, f"rebnconv{i}")(hx)
            skips.append(hx)
            if not self.dilated and i < self.height - 1:
                hx = F.max_pool2d(hx, 2, stride=2, ceil_mode=True)
        hx = getattr(self, f"rebnconv{self.height}")(hx)  # the bottom, on the last skip's grid
        for i in range(self.height - 1, 0, -1):
            hx = getattr(self, f"rebnconv{i}d")(torch.cat((hx, skips[i - 1]), 1))
            if i > 1 and not self.dilated:
                hx = _upsample_like(hx, skips[i - 2])
        return hx + x_in


def _pool(x: Tensor) -> Tensor:
    return F.max_pool2d(x, 2, stride=2, ceil_mode=True)


class ISNet(nn.Module):
    """IS-Net's segmentation network (the official ``ISNetDIS``).

    Args:
        in_ch: input channels (3: RGB, IS-Net; 5: RGB + SAM mask + box mask, DIS-SAM).
        out_ch: output channels of each side output.
        width: channel multiplier (1: the official network, ~44M parameters).
    """

    def __init__(self, in_ch: int = 3, out_ch: int = 1, width: float = 1.0):
        super().__init__()
        self.in_ch, self.width = in_ch, width
        c = [tuple(_scaled(v, width) for v in stage) for stage in ENCODER_STAGES]
        d = [tuple(_scaled(v, width) for v in stage) for stage in DECODER_STAGES]
        self.conv_in = nn.Conv2d(in_ch, c[0][0], 3, stride=2, padding=1)
        for index, ((i, m, o), height) in enumerate(zip(c, STAGE_HEIGHTS), start=1):
            setattr(self, f"stage{index}", RSU(height, i, m, o, dilated=index - 1 in DILATED_STAGES))
        for index, ((i, m, o), height) in zip(range(5, 0, -1), zip(d, (4, 4, 5, 6, 7))):
            setattr(self, f"stage{index}d", RSU(height, i, m, o, dilated=index == 5))
        side_channels = [d[4][2], d[3][2], d[2][2], d[1][2], d[0][2], c[5][2]]
        for index, channels in enumerate(side_channels, start=1):
            setattr(self, f"side{index}", nn.Conv2d(channels, out_ch, 3, padding=1))

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """(N, in_ch, H, W) -> six side-output logits (N, out_ch, H, W), side 1 first (the prediction), and the
        decoder features [1d, 2d, 3d, 4d, 5d, encoder 6] that the GT encoder's features supervise."""
        if x.shape[1] != self.in_ch:
            raise ValueError(f"IS-Net was built for {self.in_ch} input channels, got {x.shape[1]}")
        hx = self.conv_in(x)
        encoder = []
        for index in range(1, 7):
            hx = getattr(self, f"stage{index}")(hx)
            encoder.append(hx)
            if index < 6:
                hx = _pool(hx)
        hx = _upsample_like(encoder[5], encoder[4])
        decoder = {}
        for index in range(5, 0, -1):
            hx = getattr(self, f"stage{index}d")(torch.cat((hx, encoder[index - 1]), 1))
            decoder[index] = hx
            if index > 1:
                hx = _upsample_like(hx, encoder[index - 2])
        features = [decoder[1], decoder[2], decoder[3], decoder[4], decoder[5], encoder[5]]
        sides = [_upsample_like(getattr(self, f"side{i}")(f), x) for i, f in enumerate(features, start=1)]
        return sides, features


class ISNetGTEncoder(nn.Module):
    """IS-Net's ground-truth encoder (the official ``ISNetGTEncoder``): the mask in, six side outputs and six
    stage features out; trained first on its own side outputs, then frozen as the feature target."""

    def __init__(self, in_ch: int = 1, out_ch: int = 1, width: float = 1.0):
        super().__init__()
        c = [tuple(_scaled(v, width) for v in stage) for stage in GT_ENCODER_STAGES]
        self.conv_in = nn.Module()
        self.conv_in.conv = nn.Conv2d(in_ch, c[0][0], 3, stride=2, padding=1)
        self.conv_in.bn = nn.BatchNorm2d(c[0][0])
        for index, ((i, m, o), height) in enumerate(zip(c, STAGE_HEIGHTS), start=1):
            setattr(self, f"stage{index}", RSU(height, i, m, o, dilated=index - 1 in DILATED_STAGES))
        for index, (_, _, o) in enumerate(c, start=1):
            setattr(self, f"side{index}", nn.Conv2d(o, out_ch, 3, padding=1))

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """(N, in_ch, H, W) -> six side-output logits at the input size and the six stage features."""
        hx = F.relu(self.conv_in.bn(self.conv_in.conv(x)))
        features = []
        for index in range(1, 7):
            hx = getattr(self, f"stage{index}")(hx)
            features.append(hx)
            if index < 6:
                hx = _pool(hx)
        sides = [_upsample_like(getattr(self, f"side{i}")(f), x) for i, f in enumerate(features, start=1)]
        return sides, features
