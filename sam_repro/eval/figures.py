"""Figures shared by the notebooks: predictions against ground truth."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sam_repro.eval.protocols import PromptProtocol
from sam_repro.methods.base import Segmenter
from sam_repro.prompts import mask_to_box


def _ok_objects(records_path: str | Path, metric: str) -> dict[tuple[int, int], float]:
    """{(sample index, object): value} of a harness run's evaluated objects (NaN values left out)."""
    values = {}
    for line in Path(records_path).read_text().splitlines():
        record = json.loads(line)
        if record.get("status") == "ok":
            for o in record["objects"]:
                if not np.isnan(o[metric]):
                    values[(record["index"], o["object"])] = float(o[metric])
    return values


def pick_objects(records_path: str | Path, metric: str = "iou", count: int = 2) -> dict[str, list[tuple[int, int, float]]]:
    """The ``count`` best and worst objects of a harness run: {"best": [(index, object, value)], "worst": [...]}."""
    objects = sorted(((index, obj, value) for (index, obj), value in _ok_objects(records_path, metric).items()),
                     key=lambda item: item[2])
    return {"worst": objects[:count], "best": objects[::-1][:count]}


def paired_objects(records_a: str | Path, records_b: str | Path, metric: str = "iou") -> list[tuple[int, int, float, float]]:
    """Objects evaluated in both of two harness runs (same data, e.g. SAM vs a method):
    [(index, object, value in a, value in b)] in (index, object) order."""
    a, b = _ok_objects(records_a, metric), _ok_objects(records_b, metric)
    return [(index, obj, a[index, obj], b[index, obj]) for index, obj in sorted(a.keys() & b.keys())]


def overlay(image: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """RGB image with true positives green, false negatives blue, false positives red (50% blend)."""
    out = image.astype(np.float32).copy()
    colours = {(True, True): (40, 220, 40), (True, False): (40, 80, 255), (False, True): (255, 40, 40)}
    for (in_gt, in_pred), colour in colours.items():
        region = (gt == in_gt) & (pred == in_pred)
        out[region] = 0.5 * out[region] + 0.5 * np.array(colour, np.float32)
    return out.clip(0, 255).astype(np.uint8)


def _crop_window(mask: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the mask's tight box grown by ``margin`` px, clipped to the image."""
    x0, y0, x1, y1 = mask_to_box(mask).astype(int)  # inclusive corners
    return (max(0, y0 - margin), min(mask.shape[0], y1 + 1 + margin),
            max(0, x0 - margin), min(mask.shape[1], x1 + 1 + margin))


def prediction_panels(segmenter: Segmenter, dataset, picks: list[tuple], protocol: PromptProtocol,
                      seed: int = 0, crop_margin: int | None = None, label: str | None = None) -> list[dict[str, Any]]:
    """Re-run the harness's prompt for each picked (index, object, ...) and return panels for plotting:
    {"title", "image" (overlay), "box" or "points"}. Prompts are redrawn with the harness's per-sample
    generator, so they are the ones the records were computed with.

    Args:
        picks: (sample index, object, value, ...) tuples; the title shows the first value as IoU
            unless ``label`` is given (then ``label`` is the title's prefix and no value is shown).
        crop_margin: None for the whole image; else crop each panel to the object's ground-truth box
            grown by this many pixels (boundary detail), prompts shifted to the crop.
    """
    panels = []
    for index, obj, value, *_ in picks:
        sample = dataset[index]
        rng = np.random.default_rng([seed, index])
        prompts = None
        for k, gt in enumerate(sample.masks):  # draw in the same order as the harness
            drawn = protocol.prompts_for(gt, rng)
            if k == obj:
                prompts = drawn
                break
        if prompts is None:
            raise IndexError(f"sample {index} ({sample.id}) has no object {obj}: it has {len(sample.masks)} masks")
        segmenter.set_image(sample.image)
        prediction = segmenter.predict(**prompts)
        image = overlay(sample.image, sample.masks[obj], prediction.mask)
        box, points = prompts.get("box"), prompts.get("points")
        if crop_margin is not None:
            y0, y1, x0, x1 = _crop_window(sample.masks[obj], crop_margin)
            image = image[y0:y1, x0:x1]
            box = None if box is None else np.asarray(box, dtype=float) - [x0, y0, x0, y0]
            points = None if points is None else np.asarray(points, dtype=float) - [x0, y0]
        title = f"{label}: {sample.id} #{obj}" if label else f"{sample.id} #{obj}: IoU {value:.2f}"
        panels.append({"title": title, "image": image, "box": box, "points": points})
    return panels


def plot_panels(panels: list[dict[str, Any]], columns: int = 4, size: float = 3.0):
    """A matplotlib figure of :func:`prediction_panels` (prompt box drawn in yellow)."""
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(panels) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, panel in zip(axes.flat, panels):
        axis.imshow(panel["image"])
        if panel.get("box") is not None:
            x0, y0, x1, y1 = panel["box"]
            axis.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="yellow", lw=1.2))
        if panel.get("points") is not None:
            axis.scatter(panel["points"][:, 0], panel["points"][:, 1], c="yellow", s=18, marker="*")
        axis.set_title(panel["title"], fontsize=8)
    figure.tight_layout()
    return figure


def mean_iou_curve(records_path: str | Path, max_clicks: int) -> np.ndarray:
    """(max_clicks,) mean IoU after each click over the objects of an interactive harness run; an
    object whose loop stopped early keeps its last IoU for the remaining clicks (it was done)."""
    curves = []
    for line in Path(records_path).read_text().splitlines():
        record = json.loads(line)
        if record.get("status") != "ok":
            continue
        for obj in record["objects"]:
            ious = list(obj["ious"][:max_clicks])
            curves.append(ious + [ious[-1]] * (max_clicks - len(ious)))
    return np.mean(np.array(curves, dtype=float), axis=0) if curves else np.full(max_clicks, np.nan)
