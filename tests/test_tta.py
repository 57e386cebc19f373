"""Test-time adaptation (paper 001): losses, pseudo-labels, reset/continual, what adapts, and that
nothing but user-visible information drives it."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sam_repro import load_segmenter
from sam_repro.eval.harness import evaluate
from sam_repro.eval.interactive import InteractiveProtocol, run_interactive
from sam_repro.methods.hooks import ClickEvent, InteractionHooks, SampleEvent, SampleStart
from sam_repro.methods.tta import (
    IGNORE, PAPER_CONFIGS, TestTimeAdaptation, TTAConfig, click_label_map, eroded_pseudo_label,
    image_level_labels, sparse_bce,
)
from sam_repro.prompts import Click

PROTOCOL = InteractiveProtocol(name="tta-test", max_clicks=4, target_iou=0.99, clicker="simple",
                               first_click_multimask=False)


def _tta(config: TTAConfig) -> TestTimeAdaptation:
    return load_segmenter("tta:micro", random_init=True, device="cpu", config=config)


def _scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    gt = np.zeros((96, 128), dtype=bool)
    y, x = rng.integers(20, 60), rng.integers(20, 90)
    gt[y : y + 25, x : x + 30] = True
    image[gt] = (200, 60, 40)
    return image, gt


def _states_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- the loss and the label maps ---------------------------------------------------------------------
def test_sparse_bce_matches_hand_computation() -> None:
    logits = torch.tensor([[0.0, 2.0], [-1.0, 3.0]])
    labels = torch.tensor([[1, 0], [IGNORE, 1]])
    foreground = (math.log(2.0) + math.log(1 + math.exp(-3.0))) / 2  # mean over the two positives
    background = math.log(1 + math.exp(2.0))  # the single negative at logit 2
    assert float(sparse_bce(logits, labels)) == pytest.approx(foreground + background, rel=1e-6)


def test_sparse_bce_drops_missing_terms_and_checks_shapes() -> None:
    logits = torch.tensor([[1.0, -2.0]])
    assert float(sparse_bce(logits, torch.tensor([[1, IGNORE]]))) == pytest.approx(math.log(1 + math.exp(-1.0)))
    assert float(sparse_bce(logits, torch.tensor([[IGNORE, IGNORE]]))) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        sparse_bce(logits, torch.tensor([1, 0]))


def test_click_label_map_places_clicks_at_their_pixels() -> None:
    labels = click_label_map([Click(3, 1, True), Click(0, 2, False), Click(3, 1, False)], (4, 5))
    assert labels[1, 3] == 0  # the later click on the same pixel wins
    assert labels[2, 0] == 0
    assert (labels == IGNORE).sum() == 4 * 5 - 2


def _brute_force_erosion(mask: np.ndarray, k: int) -> np.ndarray:
    """Pixel kept iff every pixel within L1 distance k is in the mask (outside the image is not)."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    for y in range(h):
        for x in range(w):
            out[y, x] = all(
                0 <= y + dy < h and 0 <= x + dx < w and mask[y + dy, x + dx]
                for dy in range(-k, k + 1) for dx in range(-k, k + 1) if abs(dy) + abs(dx) <= k
            )
    return out


@pytest.mark.parametrize("k", [1, 2, 5])
def test_eroded_pseudo_label_band_shape(k: int) -> None:
    mask = np.zeros((24, 26), dtype=bool)
    yy, xx = np.mgrid[:24, :26]
    mask[(yy - 11) ** 2 + (xx - 12) ** 2 <= 49] = True
    labels = eroded_pseudo_label(mask, k)
    np.testing.assert_array_equal(labels == 1, _brute_force_erosion(mask, k))
    np.testing.assert_array_equal(labels == 0, _brute_force_erosion(~mask, k))
    band = labels == IGNORE
    assert band.any() and not (band & (labels != IGNORE)).any()
    # the band straddles the boundary: every boundary pixel of the mask is ignored
    boundary = mask & ~_brute_force_erosion(mask, 1)
    assert band[boundary].all()


def test_eroded_pseudo_label_k0_is_the_mask_and_rejects_bad_input() -> None:
    mask = np.eye(5, dtype=bool)
    np.testing.assert_array_equal(eroded_pseudo_label(mask, 0), mask.astype(np.int8))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        eroded_pseudo_label(np.zeros((2, 3, 3), dtype=bool))


