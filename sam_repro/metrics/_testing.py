"""Synthetic (prediction, ground truth) pairs for the metric tests and the benchmark.

Not part of the public API. Every generator is deterministic given its ``numpy.random.Generator``.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def structured_gt(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(H, W) bool: discs, thick/thin lines, rectangles and holes, some touching the border."""
    import cv2

    gt = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(gt, center, int(rng.integers(2, max(3, min(h, w) // 3))), 255, -1)
    for _ in range(int(rng.integers(0, 4))):
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.line(gt, p0, p1, 255, int(rng.integers(1, 4)))
    if rng.random() < 0.5:
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.rectangle(gt, (x0, y0), (x0 + int(rng.integers(1, w)), y0 + int(rng.integers(1, h))), 255, -1)
    for _ in range(int(rng.integers(0, 3))):  # holes
        cv2.circle(gt, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 6)), 0, -1)
    return gt > 0


def prob_from_gt(rng: np.random.Generator, gt: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """A probability map near ``gt``: blurred, shifted, noisy, clipped to [0, 1]."""
    import cv2

    p = cv2.GaussianBlur(gt.astype(np.float32), (0, 0), float(rng.uniform(0.5, 4.0)))
    p = np.roll(p, tuple(int(v) for v in rng.integers(-4, 5, 2)), axis=(0, 1))
    p = p + rng.normal(0, rng.uniform(0.0, 0.25), p.shape)
    return np.clip(p, 0, 1).astype(dtype)


def uint8_pair(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A (pred_u8, gt_u8) pair as saved PNGs would hold them (gt is 0/255)."""
    gt = structured_gt(rng, h, w)
    pred = np.round(prob_from_gt(rng, gt) * 255).astype(np.uint8)
    return pred, gt.astype(np.uint8) * 255


def varied_pairs(seed: int, n: int = 40, min_size: int = 8, max_size: int = 96) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``n`` varied (name, pred, gt) pairs: structured and random masks, float64/float32/bool preds,
    plus the degenerate cases (empty/full GT, empty/full/perfect/constant predictions)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = (int(v) for v in rng.integers(min_size, max_size, 2))
        kind = i % 5
        if kind == 0:
            gt = structured_gt(rng, h, w)
            yield f"struct{i}", prob_from_gt(rng, gt), gt
        elif kind == 1:
            gt = rng.random((h, w)) < rng.uniform(0.05, 0.95)
            yield f"random{i}", rng.random((h, w)), gt
        elif kind == 2:
            gt = structured_gt(rng, h, w)
            yield f"bool{i}", prob_from_gt(rng, gt) > 0.5, gt
        elif kind == 3:
            gt = structured_gt(rng, h, w)
            yield f"f32_{i}", prob_from_gt(rng, gt, np.float32), gt
        else:
            gt = structured_gt(rng, h, w)
            u8 = np.round(prob_from_gt(rng, gt) * 255).astype(np.uint8)
            yield f"u8grid{i}", u8 / 255, gt
    h, w = 33, 47
    empty, full = np.zeros((h, w), bool), np.ones((h, w), bool)
    gt = structured_gt(rng, h, w)
    yield "emptygt_emptypred", np.zeros((h, w)), empty
    yield "emptygt_fullpred", np.ones((h, w)), empty
    yield "emptygt_prob", prob_from_gt(rng, gt), empty
    yield "fullgt_emptypred", np.zeros((h, w)), full
    yield "fullgt_prob", prob_from_gt(rng, gt), full
    yield "perfect", gt.astype(np.float64), gt
    yield "constant03", np.full((h, w), 0.3), gt
    yield "two_levels", np.where(gt, 127 / 255, 0.0), gt
    yield "single_pixel_gt", np.zeros((h, w)), np.pad(np.ones((1, 1), bool), ((5, h - 6), (7, w - 8)))
