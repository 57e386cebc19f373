"""Per-sample time of every metric in :mod:`sam_repro.metrics` on this CPU.

Usage::

    .venv/bin/python benchmarks/bench_metrics.py                 # 1024^2 and 2048^2, 3 repeats
    .venv/bin/python benchmarks/bench_metrics.py --sizes 512 1024 --repeats 5

Each sample is a synthetic DIS-like case (a large object with holes, thin lines and small blobs;
the prediction is the blurred, shifted, noisy GT as a float64 probability map). A row reports the
median wall time of one call (milliseconds) over ``--repeats`` runs after one warm-up call.
"Full suite" is one sample through every per-sample metric in sequence (SOD set incl. HCE,
IoU, BER, Boundary IoU, mBA, VOC counts on a 21-class map, SAM stability score, NoC/FR on a
20-click IoU sequence, ST reconstruction on 8 masks); the "GT skeleton cached" variant passes
HCE a precomputed skeleton (``gt_skeleton`` depends only on the ground truth).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402

import sam_repro.metrics as M  # noqa: E402


def make_sample(size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A structured synthetic sample of shape (size, size)."""
    rng = np.random.default_rng(seed)
    s = size
    gt = np.zeros((s, s), np.uint8)
    cv2.ellipse(gt, (s // 2, s // 2), (s // 3, s // 4), 20, 0, 360, 255, -1)
    for _ in range(6):  # holes
        cv2.circle(gt, tuple(int(v) for v in rng.integers(s // 3, 2 * s // 3, 2)), int(s * 0.02), 0, -1)
    for _ in range(12):  # thin structures
        p0 = tuple(int(v) for v in rng.integers(0, s, 2))
        p1 = tuple(int(v) for v in rng.integers(0, s, 2))
        cv2.line(gt, p0, p1, 255, int(rng.integers(1, 4)))
    for _ in range(20):  # small blobs
        cv2.circle(gt, tuple(int(v) for v in rng.integers(0, s, 2)), int(rng.integers(2, 12)), 255, -1)
    g = gt > 128
    prob = cv2.GaussianBlur(g.astype(np.float32), (0, 0), 3.0)
    prob = np.roll(prob, (3, -2), axis=(0, 1))
    prob = np.clip(prob + rng.normal(0, 0.08, prob.shape).astype(np.float32), 0, 1).astype(np.float64)
    logits = np.log(np.clip(prob, 1e-4, 1 - 1e-4) / np.clip(1 - prob, 1e-4, 1)).astype(np.float32)
    labels_gt = (np.arange(s)[:, None] // max(s // 8, 1) * 3 + np.arange(s)[None, :] // max(s // 7, 1)) % 21
    labels_gt = labels_gt.astype(np.uint8)
    labels_gt[:4] = 255
    labels_pred = np.roll(labels_gt, 5, axis=1)
    stack = np.stack([np.roll(prob > 0.5, (k, -k), axis=(0, 1)) for k in range(8)])
    ious = np.minimum(1.0, np.linspace(0.3, 0.95, 20) + rng.normal(0, 0.02, 20)).clip(0, 1)
    return {
        "prob": prob,
        "gt": g,
        "logits": logits,
        "labels_gt": labels_gt,
        "labels_pred": labels_pred,
        "stack": stack,
        "ious": ious,
        "skeleton": M.gt_skeleton(g),
    }


def suite(x: dict[str, np.ndarray], skeleton: bool = False) -> None:
    """Every per-sample metric once (with ``skeleton``: HCE gets the cached GT skeleton)."""
    p, g = x["prob"], x["gt"]
    M.s_measure(p, g)
    M.e_measure(p, g)
    M.f_measure(p, g)
    M.weighted_f_measure(p, g)
    M.mae(p, g)
    M.hce(p, g, skeleton=x["skeleton"] if skeleton else None)
    M.iou(p, g)
    M.ber_counts(p, g)
    M.boundary_iou(p, g)
    M.mba(p, g)
    M.intersect_and_union(x["labels_pred"], x["labels_gt"])
    M.stability_score(x["logits"])
    M.noc(x["ious"], 0.85)
    M.stable_sam_st_reconstruction(x["stack"])


def rows() -> list[tuple[str, Callable[[dict[str, np.ndarray]], object]]]:
    return [
        ("S-measure", lambda x: M.s_measure(x["prob"], x["gt"])),
        ("E-measure (adp+curve)", lambda x: M.e_measure(x["prob"], x["gt"])),
        ("F-measure (adp+curve)", lambda x: M.f_measure(x["prob"], x["gt"])),
        ("weighted F-measure", lambda x: M.weighted_f_measure(x["prob"], x["gt"])),
        ("MAE", lambda x: M.mae(x["prob"], x["gt"])),
        ("HCE (skeleton computed)", lambda x: M.hce(x["prob"], x["gt"])),
        ("HCE (skeleton given)", lambda x: M.hce(x["prob"], x["gt"], skeleton=x["skeleton"])),
        ("  GT skeleton alone", lambda x: M.gt_skeleton(x["gt"])),
        ("IoU", lambda x: M.iou(x["prob"], x["gt"])),
        ("BER counts", lambda x: M.ber_counts(x["prob"], x["gt"])),
        ("Boundary IoU", lambda x: M.boundary_iou(x["prob"], x["gt"])),
        ("mBA", lambda x: M.mba(x["prob"], x["gt"])),
        ("VOC counts (21 classes)", lambda x: M.intersect_and_union(x["labels_pred"], x["labels_gt"])),
        ("SAM stability score", lambda x: M.stability_score(x["logits"])),
        ("NoC/FR (20 clicks)", lambda x: M.noc(x["ious"], 0.85)),
        ("ST reconstruction (K=8)", lambda x: M.stable_sam_st_reconstruction(x["stack"])),
        ("SODMetrics.update (6 SOD metrics)", lambda x: M.SODMetrics().update(x["prob"], x["gt"])),
        ("FULL SUITE per sample", suite),
        ("FULL SUITE, GT skeleton cached", lambda x: suite(x, skeleton=True)),
    ]


def time_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (lazy imports, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048], help="square image sizes (default 1024 2048)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per cell; the median is printed (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=None, help="substring filter on row names")
    args = ap.parse_args(argv)

    cv2.setNumThreads(1)
    samples = {s: make_sample(s, args.seed) for s in args.sizes}
    table = [(name, fn) for name, fn in rows() if args.only is None or args.only.lower() in name.lower()]
    print(f"# sam_repro.metrics per-sample time, median of {args.repeats} (ms); "
          f"python {platform.python_version()}, numpy {np.__version__}, cv2 {cv2.__version__}, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), cv2 threads 1")
    name_w = max(len(n) for n, _ in table)
    header = f"{'metric':<{name_w}} | " + " | ".join(f"{f'{s}x{s}':>10}" for s in args.sizes)
    print(header)
    print("-" * len(header))
    for name, fn in table:
        cells = []
        for s in args.sizes:
            x = samples[s]
            cells.append(f"{time_ms(lambda: fn(x), args.repeats):10.1f}")
        print(f"{name:<{name_w}} | " + " | ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
