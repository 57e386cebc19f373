"""Pi-SAM's interaction evaluation (Tables 2 and 7) and a view of a segmenter's low-res output (Table 1's grid).

Pi-SAM Sec. 4.2.2: "we filter out images where SAM, HQ-SAM, and our Pi-SAM have overlapping wrongly-predicted areas
and then select 200 images with the poorest initial predictions", clicks are "sampled from the overlapping
wrongly-predicted areas in the same way as described in Sec. 3.3" (the supplement with the details is not
available), SAM and HQ-SAM take "the mask from the previous prediction along with new click points as the prompt",
Pi-SAM its Precise Interactor. Here:

* :func:`scan_common_errors`: each model's tight-box prediction of every object; the object's **common errors** on
  the models' low-res grid (:func:`~sam_repro.prompts.common_error_regions`, the official rule: boundary strip,
  8-connected components of area >= 2; ground truth put on the grid as Pi-SAM builds its labels,
  :func:`~sam_repro.prompts.mask_to_grid`, where only exact 1 / 0 count as sure foreground / background). **Our
  choice:** a model's prediction is its full-size binary mask (what is scored) put on the same grid, a cell counting
  as predicted when its value exceeds 0.5; the official click simulator compares the low-res logits, which for
  Pi-SAM are not what it outputs.
* Table 7 (Pi-SAM alone, All / FG-only / BG-only clicks): ``scan_common_errors(own="Pi-SAM")`` also finds Pi-SAM's
  own errors and draws its clicks from them (**our choice**, the notebook's ``type_errors = "own"``; the paper does
  not say which errors Table 7 clicks on; its Sec. 4.4 explains the preference by the clicks its training simulates
  from the model's own errors). ``"common"`` keeps Table 2's common errors.
* :func:`hardest`: among the objects with at least one common error region, those with the lowest mean IoU of the
  models' tight-box predictions (**our reading** of "the poorest initial predictions"; ties by sample index).
* The clicks: ``n`` at once (1, 2 or 5, the same for every model), drawn by
  :func:`~sam_repro.prompts.error_region_clicks` (``n``: one random pixel in each of the n largest common regions,
  round robin when fewer) from a generator seeded by (seed, sample index, object), fresh for every ``n``, so the
  2-click set extends the 1-click one; mapped to image pixels at the grid cells' centres
  (:func:`~sam_repro.prompts.grid_to_image`). ``polarity`` restricts them to FG (missed foreground) or BG (false
  foreground) regions (Table 7).
* :class:`CorrectionProtocol`: per object, the tight-box prediction, then the clicks: to a segmenter with the
  ``corrects`` capability (Pi-SAM) as ``corrections`` with the same box; to any other as SAM's point prompts with the
  box and the previous low-res logits as ``mask_input``. An object without clicks keeps its box prediction.

:class:`LowResProtocol` scores a segmenter's low-res logits upscaled as SAM upscales them (for Pi-SAM: the HQ token's
low-res mask, beside its HR output).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sam_repro.eval.protocols import ObjectOutput, PromptProtocol, Protocol, SampleOutput, diagnostics_of
from sam_repro.prompts import common_error_regions, error_region_clicks, grid_to_image, mask_to_box, mask_to_grid, \
    valid_grid

if TYPE_CHECKING:
    from sam_repro.data.catalog import SampleSet
    from sam_repro.data.sample import Sample
    from sam_repro.methods.base import Prediction, Segmenter

POLARITIES = {"all": "all", "FG": "positive", "BG": "negative"}
"""Click types of Pi-SAM's Table 7 -> :func:`~sam_repro.prompts.error_region_clicks`'s ``polarity``."""


@dataclass(frozen=True)
class ObjectClicks:
    """Corrective clicks for one object: ``points`` ((x, y) image pixel indices) and ``labels`` (1 = missed
    foreground, 0 = false foreground), as SAM's point prompts and Pi-SAM's ``corrections`` take them."""

    sample_id: str
    object: int
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.points) != len(self.labels):
            raise ValueError(f"{self.sample_id}#{self.object}: {len(self.points)} points for {len(self.labels)} labels")

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(K, 2) float64 xy and (K,) int64 labels."""
        return np.asarray(self.points, dtype=np.float64).reshape(-1, 2), np.asarray(self.labels, dtype=np.int64)


