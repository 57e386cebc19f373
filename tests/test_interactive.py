"""The interactive loop: stop rule, recorded IoU sequence, feedback protocol, hooks."""
from __future__ import annotations

import numpy as np
import pytest

from sam_repro.eval.interactive import InteractiveProtocol, SAM_NO_FEEDBACK, mask_iou, run_interactive
from sam_repro.methods.base import Prediction, Segmenter
from sam_repro.methods.hooks import InteractionHooks


class DiscSegmenter(Segmenter):
    """Predicts the union of radius-r discs around positive clicks, minus discs around negatives.

    Records every call so tests can check what the loop passed."""

    name = "disc"

    def __init__(self, radius: int = 6):
        self.radius = radius
        self.calls: list[dict] = []
        self.images_set = 0

    def set_image(self, image):
        self.shape = image.shape[:2]
        self.images_set += 1

    def reset_image(self):
        pass

    def info(self):
        return {"method": "disc"}

    def predict(self, points=None, labels=None, box=None, mask_input=None, multimask=False):
        self.calls.append(dict(n=len(points), mask_input=mask_input is not None, multimask=multimask))
        yy, xx = np.mgrid[: self.shape[0], : self.shape[1]]
        logit = np.full(self.shape, -1.0, np.float32)
        for (x, y), label in zip(points, labels):
            disc = (xx - x) ** 2 + (yy - y) ** 2 <= self.radius**2
            logit[disc] = 1.0 if label == 1 else -1.0
        k = 3 if multimask else 1
        logits = np.repeat(logit[None], k, axis=0)
        return Prediction(masks=logits > 0, logits=logits, low_res_logits=np.zeros((k, 8, 8), np.float32),
                          iou_predictions=np.linspace(0.5, 0.9, k).astype(np.float32))


def _square(size: int = 40, side: int = 20) -> np.ndarray:
    gt = np.zeros((size, size), bool)
    gt[10 : 10 + side, 10 : 10 + side] = True
    return gt


def test_iou_sequence_and_stop_rule() -> None:
    gt = _square()
    segmenter = DiscSegmenter()
    image = np.zeros((40, 40, 3), np.uint8)
    full = run_interactive(segmenter, image, gt, InteractiveProtocol(max_clicks=6, target_iou=None))
    assert len(full.ious) == 6 and len(full.clicks) == 6
    assert (full.clicks[0].x, full.clicks[0].y) == (19, 19)  # first deepest interior pixel of the square
    target = full.ious[2]
    stopped = run_interactive(DiscSegmenter(), image, gt, InteractiveProtocol(max_clicks=6, target_iou=target))
    first_reach = next(i for i, v in enumerate(full.ious) if v >= target)
    assert stopped.ious == full.ious[: first_reach + 1]


def test_first_iou_matches_a_hand_computation() -> None:
    gt = _square()
    result = run_interactive(DiscSegmenter(radius=6), np.zeros((40, 40, 3), np.uint8), gt,
                             InteractiveProtocol(max_clicks=1, target_iou=None))
    click = result.clicks[0]
    yy, xx = np.mgrid[:40, :40]
    disc = (xx - click.x) ** 2 + (yy - click.y) ** 2 <= 36
    assert result.ious[0] == pytest.approx((disc & gt).sum() / (disc | gt).sum())


def test_feedback_protocol_settings_reach_the_segmenter() -> None:
    gt, image = _square(), np.zeros((40, 40, 3), np.uint8)
    feedback = DiscSegmenter()
    run_interactive(feedback, image, gt, InteractiveProtocol(max_clicks=3, target_iou=None))
    assert [(c["n"], c["mask_input"], c["multimask"]) for c in feedback.calls] == [(1, False, True), (2, True, False), (3, True, False)]
    plain = DiscSegmenter()
    run_interactive(plain, image, gt, InteractiveProtocol(max_clicks=3, target_iou=None, feedback="none",
                                                          multimask_always=True))
    assert [(c["mask_input"], c["multimask"]) for c in plain.calls] == [(False, True)] * 3
    assert SAM_NO_FEEDBACK.feedback == "none" and feedback.images_set == 1


class RecordingHook(InteractionHooks):
    def __init__(self):
        self.clicks, self.samples = [], []

    def after_click(self, segmenter, event):
        self.clicks.append((event.index, len(event.clicks), event.mask.shape))

    def after_sample(self, segmenter, event):
        self.samples.append((event.sample_id, len(event.clicks), event.failed))


def test_hooks_get_every_click_and_the_outcome_without_ground_truth() -> None:
    gt, image = _square(side=30, size=40), np.zeros((40, 40, 3), np.uint8)
    hook = RecordingHook()
    result = run_interactive(DiscSegmenter(radius=2), image, gt, InteractiveProtocol(max_clicks=4, target_iou=0.99),
                             sample_id="s1", hooks=[hook])
    assert hook.clicks == [(i, i, (40, 40)) for i in range(1, 5)]
    assert hook.samples == [("s1", 4, True)] and len(result.ious) == 4
    from sam_repro.methods.hooks import ClickEvent, SampleEvent
    import dataclasses

    for event_type in (ClickEvent, SampleEvent):
        assert not {"gt", "ground_truth", "iou"} & {f.name for f in dataclasses.fields(event_type)}


def test_protocol_validation() -> None:
    with pytest.raises(ValueError, match="max_clicks"):
        InteractiveProtocol(max_clicks=0)
    with pytest.raises(ValueError, match="clicker"):
        InteractiveProtocol(clicker="magic")
