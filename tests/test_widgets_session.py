"""The demos' prompt session, headless, for the methods with weights today (sam, hqsam, tta on the shipped tiny
SAM) and, on random micro weights, for every registered method: points and the feedback chain, the held box,
undo (which restarts the chain from the state before the undone prompt), reset, finish, test-time adaptation
driven by real clicks, the SamPredictor-shaped adapter, the overlay PNG and the static figure."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sam_repro
from sam_repro.data import open_evaluation_set
from sam_repro.methods import list_methods
from sam_repro.methods.hooks import InteractionHooks
from sam_repro.prompts import mask_to_box
from sam_repro.widgets import (
    PromptSession,
    SamPredictorAdapter,
    decode_rgba,
    mask_overlay_png,
    session_figure,
)
from sam_repro.widgets.overlay import MASK_ALPHA

METHODS = ["sam:tiny", "hqsam:tiny", "tta:tiny", "stablesam:tiny", "pisam:tiny", "ptsam:tiny", "lora:tiny",
           "adapter:tiny"]  # the registered methods whose tiny weights ship (points and boxes)
# Shipped methods that take one kind of prompt -> (the scene their session runs on, the IoU it must reach): DIS-SAM
# with the box of a thin structure (its domain; measured 0.880), AlignSAM with one click on the demo object (0.958).
ONE_KIND = {"dissam:tiny": ("synthetic/thin:test", 2, 0.8), "alignsam:tiny": ("synthetic/salient:test", 0, 0.9)}
INSIDE, OUTSIDE = (144, 156), (60, 40)  # an object pixel and a background pixel of the demo image


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    """The demo notebook's default image (256 px salient stand-in) and its object."""
    sample = open_evaluation_set("synthetic/salient:test")[0]
    return sample.image, sample.masks[0]


@pytest.fixture(params=METHODS)
def segmenter(request):
    # a fresh segmenter per test: test-time adaptation changes its decoder as the tests click
    return sam_repro.load_segmenter(request.param, device="cpu")


