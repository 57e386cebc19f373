"""Training the tiny SAM: the loss falls, the checkpoint round-trips, resuming is exact."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sam_repro.backbones import build_sam, get_backbone, load_strict, read_state_dict
from sam_repro.data import CatalogEntry, Sample, SampleSet, get_entry, register
from sam_repro.train.losses import dice_loss, mask_iou, sigmoid_focal_loss
from sam_repro.train.tiny_sam import TinySamTrainConfig, train_tiny_sam


class _Fixed(SampleSet):
    """Two fixed 128 px images with two rectangles each: a set a micro SAM can fit in a few steps."""

    def __init__(self, split: str, size: int = 128, seed: int = 0):
        self.name, self.split, self.size = "test/fixed", split, size

    def __len__(self) -> int:
        return 2

    def fingerprint(self) -> str:
        return "fixed"

    def load(self, index: int) -> Sample:
        image = np.full((self.size, self.size, 3), 30, np.uint8)
        masks = np.zeros((2, self.size, self.size), bool)
        masks[0, 10 + 20 * index : 60 + 20 * index, 15:70] = True
        masks[1, 80:120, 60 + 10 * index : 110 + 10 * index] = True
        image[masks[0]] = (220, 40, 40)
        image[masks[1]] = (40, 200, 90)
        return Sample(id=str(index), image=image, masks=masks)


@pytest.fixture(scope="module", autouse=True)
def fixed_dataset() -> None:
    try:
        get_entry("test/fixed")
    except KeyError:
        register(CatalogEntry("test/fixed", "synthetic", ("train", "val"), lambda split, **kw: _Fixed(split, **kw)))


def _config(tmp_path: Path, **overrides) -> TinySamTrainConfig:
    values = dict(backbone="micro", dataset="test/fixed", steps=6, images_per_step=2, masks_per_image=2,
                  corrective_rounds=1, loss_size=64, lr=3e-3, warmup_steps=1, eval_every=10**6, eval_samples=2,
                  checkpoint_every=3, run_dir=str(tmp_path / "run"), output=str(tmp_path / "out.pt"))
    values.update(overrides)
    return TinySamTrainConfig(**values)


def test_losses_on_hand_cases() -> None:
    targets = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    confident = torch.tensor([[[20.0, -20.0], [-20.0, -20.0]]])
    assert float(dice_loss(confident, targets)) < 1e-6 and float(sigmoid_focal_loss(confident, targets)) < 1e-12
    zero = torch.zeros(1, 2, 2)
    # p = 0.5 everywhere: BCE = ln 2, (1 - p_t)^2 = 1/4, alpha weights 0.25 (fg) and 0.75 (bg)
    expected = np.log(2) * 0.25 * (0.25 * 1 + 0.75 * 3) / 4
    assert float(sigmoid_focal_loss(zero, targets)) == pytest.approx(expected, rel=1e-6)
    assert float(dice_loss(zero, targets)) == pytest.approx(1 - (2 * 0.5 + 1) / (2 + 1 + 1), rel=1e-6)
    assert float(mask_iou(torch.tensor([[[1.0, 1.0], [-1.0, -1.0]]]), targets)) == pytest.approx(0.5)


def test_loss_falls_and_checkpoint_round_trips(tmp_path: Path) -> None:
    config = _config(tmp_path, steps=30, checkpoint_every=30)
    path = train_tiny_sam(config, resume=False, progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 31))
    first, last = np.mean([r["loss"] for r in records[:5]]), np.mean([r["loss"] for r in records[-5:]])
    assert last < 0.7 * first, (first, last)
    assert "val_box_miou" in records[-1] and "val_point_miou" in records[-1]
    model = build_sam(get_backbone("micro").config)
    state = read_state_dict(path)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())  # shipped as float16
    load_strict(model, state, path)  # strict: every key of the architecture present
    with pytest.raises(ValueError, match="save_dtype"):
        train_tiny_sam(_config(tmp_path / "bad", save_dtype="int8"), resume=False, progress=False)


def test_interrupted_run_resumes_exactly(tmp_path: Path) -> None:
    straight = train_tiny_sam(_config(tmp_path / "a"), resume=False, progress=False)
    config = _config(tmp_path / "b")
    assert train_tiny_sam(config, resume=False, progress=False, stop_after=3) is None
    resumed = train_tiny_sam(config, resume=True, progress=False)
    a, b = read_state_dict(straight), read_state_dict(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 7))


def test_resume_refuses_another_configuration(tmp_path: Path) -> None:
    train_tiny_sam(_config(tmp_path), resume=False, progress=False, stop_after=3)
    with pytest.raises(ValueError, match="another configuration"):
        train_tiny_sam(_config(tmp_path, lr=1e-4), resume=True, progress=False)


def test_a_lost_run_continues_from_its_partial_weights(tmp_path: Path) -> None:
    """The run directory is lost between sessions: the exported float16 file carries the weights, the step and
    the validation curve, and the run continues from it (fresh optimizer, re-warmed learning rate)."""
    from sam_repro.backbones.checkpoints import read_checkpoint
    from sam_repro.train.tiny_sam import _lr_factor, export_partial_weights

    partial = tmp_path / "partial.pt"
    config = _config(tmp_path / "a", eval_every=2, init_from=str(partial))
    assert train_tiny_sam(config, resume=False, progress=False, stop_after=4) is None
    export_partial_weights(config, partial)
    weights, meta = read_checkpoint(partial)
    assert meta["partial"] and meta["steps"] == 4
    assert [r["step"] for r in meta["val_history"]] == [2, 4]
    assert all(v.dtype == torch.float16 for v in weights.values() if v.is_floating_point())
    state = torch.load(tmp_path / "a" / "run" / "state.pt", weights_only=True)
    assert all(torch.equal(weights[k], state["model"][k].half()) for k in weights)

    moved = _config(tmp_path / "b", eval_every=2, init_from=str(partial))  # a new machine: no run directory
    path = train_tiny_sam(moved, resume=True, progress=False)
    records = [json.loads(line) for line in (tmp_path / "b" / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 5, 6]  # the carried curve, then the steps run here
    assert records[2]["lr"] == pytest.approx(moved.lr * _lr_factor(4, moved) * 1 / moved.rewarm_steps)
    _, final_meta = read_checkpoint(path)
    assert final_meta["continued_from_partial_at_steps"] == [4]
    # a state further along than the partial file wins; a file of another configuration is refused by name
    assert train_tiny_sam(moved, resume=True, progress=False) is not None
    with pytest.raises(ValueError, match="partial.pt"):
        train_tiny_sam(_config(tmp_path / "c", lr=1e-4, init_from=str(partial)), resume=True, progress=False)


def test_a_run_ends_early_with_its_tail_compressed(tmp_path: Path) -> None:
    """end_at / end_from set while resuming: the run stops at end_at, the learning rate goes on from the schedule's
    value at end_from without a jump and falls to the floor at the new end, and the meta says so."""
    from sam_repro.backbones.checkpoints import read_checkpoint
    from sam_repro.train.tiny_sam import _lr_factor

    config = _config(tmp_path, steps=12)
    assert train_tiny_sam(config, resume=False, progress=False, stop_after=4) is None
    shortened = _config(tmp_path, steps=12, end_at=8, end_from=4)
    assert train_tiny_sam(shortened, resume=True, progress=False, stop_after=2) is None  # steps 5, 6
    path = train_tiny_sam(shortened, resume=True, progress=False)  # steps 7, 8
    lrs = {r["step"]: r["lr"] for r in map(json.loads, (tmp_path / "run" / "log.jsonl").read_text().splitlines())}
    assert sorted(lrs) == list(range(1, 9))
    assert lrs[5] == pytest.approx(config.lr * _lr_factor(4, config))  # no jump where it took effect
    assert lrs[8] == pytest.approx(config.lr * (config.min_lr_ratio + (_lr_factor(4, config) - config.min_lr_ratio)
                                                * 0.5 * (1 + np.cos(np.pi * 3 / 4))))
    assert lrs[5] > lrs[6] > lrs[7] > lrs[8]
    _, meta = read_checkpoint(path)
    assert (meta["steps"], meta["planned_steps"], meta["ended_at"], meta["schedule_shortened_at"]) == (8, 12, 8, 4)
    for end_at, end_from in ((12, 4), (8, 9), (8, 0)):
        with pytest.raises(ValueError, match="end_at"):
            train_tiny_sam(_config(tmp_path / "x", steps=12, end_at=end_at, end_from=end_from, warmup_steps=2),
                           resume=False, progress=False)
    # from scratch with the same options: the schedule of 12 steps, then the same compressed tail
    again = _config(tmp_path / "fresh", steps=12, end_at=8, end_from=4)
    train_tiny_sam(again, resume=False, progress=False)
    fresh = {r["step"]: r["lr"] for r in map(json.loads, (tmp_path / "fresh" / "run" / "log.jsonl").read_text().splitlines())}
    assert fresh == pytest.approx(lrs)
