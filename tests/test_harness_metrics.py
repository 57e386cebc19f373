"""The harness scores with the package's metric objects: dataset figures (DIS max-F of the image-averaged
F curve, VOC mIoU from accumulated counts) come out of its records exactly as from the metric objects
called directly on the same predictions; a new protocol is a class, not a branch in the harness."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import sam_repro
from sam_repro.data import Sample, SampleSet
from sam_repro.eval.harness import evaluate
from sam_repro.eval.protocols import TIGHT_BOX, ObjectOutput, Protocol, SampleOutput
from sam_repro.eval.scoring import MetricSpec, iou_metric, sod_metric, voc_miou_metric
from sam_repro.metrics import IoU, SODMetrics, VOCMeanIoU
from sam_repro.prompts import mask_to_box


class _Scenes(SampleSet):
    """Four 64 px images with two objects of classes 1 and 2 (and a class map with an ignored border)."""

    name, split = "test/scenes", "test"

    def __len__(self) -> int:
        return 4

    def fingerprint(self) -> str:
        return "scenes-v1"

    def load(self, index: int) -> Sample:
        rng = np.random.default_rng(index)
        image = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
        masks = np.zeros((2, 64, 64), bool)
        masks[0, 6 + index : 30 + index, 4:28] = True
        masks[1, 36:58, 30 + 2 * index : 60] = True
        image[masks[0]] = (220, 40, 40)
        image[masks[1]] = (40, 200, 220)
        class_map = np.zeros((64, 64), np.int64)
        class_map[masks[0]], class_map[masks[1]] = 1, 2
        class_map[:, :2] = 255
        return Sample(id=f"scene{index}", image=image, masks=masks, class_map=class_map,
                      class_names=("background", "red", "cyan"))


@dataclass(frozen=True)
class _BoxesToClassMap(Protocol):
    """A semantic protocol written outside the harness: a tight box per object, then the objects' masks
    painted with their class into one class map."""

    name: str = "boxes_to_class_map"

    def run(self, segmenter, sample, objects: Sequence[int], rng, hooks=()) -> SampleOutput:
        segmenter.set_image(sample.image)
        class_map = np.zeros(sample.image.shape[:2], np.int64)
        outputs = []
        for k in objects:
            prediction = segmenter.predict(box=mask_to_box(sample.masks[k]))
            class_map[prediction.mask] = int(np.bincount(sample.class_map[sample.masks[k]]).argmax())
            outputs.append(ObjectOutput(k, prediction, prediction.mask))
        return SampleOutput(outputs, class_map)


@pytest.fixture(scope="module")
def segmenter():
    return sam_repro.load_segmenter("micro", random_init=True, seed=3, device="cpu")


def test_dis_max_f_and_voc_miou_from_the_harness_equal_the_metric_objects(segmenter, tmp_path: Path) -> None:
    protocol = _BoxesToClassMap()
    sod, voc, iou = sod_metric(metrics=("sm", "em", "fm", "wfm", "mae")), voc_miou_metric(num_classes=3), iou_metric()
    summary = evaluate(segmenter, _Scenes(), protocol, tmp_path, metrics=[sod, voc, iou], progress=False)
    direct_sod, direct_voc, direct_iou = SODMetrics(("sm", "em", "fm", "wfm", "mae")), VOCMeanIoU(3), IoU(nan_policy="omit")
    dataset = _Scenes()
    for index in range(len(dataset)):
        sample = dataset[index]
        output = protocol.run(segmenter, sample, [0, 1], np.random.default_rng(0))
        for obj in output.objects:
            direct_sod.update(obj.prediction.probability, sample.masks[obj.object])
            direct_iou.update(obj.mask, sample.masks[obj.object])
        direct_voc.update(output.class_map, sample.class_map)
    expected_sod, expected_voc = direct_sod.compute(), direct_voc.compute()
    entry = summary["metrics"]["sod"]
    assert entry["value"] == expected_sod["fm_max"]  # max of the image-averaged F curve, not a mean of maxima
    for key in ("fm_max", "fm_mean", "fm_adp", "em_mean", "em_max", "sm", "wfm", "mae"):
        assert entry[key] == pytest.approx(expected_sod[key], rel=0, abs=0), key
    np.testing.assert_array_equal(entry["arrays"]["fm_curve"], expected_sod["fm_curve"])
    assert summary["metrics"]["voc_miou"]["value"] == expected_voc["miou"]
    np.testing.assert_array_equal(summary["metrics"]["voc_miou"]["arrays"]["iou_per_class"],
                                  expected_voc["iou_per_class"])
    assert summary["metrics"]["iou"]["value"] == pytest.approx(direct_iou.compute()["iou"])
    # one schema for every metric: value and n
    assert all({"value", "n"} <= set(m) for m in summary["metrics"].values())
    assert summary["metrics"]["voc_miou"]["n"] == 4 and summary["metrics"]["sod"]["n"] == 8


def test_the_summary_is_rebuilt_from_the_records_on_resume(segmenter, tmp_path: Path) -> None:
    """Records keep per-image curves and counts: a resumed run's dataset figures equal a fresh run's."""
    metrics = [sod_metric(metrics=("fm", "mae")), voc_miou_metric(num_classes=3)]
    evaluate(segmenter, _Scenes(), _BoxesToClassMap(), tmp_path / "a", metrics=metrics, limit=2, progress=False)
    resumed = evaluate(segmenter, _Scenes(), _BoxesToClassMap(), tmp_path / "a", metrics=metrics, progress=False)
    fresh = evaluate(segmenter, _Scenes(), _BoxesToClassMap(), tmp_path / "b", metrics=metrics, progress=False)
    assert resumed["provenance"]["samples_this_run"] == 2
    assert resumed["metrics"] == fresh["metrics"]
    record = json.loads((tmp_path / "a" / "records.jsonl").read_text().splitlines()[0])
    assert len(record["objects"][0]["stats"]["sod"]["fm"]["curve"]) == 256
    assert set(record["image_stats"]["voc_miou"]) == {"intersect", "union", "pred", "label"}


def test_class_map_metric_needs_a_protocol_that_returns_one(segmenter, tmp_path: Path) -> None:
    summary = evaluate(segmenter, _Scenes(), TIGHT_BOX, tmp_path, metrics=[voc_miou_metric(num_classes=3)],
                       limit=1, progress=False)
    assert summary["failed_samples"] == 1
    error = json.loads((tmp_path / "records.jsonl").read_text())["error"]
    assert "must return one" in error


def test_metric_spec_validation() -> None:
    with pytest.raises(ValueError, match="reads must be one of"):
        MetricSpec("x", IoU, "logits", "iou")
    with pytest.raises(ValueError, match="unique"):
        evaluate(None, _Scenes(), TIGHT_BOX, "/nonexistent", metrics=[iou_metric(), iou_metric()])  # type: ignore[arg-type]