class Recorder(InteractionHooks):
    """What the session fires: ("start", id), ("click", index, mask_input, multimask), ("end", clicks, failed)."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.mask_inputs: list[np.ndarray | None] = []

    def before_sample(self, segmenter, event):
        self.events.append(("start", event.sample_id))

    def after_click(self, segmenter, event):
        self.events.append(("click", event.index, event.mask_input is not None, event.multimask))
        self.mask_inputs.append(None if event.mask_input is None else event.mask_input.copy())

    def after_sample(self, segmenter, event):
        self.events.append(("end", len(event.clicks), event.failed))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_points_show_the_object_and_feed_the_previous_logits_back(segmenter, scene) -> None:
    image, truth = scene
    recorder = Recorder()
    session = PromptSession(segmenter, image, hooks=[recorder])
    assert not session.mask.any() and session.prediction is None and recorder.events == [("start", "demo/0")]
    first = session.click(*INSIDE, positive=True)
    assert first.action == "click" and first.mask.shape == truth.shape and iou(first.mask, truth) > 0.8
    assert 0 < first.iou <= 1.5 and first.decode_ms > 0
    second = session.click(*OUTSIDE, positive=False)
    np.testing.assert_array_equal(session.points, [INSIDE, OUTSIDE])
    np.testing.assert_array_equal(session.labels, [1, 0])
    assert iou(second.mask, truth) > 0.8 and not second.mask[OUTSIDE[1], OUTSIDE[0]]
    # click 1: multimask, nothing fed back; click 2: one mask, click 1's low-res logits fed back
    assert recorder.events[1:] == [("click", 1, False, True), ("click", 2, True, False)]
    np.testing.assert_array_equal(recorder.mask_inputs[1], first.prediction.low_res)
    np.testing.assert_array_equal(session.feedback_for_next_click(), second.prediction.low_res)


def test_box_is_held_for_later_clicks_and_starts_the_object_over(segmenter, scene) -> None:
    image, truth = scene
    recorder = Recorder()
    session = PromptSession(segmenter, image, hooks=[recorder])
    session.click(*OUTSIDE, positive=True)  # a click on another object, then the box: the object starts over
    box = mask_to_box(truth)
    update = session.set_box([box[2], box[3], box[0], box[1]])  # corners in any order
    np.testing.assert_array_equal(session.box, box)
    assert session.clicks == () and iou(update.mask, truth) > 0.85
    assert recorder.events[-2:] == [("end", 1, True), ("start", "demo/0")]  # the abandoned attempt: a failed sample
    if "tta" not in segmenter.name:  # the same decoder as the reference below (TTA adapts at each click)
        segmenter.set_image(image)
        reference = segmenter.predict(box=box)
        np.testing.assert_array_equal(update.prediction.logits, reference.logits)
    before = {k: v.clone() for k, v in segmenter.mask_decoder.state_dict().items()}
    clicked = session.click(*INSIDE, positive=True)
    # the click is decoded with the held box (and, as the first click of the object, nothing fed back)
    for k, v in before.items():
        segmenter.mask_decoder.state_dict()[k].copy_(v)  # undo TTA's step to decode the reference as shown
    segmenter.set_image(image)
    if "corrects" in segmenter.capabilities:  # Pi-SAM: with a box held, a click is a correction of the box mask
        reference = segmenter.predict(box=box, multimask=True, corrections=np.array([INSIDE]),
                                      correction_labels=np.array([1]))
    else:
        reference = segmenter.predict(points=np.array([INSIDE]), labels=np.array([1]), box=box, multimask=True)
    np.testing.assert_array_equal(clicked.prediction.logits, reference.logits)
    with pytest.raises(ValueError, match="no area"):
        session.set_box([10, 10, 10, 50])
    with pytest.raises(ValueError, match="4 numbers"):
        session.set_box([1, 2, 3])


def test_undo_restarts_the_feedback_chain_from_before_the_undone_prompt(segmenter, scene) -> None:
    image, truth = scene
    recorder = Recorder()
    session = PromptSession(segmenter, image, hooks=[recorder])
    with pytest.raises(ValueError, match="nothing to undo"):
        session.undo()
    first = session.click(*INSIDE, positive=True)
    session.click(200, 30, positive=True)  # a wrong click
    undone = session.undo()
    np.testing.assert_array_equal(undone.mask, first.mask)
    assert undone.prediction is first.prediction and len(session.clicks) == 1
    session.click(*OUTSIDE, positive=False)
    # the undone click's logits are never fed back: the next click gets click 1's
    np.testing.assert_array_equal(recorder.mask_inputs[-1], first.prediction.low_res)
    session.undo()
    session.undo()
    assert not session.mask.any() and not session.can_undo
    session.click(*INSIDE, positive=True)
    assert recorder.mask_inputs[-1] is None  # undone to nothing: the chain restarts from scratch
    box = mask_to_box(truth)
    session.set_box(box)
    assert session.undo().prediction is None and session.box is None and not session.mask.any()


def test_undo_then_click_equals_never_having_clicked(scene) -> None:
    image, _ = scene
    segmenter = sam_repro.load_segmenter("sam:tiny", device="cpu")
    direct = PromptSession(segmenter, image)
    direct.click(*INSIDE, True)
    expected = direct.click(*OUTSIDE, False)
    undone = PromptSession(segmenter, image)
    undone.click(*INSIDE, True)
    undone.click(30, 200, False)
    undone.undo()
    np.testing.assert_array_equal(undone.click(*OUTSIDE, False).prediction.logits, expected.prediction.logits)


def test_reset_and_finish(segmenter, scene) -> None:
    image, truth = scene
    recorder = Recorder()
    session = PromptSession(segmenter, image, hooks=[recorder])
    with pytest.raises(ValueError, match="nothing to finish"):
        session.finish()
    session.click(*INSIDE, True)
    session.click(*OUTSIDE, False)
    update = session.reset()
    assert update.prediction is None and not update.mask.any() and session.clicks == () and session.box is None
    assert recorder.events[-2:] == [("end", 2, True), ("start", "demo/0")]
    session.click(*INSIDE, True)
    assert recorder.mask_inputs[-1] is None  # a fresh chain
    session.finish()
    assert recorder.events[-2:] == [("end", 1, False), ("start", "demo/1")] and session.objects_done == 1
    session.set_box(mask_to_box(truth))
    session.finish()  # a box alone gives the hooks no clicks: no sample event, the next object starts
    assert recorder.events[-1] == ("start", "demo/2") and session.objects_done == 2
    with pytest.raises(ValueError, match="outside the 256x256 image"):
        session.click(256, 3, True)


def _decoder(segmenter) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in segmenter.mask_decoder.state_dict().items()}


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return float(np.sqrt(sum(float(torch.sum((a[k].float() - b[k].float()) ** 2)) for k in a)))


def test_test_time_adaptation_learns_from_real_clicks_and_shows_it(scene) -> None:
    image, truth = scene
    tta = sam_repro.load_segmenter("tta:tiny", device="cpu")  # the paper's complete configuration (R, E, CM)
    initial = _decoder(tta)
    session = PromptSession(tta, image)
    assert [ext.name for ext in session.extensions] == ["tta"]
    first = session.click(*INSIDE, True)
    assert tta.steps == {"click": 1, "image": 0} and first.hooks_ms > 0  # the hook ran for a person's click
    figures = first.extras["tta"]
    assert figures["adapt_steps"] == 1
    assert figures["decoder_change"] == pytest.approx(_distance(_decoder(tta), initial), rel=1e-6)
    assert figures["decoder_change"] > 0
    # visible adaptation: the adapted decoder's mask for the same prompt, recomputed here independently
    tta.set_image(image)
    adapted = tta.predict(points=np.array([INSIDE]), labels=np.array([1]), multimask=True).mask
    extension = session.extensions[0]
    np.testing.assert_array_equal(extension.adapted_mask, adapted)
    assert figures["changed_pixels"] == int(np.count_nonzero(adapted != first.mask)) > 0
    assert list(extension.layers(session)) == ["adapted decoder, same prompts"]
    session.click(*OUTSIDE, False)
    assert tta.steps["click"] == 2
    session.reset()  # the attempt is abandoned: reset-mode click adaptation (R) restores the decoder
    assert _distance(_decoder(tta), initial) == 0.0
    session.click(*INSIDE, True)
    session.finish()  # a finished object: R restores, then the image-level step (E + CM) on its mask
    assert tta.steps["image"] == 1 and _distance(_decoder(tta), initial) > 0
    assert session.extensions[0].decoder_change() == 0.0  # the next object starts from the adapted decoder


def test_methods_without_adaptation_show_only_their_mask(scene) -> None:
    image, _ = scene
    for name in ("sam:tiny", "hqsam:tiny"):
        session = PromptSession(sam_repro.load_segmenter(name, device="cpu"), image)
        assert session.extensions == [] and session.click(*INSIDE, True).extras == {}
        assert session.click(*OUTSIDE, False).hooks_ms < 5


@pytest.mark.parametrize("method", list_methods())
def test_every_registered_method_opens_a_session_with_the_prompts_it_takes(method: str) -> None:
    """On random micro weights (no trained weights needed): a method plugs into the demos through the interface
    alone; points where it takes points, a box where it takes a box, a clear refusal otherwise."""
    segmenter = sam_repro.load_segmenter(f"{method}:micro", random_init=True, device="cpu")
    image = np.random.default_rng(0).integers(0, 255, (80, 96, 3), dtype=np.uint8)
    session = PromptSession(segmenter, image)
    kinds = segmenter.prompt_kinds
    if "box" in kinds:
        assert session.set_box([10, 10, 60, 50]).mask.shape == (80, 96)
    else:
        with pytest.raises(ValueError, match="takes no box"):
            session.set_box([10, 10, 60, 50])
    if "points" in kinds:
        session.click(30, 30, True)
        update = session.click(70, 60, False)
        assert update.mask.shape == (80, 96) and len(session.clicks) == 2
        session.undo()
        assert len(session.clicks) == 1
    else:
        with pytest.raises(ValueError, match="takes no points"):
            session.click(30, 30, True)
    session.reset()
    assert not session.mask.any()


# -- the SamPredictor-shaped adapter ---------------------------------------------------------------------------
def test_sam_predictor_style_calls_give_segment_anythings_masks(scene) -> None:
    from segment_anything import SamPredictor

    image, truth = scene
    segmenter = sam_repro.load_segmenter("sam:tiny", device="cpu")
    official = SamPredictor(segmenter.model)
    official.set_image(image)
    adapter = SamPredictorAdapter(segmenter)
    with pytest.raises(RuntimeError, match="set_image"):
        adapter.predict(point_coords=np.array([INSIDE]), point_labels=np.array([1]))
    adapter.set_image(image[..., ::-1].copy(), image_format="BGR")  # OpenCV's order, converted back
    assert adapter.is_image_set and adapter.original_size == (256, 256)
    prompts = dict(point_coords=np.array([INSIDE, OUTSIDE], dtype=float), point_labels=np.array([1, 0]))
    masks, scores, logits = adapter.predict(**prompts, multimask_output=True)
    ref_masks, ref_scores, ref_logits = official.predict(**prompts, multimask_output=True)
    np.testing.assert_array_equal(masks, ref_masks)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-5, atol=1e-5)
    best = logits[np.argmax(scores)][None]
    box = mask_to_box(truth)
    masks, _, _ = adapter.predict(**prompts, box=box, mask_input=best, multimask_output=False)
    ref_masks, _, _ = official.predict(**prompts, box=box, mask_input=best, multimask_output=False)
    np.testing.assert_array_equal(masks, ref_masks)
    raw, _, _ = adapter.predict(box=box, multimask_output=False, return_logits=True)
    assert raw.dtype == np.float32 and raw.shape == (1, 256, 256)
    with pytest.raises(ValueError, match="point_labels"):
        adapter.predict(point_coords=np.array([INSIDE]))
    assert adapter.model is segmenter.model


@pytest.mark.parametrize("name", METHODS)
def test_the_adapter_gives_every_method_its_native_masks(name: str, scene) -> None:
    image, truth = scene
    segmenter = sam_repro.load_segmenter(name, device="cpu")
    adapter = SamPredictorAdapter(segmenter)
    adapter.set_image(image)
    masks, scores, logits = adapter.predict(point_coords=np.array([INSIDE]), point_labels=np.array([1]),
                                            box=mask_to_box(truth), multimask_output=True)
    native = segmenter.predict(points=np.array([INSIDE]), labels=np.array([1]), box=mask_to_box(truth),
                               multimask=True)
    np.testing.assert_array_equal(masks, native.masks)
    np.testing.assert_array_equal(scores, native.iou_predictions)
    np.testing.assert_array_equal(logits, native.low_res_logits)


# -- what goes to the browser and to the notebook -----------------------------------------------------------------
def test_overlay_png_is_the_mask_and_nothing_else(scene) -> None:
    _, truth = scene
    png = mask_overlay_png(truth)
    rgba = decode_rgba(png)
    assert rgba.shape == (256, 256, 4) and len(png) < 4000  # a 1-bit palette image
    assert np.all(rgba[truth, 3] == round(MASK_ALPHA * 255)) and np.all(rgba[~truth, 3] == 0)
    np.testing.assert_array_equal(rgba[truth][0, :3], [30, 144, 255])
    with pytest.raises(ValueError, match="must be \\(H, W\\)"):
        mask_overlay_png(np.zeros((2, 3, 4), bool))
    with pytest.raises(ValueError, match="alpha"):
        mask_overlay_png(truth, alpha=1.5)


def test_static_figure_has_a_panel_per_layer(scene) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image, _ = scene
    session = PromptSession(sam_repro.load_segmenter("tta:tiny", device="cpu"), image)
    session.click(*INSIDE, True)
    figure = session_figure(session)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["prompts", "mask shown", "adapted decoder, same prompts"]
    plt.close(figure)


def test_extensions_are_picked_by_declared_capability() -> None:
    from sam_repro.widgets import registered_extensions
    from sam_repro.widgets.extensions import (
        AdaptationExtension, CorrectionExtension, RefinementExtension, register_extension,
    )

    assert set(registered_extensions()) == {"adapts", "refines", "corrects", "prompts_itself",
                                            "deformable_sampling"}
    assert registered_extensions()["adapts"] is AdaptationExtension
    assert registered_extensions()["refines"] is RefinementExtension
    assert registered_extensions()["corrects"] is CorrectionExtension
    with pytest.raises(ValueError, match="already has"):
        register_extension("adapts", AdaptationExtension)


def test_dis_sam_shows_sams_coarse_mask_beside_its_refinement() -> None:
    """DIS-SAM (box only) on random micro weights: its coarse stage's mask is the layer, undone with the box."""
    segmenter = sam_repro.load_segmenter("dissam:micro", random_init=True, device="cpu")
    image = np.random.default_rng(1).integers(0, 255, (80, 96, 3), dtype=np.uint8)
    session = PromptSession(segmenter, image)
    assert [ext.name for ext in session.extensions] == ["dissam"] and session.settings.feedback == "none"
    update = session.set_box([10, 10, 60, 50])
    coarse = segmenter.last_coarse
    layer = session.extensions[0].layers(session)["SAM's coarse mask"]
    np.testing.assert_array_equal(layer, coarse.mask)
    assert update.extras["dissam"] == {"coarse_iou": coarse.iou,
                                       "refined_pixels": int(np.count_nonzero(coarse.mask != update.mask))}
    assert session.undo().extras["dissam"] == {"coarse_iou": None, "refined_pixels": None}
    assert session.extensions[0].layers(session) == {}


