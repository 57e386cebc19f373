"""Time of each prompt generator on synthetic masks (CPU only; no model involved).

Prints milliseconds per call for the tight and noisy boxes, random points, coarse masks, DIS-SAM
component boxes, Pi-SAM error clicks (256x256) and one RITM / simple click at the given size.

    python benchmarks/bench_prompts.py --size 1024 --repeats 20
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import cv2
import numpy as np

from sam_repro import prompts


def _blobs(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    noise = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), sigma)
    return noise > np.median(noise)


def _time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="side of the synthetic masks")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    gt = _blobs(rng, args.size, args.size / 40)
    pred = _blobs(rng, args.size, args.size / 40)
    gt_256 = prompts.resize_bilinear(gt, (256, 256)) > 0.5
    pred_256 = prompts.resize_bilinear(pred, (256, 256)) > 0.5
    box = prompts.mask_to_box(gt)

    def ritm_sequence() -> None:
        clicker = prompts.Clicker(gt)
        for _ in range(5):
            clicker.next_click(pred)

    cases: dict[str, Callable[[], object]] = {
        "mask_to_box": lambda: prompts.mask_to_box(gt),
        "noisy_box (min_iou 0.5)": lambda: prompts.noisy_box(box, gt.shape, rng, min_iou=0.5),
        "random_points (k=10)": lambda: prompts.random_points(gt, rng),
        "coarse_mask (-> 256)": lambda: prompts.coarse_mask(gt, rng),
        "component_boxes": lambda: prompts.component_boxes(gt),
        "error_region_clicks (256, train)": lambda: prompts.error_region_clicks(gt_256, pred_256, rng, training=True),
        "ritm_click": lambda: prompts.ritm_click(gt, pred),
        "simple_click": lambda: prompts.simple_click(gt, pred, rng),
        "Clicker, 5 clicks": ritm_sequence,
    }
    print(f"masks {args.size}x{args.size}, {args.repeats} repeats")
    for name, fn in cases.items():
        print(f"  {name:34s} {_time(fn, args.repeats):8.2f} ms")


if __name__ == "__main__":
    main()
