"""Command-line options, loading and timing shared by the benchmarks."""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import sam_repro
from sam_repro.backbones.weights import weights_present


def add_segmenter_arguments(parser: argparse.ArgumentParser, device: str, size: int) -> None:
    """--backbone, --device, --size (side of the synthetic test images), --random-init, --threads."""
    parser.add_argument("--backbone", default="tiny")
    parser.add_argument("--device", default=device)
    parser.add_argument("--size", type=int, default=size, help="side of the synthetic test images")
    parser.add_argument("--random-init", action="store_true", help="random weights (default when none are present)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")


def load_benchmark_segmenter(args: argparse.Namespace):
    """(segmenter, random_init): the backbone's weights when present, else random ones (timing only)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    random_init = args.random_init or not weights_present(args.backbone)
    return sam_repro.load_segmenter(args.backbone, device=args.device, random_init=random_init), random_init


def median_ms(fn, repeats: int, device: str = "cpu") -> float:
    """Median wall time of ``fn()`` in ms over ``repeats`` calls after one warm-up call (CUDA synchronised around
    each call on a GPU, so queued kernels are counted)."""
    fn()
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))
