"""Cost of test-time adaptation (paper 001): one image encoding, one decoder forward and one
adaptation step (forward with gradient, backward, Adam step on the mask decoder), side by side on
the same backbone and image. The paper reports 116.9 / 13.1 / 43.6 ms for ViT-B on a V100 and argues
that a step costs less than four forward passes.

    python benchmarks/bench_tta.py                                   # tiny SAM, CPU
    python benchmarks/bench_tta.py --backbone vit_b --random-init --device cuda --size 1024
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from _segmenter_args import add_segmenter_arguments, load_benchmark_segmenter
from sam_repro.reproduce.papers.sam_tta import time_adaptation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_segmenter_arguments(parser, device="cpu", size=256)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    segmenter, random_init = load_benchmark_segmenter(args)
    image = np.random.default_rng(0).integers(0, 255, (args.size, args.size, 3), dtype=np.uint8)
    timing = time_adaptation(segmenter, image, repeats=args.repeats)
    decoder_params = sum(p.numel() for p in segmenter.model.mask_decoder.parameters())
    print(f"backbone {args.backbone} ({'random init' if random_init else 'trained'}), device {segmenter.engine.device}, "
          f"image {args.size}x{args.size}, torch threads {torch.get_num_threads()}, "
          f"decoder {decoder_params / 1e6:.2f} M parameters")
    print(f"  image encoding      {timing['encode_ms']:9.2f} ms")
    print(f"  decoder forward     {timing['decoder_forward_ms']:9.2f} ms")
    print(f"  adaptation step     {timing['adaptation_step_ms']:9.2f} ms")
    print(f"  step / forward      {timing['adaptation_step_ms'] / timing['decoder_forward_ms']:9.2f} x   (paper, ViT-B V100: 3.33 x)")
    print(f"  encoding / forward  {timing['encode_ms'] / timing['decoder_forward_ms']:9.2f} x   (paper: 8.92 x)")


if __name__ == "__main__":
    main()
