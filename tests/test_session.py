"""The interactive session: the object the simulated user (NoC loop) and a person (widgets) both drive.
Clicks, undo and finish; the same hook events whether the clicks are simulated or made by hand, so
test-time adaptation ends in the same state either way."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sam_repro
from sam_repro.eval.interactive import InteractiveProtocol, run_interactive
from sam_repro.eval.session import FeedbackSettings, InteractiveSession
from sam_repro.methods.hooks import InteractionHooks
from sam_repro.methods.tta import TestTimeAdaptation, TTAConfig


def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, (96, 128, 3), dtype=np.uint8)
    gt = np.zeros((96, 128), bool)
    gt[20:70, 30 + seed : 90 + seed] = True
    image[gt] = 200
    return image, gt


class Recorder(InteractionHooks):
    def __init__(self):
        self.events: list[tuple] = []

    def before_sample(self, segmenter, event):
        self.events.append(("start", event.sample_id, event.class_name))

    def after_click(self, segmenter, event):
        self.events.append(("click", event.index, tuple((c.x, c.y, c.positive) for c in event.clicks),
                            event.multimask, event.mask_input is not None, event.mask.tobytes()))

    def after_sample(self, segmenter, event):
        self.events.append(("end", len(event.clicks), event.failed, event.final_mask.tobytes()))


@pytest.fixture(scope="module")
def segmenter():
    return sam_repro.load_segmenter("micro", random_init=True, seed=1, device="cpu")


def test_clicks_undo_and_finish(segmenter) -> None:
    image, _ = _scene()
    recorder = Recorder()
    session = InteractiveSession(segmenter, image, hooks=[recorder], sample_id="s", class_name="box")
    assert session.prediction is None and not session.mask.any() and recorder.events == [("start", "s", "box")]
    first = session.click(60, 40, True)
    second = session.click(100, 80, False)
    assert len(session.clicks) == 2 and session.prediction is second
    assert recorder.events[1][3:5] == (True, False)  # first click: multimask, nothing fed back
    assert recorder.events[2][3:5] == (False, True)  # then single mask with the previous logits
    assert session.undo() is first and session.clicks == (session.clicks[0],)
    third = session.click(100, 80, False)  # the same click again: the same state as before the undo
    np.testing.assert_array_equal(third.logits, second.logits)
    with pytest.raises(ValueError, match="outside the 128x96 image"):
        session.click(128, 10, True)
    event = session.finish(failed=False)
    assert event.final_prediction is third and recorder.events[-1][:3] == ("end", 2, False)
    for action in (lambda: session.click(1, 1, True), lambda: session.finish()):
        with pytest.raises(RuntimeError, match="finished"):
            action()


def test_finish_needs_a_click_and_undo_needs_a_click(segmenter) -> None:
    session = InteractiveSession(segmenter, _scene()[0])
    with pytest.raises(ValueError, match="nothing to undo"):
        session.undo()
    with pytest.raises(RuntimeError, match="at least one click"):
        session.finish()


def test_hand_clicks_fire_the_same_events_as_the_simulated_user(segmenter) -> None:
    image, gt = _scene()
    protocol = InteractiveProtocol(max_clicks=4, target_iou=None)
    simulated = Recorder()
    result = run_interactive(segmenter, image, gt, protocol, sample_id="s", hooks=[simulated])
    by_hand = Recorder()
    session = InteractiveSession(segmenter, image, protocol.session_settings, hooks=[by_hand], sample_id="s")
    for click in result.clicks:
        session.click(click.x, click.y, click.positive)
    session.finish(failed=False)
    assert by_hand.events == simulated.events


def test_test_time_adaptation_reacts_to_hand_clicks_as_to_simulated_ones() -> None:
    def fresh() -> TestTimeAdaptation:
        base = sam_repro.load_segmenter("micro", random_init=True, seed=4, device="cpu")
        return TestTimeAdaptation(base, TTAConfig("continual", "eroded", True, lr=1e-2))

    image, gt = _scene(1)
    protocol = InteractiveProtocol(max_clicks=3, target_iou=None, clicker="simple")
    simulated = fresh()
    result = run_interactive(simulated, image, gt, protocol, rng=np.random.default_rng(0))
    by_hand = fresh()
    session = InteractiveSession(by_hand, image, protocol.session_settings)
    for click in result.clicks:
        session.click(click.x, click.y, click.positive)
    session.finish(failed=False)
    assert simulated.steps == by_hand.steps == {"click": 3, "image": 1}
    a, b = simulated.decoder_state(), by_hand.decoder_state()
    assert all(torch.equal(a[k], b[k]) for k in a)
    untouched = fresh().decoder_state()
    assert not all(torch.equal(a[k], untouched[k]) for k in a)  # it did adapt


def test_feedback_settings_follow_the_protocol() -> None:
    protocol = InteractiveProtocol(feedback="none", multimask_always=True, threshold=0.5)
    assert protocol.session_settings == FeedbackSettings("none", True, True, 0.5)


def test_binary_feedback_feeds_the_shown_mask_on_the_low_res_grid_and_zeros_first(segmenter) -> None:
    """The adaptation paper's f(x, p_1:t, m_t-1): m_0 all background, then the binary mask shown."""
    from sam_repro.prompts import binary_mask_prompt

    image, _ = _scene()
    recorder = []

    class Inputs(InteractionHooks):
        def after_click(self, segmenter_, event):
            recorder.append((event.mask_input.copy(), event.mask.copy()))

    session = InteractiveSession(segmenter, image, FeedbackSettings("binary", first_click_multimask=False),
                                 hooks=[Inputs()])
    session.click(60, 40, True)
    session.click(100, 80, False)
    (first_input, first_mask), (second_input, _) = recorder
    grid = segmenter.low_res_size
    assert first_input.shape == (1, grid, grid) and not first_input.any()
    embedding = segmenter.embedding
    expected = binary_mask_prompt(first_mask, embedding.input_size, segmenter.engine.transform.target_length, grid)
    np.testing.assert_array_equal(second_input, expected)
    assert set(np.unique(second_input)) <= {0.0, 1.0}


def test_binary_feedback_needs_a_sam_backed_segmenter() -> None:
    from sam_repro.methods.base import Prediction, Segmenter

    class Blank(Segmenter):  # not SAM-backed: no low-res grid to put a mask on
        name = "blank"

        def set_image(self, image):
            self.shape = image.shape[:2]

        def predict(self, points=None, labels=None, box=None, mask_input=None, multimask=False):
            logits = np.full((1, *self.shape), -1.0, np.float32)
            return Prediction(logits > 0, logits, np.zeros((1, 8, 8), np.float32), np.ones(1, np.float32))

        def reset_image(self):
            pass

        def info(self):
            return {"method": "blank", "name": self.name}

    session = InteractiveSession(Blank(), np.zeros((40, 40, 3), np.uint8), FeedbackSettings("binary"))
    with pytest.raises(TypeError, match="not SAM-backed"):
        session.click(5, 5, True)
    with pytest.raises(ValueError, match="feedback must be one of"):
        FeedbackSettings("masks")
