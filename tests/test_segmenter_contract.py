"""Every registered method honours the Segmenter contract (not plain SAM alone): set an image once, predict
from points, boxes and previous logits, shapes and dtypes as documented, clear errors for bad prompts and
for predicting without an image. Each method is built on the micro backbone with random weights; a method
whose factory cannot do that fails here."""
from __future__ import annotations

import numpy as np
import pytest

import sam_repro
from sam_repro.methods import list_methods
from sam_repro.methods.base import Prediction, SamBacked, Segmenter

H, W = 96, 72  # non-square on purpose: x is the column, y the row


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)


@pytest.fixture(scope="module", params=list_methods())
def segmenter(request) -> Segmenter:
    return sam_repro.load_segmenter(f"{request.param}:micro", random_init=True, device="cpu")


def _check(prediction: Prediction, k: set[int], low_res: int) -> None:
    assert isinstance(prediction, Prediction)
    count = prediction.masks.shape[0]
    assert count in k
    assert prediction.masks.shape == (count, H, W) and prediction.masks.dtype == bool
    assert prediction.logits.shape == (count, H, W) and prediction.logits.dtype == np.float32
    assert prediction.low_res_logits.shape == (count, low_res, low_res)
    assert prediction.iou_predictions.shape == (count,)
    assert prediction.mask.shape == (H, W) and prediction.low_res.shape == (1, low_res, low_res)
    probability = prediction.probability
    assert probability.shape == (H, W) and 0 <= probability.min() and probability.max() <= 1
    np.testing.assert_array_equal(prediction.mask, prediction.logit > 0)


def test_the_list_covers_every_builtin_method() -> None:
    assert {"sam", "hqsam", "tta"} <= set(list_methods())


def test_predict_from_every_prompt_kind(segmenter: Segmenter, image: np.ndarray) -> None:
    """Every prompt kind the method declares works; every other one is refused with a ValueError."""
    assert isinstance(segmenter.name, str) and segmenter.name
    assert isinstance(segmenter.capabilities, frozenset)
    assert segmenter.prompt_kinds and segmenter.prompt_kinds <= {"points", "box", "mask_input"}
    info = segmenter.info()
    assert {"method", "name"} <= set(info)
    low_res = segmenter.low_res_size if isinstance(segmenter, SamBacked) else 32
    segmenter.set_image(image)
    points, labels = np.array([[10.0, 80.0], [60.0, 20.0]]), np.array([1, 0])
    box = np.array([5.0, 10.0, 50.0, 90.0])
    first = segmenter.predict(box=box) if "box" in segmenter.prompt_kinds else \
        segmenter.predict(points=points, labels=labels)
    _check(first, {1}, low_res)
    calls = [
        ({"points"}, dict(points=points, labels=labels), {1}),
        ({"points"}, dict(points=points[:1], labels=labels[:1], multimask=True), {1, 3}),
        ({"box"}, dict(box=box), {1}),
        ({"points", "box"}, dict(points=points, labels=labels, box=box), {1}),
        ({"points", "mask_input"}, dict(points=points, labels=labels, mask_input=first.low_res), {1}),
        ({"box", "mask_input"}, dict(box=box, mask_input=first.low_res), {1}),
    ]
    for kinds, prompt, counts in calls:
        if kinds <= segmenter.prompt_kinds:
            _check(segmenter.predict(**prompt), counts, low_res)
        else:
            with pytest.raises(ValueError):
                segmenter.predict(**prompt)
    again = segmenter.predict(box=box) if "box" in segmenter.prompt_kinds else \
        segmenter.predict(points=points, labels=labels)
    np.testing.assert_array_equal(again.logits, first.logits)  # deterministic, no state between predictions


@pytest.mark.parametrize("prompt, message", [
    ({}, "at least one prompt"),
    ({"points": np.array([[10.0, 10.0]])}, "together"),
    ({"points": np.array([[10.0, 10.0]]), "labels": np.array([2])}, "1 .foreground. or 0"),
    ({"points": np.array([[10.0, 10.0]]), "labels": np.array([1, 0])}, "labels must have shape"),
    ({"points": np.array([[np.nan, 10.0]]), "labels": np.array([1])}, "NaN"),
    ({"box": np.array([50.0, 10.0, 5.0, 90.0])}, "x0 <= x1"),
    ({"box": np.array([1.0, 2.0, 3.0])}, "4 numbers"),
    ({"box": np.array([500.0, 500.0, 600.0, 600.0])}, "outside"),
    ({"mask_input": np.zeros((1, 7, 7))}, "mask_input must be"),
])
def test_bad_prompts_raise_clear_errors(segmenter: Segmenter, image: np.ndarray, prompt, message: str) -> None:
    if not set(prompt) - {"labels"} <= segmenter.prompt_kinds:
        pytest.skip(f"{segmenter.name} does not take {sorted(set(prompt) - {'labels'})} (refused as such above)")
    segmenter.set_image(image)
    with pytest.raises(ValueError, match=message):
        segmenter.predict(**prompt)


def test_predict_needs_an_image(segmenter: Segmenter, image: np.ndarray) -> None:
    segmenter.set_image(image)
    segmenter.reset_image()
    with pytest.raises(RuntimeError, match="set_image"):
        segmenter.predict(box=np.array([5.0, 10.0, 50.0, 90.0]))


def test_bad_images_raise_clear_errors(segmenter: Segmenter) -> None:
    with pytest.raises((TypeError, ValueError), match="image"):
        segmenter.set_image(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises((TypeError, ValueError), match="image"):
        segmenter.set_image(np.zeros((10, 10, 5), np.uint8))


def test_sam_backed_methods_declare_their_members(segmenter: Segmenter, image: np.ndarray) -> None:
    """What a wrapping method may use, declared and working (TTA wraps through these only)."""
    if not isinstance(segmenter, SamBacked):
        pytest.skip(f"{segmenter.name} is not SAM-backed")
    segmenter.set_image(image)
    low_res, iou = segmenter.decode(boxes=np.array([[5.0, 10.0, 50.0, 90.0]]))
    assert low_res.shape[-2:] == (segmenter.low_res_size,) * 2 and iou.shape[0] == 1
    assert segmenter.upscale(low_res).shape[-2:] == (H, W)
    assert segmenter.embedding.original_size == (H, W)
    assert isinstance(segmenter.decoder_options, dict)
    assert segmenter.mask_decoder is segmenter.model.mask_decoder
    assert ("adapts" in segmenter.capabilities) == bool(segmenter.interactive_hooks)