def test_pisam_clicks_on_a_held_box_go_to_its_interactor(scene) -> None:
    """Pi-SAM (capability "corrects"): with a box held, clicks reach predict() as corrections (the box stays
    SAM's prompt); without a box, or with an untrained interactor, they are SAM's points."""
    image, _ = scene
    segmenter = sam_repro.load_segmenter("pisam:micro", random_init=True, device="cpu")
    calls = []
    original = segmenter.predict

    def spy(**kwargs):
        calls.append(kwargs)
        return original(**kwargs)

    segmenter.predict = spy
    session = PromptSession(segmenter, image)
    session.click(30, 40)  # no box: SAM's point
    assert "corrections" not in calls[-1] and session.clicks_routed_to == "sam"
    session.set_box([10, 10, 60, 70])
    update = session.click(35, 45, positive=False)  # box held, interactor untrained: refused, SAM's points
    assert session.clicks_routed_to == "sam" and update.extras["pisam"]["clicks_to"] == "sam"
    segmenter.model.mask_decoder.interactor_trained = True
    update = session.click(40, 50)
    last = calls[-1]
    assert session.clicks_routed_to == "interactor" and update.extras["pisam"]["corrections"] == 2
    assert last["box"].tolist() == [10, 10, 60, 70] and last.get("points") is None
    np.testing.assert_array_equal(last["correction_labels"], [0, 1])
    np.testing.assert_array_equal(last["corrections"], [[35, 45], [40, 50]])
    drawn = session.extensions[0].points(session)
    assert [label for _, _, label in drawn] == ["correction-", "correction+"]


