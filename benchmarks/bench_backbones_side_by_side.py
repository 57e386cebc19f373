"""Encoder and decoder cost of several backbones side by side, in one run on the same images and prompts.

The embedded world's tiny SAM versions (v2: ViT 192x6; v3: convolutional stages plus global attention at the
embedding grid) are compared on the architecture, so a backbone without trained weights is timed with random
weights (cost depends on the architecture, not the weights). Prints parameters, encoder ms per image, decoder
ms per prompt (decode + upscale to the image, one prompt per call) and the ratios to the first backbone.

    python benchmarks/bench_backbones_side_by_side.py --backbones tiny tiny_v3 --threads 2
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

import sam_repro
from _segmenter_args import median_ms
from sam_repro.backbones.weights import weights_present



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=["tiny", "tiny_v3"])
    parser.add_argument("--size", type=int, default=256, help="side of the synthetic test image")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (args.size, args.size, 3), dtype=np.uint8)
    points, labels = np.array([[[args.size / 3, args.size / 2]]]), np.array([[1]])
    print(f"{torch.get_num_threads()} threads, image {args.size}x{args.size}, medians of {args.repeats} repeats")
    print(f"{'backbone':10s} {'weights':8s} {'params':>8s} {'encoder':>8s} {'encode ms':>10s} {'decode ms':>10s} "
          f"{'x encode':>9s} {'x decode':>9s}")
    first = None
    for name in args.backbones:
        trained = weights_present(name)
        segmenter = sam_repro.load_segmenter(name, device="cpu", random_init=not trained)
        model, engine = segmenter.model, segmenter.engine
        params = sum(p.numel() for p in model.parameters()) / 1e6
        encoder = sum(p.numel() for p in model.image_encoder.parameters()) / 1e6
        with torch.no_grad():
            encode = median_ms(lambda: engine.encode(image), args.repeats)
            embedding = engine.encode(image)

            def decode() -> None:
                low_res, _ = engine.decode(embedding, points=points, labels=labels)
                engine.upscale(embedding, low_res)

            decode_ms = median_ms(decode, args.repeats)
        first = first or (encode, decode_ms)
        print(f"{name:10s} {'trained' if trained else 'random':8s} {params:7.2f}M {encoder:7.2f}M {encode:10.2f} "
              f"{decode_ms:10.2f} {encode / first[0]:9.2f} {decode_ms / first[1]:9.2f}")


if __name__ == "__main__":
    main()
