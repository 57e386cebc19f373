"""AlignSAM: the grid, state and reward by hand on a 300 x 200 image, the agent's masking, the SRM, the segmenter
(T = 0, GT-free evaluation, bad inputs) and the trainer (frozen SAM/CLIP, same seed same weights, resume, skipped
images, wrong-sha weights). Everything on the micro backbone with random weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sam_repro
from sam_repro.backbones.checkpoints import CheckpointError
from sam_repro.methods.alignsam import ActorCritic, Geometry, check_steps, reward_at, state

W, H = 300, 200


def test_patch_centres_state_and_reward_by_hand() -> None:
    g = Geometry(original_size=(H, W), input_size=(85, 128), img_size=128, grid=8, actions=10)
    centres = g.centres()
    assert centres.shape == (100, 2)
    np.testing.assert_allclose(centres[0], [15.0, 10.0])  # patches of 30 x 20 px
    np.testing.assert_allclose(centres[9], [285.0, 10.0])  # row-major: action 9 is row 0, column 9
    np.testing.assert_allclose(centres[10], [15.0, 30.0])
    np.testing.assert_allclose(centres[99], [285.0, 190.0])
    # valid cells: the image covers 85 of 128 input rows = 5.3125 cells of 16 px
    np.testing.assert_allclose(g.valid_cells[:, 0], [1, 1, 1, 1, 1, 0.3125, 0, 0])
    pooling = g.patch_pooling
    assert pooling.shape == (100, 64)
    torch.testing.assert_close(pooling.sum(1), torch.ones(100))
    # patch 0 spans x in [0, 12.8) input px = [0, 0.8) cells, y in [0, 8.5) px = [0, 0.53) cells: all in cell (0, 0)
    assert float(pooling[0, 0]) == pytest.approx(1.0)
    gt = np.zeros((H, W), np.uint8)
    gt[:, 150:] = 1
    gt[0:20, 0:30] = 255
    assert reward_at(gt, centres[0]) == 0.0  # ignore label
    assert reward_at(gt, centres[1]) == -1.0  # (45, 10): background
    assert reward_at(gt, centres[5]) == 1.0  # (165, 10): foreground
    features = torch.arange(2 * 64, dtype=torch.float32).reshape(1, 2, 8, 8)
    m = torch.zeros(8, 8)
    m[2, 3] = 0.5
    s = state(features, m)
    assert float(s[0, 1, 2, 3]) == pytest.approx(0.5 * float(features[0, 1, 2, 3]))
    assert float(s.abs().sum()) == pytest.approx(0.5 * float(features[0, :, 2, 3].sum()))


def test_zero_actor_head_is_uniform_over_unmasked_patches() -> None:
    g = Geometry((H, W), (85, 128), 128, 8, actions=10)
    agent = ActorCritic(4, width=8)
    torch.nn.init.zeros_(agent.actor_head.weight)
    torch.nn.init.zeros_(agent.actor_head.bias)
    logits, value = agent(torch.randn(1, 4, 8, 8), g.patch_pooling, torch.as_tensor(g.valid_cells))
    available = torch.ones(1, 100, dtype=torch.bool)
    available[0, [3, 50, 99]] = False
    probs = agent.distribution(logits, available).probs[0]
    assert torch.all(probs[[3, 50, 99]] == 0)
    torch.testing.assert_close(probs[available[0]], torch.full((97,), 1 / 97))
    assert value.shape == (1,)


def test_steps_beyond_the_grid_raise() -> None:
    check_steps(100, 10, True)
    with pytest.raises(ValueError, match="distinct patches"):
        check_steps(101, 10, True)
    check_steps(101, 10, False)  # unmasked patches may repeat
    with pytest.raises(ValueError, match="T = 101"):
        sam_repro.load_segmenter("alignsam:micro", random_init=True, device="cpu", steps=101)


def test_srm_loss_labels_and_initial_points() -> None:
    from sam_repro.methods.alignsam import initial_points, label_points, srm_loss

    g = Geometry((H, W), (85, 128), 128, 8, actions=10)
    logits = torch.full((8, 8), -5.0)
    logits[1, 6] = 5.0
    logits[4, 0] = -9.0
    points, labels = initial_points(logits, g)
    np.testing.assert_array_equal(labels, [1, 0])
    # cell (row 1, col 6) centre: input (104, 24) px -> original (104 * 300 / 128, 24 * 200 / 85)
    np.testing.assert_allclose(points[0], [104 * W / 128, 24 * H / 85])
    np.testing.assert_allclose(points[1], [8 * W / 128, 72 * H / 85])
    assert label_points(logits, g, points).tolist() == [1, 0]
    target = torch.zeros(1, 1, 8, 8)
    perfect = srm_loss(torch.full((1, 1, 8, 8), -20.0), target, torch.ones(8, 8))
    wrong = srm_loss(torch.full((1, 1, 8, 8), 20.0), target, torch.ones(8, 8))
    ignored = srm_loss(torch.full((1, 1, 8, 8), 20.0), target, torch.zeros(8, 8))
    assert float(perfect) < 1e-6 and float(wrong) > 10 and float(ignored) < 1e-6


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 255, (H, W, 3), dtype=np.uint8)


def test_zero_steps_equal_sam_on_the_srm_pair(image: np.ndarray) -> None:
    seg = sam_repro.load_segmenter("alignsam:micro", random_init=True, device="cpu", steps=0)
    seg.set_image(image)
    run = seg.run()
    assert run.initial_from == "srm" and len(run.points) == 2 and run.labels.tolist() == [1, 0]
    sam = sam_repro.load_segmenter("sam:micro", random_init=True, device="cpu")
    sam.set_image(image)
    plain = sam.predict(points=run.points, labels=run.labels)
    np.testing.assert_array_equal(run.prediction.logits, plain.logits)


def test_evaluation_never_reads_ground_truth(image: np.ndarray, monkeypatch) -> None:
    """prompt_itself runs with every GT reader of the package made to fail; explicit branch included."""
    from sam_repro.methods.alignsam import grid

    def forbidden(*args, **kwargs):
        raise AssertionError("evaluation read a ground truth")

    monkeypatch.setattr(grid, "reward_at", forbidden)
    monkeypatch.setattr(grid.Geometry, "target_grid", forbidden)
    seg = sam_repro.load_segmenter("alignsam:micro", random_init=True, device="cpu", task="shadow", steps=4)
    seg.set_image(image)
    prediction = seg.prompt_itself()
    run = seg.last_run
    assert prediction.mask.shape == (H, W)
    assert len(run.points) == 6 and len(set(run.actions)) == 4 and run.semantic_map is not None
    assert len(run.step_low_res) == 5


def test_explicit_branch_without_text_or_clip_raises(image: np.ndarray) -> None:
    seg = sam_repro.load_segmenter("alignsam:micro", random_init=True, device="cpu", task="multiclass", steps=1)
    seg.set_image(image)
    with pytest.raises(ValueError, match="text prompt"):
        seg.prompt_itself()  # multiclass needs a class name
    seg.prompt_itself(text="fish")
    seg.clip = None
    with pytest.raises(ValueError, match="needs a CLIP"):
        seg.prompt_itself(text="fish")
    from sam_repro.methods.alignsam import ExplicitSRM

    with pytest.raises(ValueError, match="s_c"):
        ExplicitSRM(4, 8)(None, torch.zeros(1, 4, 8, 8))


def test_unseen_words_warn() -> None:
    from sam_repro.nn.clip import UnseenWordsWarning, load_clip

    clip = load_clip(random_init=True)
    with pytest.warns(UnseenWordsWarning, match="salient"):
        clip.tokenize(["salient objects"])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clip.tokenize(["shadow", "glass", "defocus background", "fish"])  # the Table 4 texts of captioned tasks


# -- training --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def micro_sam(tmp_path_factory) -> str:
    from sam_repro.backbones.build import build_sam
    from sam_repro.backbones.checkpoints import save_checkpoint
    from sam_repro.backbones.registry import get_backbone

    path = tmp_path_factory.mktemp("sam") / "micro.pt"
    save_checkpoint(build_sam(get_backbone("micro").config, seed=0), path)
    return str(path)


def _config(tmp, micro_sam, **kw):
    from sam_repro.train.alignsam import AlignSamTrainConfig

    values = dict(backbone="micro", base_checkpoint=micro_sam, clip_checkpoint="random", tasks="shadow",
                  train_images=2, epochs=2, steps=3, ppo_epochs=2, run_dir=str(tmp / "run"), output=str(tmp / "a.pt"))
    values.update(kw)
    return AlignSamTrainConfig(**values)


def test_training_keeps_sam_and_clip_frozen_and_is_reproducible(tmp_path, micro_sam, monkeypatch) -> None:
    from sam_repro.backbones.checkpoints import read_checkpoint
    from sam_repro.nn import clip as clip_module
    from sam_repro.train.alignsam import train_alignsam

    seen = {}
    original = clip_module.load_clip

    def spy(*args, **kwargs):
        seen["clip"] = original(*args, **kwargs)
        seen["before"] = {k: v.clone() for k, v in seen["clip"].model.state_dict().items()}
        return seen["clip"]

    monkeypatch.setattr(clip_module, "load_clip", spy)
    sam_before = read_checkpoint(micro_sam)[0]
    path = train_alignsam(_config(tmp_path / "a", micro_sam), resume=False, progress=False)
    state_a, meta = read_checkpoint(path)
    assert meta["steps"] == 4 and meta["skipped"] == {"shadow": 0}
    for key, value in seen["clip"].model.state_dict().items():
        assert torch.equal(value, seen["before"][key]), key
    assert all(not p.requires_grad for p in seen["clip"].model.parameters())
    np.testing.assert_equal(read_checkpoint(micro_sam)[0]["image_encoder.pos_embed"].numpy(),
                            sam_before["image_encoder.pos_embed"].numpy())
    # same seed, same weights; and a run stopped after 1 episode then resumed ends identical
    assert train_alignsam(_config(tmp_path / "b", micro_sam), resume=False, progress=False, stop_after=1) is None
    path_b = train_alignsam(_config(tmp_path / "b", micro_sam), resume=True, progress=False)
    state_b, _ = read_checkpoint(path_b)
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    from sam_repro.methods.alignsam import build_heads

    initial = build_heads(32, ["shadow"], seed=0, **_config(tmp_path, micro_sam).head_config()).state_dict()
    for prefix in ("shadow.agent.", "shadow.implicit.", "shadow.explicit."):  # every part trained
        assert any(not torch.equal(v.float(), initial[k].half().float()) for k, v in state_a.items()
                   if k.startswith(prefix)), prefix


def test_empty_and_full_ground_truths_are_skipped_and_counted(monkeypatch) -> None:
    from sam_repro.data.sample import Sample
    from sam_repro.train import alignsam

    def fake(name, split, seed=0):
        image = np.zeros((8, 8, 3), np.uint8)
        empty = Sample("empty", image, masks=np.zeros((1, 8, 8), bool))
        full = Sample("full", image, masks=np.ones((1, 8, 8), bool))
        good_mask = np.zeros((1, 8, 8), bool)
        good_mask[0, :4] = True
        good = Sample("good", image, masks=good_mask)
        return [empty, good, full, good]

    monkeypatch.setattr("sam_repro.data.open_dataset", fake)
    images, skipped = alignsam.collect_images("synthetic/salient", "train", 2, 0)
    assert skipped == 2 and [i.id for i in images] == ["good", "good"]
    with pytest.raises(ValueError, match="only 2 usable"):
        alignsam.collect_images("synthetic/salient", "train", 3, 0)


def test_wrong_sha_weights_raise(tmp_path, micro_sam) -> None:
    from sam_repro.backbones.checkpoints import sha256_file
    from sam_repro.methods.alignsam import build_heads
    from sam_repro.methods.alignsam.weights import save_alignsam_parts

    heads = build_heads(32, ["salient", "shadow"])
    parts = tmp_path / "parts.pt"
    save_alignsam_parts(heads, parts, backbone="micro", base_sha256="0" * 64, clip_sha256="1" * 64, head_config={})
    with pytest.raises(CheckpointError, match="trained on top of SAM weights"):
        sam_repro.load_segmenter("alignsam:micro", checkpoint=parts, base_checkpoint=micro_sam, device="cpu")
    good = tmp_path / "good.pt"
    save_alignsam_parts(heads, good, backbone="micro", base_sha256=sha256_file(micro_sam), clip_sha256="1" * 64,
                        head_config={})
    seg = sam_repro.load_segmenter("alignsam:micro", checkpoint=good, base_checkpoint=micro_sam, device="cpu")
    assert seg.info()["checkpoint_sha256"] == sha256_file(good)
    from sam_repro.nn.clip import load_clip, save_clip

    clip_path = tmp_path / "clip.pt"
    save_clip(load_clip(random_init=True), clip_path)
    with pytest.raises(CheckpointError, match="trained with the CLIP"):
        sam_repro.load_segmenter("alignsam:micro", checkpoint=good, base_checkpoint=micro_sam, device="cpu",
                                 task="shadow", clip_checkpoint=clip_path)