def test_sampling_points_by_hand() -> None:
    from sam_repro.widgets.extensions import sampling_points

    offsets = np.zeros((2, 4, 4))
    offsets[:, 1, 2] = (1.0, -0.5)  # cell (row 1, col 2) reads one cell right, half a cell up
    points = sampling_points(offsets, (100, 200), 64, count=1)  # 16 px cells on a 64 px input; image 200 wide
    assert points == [((2 + 0.5 + 1.0) * 16 * 200 / 64, (1 + 0.5 - 0.5) * 16 * 200 / 64, "sample")]


def test_stable_sam_and_alignsam_show_where_they_look(scene) -> None:
    image, _ = scene
    stable = sam_repro.load_segmenter("stablesam:micro", random_init=True, device="cpu")
    block = stable.plugin_block
    with torch.no_grad():  # a plug-in that moves its samples (untrained ones sample in place)
        block.dsp.offset_net[-1].bias[:2] = torch.tensor([0.7, -0.3])
    session = PromptSession(stable, image)
    update = session.set_box([100, 100, 200, 200])
    status = update.extras["stablesam"]
    assert status["max_offset"] > 0.1 and 0 <= status["alpha1"] <= 1
    assert len(session.extensions[0].points(session)) == 16
    align = sam_repro.load_segmenter("alignsam:micro", random_init=True, device="cpu", task="salient", steps=3)
    session = PromptSession(align, image)
    update = session.click(150, 150)
    assert update.extras["alignsam"]["agent_points"] == 3
    drawn = session.extensions[0].points(session)
    assert [label[:7] for _, _, label in drawn] == ["agent 1", "agent 2", "agent 3"]


