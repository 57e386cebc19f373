"""Every accumulator's record/replay path: ``add(measure(x))`` gives exactly what ``update(x)`` gives, and
the statistics survive a JSON round trip (the harness stores them in its records)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sam_repro import metrics as M


def _pairs(count: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        gt = np.zeros((40, 48), bool)
        gt[5 + i : 25 + i, 8:30] = True
        pred = np.clip(gt * 0.8 + rng.random(gt.shape) * 0.4, 0, 1).astype(np.float32)
        pairs.append((pred, gt))
    pairs.append((np.zeros((40, 48), np.float32), np.zeros((40, 48), bool)))  # an empty case (NaN for some)
    return pairs


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


ACCUMULATORS = {
    "IoU per image": (lambda: M.IoU(nan_policy="omit"), "pair"),
    "IoU dataset": (lambda: M.IoU("dataset"), "pair"),
    "BoundaryIoU": (lambda: M.BoundaryIoU(nan_policy="omit"), "binary"),
    "MBA": (lambda: M.MBA(nan_policy="omit"), "binary"),
    "BER dataset": (lambda: M.BER("dataset"), "pair"),
    "BER per image": (lambda: M.BER("per_image", nan_policy="omit"), "pair"),
    "SODMetrics": (lambda: M.SODMetrics(("sm", "em", "fm", "wfm", "mae", "hce")), "pair"),
    "FMeasure": (M.FMeasure, "pair"),
    "EMeasure": (M.EMeasure, "pair"),
    "VOCMeanIoU": (lambda: M.VOCMeanIoU(3), "classes"),
    "NoCFR": (lambda: M.NoCFR((0.85, 0.9), max_clicks=5), "ious"),
}


@pytest.mark.parametrize("name", sorted(ACCUMULATORS))
def test_replaying_recorded_statistics_equals_updating(name: str) -> None:
    factory, kind = ACCUMULATORS[name]
    direct, replayed = factory(), factory()
    if kind in ("pair", "binary"):
        inputs = [((p > 0.5) if kind == "binary" else p, g) for p, g in _pairs()]
    elif kind == "classes":
        rng = np.random.default_rng(1)
        inputs = [(rng.integers(0, 3, (20, 24)), np.where(rng.random((20, 24)) < 0.1, 255, rng.integers(0, 3, (20, 24))))
                  for _ in range(3)]
    else:
        inputs = [([0.5, 0.86, 0.95],), ([0.2, 0.3, 0.4, 0.5, 0.6],), ([0.91],)]
    for args in inputs:
        direct.update(*args)
        stats = json.loads(json.dumps(replayed.measure(*args)))  # what a record holds
        replayed.add(stats)
    assert _same(direct.compute(), replayed.compute())


def test_measure_leaves_the_state_alone() -> None:
    metric = M.IoU()
    pred, gt = _pairs()[0]
    metric.measure(pred, gt)
    assert metric.compute()["n"] == 0
