"""Training Pi-SAM (train/pisam.py): each stage changes exactly its parameter set, the Pi file holds the trained
RGB embedding and loads on its base, resuming is exact, clicks are logged; and the Pi-SAM prompt helpers
(common errors, exactly n clicks, grid <-> image). A few steps on the micro backbone only."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sam_repro.backbones import build_sam, get_backbone, save_checkpoint
from sam_repro.cli import main
from sam_repro.data import CatalogEntry, Sample, SampleSet, get_entry, register
from sam_repro.methods.pisam import (
    corrections_to_grid, load_pi_sam_model, stage_parameter_names,
)
from sam_repro.prompts import (
    Click, common_error_regions, error_region_clicks, error_regions, grid_to_image, mask_to_grid, valid_grid,
)
from sam_repro.train.pisam import PiSamTrainConfig, check_config, lr_at, stage_of, train_pi_sam

MICRO = get_backbone("micro").config


class _Fixed(SampleSet):
    """Two fixed 128 px images with a ring and a thin bar."""

    def __init__(self, split: str, seed: int = 0, length: int | None = None):
        self.name, self.split = "test/pi_fixed", split

    def __len__(self) -> int:
        return 2

    def fingerprint(self) -> str:
        return "pi_fixed"

    def load(self, index: int) -> Sample:
        yy, xx = np.mgrid[:128, :128]
        r = np.hypot(yy - 60 - 6 * index, xx - 64)
        mask = ((r > 18 + 4 * index) & (r < 34)) | ((abs(xx - 64) <= 1 + index) & (yy > 20) & (yy < 110))
        image = np.full((128, 128, 3), 40, np.uint8)
        image[mask] = (210, 180, 60)
        return Sample(id=str(index), image=image, masks=mask[None])


@pytest.fixture(scope="module", autouse=True)
def fixed_dataset() -> None:
    try:
        get_entry("test/pi_fixed")
    except KeyError:
        register(CatalogEntry("test/pi_fixed", "synthetic", ("train", "val"), lambda split, **kw: _Fixed(split, **kw)))


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    path = tmp_path / "micro_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=3), path)
    return path


def _config(tmp_path: Path, base: Path, **overrides) -> PiSamTrainConfig:
    values = dict(backbone="micro", base_checkpoint=str(base), datasets="test/pi_fixed", samples_per_dataset=0,
                  steps_hr=1, steps_interactor=1, images_per_step=2, num_points=64, checkpoint_every=1,
                  run_dir=str(tmp_path / "run"), output=str(tmp_path / "pi.pt"), init_hq="random")
    values.update(overrides)
    return PiSamTrainConfig(**values)


def _state(path: Path) -> dict[str, torch.Tensor]:
    from sam_repro.train.common import load_training_state

    return load_training_state(path)["pi"]


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_schedule_and_config_checks() -> None:
    config = PiSamTrainConfig(steps_hr=10, steps_interactor=4)
    assert [stage_of(s, config) for s in (0, 9, 10, 13)] == ["hr", "hr", "interactor", "interactor"]
    assert lr_at(0, config) == lr_at(10, config) == pytest.approx(1e-3)
    assert lr_at(5, config) == pytest.approx(5e-4) and lr_at(12, config) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="max_points"):
        check_config(PiSamTrainConfig(max_points=11))
    with pytest.raises(ValueError, match="steps_hr"):
        check_config(PiSamTrainConfig(steps_hr=0, steps_interactor=0))


def test_each_stage_changes_only_its_set_and_the_file_round_trips(tmp_path: Path, base: Path) -> None:
    model, _ = load_pi_sam_model("micro", base, device="cpu", random_init_pi=True, seed=0)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    hr_names = set(stage_parameter_names(model, "hr"))
    inter_names = set(stage_parameter_names(model, "interactor"))
    config = _config(tmp_path, base)
    assert train_pi_sam(config, resume=False, progress=False, stop_after=1) is None
    after_hr = _state(tmp_path / "run" / "state.pt")
    changed = {k for k, v in after_hr.items() if not torch.equal(v, start[k])}
    assert changed and changed <= hr_names
    assert any(".rgb_embed." in k for k in changed) and any(".mask_aspp." in k for k in changed)
    path = train_pi_sam(config, resume=True, progress=False)
    after_inter = _state(tmp_path / "run" / "state.pt")
    changed = {k for k, v in after_inter.items() if not torch.equal(v, after_hr[k])}
    assert changed and changed <= inter_names  # at init only out_cov gets a gradient (the rest sits behind it)
    records = _records(tmp_path / "run")
    assert [r["stage"] for r in records] == ["hr", "interactor"]
    assert records[1]["clicks"] >= 1 and 0 <= records[1]["positive_click_share"] <= 1
    loaded, info = load_pi_sam_model("micro", path, device="cpu", base_checkpoint=base)
    assert info["interactor_trained"]
    for name, value in after_inter.items():  # the trained RGB embedding included
        assert torch.equal(loaded.state_dict()[name], value), name
    # SAM's parameters are the base's, untouched by training
    sam = build_sam(MICRO, seed=3)
    for name, value in sam.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name


def test_hq_parts_start_from_an_hq_file_on_the_same_sam_only(tmp_path: Path, base: Path) -> None:
    from sam_repro.hashing import sha256_file
    from sam_repro.methods.hqsam import load_hq_sam_model, save_hq_checkpoint
    from sam_repro.methods.hqsam.weights import hq_state_dict
    from sam_repro.train.pisam import _init_hq_parts

    hq_model, _ = load_hq_sam_model("micro", base, device="cpu", random_init_hq=True, seed=7)
    hq_file = tmp_path / "hq.pt"
    save_hq_checkpoint(hq_model, hq_file, base_sha256=sha256_file(base), backbone="micro")
    model, _ = load_pi_sam_model("micro", base, device="cpu", random_init_pi=True, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    source = _init_hq_parts(model, "micro", _config(tmp_path, base, init_hq=str(hq_file)))
    assert str(hq_file) in source
    hq = hq_state_dict(hq_model)
    for name, value in model.state_dict().items():  # HQ parts are the file's, everything else untouched
        assert torch.equal(value, hq[name] if name in hq else before[name]), name
    other = tmp_path / "other_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=4), other)
    foreign = tmp_path / "hq_foreign.pt"
    save_hq_checkpoint(hq_model, foreign, base_sha256=sha256_file(other), backbone="micro")
    with pytest.raises(Exception, match="sha256"):
        _init_hq_parts(model, "micro", _config(tmp_path, base, init_hq=str(foreign)))
    assert _init_hq_parts(model, "micro", _config(tmp_path, base, init_hq="random")) == "random"


def test_resume_is_exact(tmp_path: Path, base: Path) -> None:
    whole = _config(tmp_path / "a", base, steps_hr=2, steps_interactor=1)
    train_pi_sam(whole, resume=False, progress=False)
    split = _config(tmp_path / "b", base, steps_hr=2, steps_interactor=1)
    assert train_pi_sam(split, resume=False, progress=False, stop_after=2) is None
    train_pi_sam(split, resume=True, progress=False)
    a, b = _state(tmp_path / "a" / "run" / "state.pt"), _state(tmp_path / "b" / "run" / "state.pt")
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_cli_trains_pisam_and_pi_sam_alias(tmp_path: Path, base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--backbone", "micro", "--base-checkpoint", str(base), "--datasets", "test/pi_fixed",
            "--samples-per-dataset", "0", "--steps-hr", "1", "--steps-interactor", "0", "--images-per-step", "1",
            "--num-points", "32", "--init-hq", "random", "--run-dir", str(tmp_path / "run"),
            "--output", str(tmp_path / "pi.pt")]
    assert main(["train", "pi-sam", *args, "--stop-after", "1"]) == 0
    assert (tmp_path / "pi.pt").is_file()
    _, info = load_pi_sam_model("micro", tmp_path / "pi.pt", device="cpu", base_checkpoint=base)
    assert not info["interactor_trained"]  # stage 2 had no steps


# -- prompts ------------------------------------------------------------------------------------------------
def _rect(shape, rows, cols) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1] = True
    return m


def test_common_error_regions_keep_only_shared_errors() -> None:
    shape = (40, 40)
    gt = _rect(shape, (5, 30), (5, 30))
    a = gt & ~_rect(shape, (5, 16), (5, 30))  # misses rows 5-16
    b = gt & ~_rect(shape, (10, 30), (5, 14))  # misses a block overlapping a's miss in rows 10-16, cols 5-14
    common = common_error_regions(gt, [a, b])
    assert len(common) == 1 and common[0].positive
    missed_by_both = gt & ~a & ~b
    assert common[0].mask.any() and not (common[0].mask & ~missed_by_both).any()
    np.testing.assert_array_equal(common_error_regions(gt, [a])[0].mask, error_regions(gt, a)[0].mask)
    clicks = error_region_clicks(gt, [a, b], np.random.default_rng(0), n=3)
    assert len(clicks) == 3 and all(missed_by_both[c.y, c.x] and c.positive for c in clicks)
    assert len({(c.x, c.y) for c in clicks}) == 3  # round-robin on one region: distinct pixels


def test_exactly_n_clicks_and_polarity() -> None:
    shape = (60, 60)
    gt = _rect(shape, (2, 20), (2, 20)) | _rect(shape, (30, 40), (30, 40))
    pred = _rect(shape, (45, 58), (2, 20))  # one FP region; FN: the two GT squares
    rng = np.random.default_rng(1)
    five = error_region_clicks(gt, pred, rng, n=5)
    assert len(five) == 5 and [c.positive for c in five[:3]] == [True, False, True]  # by area, then round 2
    assert all(c.positive for c in error_region_clicks(gt, pred, rng, n=4, polarity="positive"))
    assert not any(c.positive for c in error_region_clicks(gt, pred, rng, n=2, polarity="negative"))
    with pytest.raises(ValueError, match="polarity"):
        error_region_clicks(gt, pred, rng, polarity="fg")
    with pytest.raises(ValueError, match="n: exactly"):
        error_region_clicks(gt, pred, rng, n=2, training=True)


def test_grid_and_image_coordinates() -> None:
    size, img_size, grid = (96, 72), 128, 32  # the image covers 32 x 24 cells of the grid
    valid = valid_grid(size, grid, img_size)
    assert valid.shape == (32, 32) and valid[:, :24].all() and not valid[:, 24:].any()
    clicks = [Click(x=5, y=20, positive=True), Click(x=23, y=31, positive=False)]
    points, labels = grid_to_image(clicks, grid, size, img_size)
    assert labels.tolist() == [1, 0]
    back = corrections_to_grid(points, size, img_size) * grid - 0.5  # the inverse map, in grid cells
    np.testing.assert_allclose(back, [[5, 20], [23, 31]], atol=1e-9)
    assert (points[:, 0] < size[1]).all() and (points[:, 1] < size[0]).all()
    with pytest.raises(ValueError, match="padding"):
        grid_to_image([Click(x=24, y=3, positive=True)], grid, size, img_size)
    gt = np.zeros(size, bool)
    gt[:, :36] = True  # the left half of the image
    on_grid = mask_to_grid(gt, grid, img_size)
    assert on_grid.shape == (32, 32) and on_grid[:, :11].min() == 1.0 and on_grid[:, 13:].max() == 0.0


def test_a_table5_variant_trains_and_its_file_records_its_components(tmp_path: Path, base: Path) -> None:
    from sam_repro.methods.pisam import VARIANTS

    config = _config(tmp_path, base, variant="rgb", steps_interactor=0)
    path = train_pi_sam(config, resume=False, progress=False)
    model, _ = load_pi_sam_model("micro", path, device="cpu", base_checkpoint=base)
    assert model.mask_decoder.components == VARIANTS["rgb"] and model.mask_decoder.mask_aspp is None
    with pytest.raises(ValueError, match="variant must be one of"):
        check_config(_config(tmp_path, base, variant="half"))