def test_every_method_whose_tiny_weights_ship_gets_the_full_session_checks() -> None:
    """METHODS must grow as methods ship their tiny weights (a shipped method left out would skip the feedback-chain,
    undo and box checks above)."""
    from sam_repro.backbones.checkpoints import WeightsNotFoundError

    shipped = set()
    for method in list_methods():
        try:
            sam_repro.load_segmenter(f"{method}:tiny", device="cpu")
        except WeightsNotFoundError:
            continue
        shipped.add(f"{method}:tiny")
    assert shipped <= set(METHODS) | set(ONE_KIND), f"add to METHODS or ONE_KIND: {sorted(shipped - set(METHODS))}"


@pytest.mark.parametrize("name", sorted(ONE_KIND))
def test_methods_taking_one_kind_of_prompt_segment_an_object_and_undo(name: str) -> None:
    """A shipped box-only (DIS-SAM) or points-only (AlignSAM) method: its prompt segments its scene's object as a direct
    call does, the other kind is refused, undo empties the view."""
    source, index, threshold = ONE_KIND[name]
    sample = open_evaluation_set(source)[index]
    image, truth = sample.image, sample.masks[0]
    pixels = np.argwhere(truth)
    inside = tuple(int(v) for v in pixels[len(pixels) // 2][::-1])  # (x, y) of an object pixel
    segmenter = sam_repro.load_segmenter(name, device="cpu")
    session = PromptSession(segmenter, image)
    if "box" in segmenter.prompt_kinds:
        box = mask_to_box(truth)
        update = session.set_box(box)
        segmenter.set_image(image)
        reference = segmenter.predict(box=box)
        with pytest.raises(ValueError, match="takes no points"):
            session.click(*inside, True)
    else:
        update = session.click(*inside, True)
        segmenter.set_image(image)
        reference = segmenter.predict(points=np.array([inside]), labels=np.array([1]), multimask=True)
        with pytest.raises(ValueError, match="takes no box"):
            session.set_box([10, 10, 60, 50])
    np.testing.assert_array_equal(update.prediction.logits, reference.logits)
    assert iou(update.mask, truth) >= threshold
    session.undo()
    assert not session.mask.any()