def grid_geometry(segmenters: Mapping[str, "Segmenter"]) -> tuple[int, int]:
    """(G, S): the low-res grid side and the input side all ``segmenters`` share (they must: the same SAM)."""
    geometry = {name: (int(s.low_res_size), int(s.model.image_encoder.img_size)) for name, s in segmenters.items()}
    if len(set(geometry.values())) != 1:
        raise ValueError(f"the segmenters must share one low-res grid and input size, got {geometry}")
    return next(iter(geometry.values()))


def to_grid(mask: np.ndarray, grid: int, img_size: int) -> np.ndarray:
    """(H, W) bool prediction -> (G, G) bool on the model's grid: :func:`mask_to_grid` > 0.5 inside the image."""
    height, width = mask.shape
    return (mask_to_grid(mask, grid, img_size) > 0.5) & valid_grid((height, width), grid, img_size)


@dataclass(frozen=True)
class CommonErrors:
    """One object's tight-box predictions and the errors they share.

    Attributes:
        index / sample_id / object: where the object is.
        ious: model -> IoU of its tight-box prediction.
        regions: polarity (``all``, ``FG``, ``BG``) -> number of common error regions of that kind.
        clicks: (n, polarity) -> the object's :class:`ObjectClicks` (fewer than n only when the regions hold
            fewer cells).
        own_regions / own_clicks: the same for the errors of one model alone (``scan_common_errors(own=...)``;
            empty otherwise).
    """

    index: int
    sample_id: str
    object: int
    ious: dict[str, float]
    regions: dict[str, int]
    clicks: dict[tuple[int, str], ObjectClicks] = field(default_factory=dict)
    own_regions: dict[str, int] = field(default_factory=dict)
    own_clicks: dict[tuple[int, str], ObjectClicks] = field(default_factory=dict)

    @property
    def mean_iou(self) -> float:
        return float(np.mean(list(self.ious.values())))


def object_clicks(gt: np.ndarray, masks: Sequence[np.ndarray], n: int, polarity: str, seed: Sequence[int],
                  sample_id: str, obj: int, grid: int, img_size: int) -> ObjectClicks:
    """``n`` clicks on the errors common to ``masks`` ((H, W) bool predictions of the object ``gt``), in image pixels.

    Args:
        polarity: a key of :data:`POLARITIES`; seed: the generator's seed sequence (fresh for each call).
    """
    gt_grid = mask_to_grid(gt, grid, img_size)
    preds = [to_grid(m, grid, img_size) for m in masks]
    clicks = error_region_clicks(gt_grid, preds, np.random.default_rng(list(seed)), n=n,
                                 polarity=POLARITIES[polarity])
    if not clicks:
        return ObjectClicks(sample_id, obj)
    points, labels = grid_to_image(clicks, grid, gt.shape, img_size)
    return ObjectClicks(sample_id, obj, tuple((float(x), float(y)) for x, y in points), tuple(int(l) for l in labels))


