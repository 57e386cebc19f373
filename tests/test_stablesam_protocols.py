"""Stable-SAM's protocols: MESS on a hand-made map (segments, prompts, first mask, per-class max, background rule),
the object/background view, and K draws per object with the ST reconstruction in the records."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam_repro.data.sample import Sample
from sam_repro.data.views import ObjectBackgroundMaps
from sam_repro.eval.mess import MessProtocol, inner_region, segments
from sam_repro.eval.protocols import RepeatedPromptProtocol, noisy_box_protocol
from sam_repro.methods.base import Prediction


class _Oracle:
    """A fake segmenter that answers a prompt with the ground-truth segment it falls in (as logits +/-5), and a
    wrong second mask, so that 'first mask' matters; it records the prompts it got."""

    name = "oracle"

    def __init__(self, class_map: np.ndarray, regions: list[np.ndarray] | None = None):
        self.class_map, self.calls = class_map, []
        self.regions = regions if regions is not None else [s for _, s in segments(class_map, 255, 1, 1000)]

    def set_image(self, image):
        self.image = image

    def _region(self, points, box) -> np.ndarray:
        """The segment the prompt points into, or whose OpenCV bounding rectangle the box is."""
        for region in self.regions:
            if points is not None:
                col, row = points[0].astype(int)
                if region[row, col]:
                    return region
            else:
                x, y, w, h = cv2.boundingRect(region.astype(np.uint8))
                if np.allclose(box, [x, y, x + w, y + h]):
                    return region
        return np.zeros_like(self.class_map, bool)

    def predict(self, points=None, labels=None, box=None, mask_input=None, multimask=False):
        self.calls.append((points, box, multimask))
        region = self._region(points, box)
        logits = np.where(region, 5.0, -5.0).astype(np.float32)
        stack = np.stack([logits, -logits])
        return Prediction(masks=stack > 0, logits=stack, low_res_logits=np.zeros((2, 4, 4), np.float32),
                          iou_predictions=np.array([0.1, 0.9], np.float32))


def _map() -> np.ndarray:
    class_map = np.zeros((30, 40), np.int64)
    class_map[2:12, 2:12] = 1  # class 1, two segments
    class_map[20:28, 30:38] = 1
    class_map[15:25, 5:20] = 2
    class_map[0, 39] = 2  # a 1-px segment: below 10 px, no prompt
    class_map[29, 0:3] = 255  # ignored
    return class_map


def test_segments_and_inner_region_by_hand() -> None:
    found = segments(_map(), 255, 10, 100)
    assert [c for c, _ in found] == [0, 2, 1, 1]  # background is a class too; largest first; the speck dropped
    assert [int(s.sum()) for c, s in found if c != 0] == [150, 100, 64]
    square = np.zeros((11, 11), bool)
    square[:, :] = True
    inner = inner_region(square)
    assert len(inner) and all(2 <= r <= 8 and 2 <= c <= 8 for r, c in inner)  # distance > 6 / 1.7 from the border


@pytest.mark.parametrize("prompt", ["oracle_point", "random_point", "box"])
def test_mess_rebuilds_a_hand_made_map(prompt: str) -> None:
    class_map = _map()
    sample = Sample(id="m", image=np.zeros((30, 40, 3), np.uint8), class_map=class_map)
    oracle = _Oracle(class_map)
    out = MessProtocol(prompt=prompt).run(oracle, sample, [], np.random.default_rng(0))
    assert all(multimask for _, _, multimask in oracle.calls) and len(oracle.calls) == 4
    expected = class_map.copy()
    expected[0, 39] = 0  # the unprompted speck goes to the background (no class above 0 there)
    expected[29, 0:3] = 0
    if prompt == "box":  # a bounding box of a square segment is the segment (OpenCV's one-past-the-end box)
        assert oracle.calls[-1][1].tolist() == [30, 20, 38, 28]
    np.testing.assert_array_equal(out.class_map, expected)


def test_object_background_view() -> None:
    class _Set:
        name, split = "synthetic/rooftops", "test"

        def __len__(self):
            return 1

        def __getitem__(self, index):
            masks = np.zeros((2, 5, 6), bool)
            masks[0, 1:3, 1:3] = masks[1, 3:5, 4:6] = True
            return Sample(id="r", image=np.zeros((5, 6, 3), np.uint8), masks=masks)

        def fingerprint(self):
            return "ab"

    view = ObjectBackgroundMaps(_Set())
    sample = view[0]
    assert sample.class_names == ("background", "rooftops") and sample.class_map.sum() == 8
    assert len(view.fingerprint()) == 64


def test_repeated_prompts_record_draws_and_st() -> None:
    gt = np.zeros((40, 40), bool)
    gt[10:30, 10:30] = True
    sample = Sample(id="s", image=np.zeros((40, 40, 3), np.uint8), masks=gt[None])

    class _BoxFiller(_Oracle):
        """Answers a box with the box's interior: a different mask for every noisy box."""

        def predict(self, points=None, labels=None, box=None, mask_input=None, multimask=False):
            self.calls.append((points, box, multimask))
            x0, y0, x1, y1 = np.round(box).astype(int)
            logits = np.full((1, 40, 40), -5.0, np.float32)
            logits[0, y0:y1, x0:x1] = 5.0
            return Prediction(masks=logits > 0, logits=logits, low_res_logits=np.zeros((1, 4, 4), np.float32),
                              iou_predictions=np.ones(1, np.float32))

    oracle = _BoxFiller(gt.astype(np.int64), regions=[gt])
    protocol = RepeatedPromptProtocol("noisy_x4", noisy_box_protocol(0.4, 0.5), draws=4)
    out = protocol.run(oracle, sample, [0], np.random.default_rng(3))
    assert [o.record["draw"] for o in out.objects] == [0, 1, 2, 3]
    boxes = [box for _, box, _ in oracle.calls]
    assert len({tuple(b) for b in boxes}) == 4  # four independent draws
    st = out.objects[0].record["st_reconstruction"]
    masks = np.stack([o.mask for o in out.objects])
    pair = [(masks[i] & masks[j]).sum() / (masks[i] | masks[j]).sum() for i in range(4) for j in range(i + 1, 4)]
    assert 0.3 < st < 1.0 and st == pytest.approx(np.mean(pair))
    assert out.objects[1].record["st_reconstruction"] is None


def test_both_protocols_run_through_the_harness(tmp_path) -> None:
    import sam_repro
    from sam_repro.data import open_dataset
    from sam_repro.eval.harness import evaluate, load_records
    from sam_repro.eval.scoring import iou_metric, voc_miou_metric

    segmenter = sam_repro.load_segmenter("stablesam:micro", random_init=True, device="cpu")
    classes = open_dataset("synthetic/multiclass", "test", size=96, length=2)
    summary = evaluate(segmenter, classes, MessProtocol(prompt="noisy_box"), tmp_path / "mess", progress=False,
                       metrics=[voc_miou_metric(21)])
    assert summary["samples"] == 2 and 0 <= summary["metrics"]["voc_miou"]["value"] <= 1
    thin = open_dataset("synthetic/thin", "val", size=256, length=2)
    protocol = RepeatedPromptProtocol("noisy_x3", noisy_box_protocol(0.4, 0.5), draws=3)
    summary = evaluate(segmenter, thin, protocol, tmp_path / "draws", progress=False, metrics=[iou_metric()])
    records = [o for r in load_records(tmp_path / "draws") for o in r["objects"]]
    assert summary["objects"] == 6 and [o["draw"] for o in records] == [0, 1, 2] * 2
    assert all((o["st_reconstruction"] is None) == (o["draw"] > 0) for o in records)
