"""IS-Net: the official key layout and size (3 and 5 input channels), side outputs at the input size on odd
sizes, the ground-truth encoder, and the width multiplier DIS-SAM's embedded run uses."""
from __future__ import annotations

import pytest
import torch

from sam_repro.methods.isnet import RSU, ISNet, ISNetGTEncoder

#: shapes read off the official xuebinqin/DIS IS-Net/models/isnet.py at width 1
OFFICIAL_SHAPES = {
    "stage1.rebnconvin.conv_s1.weight": (64, 64, 3, 3),  # RSU7(64, 32, 64)
    "stage1.rebnconv7.conv_s1.weight": (32, 32, 3, 3),
    "stage1.rebnconv1d.conv_s1.weight": (64, 64, 3, 3),
    "stage4.rebnconv4.conv_s1.weight": (128, 128, 3, 3),  # RSU4(256, 128, 512)
    "stage6.rebnconv4.conv_s1.weight": (256, 256, 3, 3),  # RSU4F(512, 256, 512)
    "stage5d.rebnconvin.conv_s1.weight": (512, 1024, 3, 3),  # RSU4F(1024, 256, 512)
    "stage1d.rebnconv1d.conv_s1.weight": (64, 32, 3, 3),  # RSU7(128, 16, 64)
    "stage2.rebnconv1.bn_s1.running_var": (32,),
    "side1.weight": (1, 64, 3, 3), "side3.weight": (1, 128, 3, 3), "side6.weight": (1, 512, 3, 3),
}


@pytest.mark.parametrize("in_ch", [3, 5])
def test_width_one_has_the_official_layout(in_ch: int) -> None:
    state = ISNet(in_ch).state_dict()
    for key, shape in OFFICIAL_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert tuple(state["conv_in.weight"].shape) == (64, in_ch, 3, 3)
    assert "conv_in.bias" in state and not any(k.startswith("pool") for k in state)
    assert sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k) \
        == pytest.approx(44.0e6, rel=0.01)  # the official IS-Net's 44M parameters
    assert set(ISNet(3).state_dict()) == set(state)  # 3 and 5 channels differ only in conv_in's shape


def test_outputs_are_at_the_input_size_on_odd_sizes() -> None:
    model = ISNet(5, width=0.125).eval()
    with torch.no_grad():
        sides, features = model(torch.randn(2, 5, 70, 50))
    assert len(sides) == 6 and all(s.shape == (2, 1, 70, 50) for s in sides)
    assert [f.shape[1] for f in features] == [8, 8, 16, 32, 64, 64]
    with pytest.raises(ValueError, match="5 input channels"):
        model(torch.randn(1, 3, 32, 32))


def test_gt_encoder_layout_and_outputs() -> None:
    encoder = ISNetGTEncoder()
    state = encoder.state_dict()
    assert tuple(state["conv_in.conv.weight"].shape) == (16, 1, 3, 3) and "conv_in.bn.running_mean" in state
    assert tuple(state["stage1.rebnconvin.conv_s1.weight"].shape) == (64, 16, 3, 3)  # RSU7(16, 16, 64)
    assert tuple(state["side5.weight"].shape) == (1, 512, 3, 3)
    small = ISNetGTEncoder(width=0.25).eval()
    with torch.no_grad():
        sides, features = small(torch.rand(1, 1, 64, 48))
    assert all(s.shape == (1, 1, 64, 48) for s in sides) and len(features) == 6


def test_width_quarter_is_the_embedded_size_and_rsu_checks_its_height() -> None:
    assert sum(p.numel() for p in ISNet(5, width=0.25).parameters()) == pytest.approx(2.76e6, rel=0.01)
    with pytest.raises(ValueError, match="height"):
        RSU(2, 4, 4, 4)
