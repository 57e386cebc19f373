"""The HQSeg-44K stand-in as a training stream: what HQ-SAM, Stable-SAM and Pi-SAM train their parts on.

HQSeg-44K (DIS5K-TR, ThinObject5K-TR, FSS, DUTS-TR/TE, ECSSD, MSRA10K) is stood in for by the *train* splits of
``synthetic/thin`` and ``synthetic/salient``. Every sample is resized to the model's input size on the long side
exactly as the segmenters resize images at evaluation time, and its masks are *area*-averaged to that size, so a
1-2 px stroke at 1024 px stays as partial coverage (a soft target) instead of vanishing or being redrawn thicker.

Augmentation (:func:`large_scale_jitter`): random horizontal flip and large-scale jitter (Ghiasi et al. 2021),
as HQ-SAM's and Stable-SAM's training use. Stable-SAM's occlusion synthesis is :mod:`sam_repro.train.occlusion`.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class HqPool:
    """The training samples of several datasets, resized to the input size, in a seeded order.

    Item ``p`` of the stream (p = step * images_per_step + j) is item ``p mod N`` of epoch ``p // N``'s
    permutation (``default_rng([seed, epoch])``), so the order depends on the step alone (exact resume).

    Args:
        datasets: comma-separated catalog names (or a sequence of names).
        split: the split of every dataset.
        size: the model's input size (long side of the resized images).
        samples_per_dataset: samples drawn from each dataset's split (0: its nominal length).
        cache: hold the resized samples in memory (about 0.26 MB each at 256 px).
    """

    def __init__(self, datasets: str | Any, split: str, size: int, *, seed: int = 0, samples_per_dataset: int = 0,
                 cache: bool = True):
        from segment_anything.utils.transforms import ResizeLongestSide

        from sam_repro.data import open_dataset

        names = [n.strip() for n in (datasets.split(",") if isinstance(datasets, str) else datasets) if n.strip()]
        if not names:
            raise ValueError("datasets must name at least one dataset")
        params: dict[str, Any] = {"seed": seed}
        if samples_per_dataset:
            params["length"] = samples_per_dataset
        self.sets = [open_dataset(name, split, **params) for name in names]
        self.index = [(d, i) for d, dataset in enumerate(self.sets) for i in range(len(dataset))]
        self.seed, self.size = seed, size
        self.transform = ResizeLongestSide(size)
        self.cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = {} if cache else None
        self._orders: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.index)

    def item(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """Stream item ``position``: (h, w, 3) uint8 image with long side ``size`` and (K, h, w) uint8 coverage."""
        epoch, offset = divmod(position, len(self.index))
        if epoch not in self._orders:
            self._orders = {epoch: np.random.default_rng([self.seed, epoch]).permutation(len(self.index))}
        return self.resized(*self.index[int(self._orders[epoch][offset])])

    def resized(self, dataset: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(h, w, 3) uint8 image with long side ``size`` and (K, h, w) uint8 mask coverage (0..255)."""
        key = (dataset, index)
        if self.cache is not None and key in self.cache:
            return self.cache[key]
        sample = self.sets[dataset][index]
        if sample.masks is None:
            raise ValueError(f"{self.sets[dataset].name}: sample {index} has no object masks (a class map only); "
                             "the HQ training pool needs object masks")
        image = self.transform.apply_image(sample.image)
        coverage = np.stack([area_resize(mask, image.shape[:2]) for mask in sample.masks])
        coverage = np.round(coverage * 255).astype(np.uint8)
        if self.cache is not None:
            self.cache[key] = (image, coverage)
        return image, coverage


def area_resize(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Share of each output pixel covered by ``mask`` (area interpolation), float32 in [0, 1]."""
    import cv2

    src = mask.astype(np.float32)
    if src.shape == tuple(shape):
        return src
    interpolation = cv2.INTER_AREA if shape[0] <= src.shape[0] else cv2.INTER_LINEAR
    return np.clip(cv2.resize(src, (shape[1], shape[0]), interpolation=interpolation), 0.0, 1.0)


def large_scale_jitter(image: np.ndarray, soft: np.ndarray, size: int, rng: np.random.Generator, *,
                       flip_probability: float = 0.5, jitter_min: float = 0.5, jitter_max: float = 2.0,
                       min_mask_area: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Random horizontal flip, then large-scale jitter: resize by U(jitter_min, jitter_max), random crop to
    ``size`` where larger (the caller pads the rest); a crop that keeps fewer than ``min_mask_area`` object pixels
    is redrawn (up to 10 times, then no jitter).

    Args:
        image: (h, w, 3) uint8; soft: (h, w) float32 coverage in [0, 1], or (K, h, w) for several objects (the
            area test then counts pixels of any object).

    Returns:
        the augmented image and coverage, contiguous, of at most ``size`` x ``size``.
    """
    import cv2

    stacked = soft.ndim == 3
    if rng.random() < flip_probability:
        image, soft = image[:, ::-1], soft[..., ::-1]
    image, soft = np.ascontiguousarray(image), np.ascontiguousarray(soft)
    if jitter_min == jitter_max == 1.0:
        return image, soft
    height, width = soft.shape[-2:]
    for _ in range(10):
        scale = rng.uniform(jitter_min, jitter_max)
        h, w = max(1, round(height * scale)), max(1, round(width * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        jittered = cv2.resize(image, (w, h), interpolation=interpolation)
        if stacked:
            mask = np.stack([np.clip(cv2.resize(m, (w, h), interpolation=interpolation), 0.0, 1.0) for m in soft])
        else:
            mask = np.clip(cv2.resize(soft, (w, h), interpolation=interpolation), 0.0, 1.0)
        y0 = int(rng.integers(0, max(0, h - size) + 1))
        x0 = int(rng.integers(0, max(0, w - size) + 1))
        jittered, mask = jittered[y0 : y0 + size, x0 : x0 + size], mask[..., y0 : y0 + size, x0 : x0 + size]
        kept = (mask >= 0.5).any(axis=0) if stacked else mask >= 0.5
        if np.count_nonzero(kept) >= min_mask_area:
            return np.ascontiguousarray(jittered), np.ascontiguousarray(mask)
    return image, soft


def prompt_binary(soft: np.ndarray) -> np.ndarray:
    """The object for prompting: coverage >= 0.5, or any coverage where that leaves nothing (hairline objects)."""
    binary = soft >= 0.5
    return binary if binary.any() else soft > 0
