"""DIS-SAM: the 5-channel input by hand, the enrichment of a hand-made ground truth, the IoU and ORTHO losses by hand,
the segmenter's prompts and errors, a moved box moving DIS-SAM's output and not IS-Net's, and its weights files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import sam_repro
from sam_repro.backbones import build_sam, get_backbone
from sam_repro.backbones.checkpoints import CheckpointError, save_checkpoint, sha256_file
from sam_repro.methods.dissam import (
    DisSamSegmenter, DisSamSettings, IsNetSegmenter, box_map, build_isnet, enrich_gt, five_channel_input,
    load_dissam_parts, save_dissam_parts,
)
from sam_repro.methods.isnet import ISNet
from sam_repro.train.losses import iou_loss, ortho_loss

SMALL = DisSamSettings(width=1 / 16, input_size=64)


def test_box_map_is_inclusive_and_rounds_inwards() -> None:
    expected = np.zeros((4, 6), np.float32)
    expected[1:3, 2:5] = 1
    np.testing.assert_array_equal(box_map([2, 1, 4, 2], (4, 6)), expected)
    np.testing.assert_array_equal(box_map([1.5, 0.5, 4.9, 2.2], (4, 6)), expected)  # centres 2..4, 1..2
    assert not box_map([2.2, 1.2, 2.8, 1.8], (4, 6)).any()  # no pixel centre inside
    assert box_map([0, 0, 99, 99], (4, 6)).all()  # clipped to the image


def test_five_channel_input_of_a_hand_made_case() -> None:
    image = np.zeros((2, 3, 3), np.uint8)
    image[0, 0] = (255, 0, 51)
    mask = np.array([[1, 0, 0], [0, 1, 0]], bool)
    out = five_channel_input(image, mask, [1, 0, 2, 0])
    assert out.shape == (5, 2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[:3, 0, 0], [0.5, -0.5, 51 / 255 - 0.5])
    np.testing.assert_allclose(out[:3, 1, 2], [-0.5, -0.5, -0.5])
    np.testing.assert_array_equal(out[3], mask.astype(np.float32))  # the code's order: RGB, mask, box
    np.testing.assert_array_equal(out[4], [[0, 1, 1], [0, 0, 0]])
    paper = five_channel_input(image, mask, [1, 0, 2, 0], order="paper")
    np.testing.assert_array_equal(paper[3], out[4])
    np.testing.assert_array_equal(paper[4], out[3])
    zeroed = five_channel_input(image, None, [1, 0, 2, 0], use_mask=False)
    assert not zeroed[3].any() and zeroed[4].any()  # Table 2: absent inputs are zero channels
    assert not five_channel_input(image, mask, None, use_box=False)[4].any()
    with pytest.raises(ValueError, match="sam_mask"):
        five_channel_input(image, None, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="order"):
        five_channel_input(image, mask, [0, 0, 1, 1], order="box-first")


def test_enrichment_of_a_hand_made_ground_truth() -> None:
    gt = np.zeros((50, 50), bool)  # 2,500 px: 0.4% is 10 px
    gt[2:8, 2:8] = True  # part A, 36 px
    gt[8, 8] = gt[9, 9] = gt[10, 10] = True  # a diagonal chain: 8-connected to A
    gt[20:30, 30:32] = True  # part B, 20 px
    gt[45, 45:48] = True  # a speck, 3 px < 0.4%
    parts = enrich_gt(gt)
    assert len(parts) == 3  # A (with its diagonal tail), B, and the whole ground truth
    assert parts[0].sum() == 39 and parts[0][10, 10] and parts[1].sum() == 20
    np.testing.assert_array_equal(parts[2], gt)
    one = np.zeros((50, 50), bool)
    one[2:8, 2:8] = one[45, 45] = True
    assert len(enrich_gt(one)) == 1 and enrich_gt(one)[0].sum() == 36  # one part: the specks are dropped
    assert enrich_gt(np.zeros((5, 5), bool)) == []


def test_iou_loss_by_hand() -> None:
    targets = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    big = torch.tensor([[30.0, 30.0, -30.0, -30.0]])
    assert float(iou_loss(big, targets)) == pytest.approx(0.0, abs=1e-6)
    half = torch.zeros(1, 4)  # p = 0.5: inter 1, union 0.5 * 4 + 2 - 1 = 3
    assert float(iou_loss(half, targets)) == pytest.approx(1 - 2 / 4)


def test_ortho_loss_by_hand() -> None:
    rotation = torch.tensor([[0.6, -0.8], [0.8, 0.6]])
    assert float(ortho_loss([("w", rotation), ("b.bias", torch.ones(5))])) == pytest.approx(0.0, abs=1e-6)
    w = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # W W^T = [[2, 1], [1, 1]]: |.-I| sums to 1 + 1 + 1 + 0 = 3
    assert float(ortho_loss([("w", w)])) == pytest.approx(3.0)
    kernel = torch.zeros(2, 1, 1, 2)
    kernel[0, 0, 0, 0] = kernel[1, 0, 0, 1] = 1.0  # rows orthonormal after flattening to (out, -1)
    bn = torch.tensor([1.0, 2.0])  # (2, 1): W W^T = [[1, 2], [2, 4]] -> 0 + 2 + 2 + 3 = 7
    assert float(ortho_loss([("conv.weight", kernel), ("bn.weight", bn)])) == pytest.approx(7.0)
    assert float(ortho_loss([("conv.weight", kernel), ("bn.weight", bn)], include="conv")) == pytest.approx(0.0)


def test_width_one_keys_are_the_official_layout_and_channels_are_checked(tmp_path: Path) -> None:
    three, five = ISNet(in_ch=3, width=1 / 16), ISNet(in_ch=5, width=1 / 16)
    assert set(three.state_dict()) == set(five.state_dict())
    path = tmp_path / "isnet_rgb.pt"
    save_checkpoint(three.state_dict(), path)
    from sam_repro.methods.dissam.weights import load_isnet_state
    from sam_repro.backbones.checkpoints import read_state_dict

    with pytest.raises(CheckpointError, match="IS-Net .RGB only. checkpoint"):
        load_isnet_state(five, read_state_dict(path), path)


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    image = np.full((96, 80, 3), 30, np.uint8)
    image[20:60, 15:45] = (220, 200, 40)
    return image


def test_box_prompt_only_with_clear_errors(scene: np.ndarray) -> None:
    segmenter = sam_repro.load_segmenter("dissam:micro", random_init=True, settings=SMALL, device="cpu")
    with pytest.raises(RuntimeError, match="set_image"):
        segmenter.predict(box=np.array([10, 10, 50, 70.0]))
    segmenter.set_image(scene)
    prediction = segmenter.predict(box=np.array([10, 15, 50, 65.0]))
    assert prediction.masks.shape == (1, 96, 80) and 0 <= prediction.probability.min() <= prediction.probability.max() <= 1
    assert segmenter.last_coarse is not None and segmenter.last_coarse.masks.shape[0] == 3  # multimask, masks[0]
    with pytest.raises(ValueError, match="refines a box"):
        segmenter.predict()
    with pytest.raises(ValueError, match="box prompt only"):
        segmenter.predict(points=np.array([[20.0, 30.0]]), labels=np.array([1]))
    with pytest.raises(ValueError, match="no pixel centre"):
        segmenter.predict(box=np.array([10.2, 10.2, 10.8, 10.8]))


def test_a_moved_box_moves_dissam_but_not_isnet(scene: np.ndarray) -> None:
    dissam = sam_repro.load_segmenter("dissam:micro", random_init=True, settings=SMALL, device="cpu")
    isnet = IsNetSegmenter(dissam.model, build_isnet(DisSamSettings(width=1 / 16, input_size=64, in_ch=3)),
                           DisSamSettings(width=1 / 16, input_size=64, in_ch=3))
    here, there = np.array([10, 15, 50, 65.0]), np.array([30, 40, 75, 90.0])
    for segmenter in (dissam, isnet):
        segmenter.set_image(scene)
    moved = np.abs(dissam.predict(box=here).probability - dissam.predict(box=there).probability).max()
    fixed = np.abs(isnet.predict(box=here).probability - isnet.predict(box=there).probability).max()
    assert moved > 1e-3 and fixed == 0.0


def test_parts_file_round_trips_and_refuses_another_sam(tmp_path: Path, scene: np.ndarray) -> None:
    config = get_backbone("micro").config
    base, other = tmp_path / "sam.pt", tmp_path / "other.pt"
    save_checkpoint(build_sam(config, seed=1), base)
    save_checkpoint(build_sam(config, seed=2), other)
    isnet = build_isnet(SMALL, seed=5)
    path = tmp_path / "dis.pt"
    save_dissam_parts(isnet, path, settings=SMALL, base_sha256=sha256_file(base), backbone="micro")
    loaded, settings, provenance = load_dissam_parts("micro", path, base_checkpoint=base)
    assert settings == SMALL and all(torch.equal(a, b) for a, b in zip(isnet.state_dict().values(),
                                                                     loaded.state_dict().values()))
    segmenter = sam_repro.load_segmenter("dissam:micro", checkpoint=path, base_checkpoint=base, device="cpu")
    fresh = DisSamSegmenter.from_backbone("micro", random_init_isnet=True, settings=SMALL, seed=5,
                                          base_checkpoint=base, device="cpu")
    for s in (segmenter, fresh):
        s.set_image(scene)
    box = np.array([10, 15, 50, 65.0])
    np.testing.assert_array_equal(segmenter.predict(box=box).probability, fresh.predict(box=box).probability)
    with pytest.raises(CheckpointError, match="sha256"):
        load_dissam_parts("micro", path, base_checkpoint=other)
    with pytest.raises(ValueError, match="settings come from"):
        DisSamSegmenter.from_backbone("micro", checkpoint=path, settings=SMALL, base_checkpoint=base)


@pytest.mark.parametrize("values, field", [({"in_ch": 4}, "in_ch"), ({"mask_choice": "last"}, "mask_choice"),
                                           ({"normalization": "softmax"}, "normalization")])
def test_bad_settings_name_the_field(values: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        DisSamSettings(**values)
