"""The oracle ceiling of AlignSAM's prompting (sam_repro.methods.alignsam.oracle) on a segmenter whose answer is
known by hand, and the ROC AUC of a Surgery map (sam_repro.reproduce.calibration)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sam_repro.methods.alignsam.oracle import oracle_prompting_iou
from sam_repro.reproduce.calibration import map_roc_auc, surgery_roc_auc


class PatchSegmenter:
    """A stand-in for a SAM-backed segmenter on a 100 x 100 image: its mask is the union of the 10 x 10 patches of
    the positive points minus those of the negative ones; it records every prompt set it was given."""

    def __init__(self) -> None:
        self.embedding = SimpleNamespace(original_size=(100, 100), input_size=(64, 64),
                                         features=torch.zeros(1, 4, 16, 16))
        self.model = SimpleNamespace(image_encoder=SimpleNamespace(img_size=64))
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def predict(self, points, labels, multimask=False):
        self.calls.append((np.asarray(points).copy(), np.asarray(labels).copy()))
        mask = np.zeros((100, 100), dtype=bool)
        for (x, y), label in zip(points, labels):
            row, col = int(y) // 10 * 10, int(x) // 10 * 10
            mask[row:row + 10, col:col + 10] = bool(label)
        return SimpleNamespace(masks=mask[None])


def test_oracle_starts_at_the_first_positive_and_negative_centres_and_clicks_the_errors() -> None:
    target = np.zeros((100, 100), dtype=bool)
    target[30:40, 20:40] = True   # patches (3, 2) and (3, 3)
    target[70:80, 50:60] = True   # patch (7, 5)
    segmenter = PatchSegmenter()
    assert oracle_prompting_iou(segmenter, target, steps=2) == 1.0
    first_points, first_labels = segmenter.calls[0]
    # P_0: patch 32 (row 3, col 2), the first centre on the target, and patch 0, the first outside it
    np.testing.assert_allclose(first_points, [[25.0, 35.0], [5.0, 5.0]])
    np.testing.assert_array_equal(first_labels, [1, 0])
    # then the first wrong centres in row-major order: patch 33, then patch 75
    np.testing.assert_allclose(segmenter.calls[1][0][-1], [35.0, 35.0])
    np.testing.assert_allclose(segmenter.calls[2][0][-1], [55.0, 75.0])
    assert len(segmenter.calls) == 3


def test_oracle_with_no_steps_scores_p0_and_a_target_between_centres_scores_zero() -> None:
    target = np.zeros((100, 100), dtype=bool)
    target[30:40, 20:40] = True
    assert oracle_prompting_iou(PatchSegmenter(), target, steps=0) == pytest.approx(0.5)
    between = np.zeros((100, 100), dtype=bool)
    between[0:3, 0:3] = True  # no patch centre falls on it: neither the agent nor the oracle can prompt it
    segmenter = PatchSegmenter()
    assert oracle_prompting_iou(segmenter, between) == 0.0 and not segmenter.calls


def test_oracle_never_prompts_the_ignore_label_and_leaves_it_out_of_the_iou() -> None:
    target = np.zeros((100, 100), dtype=np.uint8)
    target[30:40, 20:40] = 1          # patches (3, 2) and (3, 3)
    target[0:10, 0:20] = 255          # patches 0 and 1: VOC's border, neither label
    target[60:70, 60:70] = 255        # patch 66: a false positive there would not count
    segmenter = PatchSegmenter()
    assert oracle_prompting_iou(segmenter, target, steps=1) == 1.0
    first_points, first_labels = segmenter.calls[0]
    # the first background centre is patch 2, after the two ignored ones
    np.testing.assert_allclose(first_points, [[25.0, 35.0], [25.0, 5.0]])
    np.testing.assert_array_equal(first_labels, [1, 0])
    prompted = {tuple(point) for points, _ in segmenter.calls for point in points}
    assert not prompted & {(5.0, 5.0), (15.0, 5.0), (65.0, 65.0)}  # the centres of patches 0, 1 and 66
    # IoU over the scored pixels: a mask covering the ignored patch 66 as well still scores 1
    assert oracle_prompting_iou(PatchSegmenter(), target, steps=1) == 1.0


def test_oracle_rejects_a_target_of_another_shape_and_negative_steps() -> None:
    with pytest.raises(ValueError, match="image's shape"):
        oracle_prompting_iou(PatchSegmenter(), np.ones((50, 100), dtype=bool))
    with pytest.raises(ValueError, match="steps"):
        oracle_prompting_iou(PatchSegmenter(), np.ones((100, 100), dtype=bool), steps=-1)


class FixedSurgery:
    """Returns one fixed (2, 2) map for any text."""

    def __init__(self, grid_map: np.ndarray) -> None:
        self.grid_map = torch.as_tensor(grid_map, dtype=torch.float32)

    def maps(self, images, texts):
        return self.grid_map.expand(len(images), len(texts), *self.grid_map.shape)


def test_surgery_roc_auc_by_hand() -> None:
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    target = np.zeros((4, 4), dtype=np.uint8)
    target[:2, :2] = 1
    # after the bilinear resize of these 2 x 2 maps the target's quadrant ranks first (last) everywhere
    perfect = FixedSurgery(np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert surgery_roc_auc(perfect, image, target, "x") == pytest.approx(1.0)
    inverse = FixedSurgery(np.array([[0.0, 1.0], [1.0, 1.0]]))
    assert surgery_roc_auc(inverse, image, target, "x") == pytest.approx(0.0)
    flat = FixedSurgery(np.full((2, 2), 0.5))
    assert surgery_roc_auc(flat, image, target, "x") == pytest.approx(0.5)
    only_background = np.where(target == 1, 255, 0).astype(np.uint8)  # the foreground ignored: AUC undefined
    assert np.isnan(map_roc_auc(np.array([[1.0, 0.0], [0.0, 0.0]]), only_background))
    # an ignored pixel scoring above the target is left out: the ranking stays perfect
    border = target.copy()
    border[3, 3] = 255
    ranking = (target == 1).astype(np.float32)  # the map at the image's size: the resize keeps it as it is
    ranking[3, 3] = 5.0
    assert map_roc_auc(ranking, border) == pytest.approx(1.0)
    assert map_roc_auc(ranking, target) < 1.0


def test_binary_targets_of_a_class_map_keep_the_ignore_label_and_name_the_class() -> None:
    from sam_repro.train.alignsam import binary_targets

    class_map = np.array([[0, 3, 3], [255, 5, 0]], dtype=np.uint8)
    names = [f"class{i}" for i in range(14)]
    sample = SimpleNamespace(class_map=class_map, class_names=names, masks=None)
    targets, texts = binary_targets(sample, "synthetic/multiclass")
    assert texts == ["class3", "class5"]
    np.testing.assert_array_equal(targets[0], [[0, 1, 1], [255, 0, 0]])
    np.testing.assert_array_equal(targets[1], [[0, 0, 0], [255, 1, 0]])
    masks = np.zeros((2, 2, 3), dtype=bool)
    masks[0, 0, 0] = masks[1, 1, 2] = True
    (union,), (text,) = binary_targets(SimpleNamespace(class_map=None, masks=masks), "synthetic/shadow")
    assert union.sum() == 2 and text == "shadow"
