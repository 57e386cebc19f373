"""DIS-SAM's trainer on tiny settings: the GT encoder first (frozen, shared), a step leaves SAM and the GT encoder
unchanged, every row trains and loads, resuming is exact, no test split is opened, and the window keeps the box."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import sam_repro
from sam_repro.backbones import build_sam, get_backbone
from sam_repro.backbones.checkpoints import read_checkpoint, read_state_dict, save_checkpoint
from sam_repro.train.dissam import ROWS, DisSamTrainConfig, _window_start, train_dis_sam


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    path = tmp_path / "micro_sam.pt"
    save_checkpoint(build_sam(get_backbone("micro").config, seed=3), path)
    return path


def _config(tmp_path: Path, base: Path, **overrides) -> DisSamTrainConfig:
    values = dict(backbone="micro", base_checkpoint=str(base), samples=3, width=1 / 16, input_size=64, crop=48,
                  steps=3, batch=2, gt_steps=2, eval_every=10**6, eval_samples=2, checkpoint_every=2,
                  run_dir=str(tmp_path / "dis" / "row"), output=str(tmp_path / "dis.pt"))
    values.update(overrides)
    return DisSamTrainConfig(**values)


def test_window_overlaps_the_box() -> None:
    rng = np.random.default_rng(0)
    starts = {_window_start(40, 45, 64, 16, rng) for _ in range(200)}
    assert starts == set(range(25, 46 - 0)) & set(range(0, 49))  # [40-15, 45] within [0, 64-16]
    assert {_window_start(0, 3, 64, 64, rng)} == {0}


def test_gt_encoder_first_then_a_row_and_nothing_else_changes(tmp_path: Path, base: Path, monkeypatch) -> None:
    import sam_repro.data as data

    opened = []
    real = data.open_dataset

    def spy(name, split, **kwargs):
        opened.append(split)
        return real(name, split, **kwargs)

    monkeypatch.setattr(data, "open_dataset", spy)
    config = _config(tmp_path, base)
    path = train_dis_sam(config, progress=False)
    assert "test" not in opened and {"train", "val"} <= set(opened)  # training never opens a test split
    encoder_file = tmp_path / "dis" / "gt_encoder" / "gt_encoder.pt"
    encoder_before = read_state_dict(encoder_file)
    parts, meta = read_checkpoint(path)
    assert meta["row"] == 5 and meta["gt_encoder"]["steps"] == 2 and meta["settings"]["use_box"]
    assert all(v.dtype == torch.float16 for v in parts.values() if v.is_floating_point())
    # a second row reuses the frozen GT encoder, bit for bit, and leaves the SAM file alone
    sam_before = read_state_dict(base)
    row2 = train_dis_sam(_config(tmp_path, base, row=2, run_dir=str(tmp_path / "dis" / "row2"),
                                 output=str(tmp_path / "row2.pt")), progress=False)
    assert all(torch.equal(encoder_before[k], v) for k, v in read_state_dict(encoder_file).items())
    assert all(torch.equal(sam_before[k], v) for k, v in read_state_dict(base).items())
    assert read_checkpoint(row2)[1]["gt_encoder"]["sha256"] == meta["gt_encoder"]["sha256"]
    segmenter = sam_repro.load_segmenter("dissam:micro", checkpoint=path, base_checkpoint=base, device="cpu")
    image = np.full((80, 96, 3), 40, np.uint8)
    image[20:60, 30:70] = 200
    segmenter.set_image(image)
    assert segmenter.predict(box=np.array([30, 20, 69, 59.0])).probability.shape == (80, 96)


@pytest.mark.parametrize("row", sorted(ROWS))
def test_every_row_builds_its_input(tmp_path: Path, base: Path, row: int) -> None:
    config = _config(tmp_path, base, row=row, steps=1).resolved()
    settings = config.settings
    assert settings.in_ch == (3 if row == 1 else 5)
    assert (settings.use_box, settings.use_mask) == ROWS[row][1:]


def test_interrupted_training_resumes_exactly(tmp_path: Path, base: Path) -> None:
    straight = train_dis_sam(_config(tmp_path / "a", base, steps=4), progress=False)
    config = _config(tmp_path / "b", base, steps=4)
    assert train_dis_sam(config, progress=False, stop_after=1) is None  # stops inside the GT encoder's training
    assert train_dis_sam(config, progress=False, stop_after=2) is None
    resumed = train_dis_sam(config, progress=False)
    a, b = read_state_dict(straight), read_state_dict(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "dis" / "row" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_bad_rows_and_crops_are_named() -> None:
    with pytest.raises(ValueError, match="row"):
        DisSamTrainConfig(row=6).resolved()
    with pytest.raises(ValueError, match="crop"):
        DisSamTrainConfig(crop=1024).resolved()
