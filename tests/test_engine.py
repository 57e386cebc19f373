"""The encode-once / decode-many engine: cache hits and misses, bounds, disk mirror, batching."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sam_repro.backbones import SamEngine, build_sam, get_backbone
from sam_repro.backbones.engine import SamWithDecoderInputs


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return build_sam(get_backbone("micro").config, seed=0)


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (64, 80, 3), dtype=np.uint8)


def test_same_image_is_encoded_once(model) -> None:
    engine = SamEngine(model)
    first = engine.embed(_image(0))
    second = engine.embed(_image(0).copy())  # same content, different object
    assert second is first
    assert (engine.stats.encoder_passes, engine.stats.cache_hits, engine.stats.cache_misses) == (1, 1, 1)
    engine.embed(_image(1))
    assert (engine.stats.encoder_passes, engine.stats.cache_misses) == (2, 2)


def test_lru_bound_evicts_the_oldest(model) -> None:
    engine = SamEngine(model, cache_entries=2)
    for seed in (0, 1, 2):
        engine.embed(_image(seed))
    engine.embed(_image(2))  # hit
    engine.embed(_image(0))  # evicted earlier: encoded again
    assert engine.stats.encoder_passes == 4 and engine.stats.cache_hits == 1


def test_byte_bound_keeps_at_most_what_fits(model) -> None:
    one = SamEngine(model).embed(_image(0)).nbytes
    engine = SamEngine(model, cache_entries=100, cache_bytes=int(one * 1.5))
    engine.embed(_image(0))
    engine.embed(_image(1))
    assert len(engine._cache) == 1


def test_disk_cache_survives_a_new_engine(model, tmp_path: Path) -> None:
    first = SamEngine(model, disk_cache=tmp_path)
    embedding = first.embed(_image(3))
    second = SamEngine(model, disk_cache=tmp_path)
    again = second.embed(_image(3))
    assert second.stats.encoder_passes == 0 and second.stats.disk_hits == 1
    assert torch.equal(again.features, embedding.features) and again.original_size == (64, 80)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_damaged_disk_entry_is_recomputed(model, tmp_path: Path) -> None:
    SamEngine(model, disk_cache=tmp_path).embed(_image(4))
    for path in tmp_path.glob("*.pt"):
        path.write_bytes(b"damaged")
    engine = SamEngine(model, disk_cache=tmp_path)
    engine.embed(_image(4))
    assert engine.stats.encoder_passes == 1 and engine.stats.disk_hits == 0


def test_changed_weights_are_never_served_stale(tmp_path: Path) -> None:
    model = build_sam(get_backbone("micro").config, seed=0)
    engine = SamEngine(model, disk_cache=tmp_path)
    before = engine.embed(_image(5)).features.clone()
    with torch.no_grad():
        model.image_encoder.neck[0].weight.mul_(2.0)
    engine.refresh_weights_id()
    after = engine.embed(_image(5)).features
    assert engine.stats.encoder_passes == 2 and not torch.allclose(before, after)


def test_batched_decode_matches_one_by_one(model) -> None:
    engine = SamEngine(model)
    embedding = engine.embed(_image(6))
    points = np.array([[[10, 12]], [[40, 30]], [[70, 50]]], dtype=float)
    labels = np.ones((3, 1), dtype=int)
    batched, batched_iou = engine.decode(embedding, points=points, labels=labels, multimask=True)
    assert batched.shape == (3, 3, 32, 32) and batched_iou.shape == (3, 3)
    for i in range(3):
        single, single_iou = engine.decode(embedding, points=points[i : i + 1], labels=labels[i : i + 1], multimask=True)
        torch.testing.assert_close(single[0], batched[i], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(single_iou[0], batched_iou[i], atol=1e-5, rtol=1e-5)
    assert engine.stats.decoder_calls == 4 and engine.stats.decoded_prompts == 6 and engine.stats.encoder_passes == 1


class _RecordingDecoder(torch.nn.Module):
    """Wraps a SAM decoder and records the extra keyword inputs it receives."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder
        self.received: list[dict] = []

    def forward(self, *, scale: torch.Tensor, flip: bool = False, **kwargs):
        self.received.append({"scale": scale, "flip": flip})
        masks, iou = self.decoder(**kwargs)
        return (-masks if flip else masks) * scale.reshape(()), iou


class _SamWithScale(SamWithDecoderInputs):
    """A toy model whose decoder needs a per-image input (the image's mean, as a (1,) tensor per image)."""

    decoder_inputs_tag = "scale"

    def encode(self, images):
        return self.image_encoder(images), {"scale": images.mean(dim=(1, 2, 3)).abs() + 1.0}


def _scaled_model(model) -> _SamWithScale:
    return _SamWithScale(model.image_encoder, model.prompt_encoder, _RecordingDecoder(model.mask_decoder)).eval()


def test_per_image_decoder_inputs_are_computed_once_cached_and_passed_on_every_decode(model, tmp_path) -> None:
    scaled = _scaled_model(model)
    engine = SamEngine(scaled, disk_cache=tmp_path)
    image = _image(7)
    embedding = engine.embed(image)
    assert set(embedding.decoder_inputs) == {"scale"} and embedding.decoder_inputs["scale"].shape == (1,)
    assert engine.embed(image) is embedding and engine.stats.encoder_passes == 1
    points, labels = np.array([[[5.0, 5.0]]]), np.array([[1]])
    low_res, _ = engine.decode(embedding, points=points, labels=labels)
    flipped, _ = engine.decode(embedding, points=points, labels=labels, decoder_options={"flip": True})
    assert len(scaled.mask_decoder.received) == 2
    assert torch.equal(scaled.mask_decoder.received[0]["scale"], embedding.decoder_inputs["scale"])
    assert torch.equal(flipped, -low_res)  # decoder options reach the decoder as keyword arguments
    plain_low_res, _ = SamEngine(model).decode(SamEngine(model).embed(image), points=points, labels=labels)
    torch.testing.assert_close(low_res, plain_low_res * embedding.decoder_inputs["scale"])
    # the disk cache keeps the inputs; a plain SAM engine with the same weights never reads them
    fresh = SamEngine(scaled, weights_id=engine.weights_id, disk_cache=tmp_path)
    again = fresh.embed(image)
    assert fresh.stats.disk_hits == 1 and torch.equal(again.decoder_inputs["scale"], embedding.decoder_inputs["scale"])
    assert SamEngine(model, weights_id=engine.weights_id).key(image) != engine.key(image)


def test_decode_with_grad_keeps_the_graph(model) -> None:
    engine = SamEngine(model)
    embedding = engine.embed(_image(8))
    low_res, _ = engine.decode(embedding, points=np.array([[[5.0, 5.0]]]), labels=np.array([[1]]), grad=True)
    low_res.sum().backward()
    assert model.mask_decoder.iou_token.weight.grad is not None
    model.zero_grad(set_to_none=True)
