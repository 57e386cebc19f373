"""Encoder passes and throughput of the evaluation harness on a 20-click NoC run.

Every click of every object of an image must be decoded against one cached embedding: the harness
reports encoder passes per image (must be exactly 1) and samples/s.

    python benchmarks/bench_harness.py --backbone tiny --family synthetic/generic --samples 8
"""
from __future__ import annotations

import argparse
import tempfile
import time

import sam_repro
from sam_repro.backbones.weights import weights_present
from sam_repro.data import open_dataset
from sam_repro.eval.harness import evaluate
from sam_repro.eval.interactive import InteractiveProtocol
from sam_repro.eval.protocols import TIGHT_BOX


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="tiny")
    parser.add_argument("--family", default="synthetic/generic")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--min-object-area", type=int, default=64)
    args = parser.parse_args()
    random_init = not weights_present(args.backbone)
    segmenter = sam_repro.load_segmenter(args.backbone, device="cpu", random_init=random_init)
    dataset = open_dataset(args.family, "test")
    protocols = [("tight box", TIGHT_BOX),
                 (f"NoC, {args.clicks} clicks (no early stop)", InteractiveProtocol(max_clicks=args.clicks, target_iou=None))]
    print(f"{args.backbone} ({'random init' if random_init else 'trained'}) on {args.family}, {args.samples} images")
    print(f"{'protocol':36s} {'objects':>8s} {'decodes':>8s} {'enc/image':>10s} {'samples/s':>10s}")
    for label, protocol in protocols:
        segmenter.engine.reset_stats()
        segmenter.engine.clear_cache()
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            summary = evaluate(segmenter, dataset, protocol, out, limit=args.samples, progress=False,
                               min_object_area=args.min_object_area)
            seconds = time.perf_counter() - start
        passes = summary["provenance"]["encoder_passes_this_run"]
        print(f"{label:36s} {summary['objects']:8d} {segmenter.engine.stats.decoded_prompts:8d} "
              f"{passes / args.samples:10.2f} {args.samples / seconds:10.2f}")


if __name__ == "__main__":
    main()
