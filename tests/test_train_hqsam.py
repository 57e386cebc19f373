"""Training HQ-SAM's HQ parts (train/hqsam.py) and the HQ-only checkpoint (methods/hqsam/): the loss
falls, SAM stays bit-identical, the checkpoint holds only (and exactly) the HQ keys and is pinned to its
base SAM, resuming is exact. Fast: the micro backbone on a base checkpoint written in tmp_path."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import sam_repro
import sam_repro.methods.hqsam as hq_module
from sam_repro.backbones import build_sam, get_backbone, save_checkpoint, sha256_file
from sam_repro.backbones.checkpoints import CheckpointError, read_checkpoint
from sam_repro.data import CatalogEntry, Sample, SampleSet, get_entry, register
from sam_repro.methods.hqsam import (
    HQ_ONLY_FORMAT, build_hq_sam, hq_parameter_names, is_hq_parameter, load_hq_sam_model, save_hq_checkpoint,
)
from sam_repro.train.hqsam import (
    HqSamTrainConfig, _make_item, _pool, check_config, decode_hq_batch, hq_loss, lr_factor, train_hq_sam,
)
from sam_repro.train.losses import bce_dice_loss, point_sample, uncertain_point_coords

MICRO = get_backbone("micro").config


class _Fixed(SampleSet):
    """Two fixed 128 px images, one object each (a ring with a thin bar): a set the HQ parts can fit."""

    def __init__(self, split: str, seed: int = 0, length: int | None = None):
        self.name, self.split = "test/hq_fixed", split

    def __len__(self) -> int:
        return 2

    def fingerprint(self) -> str:
        return "hq_fixed"

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
        get_entry("test/hq_fixed")
    except KeyError:
        register(CatalogEntry("test/hq_fixed", "synthetic", ("train", "val"),
                              lambda split, **kw: _Fixed(split, **kw)))


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    """A micro SAM checkpoint: the frozen base the HQ parts train on."""
    path = tmp_path / "micro_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=3), path)
    return path


def _config(tmp_path: Path, base: Path, **overrides) -> HqSamTrainConfig:
    values = dict(backbone="micro", base_checkpoint=str(base), datasets="test/hq_fixed", samples_per_dataset=0,
                  steps=4, images_per_step=2, lr=1e-2, eval_dataset="test/hq_fixed", eval_split="val",
                  eval_every=10**6, eval_samples=2,
                  checkpoint_every=2, run_dir=str(tmp_path / "run"), output=str(tmp_path / "hq.pt"))
    values.update(overrides)
    return HqSamTrainConfig(**values)


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


# -- losses ------------------------------------------------------------------------------------------------
def test_point_sample_and_uncertain_points() -> None:
    maps = torch.arange(16.0).reshape(1, 1, 4, 4)
    centres = torch.tensor([[[0.125, 0.125], [0.875, 0.125], [0.375, 0.625]]])  # pixel centres (x, y)
    assert point_sample(maps, centres)[0, 0].tolist() == [0.0, 3.0, 9.0]
    logits = torch.full((2, 1, 8, 8), 10.0)
    logits[..., :4] = 0.0  # the left half is uncertain
    generator = torch.Generator().manual_seed(0)
    coords = uncertain_point_coords(logits, 40, 3.0, 1.0, generator=generator)
    assert coords.shape == (2, 40, 2) and float(coords[..., 0].max()) < 0.5625  # left of the blended column
    again = uncertain_point_coords(logits, 40, 3.0, 0.75, generator=torch.Generator().manual_seed(0))
    assert again.shape == (2, 40, 2) and float(again[:, 30:, 0].max()) > 0.6  # 25% uniform points
    targets = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    bce, dice = bce_dice_loss(torch.tensor([[[20.0, -20.0], [-20.0, -20.0]]]), targets)
    assert float(bce) < 1e-8 and float(dice) < 1e-6
    bce, dice = bce_dice_loss(torch.zeros(1, 2, 2), targets)
    assert float(bce) == pytest.approx(np.log(2)) and float(dice) == pytest.approx(1 - 2 / 4)


@pytest.mark.parametrize("point_sampling", [True, False])
def test_hq_loss_is_small_for_the_right_logits(point_sampling: bool) -> None:
    config = HqSamTrainConfig(point_sampling=point_sampling, num_points=100)
    targets = torch.zeros(2, 1, 64, 64)
    targets[:, :, 16:48, 20:40] = 1.0
    right = torch.nn.functional.interpolate(targets * 40 - 20, size=(16, 16), mode="area")
    wrong = -right
    small = hq_loss(right, targets, config, torch.Generator().manual_seed(1))
    large = hq_loss(wrong, targets, config, torch.Generator().manual_seed(1))
    # soft targets at the blended boundary keep BCE above 0 (its floor is their entropy)
    assert torch.isfinite(small) and float(small) < 0.3 and float(large) > 10 * float(small)


def test_lr_drops_tenfold_at_ten_twelfths() -> None:
    config = HqSamTrainConfig(steps=1200)
    assert lr_factor(0, config) == lr_factor(999, config) == 1.0
    assert lr_factor(1000, config) == lr_factor(1199, config) == pytest.approx(0.1)


def test_config_is_checked_before_training(tmp_path: Path, base: Path) -> None:
    assert check_config(HqSamTrainConfig()) == ["box", "points", "mask"]
    with pytest.raises(ValueError, match="prompts"):
        check_config(HqSamTrainConfig(prompts="box,scribble"))
    with pytest.raises(ValueError, match="jitter"):
        train_hq_sam(_config(tmp_path, base, jitter_min=2.0, jitter_max=1.0), resume=False, progress=False)


# -- data and prompts --------------------------------------------------------------------------------------
def test_thin_samples_are_area_resized_from_their_full_resolution() -> None:
    pool = _pool(HqSamTrainConfig(datasets="synthetic/thin", samples_per_dataset=1), 256)
    image, coverage = pool.resized(0, 0)
    full = pool.sets[0][0]
    assert full.image.shape == (1024, 1024, 3) and image.shape == (256, 256, 3) and coverage.shape == (1, 256, 256)
    # area averaging keeps the object's area (up to uint8 rounding), hairlines included as partial coverage
    assert coverage.sum() / 255 / 256**2 == pytest.approx(full.masks.mean(), rel=0.01)
    assert ((coverage > 0) & (coverage < 128)).any()
    assert pool.resized(0, 0)[0] is image  # held in memory


def test_prompts_are_one_of_three_kinds_with_hq_sam_formats() -> None:
    model = build_hq_sam(MICRO, seed=0)
    config = HqSamTrainConfig()
    rng = np.random.default_rng(0)
    soft = np.zeros((100, 128), np.float32)
    soft[30:70, 40:90] = 1.0
    counts = {"box": 0, "points": 0, "mask": 0}
    for _ in range(150):
        item = _make_item(model, np.zeros((100, 128, 3), np.uint8), soft, ["box", "points", "mask"], config, 128, rng)
        counts[item.kind] += 1
        assert item.image.shape == (3, 128, 128) and item.target.shape == (128, 128)
        if item.kind == "box":
            assert item.prompt.tolist() == [40, 30, 89, 69]
        elif item.kind == "points":
            points, labels = item.prompt
            assert points.shape == (10, 2) and labels.tolist() == [1] * 10
            assert soft[points[:, 1].astype(int), points[:, 0].astype(int)].all()
        else:
            assert item.prompt.shape == (1, 32, 32) and set(np.unique(item.prompt)) <= {0.0, 255.0}
    assert min(counts.values()) > 30, counts
    tiny = np.zeros((100, 128), np.float32)
    tiny[5, 5:9] = 1.0  # 4 pixels: too few for 10 points
    kinds = {_make_item(model, np.zeros((100, 128, 3), np.uint8), tiny, ["box", "points", "mask"], config, 128,
                        rng).kind for _ in range(30)}
    assert kinds == {"box", "mask"}


def test_batched_decoding_equals_the_decoder_per_image() -> None:
    model = build_hq_sam(MICRO, seed=5)
    torch.manual_seed(0)
    images = torch.rand(3, 3, 128, 128) * 255
    with torch.no_grad():
        embeddings, extra = model.encode(model.preprocess(images))
        early = extra["early_features"]
        boxes = [np.array([10.0, 20.0, 90.0, 100.0]), np.array([0.0, 0.0, 60.0, 40.0]), np.array([50, 50, 127, 127.0])]
        hq, sam = decode_hq_batch(model, embeddings, early, "box", boxes)
        for i, box in enumerate(boxes):
            sparse, dense = model.prompt_encoder(points=None, boxes=torch.as_tensor(box, dtype=torch.float32)[None],
                                                 masks=None)
            kwargs = dict(image_embeddings=embeddings[i : i + 1], image_pe=model.prompt_encoder.get_dense_pe(),
                          sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False,
                          interm_embeddings=[early[i : i + 1]])
            expected_hq, _ = model.mask_decoder(hq_token_only=True, **kwargs)
            expected_sum, _ = model.mask_decoder(hq_token_only=False, **kwargs)
            torch.testing.assert_close(hq[i], expected_hq[0])
            torch.testing.assert_close(sam[i] + hq[i], expected_sum[0])


# -- training ----------------------------------------------------------------------------------------------
def test_loss_falls_sam_stays_bit_identical_and_only_hq_keys_are_saved(tmp_path: Path, base: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    original = hq_module.load_hq_sam_model

    def capture(*args, **kwargs):
        model, provenance = original(*args, **kwargs)
        built.append(model)
        return model, provenance

    monkeypatch.setattr(hq_module, "load_hq_sam_model", capture)
    config = _config(tmp_path, base, steps=20, checkpoint_every=20, jitter_min=1.0, jitter_max=1.0)
    path = train_hq_sam(config, resume=False, progress=False)
    records = _records(tmp_path / "run")
    assert [r["step"] for r in records] == list(range(1, 21))
    losses = [r["loss"] for r in records]
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses
    assert {"val_box_miou_hq", "val_box_mbiou_hq", "val_box_miou_sam"} <= set(records[-1])
    (model,) = built
    base_state = read_checkpoint(base)[0]
    names = set(hq_parameter_names(model))
    for name, value in model.state_dict().items():
        if name not in names:
            assert torch.equal(value, base_state[name]), name  # every frozen SAM tensor, bit for bit
    state, meta = read_checkpoint(path)
    assert set(state) == names == {k for k in model.state_dict() if is_hq_parameter(k)}
    assert all(torch.equal(state[k], model.state_dict()[k]) for k in names)
    assert meta["format"] == HQ_ONLY_FORMAT and meta["backbone"] == "micro"
    assert meta["base_sha256"] == sha256_file(base) and meta["steps"] == 20
    assert path.stat().st_size < 0.2 * base.stat().st_size


def test_hq_only_checkpoint_round_trips_strictly(tmp_path: Path, base: Path) -> None:
    path = train_hq_sam(_config(tmp_path, base, steps=2), resume=False, progress=False)
    state, meta = read_checkpoint(path)
    segmenter = sam_repro.load_segmenter("hqsam:micro", checkpoint=path, base_checkpoint=base, device="cpu")
    loaded = segmenter.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    assert all(torch.equal(loaded[k], v) for k, v in read_checkpoint(base)[0].items())
    info = segmenter.info()
    assert info["base_checkpoint_sha256"] == sha256_file(base) and info["checkpoint_sha256"] == sha256_file(path)
    assert info["weights"] == "SAM checkpoint + HQ-only checkpoint"

    def write(new_state: dict, new_meta: dict | None, name: str) -> Path:
        target = tmp_path / name
        save_checkpoint(new_state, target, meta=new_meta)
        return target

    missing = write({k: v for k, v in state.items() if k != "mask_decoder.hf_token.weight"}, meta, "missing.pt")
    with pytest.raises(CheckpointError, match=r"missing\.pt.*missing HQ keys \(1\): mask_decoder\.hf_token\.weight"):
        load_hq_sam_model("micro", missing, device="cpu", base_checkpoint=base)
    extra = write({**state, "mask_decoder.iou_token.weight": torch.zeros(1, 32)}, meta, "extra.pt")
    with pytest.raises(CheckpointError, match=r"extra\.pt.*unexpected keys \(1\): mask_decoder\.iou_token\.weight"):
        load_hq_sam_model("micro", extra, device="cpu", base_checkpoint=base)
    shape = write({**state, "mask_decoder.hf_token.weight": torch.zeros(1, 8)}, meta, "shape.pt")
    with pytest.raises(CheckpointError, match=r"shape\.pt.*shape mismatches \(1\): mask_decoder\.hf_token\.weight"):
        load_hq_sam_model("micro", shape, device="cpu", base_checkpoint=base)
    no_meta = write(state, None, "no_meta.pt")
    with pytest.raises(CheckpointError, match=r"no_meta\.pt holds only HQ parameters but no record"):
        load_hq_sam_model("micro", no_meta, device="cpu", base_checkpoint=base)
    other_base = tmp_path / "other_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=4), other_base)
    with pytest.raises(CheckpointError, match=rf"{path.name} was trained on top of SAM weights with sha256 "
                                              rf"{meta['base_sha256']}.*other_sam\.pt.*{sha256_file(other_base)}"):
        load_hq_sam_model("micro", path, device="cpu", base_checkpoint=other_base)
    full = tmp_path / "full.pth"
    torch.save(dict(loaded), full)  # the official full layout still loads, but takes no base
    load_hq_sam_model("micro", full, device="cpu")
    with pytest.raises(CheckpointError, match="full HQ-SAM checkpoint"):
        load_hq_sam_model("micro", full, device="cpu", base_checkpoint=base)


def test_hqsam_tiny_puts_an_hq_only_file_on_the_shipped_tiny_sam(tmp_path: Path) -> None:
    spec = get_backbone("tiny")
    model = build_hq_sam(spec.config, seed=7)
    path = tmp_path / "hq_tiny.pt"
    save_hq_checkpoint(model, path, base_sha256=spec.checkpoint.sha256, backbone="tiny")
    segmenter = sam_repro.load_segmenter("hqsam:tiny", checkpoint=path, device="cpu")
    loaded = segmenter.model.state_dict()
    tiny = sam_repro.load_segmenter("tiny", device="cpu").model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in tiny.items())
    assert all(torch.equal(loaded[k], v) for k, v in read_checkpoint(path)[0].items())
    assert segmenter.info()["base_sha256_verified"] is True
    wrong = tmp_path / "hq_wrong.pt"
    save_hq_checkpoint(model, wrong, base_sha256="0" * 64, backbone="tiny")
    with pytest.raises(CheckpointError, match="retrain the HQ parts"):
        sam_repro.load_segmenter("hqsam:tiny", checkpoint=wrong, device="cpu")


def test_interrupted_run_resumes_exactly(tmp_path: Path, base: Path) -> None:
    straight = train_hq_sam(_config(tmp_path / "a", base), resume=False, progress=False)
    config = _config(tmp_path / "b", base)
    assert train_hq_sam(config, resume=False, progress=False, stop_after=2) is None
    resumed = train_hq_sam(config, resume=True, progress=False)
    a, b = read_checkpoint(straight)[0], read_checkpoint(resumed)[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["step"] for r in _records(tmp_path / "b" / "run")] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="another configuration"):
        train_hq_sam(_config(tmp_path / "b", base, lr=1e-4, steps=6), resume=True, progress=False)
    other = tmp_path / "other_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=9), other)
    with pytest.raises(ValueError, match="trained on SAM weights with sha256"):
        train_hq_sam(_config(tmp_path / "b", other), resume=True, progress=False)


def test_cli_builds_the_config_from_options(tmp_path: Path, base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sam_repro.train.hqsam as trainer
    from sam_repro.cli import main

    seen = {}

    def fake(config, resume=True, progress=True, stop_after=None):
        seen.update(config=config, resume=resume)
        return base

    monkeypatch.setattr(trainer, "train_hq_sam", fake)
    assert main(["train", "hqsam", "--backbone", "micro", "--base-checkpoint", str(base), "--steps", "7",
                 "--point-sampling", "false", "--lr-drop-at", "0.5", "--no-resume"]) == 0
    config = seen["config"]
    assert (config.backbone, config.base_checkpoint, config.steps, config.point_sampling, config.lr_drop_at) == (
        "micro", str(base), 7, False, 0.5)
    assert seen["resume"] is False and config.cache_samples is True and config.num_prompt_points == 10