def test_image_level_labels_merge_clicks_over_the_pseudo_label() -> None:
    mask = np.zeros((40, 40), dtype=bool)
    mask[5:18, 5:18] = True  # 13 px wide: its central 3x3 survives 5 cross erosions
    clicks = (Click(6, 6, True), Click(5, 5, False), Click(0, 0, False))
    merged = image_level_labels(TTAConfig("reset", "eroded", True), mask, clicks)
    assert merged[5, 5] == 0 and merged[6, 6] == 1 and merged[0, 0] == 0  # clicks override the band
    assert (merged[10:13, 10:13] == 1).all() and (merged == 1).sum() == 9 + 1  # centre + the positive click
    assert merged[9, 11] == -1
    assert merged[30, 30] == 0 and merged[23, 11] == 0 and merged[22, 11] == -1  # band of 5 outside too
    assert merged[37, 30] == -1  # outside the image counts as neither: the border is eroded away
    untreated = image_level_labels(TTAConfig(None, "untreated", False), mask, clicks)
    np.testing.assert_array_equal(untreated, mask.astype(np.int8))
    clicks_only = image_level_labels(TTAConfig(None, None, True), mask, clicks)
    assert (clicks_only != IGNORE).sum() == 3
    assert image_level_labels(TTAConfig("reset", None, False), mask, clicks) is None


def test_config_validation_and_labels() -> None:
    assert PAPER_CONFIGS["complete"].label == "R E ✓"
    assert PAPER_CONFIGS["baseline"].label == "- - -" and not PAPER_CONFIGS["baseline"].adapts
    with pytest.raises(ValueError, match="click_adaptation"):
        TTAConfig(click_adaptation="always")
    with pytest.raises(ValueError, match="result_mask"):
        TTAConfig(result_mask="eroded-twice")
    with pytest.raises(ValueError, match="lr"):
        TTAConfig(lr=0.0)
    with pytest.raises(KeyError, match="unknown TTA configuration"):
        load_segmenter("tta:micro", random_init=True, config="everything")


def test_wrapping_a_segmenter_without_a_decoder_is_refused() -> None:
    class Opaque:
        name = "opaque"

    with pytest.raises(TypeError, match="not SAM-backed"):
        TestTimeAdaptation(Opaque())  # type: ignore[arg-type]


# -- what adapts, and when ---------------------------------------------------------------------------
def test_reset_restores_the_decoder_bit_for_bit() -> None:
    tta = _tta(TTAConfig("reset", None, False, lr=1e-2))
    before = tta.decoder_state()
    image, gt = _scene(0)
    run_interactive(tta, image, gt, PROTOCOL, rng=np.random.default_rng(0))
    assert tta.steps["click"] >= 1
    assert _states_equal(tta.decoder_state(), before)


def test_click_steps_change_the_decoder_during_the_image() -> None:
    tta = _tta(TTAConfig("reset", None, False, lr=1e-2))
    before = tta.decoder_state()
    seen = []

    class Spy(InteractionHooks):
        def after_click(self, segmenter, event):
            seen.append(_states_equal(tta.decoder_state(), before))

    image, gt = _scene(1)
    run_interactive(tta, image, gt, PROTOCOL, rng=np.random.default_rng(0), hooks=[Spy()])
    # the spy runs before the adapter's own hook on each click: unchanged at click 1, adapted after
    assert seen[0] and not any(seen[1:])


def test_continual_keeps_the_updates_across_images() -> None:
    tta = _tta(TTAConfig("continual", None, False, lr=1e-2))
    before = tta.decoder_state()
    image, gt = _scene(2)
    run_interactive(tta, image, gt, PROTOCOL, rng=np.random.default_rng(0))
    after_first = tta.decoder_state()
    assert not _states_equal(after_first, before)
    image, gt = _scene(3)
    run_interactive(tta, image, gt, PROTOCOL, rng=np.random.default_rng(1))
    assert not _states_equal(tta.decoder_state(), after_first)
    tta.reset()
    assert _states_equal(tta.decoder_state(), before)


def test_only_the_mask_decoder_changes() -> None:
    tta = _tta(PAPER_CONFIGS["complete"].__class__(click_adaptation="continual", result_mask="eroded",
                                                    click_mask=True, lr=1e-2, adapt_on_failure=True))
    model = tta.segmenter.model
    encoder = {k: v.clone() for k, v in model.image_encoder.state_dict().items()}
    prompt = {k: v.clone() for k, v in model.prompt_encoder.state_dict().items()}
    decoder = tta.decoder_state()
    for seed in range(3):
        image, gt = _scene(seed)
        run_interactive(tta, image, gt, PROTOCOL, rng=np.random.default_rng(seed))
    assert tta.steps["image"] == 3
    assert _states_equal(model.image_encoder.state_dict(), encoder)
    assert _states_equal(model.prompt_encoder.state_dict(), prompt)
    assert not _states_equal(tta.decoder_state(), decoder)