def scan_common_errors(segmenters: Mapping[str, "Segmenter"], dataset: "SampleSet", indices: Sequence[int], *,
                       clicks: Sequence[int] = (1, 2, 5), type_clicks: int | None = 5, seed: int = 0,
                       min_object_area: int = 0, own: str | None = None) -> list[CommonErrors]:
    """Predict every object (at least ``min_object_area`` pixels) of the samples ``indices`` with a tight box by every
    segmenter, and find the errors all of them share (see the module docstring).

    Args:
        clicks: the click counts of Table 2 (polarity ``all``); type_clicks: the count for Table 7's FG / BG clicks
            (None: none).
        own: a key of ``segmenters`` whose errors alone are also found, with ``type_clicks`` clicks of each polarity
            drawn from them (``own_regions`` / ``own_clicks``; the same seeds as the common ones).

    Raises:
        KeyError: ``own`` is not one of ``segmenters``.

    Returns:
        one :class:`CommonErrors` per object, in (index, object) order.
    """
    from sam_repro.eval.harness import select_objects
    from sam_repro.metrics import iou

    grid, img_size = grid_geometry(segmenters)
    if own is not None and own not in segmenters:
        raise KeyError(f"own={own!r} is not one of the segmenters ({', '.join(segmenters)})")
    out = []

    def region_counts(gt: np.ndarray, preds: list[np.ndarray]) -> dict[str, int]:
        regions = common_error_regions(mask_to_grid(gt, grid, img_size), [to_grid(p, grid, img_size) for p in preds])
        return {"all": len(regions), "FG": sum(r.positive for r in regions), "BG": sum(not r.positive for r in regions)}

    for index in indices:
        sample = dataset[int(index)]
        chosen = select_objects(sample, min_object_area)
        masks: dict[str, dict[int, np.ndarray]] = {}
        for name, segmenter in segmenters.items():
            segmenter.set_image(sample.image)
            masks[name] = {k: segmenter.predict(box=mask_to_box(sample.masks[k]), multimask=False).mask for k in chosen}
        for k in chosen:
            gt = sample.masks[k]
            preds = [masks[name][k] for name in segmenters]
            counts = region_counts(gt, preds)
            wanted = [(n, "all") for n in clicks]
            wanted += [(type_clicks, p) for p in ("all", "FG", "BG")] if type_clicks else []
            table = {(n, p): object_clicks(gt, preds, n, p, (seed, int(index), k), sample.id, k, grid, img_size)
                     for n, p in dict.fromkeys(wanted)}
            ious = {name: float(iou(masks[name][k], gt)) for name in segmenters}
            own_counts, own_table = {}, {}
            if own is not None:
                own_counts = region_counts(gt, [masks[own][k]])
                own_table = {(type_clicks, p): object_clicks(gt, [masks[own][k]], type_clicks, p,
                                                            (seed, int(index), k), sample.id, k, grid, img_size)
                             for p in ("all", "FG", "BG")} if type_clicks else {}
            out.append(CommonErrors(int(index), sample.id, k, ious, counts, table, own_counts, own_table))
    return out


def hardest(scans: Sequence[CommonErrors], count: int | None, own: bool = False) -> list[CommonErrors]:
    """The ``count`` objects with common errors (``own``: errors of the ``own`` model) whose models' mean tight-box IoU
    is lowest (None: all of them), in that order (ties by sample index and object)."""
    candidates = sorted((s for s in scans if (s.own_regions if own else s.regions).get("all", 0) > 0),
                        key=lambda s: (s.mean_iou, s.index, s.object))
    return candidates if count is None else candidates[:count]


@dataclass(frozen=True)
class CorrectionProtocol(Protocol):
    """Tight box, then corrective clicks given at once (see the module docstring). Records per object: ``clicks``
    (how many were given), ``positive_clicks`` and the predicted IoU.

    Attributes:
        name: recorded with results (``clicks_5``, ``clicks_5_BG``).
        clicks: the clicks of each object; objects not listed (or with none) keep their box prediction.
    """

    name: str
    clicks: tuple[ObjectClicks, ...] = ()

    def run(self, segmenter: "Segmenter", sample: "Sample", objects: Sequence[int], rng: np.random.Generator,
            hooks: Sequence[Any] = ()) -> SampleOutput:
        table = {(c.sample_id, c.object): c for c in self.clicks}
        segmenter.set_image(sample.image)
        outputs = []
        for k in objects:
            prediction, given = correct(segmenter, sample.masks[k], table.get((sample.id, k)))
            outputs.append(ObjectOutput(k, prediction, prediction.mask, record={
                "clicks": given, "positive_clicks": int(sum(table[sample.id, k].labels)) if given else 0,
                "predicted_iou": prediction.iou, **diagnostics_of(segmenter)}))
        return SampleOutput(outputs)


