"""Stable-SAM's PEFT baselines: untrained LoRA and adapters are SAM, LoRA comes from peft on the encoder FFNs,
training moves exactly the kind's parts with SAM bit-identical, and the parts file round-trips on its SAM only."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import sam_repro
from sam_repro.backbones import build_sam, get_backbone
from sam_repro.backbones.checkpoints import CheckpointError, read_checkpoint, save_checkpoint
from sam_repro.data import CatalogEntry, Sample, SampleSet, get_entry, register
from sam_repro.methods.tuning import attach, is_trained_parameter, prediction_layer_names
from sam_repro.methods.tuning.segmenter import load_tuned_model, trained_names
from sam_repro.train.tuning import TuningTrainConfig, train_tuning

MICRO = get_backbone("micro").config


class _Fixed(SampleSet):
    def __init__(self, split: str, seed: int = 0, length: int | None = None):
        self.name, self.split = "test/tuning_fixed", split

    def __len__(self) -> int:
        return 2

    def fingerprint(self) -> str:
        return "tuning_fixed"

    def load(self, index: int) -> Sample:
        yy, xx = np.mgrid[:128, :128]
        disc = np.hypot(yy - 60, xx - 50 - 10 * index) < 25
        image = np.full((128, 128, 3), 40, np.uint8)
        image[disc] = (220, 190, 50)
        return Sample(id=str(index), image=image, masks=disc[None])


@pytest.fixture(scope="module", autouse=True)
def fixed_dataset() -> None:
    try:
        get_entry("test/tuning_fixed")
    except KeyError:
        register(CatalogEntry("test/tuning_fixed", "synthetic", ("train",), lambda split, **kw: _Fixed(split, **kw)))


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    path = tmp_path / "micro_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=3), path)
    return path


@pytest.mark.parametrize("kind", ["lora", "adapter"])
def test_untrained_lora_and_adapters_are_sam(kind: str) -> None:
    plain = build_sam(MICRO, seed=1).eval()
    tuned = attach(build_sam(MICRO, seed=1), kind).eval()
    images = torch.rand(1, 3, 128, 128) * 255
    with torch.no_grad():
        a = plain.image_encoder(plain.preprocess(images))
        b = tuned.image_encoder(tuned.preprocess(images))
    assert torch.allclose(a, b, atol=1e-6)
    names = trained_names(tuned, kind)
    if kind == "lora":  # peft's LoRA on lin1 and lin2 of both micro blocks: r (in + out) each
        lora = [n for n in names if ".lora_" in n]
        assert len(lora) == 8 and all(".mlp.lin" in n for n in lora)
        count = sum(p.numel() for n, p in tuned.named_parameters() if n in lora)
        dim, hidden = MICRO.encoder_embed_dim, tuned.image_encoder.blocks[0].mlp.lin1.out_features
        assert count == 2 * 4 * 2 * (dim + hidden)
    assert set(prediction_layer_names(tuned)) <= set(names)
    with pytest.raises(ValueError, match="already"):
        attach(tuned, kind)


def test_prompt_tokens_reach_the_decoder() -> None:
    tuned = attach(build_sam(MICRO, seed=1), "prompt", num_tokens=3)
    sparse, _ = tuned.prompt_encoder(points=None, boxes=torch.tensor([[10.0, 10.0, 60.0, 60.0]]), masks=None)
    assert sparse.shape[1] == 2 + 3 and tuned.prompt_encoder.get_dense_pe().shape[1] == MICRO.prompt_embed_dim
    assert trained_names(tuned, "prompt") == ["prompt_encoder.learned_tokens"]


@pytest.mark.parametrize("kind", ["lora", "adapter", "prompt"])
def test_training_moves_exactly_the_kind_and_round_trips(tmp_path: Path, base: Path, kind: str) -> None:
    config = TuningTrainConfig(kind=kind, backbone="micro", base_checkpoint=str(base), datasets="test/tuning_fixed",
                               samples_per_dataset=0, steps=2, images_per_step=2, lr=1e-2, occlusion_probability=0.0,
                               run_dir=str(tmp_path / "run"), output=str(tmp_path / f"{kind}.pt"))
    path = train_tuning(config, progress=False)
    model, _ = load_tuned_model(kind, "micro", path, "cpu", base_checkpoint=base)
    untrained, _ = load_tuned_model(kind, "micro", None, "cpu", untrained=True, base_checkpoint=base)
    after, before = model.state_dict(), untrained.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    prediction = set(prediction_layer_names(model))
    assert changed and all(is_trained_parameter(k, kind, prediction) for k in changed)  # SAM itself untouched
    parts, meta = read_checkpoint(path)
    assert set(parts) == set(trained_names(model, kind)) and meta["kind"] == kind
    name = {"lora": "lora", "adapter": "adapter", "prompt": "ptsam"}[kind]
    segmenter = sam_repro.load_segmenter(f"{name}:micro", checkpoint=path, base_checkpoint=base, device="cpu")
    segmenter.set_image(_Fixed("train").load(0).image)
    assert segmenter.predict(box=np.array([20.0, 30.0, 80.0, 90.0])).masks.shape == (1, 128, 128)
    other = tmp_path / "other_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=4), other)
    with pytest.raises(CheckpointError, match="sha256"):
        load_tuned_model(kind, "micro", path, "cpu", base_checkpoint=other)


def test_weights_come_from_the_registry_or_the_error_says_how_to_make_them(monkeypatch, tmp_path: Path) -> None:
    """checkpoint=None resolves the weights registry's METHOD:BACKBONE file; without one the error names the train
    command (micro has no registered baselines; a registered but absent file names its regenerate command)."""
    from sam_repro.backbones.checkpoints import WeightsNotFoundError
    from sam_repro.backbones.weights import get_weights

    with pytest.raises(WeightsNotFoundError, match="no ptsam weights are registered for backbone 'micro'.*"
                                                   "sam-repro train tuning --kind prompt --backbone micro"):
        load_tuned_model("prompt", "micro", None, "cpu")
    entry = get_weights("lora", "tiny")
    assert entry is not None and entry.checkpoint.regenerate == "sam-repro train tuning --kind lora"
    assert entry.tied_to == get_weights("sam", "tiny").checkpoint.sha256
