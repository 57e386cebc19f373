"""The common segmenter interface: SamPredictor equivalence and every bad-input case."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sam_repro
from sam_repro.device import resolve_device
from sam_repro.methods import Prediction, list_methods


@pytest.fixture(scope="module")
def segmenter():
    return sam_repro.load_segmenter("tiny", random_init=True, seed=7, device="cpu")


PROMPTS = [
    dict(points=np.array([[40.0, 55.0]]), labels=np.array([1])),
    dict(points=np.array([[40.0, 55.0], [10.0, 100.0]]), labels=np.array([1, 0])),
    dict(box=np.array([15.0, 30.0, 70.0, 95.0])),
    dict(points=np.array([[40.0, 55.0]]), labels=np.array([1]), box=np.array([15.0, 30.0, 70.0, 95.0])),
]


@pytest.mark.parametrize("prompt", PROMPTS, ids=["1pt", "2pt", "box", "pt+box"])
@pytest.mark.parametrize("multimask", [False, True])
def test_identical_to_sam_predictor(segmenter, random_image, prompt, multimask) -> None:
    from segment_anything import SamPredictor

    predictor = SamPredictor(segmenter.model)
    predictor.set_image(random_image)
    segmenter.set_image(random_image)
    ours = segmenter.predict(**prompt, multimask=multimask)
    kwargs = dict(point_coords=prompt.get("points"), point_labels=prompt.get("labels"), box=prompt.get("box"),
                  multimask_output=multimask)
    masks, scores, low_res = predictor.predict(**kwargs)
    logits, _, _ = predictor.predict(**kwargs, return_logits=True)
    assert np.array_equal(ours.masks, masks)
    assert np.array_equal(ours.logits, logits) and np.array_equal(ours.low_res_logits, low_res)
    np.testing.assert_array_equal(ours.iou_predictions, scores)
    # and with the previous low-res logits fed back
    again = segmenter.predict(**prompt, mask_input=ours.low_res, multimask=multimask)
    masks2, _, _ = predictor.predict(**kwargs, mask_input=low_res[np.argmax(scores)][None])
    assert np.array_equal(again.masks, masks2)


def test_masks_are_not_trivial(segmenter, random_image) -> None:
    """Guards the equivalence test: a random-init model must still produce mixed masks."""
    segmenter.set_image(random_image)
    fractions = [segmenter.predict(**p, multimask=True).masks.mean() for p in PROMPTS]
    assert any(0.01 < f < 0.99 for f in fractions)


def test_prediction_fields(segmenter, random_image) -> None:
    segmenter.set_image(random_image)
    prediction = segmenter.predict(points=np.array([[40, 55]]), labels=np.array([1]), multimask=True)
    assert isinstance(prediction, Prediction)
    assert prediction.masks.shape == (3, 120, 90) and prediction.masks.dtype == bool
    assert prediction.logits.shape == (3, 120, 90) and prediction.low_res_logits.shape == (3, 64, 64)
    assert prediction.low_res.shape == (1, 64, 64) and prediction.mask.shape == (120, 90)
    assert prediction.best == int(np.argmax(prediction.iou_predictions))
    assert np.array_equal(prediction.mask, prediction.probability > 0.5)


def test_batch_equals_single(segmenter, random_image) -> None:
    segmenter.set_image(random_image)
    boxes = np.array([[10, 10, 50, 60], [20, 30, 80, 110.0]])
    batch = segmenter.predict_batch(boxes=boxes)
    for box, prediction in zip(boxes, batch):
        single = segmenter.predict(box=box)
        np.testing.assert_allclose(single.logits, prediction.logits, atol=1e-4)


def test_encoder_runs_once_per_image(random_image) -> None:
    segmenter = sam_repro.load_segmenter("micro", random_init=True, device="cpu")
    segmenter.set_image(random_image)
    for x in range(5, 85, 10):
        segmenter.predict(points=np.array([[x, 50]]), labels=np.array([1]))
    segmenter.set_image(random_image.copy())
    assert segmenter.engine.stats.encoder_passes == 1 and segmenter.engine.stats.decoder_calls == 8


def test_grayscale_and_rgba_are_converted(segmenter, random_image) -> None:
    gray = random_image[..., 0]
    segmenter.set_image(gray)
    from_gray = segmenter.predict(box=np.array([10, 10, 60, 90]))
    segmenter.set_image(np.repeat(gray[..., None], 3, axis=2))
    from_rgb = segmenter.predict(box=np.array([10, 10, 60, 90]))
    assert np.array_equal(from_gray.logits, from_rgb.logits)
    rgba = np.concatenate([random_image, np.full((*random_image.shape[:2], 1), 7, np.uint8)], axis=2)
    segmenter.set_image(rgba)
    assert segmenter.embedding.original_size == (120, 90)


@pytest.mark.parametrize(
    "image, error, match",
    [
        (np.zeros((10, 10, 3), np.float32), TypeError, "uint8"),
        (np.zeros((10, 10, 5), np.uint8), ValueError, "shape"),
        (np.zeros((0, 10, 3), np.uint8), ValueError, "empty"),
        ([[1, 2], [3, 4]], TypeError, "numpy array"),
    ],
)
def test_bad_images(segmenter, image, error, match) -> None:
    with pytest.raises(error, match=match):
        segmenter.set_image(image)


@pytest.mark.parametrize(
    "prompt, match",
    [
        (dict(points=np.array([[200.0, 10.0]]), labels=np.array([1])), "outside the image"),
        (dict(points=np.array([[-1.0, 10.0]]), labels=np.array([1])), "outside the image"),
        (dict(points=np.array([[10.0, 10.0]])), "together"),
        (dict(points=np.array([[10.0, 10.0]]), labels=np.array([1, 0])), r"labels must have shape \(1,\)"),
        (dict(points=np.array([[10.0, 10.0]]), labels=np.array([2])), "1 \\(foreground\\) or 0"),
        (dict(points=np.array([10.0, 10.0]), labels=np.array([1])), r"\(N, 2\)"),
        (dict(points=np.array([[np.nan, 10.0]]), labels=np.array([1])), "NaN"),
        (dict(box=np.array([50.0, 10.0, 20.0, 40.0])), "x0 <= x1"),
        (dict(box=np.array([1.0, 2.0, 3.0])), "4 numbers"),
        (dict(box=np.array([500.0, 500.0, 600.0, 600.0])), "outside"),
        (dict(mask_input=np.zeros((1, 256, 256))), r"\(1, 64, 64\)"),
        (dict(), "at least one prompt"),
    ],
)
def test_bad_prompts(segmenter, random_image, prompt, match) -> None:
    segmenter.set_image(random_image)
    with pytest.raises(ValueError, match=match):
        segmenter.predict(**prompt)


def test_predict_before_set_image() -> None:
    segmenter = sam_repro.load_segmenter("micro", random_init=True, device="cpu")
    with pytest.raises(RuntimeError, match="set_image"):
        segmenter.predict(box=np.array([0, 0, 5, 5]))
    segmenter.set_image(np.zeros((8, 8, 3), np.uint8))
    segmenter.reset_image()
    with pytest.raises(RuntimeError, match="set_image"):
        segmenter.predict(box=np.array([0, 0, 5, 5]))


def test_unknown_names() -> None:
    with pytest.raises(KeyError, match="known backbones: .*vit_b"):
        sam_repro.load_segmenter("vit_q")
    with pytest.raises(KeyError, match="known methods: .*sam"):
        sam_repro.load_segmenter("nosuch:tiny")
    assert "sam" in list_methods()


def test_info_has_provenance() -> None:
    info = sam_repro.load_segmenter("sam:micro", random_init=True, device="cpu").info()
    assert info["backbone"] == "micro" and info["method"] == "sam" and info["device"] == "cpu"
    assert info["weights"] == "random(seed=0)"


def test_device_resolution() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if expected == "cpu" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        expected = "mps"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device="):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