def correct(segmenter: "Segmenter", gt: np.ndarray, clicks: ObjectClicks | None) -> tuple["Prediction", int]:
    """The prediction of one object of the current image after its clicks (the box prediction without any), and how
    many clicks were given."""
    box = mask_to_box(gt)
    first = segmenter.predict(box=box, multimask=False)
    if clicks is None or not clicks.labels:
        return first, 0
    points, labels = clicks.arrays()
    if "corrects" in segmenter.capabilities:
        return segmenter.predict(box=box, corrections=points, correction_labels=labels), len(labels)
    return segmenter.predict(points=points, labels=labels, box=box, mask_input=first.low_res, multimask=False), \
        len(labels)


@dataclass(frozen=True)
class LowResProtocol(Protocol):
    """``base``'s prompts, scored on the segmenter's low-res logits upscaled to the image as SAM does (bilinear to
    the padded input, crop, bilinear to the image, threshold at the model's mask threshold). For SAM and HQ-SAM
    this is their own output; for Pi-SAM it is the HQ token's low-res mask instead of the HR head's."""

    name: str
    base: PromptProtocol

    def run(self, segmenter: "Segmenter", sample: "Sample", objects: Sequence[int], rng: np.random.Generator,
            hooks: Sequence[Any] = ()) -> SampleOutput:
        import torch

        from sam_repro.methods.base import Prediction, SamBacked

        if not isinstance(segmenter, SamBacked):
            raise TypeError(f"LowResProtocol needs a SAM-backed segmenter (its upscale()), got "
                            f"{type(segmenter).__name__}")
        segmenter.set_image(sample.image)
        outputs = []
        for k in objects:
            full = segmenter.predict(**self.base.prompts_for(sample.masks[k], rng))
            best = full.best
            low = full.low_res_logits[best:best + 1]
            with torch.no_grad():
                logits = segmenter.upscale(torch.as_tensor(low[None], device=segmenter.engine.device))
            logits_np = logits[0].float().cpu().numpy()
            view = Prediction(masks=logits_np > float(segmenter.model.mask_threshold), logits=logits_np,
                              low_res_logits=low, iou_predictions=full.iou_predictions[best:best + 1])
            outputs.append(ObjectOutput(k, view, view.mask, record={"predicted_iou": view.iou}))
        return SampleOutput(outputs)


def correction_panels(segmenters: Mapping[str, "Segmenter"], sample: "Sample", obj: int, clicks: ObjectClicks,
                      crop_margin: int | None = 16) -> list[dict[str, Any]]:
    """Panels for :func:`~sam_repro.eval.figures.plot_panels` (Pi-SAM Fig. 2): per segmenter its box prediction and
    its prediction after ``clicks`` (drawn as stars), overlaid on the image (green true positive, blue missed, red
    false positive), cropped to the object's box grown by ``crop_margin`` pixels (None: the whole image)."""
    from sam_repro.eval.figures import overlay
    from sam_repro.metrics import iou

    gt = sample.masks[obj]
    y0, x0, y1, x1 = 0, 0, gt.shape[0], gt.shape[1]
    if crop_margin is not None:
        bx0, by0, bx1, by1 = mask_to_box(gt).astype(int)
        y0, y1 = max(0, by0 - crop_margin), min(gt.shape[0], by1 + 1 + crop_margin)
        x0, x1 = max(0, bx0 - crop_margin), min(gt.shape[1], bx1 + 1 + crop_margin)
    points, _ = clicks.arrays()
    panels = []
    for name, segmenter in segmenters.items():
        segmenter.set_image(sample.image)
        for given in (None, clicks):
            prediction, n = correct(segmenter, gt, given)
            panels.append({"title": f"{name}, {n} click{'s' if n != 1 else ''}: IoU {iou(prediction.mask, gt):.2f}",
                           "image": overlay(sample.image, gt, prediction.mask)[y0:y1, x0:x1],
                           "box": mask_to_box(gt) - [x0, y0, x0, y0],
                           "points": points - [x0, y0] if n else None})
    return panels
