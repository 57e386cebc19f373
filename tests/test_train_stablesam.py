"""Stable-SAM end to end on the micro backbone: the segmenter (untrained = SAM, α per prompt, force_alpha, fuse_sam,
degenerate boxes), occlusion synthesis, the robust prompts, training (SAM bit-identical, exactly the variant's parts
train, exact resume) and the parts file (round trip, foreign files refused)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import sam_repro
from sam_repro.backbones import build_sam, get_backbone
from sam_repro.backbones.checkpoints import CheckpointError, read_checkpoint, save_checkpoint
from sam_repro.backbones.parts import save_parts_checkpoint
from sam_repro.data import CatalogEntry, Sample, SampleSet, get_entry, register
from sam_repro.methods.stablesam import VARIANTS, is_trained_parameter, load_stable_sam_model
from sam_repro.prompts import box_iou, mask_to_box
from sam_repro.train.occlusion import paste_occluder
from sam_repro.train.stablesam import StableSamTrainConfig, make_item, train_stable_sam

MICRO = get_backbone("micro").config


class _Fixed(SampleSet):
    """Two fixed 128 px images with two objects each (a disc and a bar)."""

    def __init__(self, split: str, seed: int = 0, length: int | None = None):
        self.name, self.split = "test/stable_fixed", split

    def __len__(self) -> int:
        return 2

    def fingerprint(self) -> str:
        return "stable_fixed"

    def load(self, index: int) -> Sample:
        yy, xx = np.mgrid[:128, :128]
        disc = np.hypot(yy - 50 - 8 * index, xx - 45) < 22
        bar = (abs(xx - 95) <= 6 + index) & (yy > 25) & (yy < 115)
        image = np.full((128, 128, 3), 40, np.uint8)
        image[disc] = (210, 180, 60)
        image[bar] = (60, 120, 220)
        return Sample(id=str(index), image=image, masks=np.stack([disc, bar]))


@pytest.fixture(scope="module", autouse=True)
def fixed_dataset() -> None:
    try:
        get_entry("test/stable_fixed")
    except KeyError:
        register(CatalogEntry("test/stable_fixed", "synthetic", ("train", "val"),
                              lambda split, **kw: _Fixed(split, **kw)))


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    path = tmp_path / "micro_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=3), path)
    return path


def _config(tmp_path: Path, base: Path, **overrides) -> StableSamTrainConfig:
    values = dict(backbone="micro", base_checkpoint=str(base), datasets="test/stable_fixed", samples_per_dataset=0,
                  steps=4, images_per_step=2, lr=1e-2, eval_dataset="test/stable_fixed", eval_every=10**6,
                  eval_samples=1, checkpoint_every=2, run_dir=str(tmp_path / "run"), output=str(tmp_path / "st.pt"))
    values.update(overrides)
    return StableSamTrainConfig(**values)


def _image() -> np.ndarray:
    return _Fixed("val").load(0).image


# -- the segmenter ---------------------------------------------------------------------------------------------
def test_untrained_stable_sam_is_sam_and_alpha_is_per_prompt(base: Path) -> None:
    stable = sam_repro.load_segmenter("stablesam:micro", checkpoint=base, random_init_plugins=True, device="cpu")
    plain = sam_repro.load_segmenter("sam:micro", checkpoint=base, device="cpu")
    image = _image()
    stable.set_image(image)
    plain.set_image(image)
    boxes = np.array([[20, 25, 70, 80], [85, 20, 105, 118], [5, 5, 120, 120]], float)
    a, b = stable.decode(boxes=boxes), plain.decode(boxes=boxes)
    assert torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-5)
    batch_alpha = stable.last_alpha
    assert batch_alpha.shape == (3, 2) and np.allclose(batch_alpha.sum(1), 1)
    singles = []
    for box in boxes:
        stable.decode(boxes=box[None])
        singles.append(stable.last_alpha[0])
    assert np.allclose(np.stack(singles), batch_alpha, atol=1e-6)  # α depends on the prompt, not the batch
    assert stable.last_offsets.shape == (1, 2, 8, 8)


def test_force_alpha_zero_is_sam_and_fuse_sam_adds_its_logits(tmp_path: Path, base: Path) -> None:
    path = train_stable_sam(_config(tmp_path, base, steps=3), progress=False)
    stable = sam_repro.load_segmenter("stablesam:micro", checkpoint=path, base_checkpoint=base, device="cpu")
    plain = sam_repro.load_segmenter("sam:micro", checkpoint=base, device="cpu")
    for segmenter in (stable, plain):
        segmenter.set_image(_image())
    box = np.array([[20, 25, 70, 80]], float)
    trained = stable.decode(boxes=box)[0]
    assert not torch.allclose(trained, plain.decode(boxes=box)[0], atol=1e-4)  # the plug-ins changed something
    stable.force_alpha = 0.0
    assert torch.allclose(stable.decode(boxes=box)[0], plain.decode(boxes=box)[0], atol=1e-5)
    stable.force_alpha, stable.fuse_sam = None, True
    assert torch.allclose(stable.decode(boxes=box)[0], trained + plain.decode(boxes=box)[0], atol=1e-4)
    with pytest.raises(ValueError, match="force_alpha"):
        stable.force_alpha = 1.5


@pytest.mark.parametrize("box", [[30, 30, 30, 30], [-50, -50, 500, 500], [127.5, 0, 128, 0.5]])
def test_degenerate_or_clamped_boxes_give_finite_masks(base: Path, box: list[float]) -> None:
    stable = sam_repro.load_segmenter("stablesam:micro", checkpoint=base, random_init_plugins=True, device="cpu")
    stable.set_image(_image())
    box = np.clip(np.array(box, float), 0, 128)
    logits, iou = stable.decode(boxes=box[None])
    assert torch.isfinite(logits).all() and torch.isfinite(iou).all()


# -- data and prompts --------------------------------------------------------------------------------------------
def test_occluder_centre_lies_in_the_occludee_box_and_masks_are_updated() -> None:
    sample = _Fixed("train").load(0)
    coverage = sample.masks.astype(np.float32)
    occluder = np.zeros((128, 128), np.float32)
    occluder[40:80, 40:80] = 1.0
    other = np.full((128, 128, 3), 250, np.uint8)
    for seed in range(20):
        image, new, info = paste_occluder(sample.image, coverage, other, occluder, np.random.default_rng(seed))
        x0, y0, x1, y1 = info.occludee_box
        assert x0 <= info.centre[0] <= x1 + 1 and y0 <= info.centre[1] <= y1 + 1
        pasted = new[-1] >= 0.5
        assert pasted.sum() > 0 and (image[pasted] == 250).all()
        for kept, k in enumerate(info.kept):
            assert not (new[kept] >= 0.5)[pasted].any()  # what the occluder covers is gone from the others
            assert ((new[kept] >= 0.5) <= sample.masks[k]).all()
    # an occluder covering the whole image removes every object (fully occluded) and leaves itself
    _, new, info = paste_occluder(sample.image, coverage, np.zeros((300, 300, 3), np.uint8),
                                  np.ones((300, 300), np.float32), np.random.default_rng(0))
    assert info.kept == [] and len(new) == 1


def test_training_noisy_boxes_keep_iou_half_and_point_counts_follow_the_config(base: Path) -> None:
    model, _ = load_stable_sam_model("micro", base, device="cpu", random_init_plugins=True)
    sample = _Fixed("train").load(1)
    config = StableSamTrainConfig(prompts="noisy_box,points", point_counts="1,3").resolved()
    kinds, counts = set(), set()
    for seed in range(60):
        item = make_item(model, sample.image, sample.masks[0].astype(np.float32), config, 128,
                         np.random.default_rng(seed))
        kinds.add(item.kind)
        if item.kind == "noisy_box":
            assert box_iou(item.prompt, mask_to_box(sample.masks[0])) >= 0.5
        else:
            counts.add(len(item.prompt[0]))
            assert sample.masks[0][item.prompt[0][:, 1].astype(int), item.prompt[0][:, 0].astype(int)].all()
    assert kinds == {"noisy_box", "points"} and counts == {1, 3}
    assert StableSamTrainConfig(variant="no_rts").resolved().kinds() == ["box", "points", "mask"]
    assert StableSamTrainConfig(variant="no_rts").resolved().occlusion_probability == 0.0


@pytest.mark.parametrize("overrides, field", [({"variant": "huge"}, "variant"), ({"prompts": "box,lasso"}, "prompts"),
                                              ({"point_counts": "0"}, "point_counts"),
                                              ({"occlusion_probability": 2.0}, "occlusion_probability")])
def test_bad_configurations_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        StableSamTrainConfig(**overrides).resolved()


# -- training and the parts file -------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_trains_exactly_its_parts_and_sam_stays_bit_identical(tmp_path: Path, base: Path,
                                                                           variant: str) -> None:
    path = train_stable_sam(_config(tmp_path, base, variant=variant, steps=2), progress=False)
    model, provenance = load_stable_sam_model("micro", path, device="cpu", base_checkpoint=base)
    assert provenance["variant"] == variant
    untrained, _ = load_stable_sam_model("micro", base, device="cpu", random_init_plugins=True, variant=variant)
    after, before = model.state_dict(), untrained.state_dict()
    assert set(after) == set(before)
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    trained = {k for k in after if is_trained_parameter(k, variant)}
    assert changed and changed <= trained  # SAM's own weights are bit-identical after training
    parts, meta = read_checkpoint(path)
    assert set(parts) == trained and meta["variant"] == variant
    if variant == "fixed_alpha":
        assert not any(".drp." in k for k in parts)
    if variant == "decoder_ft":  # the plug-ins and SAM's whole mask decoder (conventional deformable attention)
        assert all(k.startswith("mask_decoder.") for k in parts) and len(parts) > 20
        assert any(".dsp." in k for k in parts) and any(".drp." in k for k in parts)


def test_interrupted_training_resumes_exactly(tmp_path: Path, base: Path) -> None:
    straight = train_stable_sam(_config(tmp_path / "a", base), progress=False)
    config = _config(tmp_path / "b", base)
    assert train_stable_sam(config, progress=False, stop_after=2) is None
    resumed = train_stable_sam(config, progress=False)
    a, b = read_checkpoint(straight)[0], read_checkpoint(resumed)[0]
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_foreign_parts_files_are_refused(tmp_path: Path, base: Path) -> None:
    path = train_stable_sam(_config(tmp_path, base, steps=1), progress=False)
    other_base = tmp_path / "other_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=4), other_base)
    with pytest.raises(CheckpointError, match="sha256"):
        load_stable_sam_model("micro", path, device="cpu", base_checkpoint=other_base)
    parts, meta = read_checkpoint(path)
    hq_like = tmp_path / "other_method.pt"
    save_parts_checkpoint(parts, hq_like, method="pisam", backbone="micro", base_sha256=meta["base_sha256"])
    with pytest.raises(CheckpointError, match="pisam"):
        load_stable_sam_model("micro", hq_like, device="cpu", base_checkpoint=base)
    missing = tmp_path / "missing_key.pt"
    save_parts_checkpoint(dict(list(parts.items())[1:]), missing, method="stablesam", backbone="micro",
                          base_sha256=meta["base_sha256"], meta={k: meta[k] for k in ("variant", "plugin_config")})
    with pytest.raises(CheckpointError, match="missing"):
        load_stable_sam_model("micro", missing, device="cpu", base_checkpoint=base)
    plain = tmp_path / "plain_state.pt"
    save_checkpoint(parts, plain)
    with pytest.raises(CheckpointError, match="parts-only"):
        load_stable_sam_model("micro", plain, device="cpu", base_checkpoint=base)
