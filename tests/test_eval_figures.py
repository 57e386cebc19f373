"""Figure helpers: object picking from harness records, SAM-vs-method pairing, cropped prediction panels."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sam_repro.data import Sample
from sam_repro.eval.figures import paired_objects, pick_objects, prediction_panels
from sam_repro.eval.protocols import TIGHT_BOX
from sam_repro.methods.base import Prediction


def _write_records(path: Path, values: dict[tuple[int, int], float], failed: int | None = None) -> Path:
    by_index: dict[int, list] = {}
    for (index, obj), value in values.items():
        by_index.setdefault(index, []).append({"object": obj, "iou": value})
    lines = [json.dumps({"index": i, "status": "ok", "objects": objs}) for i, objs in sorted(by_index.items())]
    if failed is not None:
        lines.append(json.dumps({"index": failed, "status": "error", "error": "OSError"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_pick_objects_orders_and_skips_nan_and_failures(tmp_path: Path) -> None:
    records = _write_records(tmp_path / "r.jsonl", {(0, 0): 0.5, (0, 1): float("nan"), (1, 0): 0.9, (2, 0): 0.1},
                             failed=3)
    picked = pick_objects(records, "iou", count=2)
    assert picked["best"] == [(1, 0, 0.9), (0, 0, 0.5)]
    assert picked["worst"] == [(2, 0, 0.1), (0, 0, 0.5)]


def test_paired_objects_keeps_only_objects_in_both_runs(tmp_path: Path) -> None:
    a = _write_records(tmp_path / "a.jsonl", {(0, 0): 0.5, (0, 1): 0.2, (2, 0): 0.3})
    b = _write_records(tmp_path / "b.jsonl", {(0, 1): 0.4, (0, 0): 0.6, (1, 0): 0.9, (2, 0): float("nan")})
    assert paired_objects(a, b) == [(0, 0, 0.5, 0.6), (0, 1, 0.2, 0.4)]


class _FillBox:
    """A stand-in segmenter that predicts exactly the prompt box."""

    def set_image(self, image: np.ndarray) -> None:
        self.shape = image.shape[:2]

    def predict(self, box=None, **_) -> Prediction:
        mask = np.zeros(self.shape, bool)
        x0, y0, x1, y1 = np.round(box).astype(int)
        mask[y0:y1 + 1, x0:x1 + 1] = True
        logits = np.where(mask, 1.0, -1.0).astype(np.float32)[None]
        return Prediction(masks=mask[None], logits=logits, low_res_logits=logits, iou_predictions=np.ones(1, np.float32))


def test_prediction_panels_crop_to_object_and_shift_the_box() -> None:
    image = np.zeros((40, 50, 3), np.uint8)
    gt = np.zeros((40, 50), bool)
    gt[10:20, 30:45] = True
    dataset = [Sample(id="s0", image=image, masks=gt[None])]
    full, cropped = (prediction_panels(_FillBox(), dataset, [(0, 0, 1.0)], TIGHT_BOX, crop_margin=margin,
                                       label="box")[0] for margin in (None, 3))
    assert full["image"].shape == (40, 50, 3) and full["title"] == "box: s0 #0"
    assert cropped["image"].shape == (10 + 6, 15 + 6, 3)  # the object's box grown by 3 px on each side
    np.testing.assert_allclose(cropped["box"], np.asarray(full["box"], float) - [27, 7, 27, 7])
    np.testing.assert_array_equal(cropped["image"], full["image"][7:23, 27:48])


def test_prediction_panels_crop_is_clipped_at_the_border() -> None:
    gt = np.zeros((20, 20), bool)
    gt[0:5, 15:20] = True
    dataset = [Sample(id="s0", image=np.zeros((20, 20, 3), np.uint8), masks=gt[None])]
    panel = prediction_panels(_FillBox(), dataset, [(0, 0, 0.5)], TIGHT_BOX, crop_margin=4)[0]
    assert panel["image"].shape == (9, 9, 3) and panel["title"] == "s0 #0: IoU 0.50"
    with pytest.raises(IndexError, match="sample 0 .s0. has no object 1"):
        prediction_panels(_FillBox(), dataset, [(0, 1, 0.5)], TIGHT_BOX)