def test_image_step_skipped_on_failure_unless_asked() -> None:
    image, gt = _scene(4)
    strict = InteractiveProtocol(name="never", max_clicks=2, target_iou=1.0, clicker="simple",
                                 first_click_multimask=False)
    for adapt_on_failure, expected in ((False, 0), (True, 1)):
        tta = _tta(TTAConfig(None, "eroded", True, lr=1e-2, adapt_on_failure=adapt_on_failure))
        result = run_interactive(tta, image, gt, strict, rng=np.random.default_rng(0))
        assert result.ious[-1] < 1.0
        assert tta.steps["image"] == expected


def test_one_decoder_copy_per_class() -> None:
    tta = _tta(TTAConfig("continual", None, False, lr=1e-2, per_class=True))
    initial = tta.decoder_state()
    image, gt = _scene(5)
    run_interactive(tta, image, gt, PROTOCOL, rng=np.random.default_rng(0), class_name="a")
    adapted_a = tta.decoder_state()
    tta.before_sample(tta, SampleStart("x", image, class_name="b"))
    assert _states_equal(tta.decoder_state(), initial)  # class b starts from the original decoder
    tta.before_sample(tta, SampleStart("y", image, class_name="a"))
    assert _states_equal(tta.decoder_state(), adapted_a)  # class a gets its own copy back


# -- no ground truth ---------------------------------------------------------------------------------
def test_adaptation_is_driven_only_by_what_the_user_sees() -> None:
    """Record every event of a run, replay the events (no ground truth anywhere) through a fresh
    adapter, and get the same decoder; also no event field shares memory with the ground truth."""
    config = TTAConfig("continual", "eroded", True, lr=1e-2, adapt_on_failure=True)
    live = _tta(config)
    events: list[tuple[str, object]] = []

    class Recorder:
        def before_sample(self, segmenter, event):
            events.append(("start", event))

        def after_click(self, segmenter, event):
            events.append(("click", event))

        def after_sample(self, segmenter, event):
            events.append(("sample", event))

    scenes = [_scene(seed) for seed in (6, 7)]
    for seed, (image, gt) in enumerate(scenes):
        run_interactive(live, image, gt, PROTOCOL, rng=np.random.default_rng(seed), hooks=[Recorder()])
        for _, event in events:
            for value in vars(event).values():
                if isinstance(value, np.ndarray):
                    assert not np.shares_memory(value, gt)

    replay = _tta(config)
    for kind, event in events:
        if kind == "start":
            replay.set_image(event.image)
            replay.before_sample(replay, event)
        elif kind == "click":
            replay.after_click(replay, event)
        else:
            replay.after_sample(replay, event)
    assert _states_equal(replay.decoder_state(), live.decoder_state())


# -- with the harness --------------------------------------------------------------------------------
def test_harness_restarts_a_partial_adaptive_run(tmp_path) -> None:
    from sam_repro.data import open_dataset

    dataset = open_dataset("synthetic/polyp", "test", size=64, seed=0, length=3)
    protocol = InteractiveProtocol(name="tta-h", max_clicks=3, target_iou=0.99, clicker="simple",
                                   first_click_multimask=False)
    out = tmp_path / "run"
    full = evaluate(_tta(TTAConfig("continual", None, False, lr=1e-2)), dataset, protocol, out,
                    noc_targets=((0.85, 3),), progress=False)
    lines = (out / "records.jsonl").read_text().splitlines()
    (out / "records.jsonl").write_text(lines[0] + "\n")  # as if interrupted after the first sample
    again = evaluate(_tta(TTAConfig("continual", None, False, lr=1e-2)), dataset, protocol, out,
                     noc_targets=((0.85, 3),), progress=False)
    assert again["provenance"]["samples_this_run"] == 3  # started over, not resumed
    assert again["metrics"] == full["metrics"]
    assert again["provenance"]["segmenter"]["tta"]["label"] == "C - -"


def test_timing_restores_the_decoder_and_reports_three_costs() -> None:
    from sam_repro.reproduce.papers.sam_tta import time_adaptation

    segmenter = load_segmenter("micro", random_init=True, device="cpu")
    before = {k: v.clone() for k, v in segmenter.model.mask_decoder.state_dict().items()}
    image, _ = _scene(8)
    timing = time_adaptation(segmenter, image, repeats=2)
    assert set(timing) == {"encode_ms", "decoder_forward_ms", "adaptation_step_ms"}
    assert all(value > 0 for value in timing.values())
    assert _states_equal(segmenter.model.mask_decoder.state_dict(), before)


