"""Pictures of samples: mask / class-map overlays and a grid of every family (for the data notebook).

Works for any :class:`~sam_repro.data.sample.Sample`, real or synthetic.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from sam_repro.data.sample import IGNORE_INDEX, Sample

if TYPE_CHECKING:  # matplotlib is imported lazily
    from matplotlib.figure import Figure


def _palette(n: int) -> np.ndarray:
    """``n`` well-separated RGB uint8 colours (golden-ratio hues)."""
    hues = (np.arange(n) * 0.618033988749895) % 1.0
    hsv = np.stack([hues * 179, np.full(n, 220), np.full(n, 255)], axis=1).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]


def overlay(sample: Sample, max_side: int | None = 512, alpha: float = 0.45, max_masks: int = 12) -> np.ndarray:
    """The image with its ground truth drawn on it; (h, w, 3) uint8 RGB, downscaled to ``max_side``.

    Masks get a colour tint and a contour each (largest first, so parts stay visible on wholes); a
    class map is tinted per class id with ignore (255) pixels drawn white.
    """
    image = sample.image
    height, width = image.shape[:2]
    factor = 1.0 if max_side is None else min(1.0, max_side / max(height, width))
    size = (max(1, int(round(width * factor))), max(1, int(round(height * factor))))
    shown = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if factor < 1 else image.copy()
    if sample.class_map is not None:
        cmap = sample.class_map.astype(np.int64)
        colors = np.vstack([[0, 0, 0], _palette(max(1, len(sample.class_names)))]).astype(np.uint8)
        rgb = colors[np.clip(cmap, 0, len(colors) - 1)]
        rgb[cmap == IGNORE_INDEX] = 255
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_NEAREST)
        keep = cv2.resize((cmap != 0).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        tinted = cv2.addWeighted(shown, 1 - alpha, rgb, alpha, 0)
        shown[keep] = tinted[keep]
        return shown
    masks = sample.masks if sample.masks is not None else np.zeros((0, height, width), bool)
    order = np.argsort([-int(m.sum()) for m in masks])[:max_masks]
    colors = _palette(len(masks))
    for k in order:
        m = masks[k].astype(np.uint8)
        if factor < 1:  # a low threshold keeps thin structures visible after downscaling
            m = (cv2.resize(m * 255, size, interpolation=cv2.INTER_AREA) > 40).astype(np.uint8)
        color = np.full_like(shown, colors[k])
        tinted = cv2.addWeighted(shown, 1 - alpha, color, alpha, 0)
        cv2.copyTo(tinted, m, shown)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(shown, contours, -1, tuple(int(c) for c in colors[k]), 1)
    return shown


def family_grid(
    names: Sequence[str] | None = None,
    n_per_family: int = 4,
    seed: int = 0,
    split: str = "test",
    cell_inches: float = 1.6,
    sizes: dict[str, int] | None = None,
) -> Figure:
    """A figure with one row per family: ``n_per_family`` pairs of (image, image + ground truth).

    Args:
        names: catalog names (default: every ``synthetic/...`` family).
        sizes: optional per-family ``size`` overrides (e.g. ``{"synthetic/thin": 512}`` for a fast preview).
    """
    import matplotlib.pyplot as plt

    from sam_repro.data.catalog import entries, open_dataset

    if names is None:
        names = [e.name for e in entries() if e.kind == "synthetic"]
    sizes = sizes or {}
    cols = 2 * n_per_family
    fig, axes = plt.subplots(len(names), cols, figsize=(cols * cell_inches, len(names) * cell_inches), squeeze=False)
    for row, name in enumerate(names):
        params = {"seed": seed}
        if name in sizes:
            params["size"] = sizes[name]
        dataset = open_dataset(name, split, **params)
        for i in range(n_per_family):
            sample = dataset[i % len(dataset)]
            h, w = sample.size
            axes[row, 2 * i].imshow(cv2.resize(sample.image, (min(w, 512), min(h, 512)), interpolation=cv2.INTER_AREA))
            axes[row, 2 * i + 1].imshow(overlay(sample))
            k = 0 if sample.masks is None else len(sample.masks)
            axes[row, 2 * i + 1].set_title(f"{h}x{w} K={k}", fontsize=6)
        axes[row, 0].set_ylabel(name.split("/", 1)[-1], fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
