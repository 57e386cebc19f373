"""The tiny CLIP: the caption corpus, CLIP Surgery (encode_image untouched, maps, redundancy removal), the
contrastive loss, the CLIP file, and a few trainer steps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sam_repro.data.captions import CAPTIONED_FAMILIES, caption, content_phrase, corpus_vocabulary, text_prompt, words
from sam_repro.nn.clip import load_clip, save_clip
from sam_repro.nn.clip_surgery import ClipSurgery


def test_caption_corpus_rules() -> None:
    from sam_repro.data import open_dataset

    assert "synthetic/salient" not in CAPTIONED_FAMILIES
    assert "salient" not in corpus_vocabulary()
    sample = open_dataset("synthetic/multiclass", "train")[0]
    names = {sample.class_names[i] for i in sample.meta["instance_classes"]}
    phrase = content_phrase(sample, "synthetic/multiclass")
    assert set(words(phrase)) - {"a", "an", "and"} == {w for n in names for w in words(n)}
    assert caption(sample, "synthetic/multiclass") == f"a photo of {phrase}"
    blur = open_dataset("synthetic/blur", "train")[0]
    assert ("defocus background" in content_phrase(blur, "synthetic/blur")) == (blur.meta["focus"] == "foreground")
    with pytest.raises(ValueError, match="never put in words"):
        content_phrase(open_dataset("synthetic/salient", "train")[0], "synthetic/salient")
    for family in ("synthetic/blur", "synthetic/shadow", "synthetic/glass"):  # Table 4's texts are in the corpus
        assert set(words(text_prompt(family))) <= corpus_vocabulary()
    with pytest.raises(ValueError, match="class name"):
        text_prompt("synthetic/multiclass")


@pytest.fixture(scope="module")
def clip():
    return load_clip(random_init=True, seed=3)


def test_surgery_keeps_encode_image_bit_for_bit(clip) -> None:
    images = [np.random.default_rng(i).integers(0, 255, (200, 300, 3), dtype=np.uint8) for i in range(2)]
    x = clip.preprocess(images)
    with torch.no_grad():
        before = clip.model.encode_image(x)
    weights = {k: v.clone() for k, v in clip.model.state_dict().items()}
    surgery = ClipSurgery(clip)
    maps = surgery.maps(images, ["fish", "ball", "star"])
    cls, tokens = surgery.image_tokens(x)
    with torch.no_grad():
        after = clip.model.encode_image(x)
    assert torch.equal(before, after) and torch.equal(cls, before)
    assert all(torch.equal(v, weights[k]) for k, v in clip.model.state_dict().items())
    assert surgery.start == 2  # last half of 4 blocks
    assert maps.shape == (2, 3, 12, 12) and tokens.shape == (2, 144, 96)
    flat = maps.flatten(2)
    torch.testing.assert_close(flat.min(-1).values, torch.zeros(2, 3))
    torch.testing.assert_close(flat.max(-1).values, torch.ones(2, 3))
    # the new path differs from the original one (the surgery does something)
    visual = clip.model.visual
    with torch.no_grad():
        x_embed = visual._embeds(x)
        plain_tokens = visual.ln_post(visual.transformer(x_embed))[:, 1:] @ visual.proj
    assert not torch.allclose(plain_tokens, tokens)


def test_feature_surgery_removes_what_texts_share(clip) -> None:
    surgery = ClipSurgery(clip)
    image = [np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)]
    x = clip.preprocess(image)
    similarity = surgery.similarity(x, ["fish", "ball"])
    torch.testing.assert_close(similarity.sum(-1), torch.zeros_like(similarity[..., 0]), atol=1e-5, rtol=0)
    _, tokens = surgery.image_tokens(x)
    patches = torch.nn.functional.normalize(tokens, dim=-1)
    one = surgery.similarity(x, ["fish"])[..., 0]
    expected = patches @ (surgery.text_features(["fish"])[0] - surgery.text_features([""])[0])
    torch.testing.assert_close(one, expected)


def test_soft_target_contrastive_loss() -> None:
    from sam_repro.train.tiny_clip import contrastive_loss

    f = torch.nn.functional.normalize(torch.eye(3), dim=-1)
    scale = torch.tensor(np.log(10.0))
    distinct = contrastive_loss(f, f, scale, ["a", "b", "c"])
    expected = -torch.log_softmax(10 * torch.eye(3), 1).diagonal().mean()
    assert float(distinct) == pytest.approx(float(expected), abs=1e-6)
    # two pairs with the same content: not each other's negatives (the targets split between them)
    shared = contrastive_loss(f, f, scale, ["a", "a", "c"])
    logp = torch.log_softmax(10 * torch.eye(3), 1)
    manual = -(0.5 * (logp[0, 0] + logp[0, 1]) + 0.5 * (logp[1, 0] + logp[1, 1]) + logp[2, 2]) / 3
    assert float(shared) == pytest.approx(float(manual), abs=1e-6)


def test_clip_file_round_trip_and_trainer_steps(tmp_path) -> None:
    from sam_repro.backbones.checkpoints import CheckpointError, save_checkpoint
    from sam_repro.train.tiny_clip import TinyClipTrainConfig, train_tiny_clip

    config = TinyClipTrainConfig(images_per_family=2, image_size=64, steps=2, batch_size=4,
                                 run_dir=str(tmp_path / "run"), output=str(tmp_path / "clip.pt"))
    path = train_tiny_clip(config, resume=False, progress=False)
    loaded = load_clip(path)
    assert loaded.vocabulary == corpus_vocabulary() and len(loaded.sha256) == 64
    again = train_tiny_clip(TinyClipTrainConfig(**{**config.__dict__, "output": str(tmp_path / "b.pt")}),
                            resume=False, progress=False)
    other = load_clip(again)
    assert all(torch.equal(v, other.model.state_dict()[k]) for k, v in loaded.model.state_dict().items())
    x = loaded.preprocess([np.zeros((32, 32, 3), np.uint8)])
    with torch.no_grad():
        assert torch.equal(loaded.model.encode_image(x), other.model.encode_image(x))
    save_checkpoint({"w": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="not a CLIP file"):
        load_clip(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="captioned"):
        TinyClipTrainConfig(families="synthetic/salient").check()
    save_clip(loaded, tmp_path / "resaved.pt")
    assert load_clip(tmp_path / "resaved.pt").vocabulary == loaded.vocabulary


def test_region_crop_names_only_the_classes_that_cover_the_crop() -> None:
    from types import SimpleNamespace

    from sam_repro.train.tiny_clip import TinyClipTrainConfig, region_crop

    class_map = np.zeros((100, 100), dtype=np.uint8)
    class_map[:50, :50] = 2          # "box" fills the top-left quadrant
    class_map[90:, 90:] = 5          # a 10 x 10 "star" in the corner
    class_map[49:51, :] = 255        # an ignore band is never named
    rows, cols = np.mgrid[:100, :100]
    image = np.stack([rows, cols, np.zeros_like(rows)], axis=-1).astype(np.uint8)  # each pixel knows its place
    sample = SimpleNamespace(class_map=class_map, image=image,
                             class_names=("background", "ball", "box", "tyre", "leaf", "star"))
    rng = np.random.default_rng(0)
    for _ in range(20):
        crop, names = region_crop(sample, rng, (0.5, 0.5), 0.03)
        assert crop.shape == (50, 50, 3)
        top, left = int(crop[0, 0, 0]), int(crop[0, 0, 1])  # where it was cut; recount by hand
        window = class_map[top:top + 50, left:left + 50]
        expected = [n for c, n in ((2, "box"), (5, "star")) if (window == c).sum() >= 0.03 * 2500]
        assert names == expected and names
    empty = SimpleNamespace(class_map=np.zeros((40, 40), np.uint8), image=np.zeros((40, 40, 3), np.uint8),
                            class_names=("background", "ball"))
    assert region_crop(empty, rng, (0.5, 0.9), 0.03) is None
    with pytest.raises(ValueError, match="crop_share"):
        TinyClipTrainConfig(crop_share=1.5).check()
    with pytest.raises(ValueError, match="crop_side_min"):
        TinyClipTrainConfig(crop_side_min=0.8, crop_side_max=0.5).check()
    with pytest.raises(ValueError, match="FAMILY:SPLIT"):
        TinyClipTrainConfig(extra_splits="synthetic/multiclass").check()
    with pytest.raises(ValueError, match="not one of the families"):
        TinyClipTrainConfig(extra_splits="synthetic/shadow:train", families="synthetic/multiclass").check()