def test_segmenter_factory_rows() -> None:
    from sam_repro.reproduce.papers.sam_tta import default_lr, segmenter_factory
    from sam_repro.methods.tta import PAPER_LR, TINY_LR

    assert default_lr("tiny") == TINY_LR and default_lr("vit_b") == PAPER_LR
    make = segmenter_factory("tiny", device="cpu", lr=3e-4, erosion_iterations=2)
    complete = make("complete")
    assert complete.config.lr == 3e-4 and complete.config.erosion_iterations == 2
    assert make("baseline").interactive_hooks == ()
    with pytest.raises(KeyError, match="unknown row"):
        make("everything")


def test_learning_rate_defaults_per_backbone() -> None:
    from sam_repro.methods.tta import PAPER_LR, default_lr

    assert load_segmenter("tta:vit_b", random_init=True, device="cpu").config.lr == PAPER_LR == 1e-6
    assert _tta(TTAConfig()).config.lr == default_lr("micro")
    assert _tta(TTAConfig(lr=0.5)).config.lr == 0.5  # an explicit rate is kept


def test_erosion_depth_in_image_or_input_pixels() -> None:
    from sam_repro.methods.tta import erosion_depth

    paper = TTAConfig(erosion_iterations=5)
    assert erosion_depth(paper, (1024, 768), 256) == 5  # the paper's: pixels of the image
    scaled = TTAConfig(erosion_iterations=5, erosion_units="input")
    assert erosion_depth(scaled, (1024, 768), 256) == 20 and erosion_depth(scaled, (256, 200), 256) == 5
    with pytest.raises(ValueError, match="erosion_units"):
        TTAConfig(erosion_units="cells")


def test_stable_sam_rows_adapt_its_plugins_and_record_alpha_per_click(tmp_path) -> None:
    """Beyond the paper: Stable-SAM under TTA (rows of sam_tta.STABLE_SAM_ROWS). Its plug-ins are decoder parameters,
    so adaptation moves them; the encoders stay frozen; alpha_1 is recorded after every click and averaged per click."""
    import json

    from sam_repro.methods.stablesam import StableSamSegmenter
    from sam_repro.reproduce.papers.sam_tta import diagnostics_per_click, segmenter_factory

    make = segmenter_factory("tiny", device="cpu", lr=1e-3)
    assert isinstance(make("Stable-SAM"), StableSamSegmenter) and make("Stable-SAM").interactive_hooks == ()
    adapted = make("Stable-SAM + complete")
    assert isinstance(adapted, TestTimeAdaptation) and isinstance(adapted.segmenter, StableSamSegmenter)
    model = adapted.segmenter.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    image, gt = _scene(3)
    protocol = InteractiveProtocol(name="t", max_clicks=3, target_iou=None, clicker="simple", feedback="binary",
                                   first_click_multimask=False)
    result = run_interactive(adapted, image, gt, protocol, rng=np.random.default_rng(0))
    alphas = result.diagnostics["alpha_1"]
    assert len(alphas) == len(result.ious) == 3 and all(0.0 <= a <= 1.0 for a in alphas)
    assert result.to_record()["diagnostics"]["alpha_1"] == [round(a, 6) for a in alphas]
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert any(".dsp." in k for k in changed)  # the plug-ins adapt (the image-level step of the complete method)
    assert changed and all(k.startswith("mask_decoder.") for k in changed)
    # plain SAM reports no diagnostics, so its records keep their old form
    plain = run_interactive(make("baseline"), image, gt, protocol, rng=np.random.default_rng(0))
    assert plain.diagnostics == {} and "diagnostics" not in plain.to_record()
    # the per-click table reads the records that run_table writes (out / table / dataset / row)
    cell = tmp_path / "table1" / "TrashCan" / "Stable-SAM"
    cell.mkdir(parents=True)
    objects = [{"object": 0, "diagnostics": {"alpha_1": [0.8, 0.6]}}, {"object": 1, "diagnostics": {"alpha_1": [0.4]}}]
    (cell / "records.jsonl").write_text(json.dumps({"index": 0, "status": "ok", "objects": objects}) + "\n")
    rows = diagnostics_per_click(tmp_path, "table1", ["TrashCan", "CAMO"], ["Stable-SAM"])
    assert [(r["click"], round(r["mean"], 6), r["n"]) for r in rows] == [(1, 0.6, 2), (2, 0.6, 1)]
