"""Encoder and decoder throughput of a backbone, and what encode-once / decode-many saves.

Prints images/s for encoding, prompts/s for decoding (one prompt per call and batched), and the
ratio between decoding P prompts against one cached embedding and re-encoding the image for each
prompt, measured side by side in one run on the same images.

    python benchmarks/bench_backbone.py --backbone tiny --images 8 --prompts 32
    python benchmarks/bench_backbone.py --backbone vit_b --random-init --device cuda   # on a GPU
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from _segmenter_args import add_segmenter_arguments, load_benchmark_segmenter


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_segmenter_arguments(parser, device="auto", size=512)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=32, help="prompts per image")
    args = parser.parse_args()
    segmenter, random_init = load_benchmark_segmenter(args)
    engine, device = segmenter.engine, segmenter.engine.device
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (args.size, args.size, 3), dtype=np.uint8) for _ in range(args.images)]
    points = rng.uniform(0, args.size, (args.prompts, 1, 2))
    labels = np.ones((args.prompts, 1), dtype=int)

    segmenter.set_image(images[0])  # warm-up
    segmenter.predict(points=points[0], labels=labels[0])

    _sync(device)
    start = time.perf_counter()
    embeddings = [engine.encode(image) for image in images]
    _sync(device)
    encode_s = (time.perf_counter() - start) / len(images)

    start = time.perf_counter()
    for embedding in embeddings:
        for p in range(args.prompts):
            low, _ = engine.decode(embedding, points=points[p : p + 1], labels=labels[p : p + 1])
            engine.upscale(embedding, low)
    _sync(device)
    decode_s = (time.perf_counter() - start) / (len(images) * args.prompts)

    start = time.perf_counter()
    for embedding in embeddings:
        low, _ = engine.decode(embedding, points=points, labels=labels)
        engine.upscale(embedding, low)
    _sync(device)
    batched_s = (time.perf_counter() - start) / (len(images) * args.prompts)

    cached = encode_s + args.prompts * decode_s  # encode once, decode P prompts
    reencode = args.prompts * (encode_s + decode_s)  # encode again for every prompt
    print(f"backbone {args.backbone} ({'random init' if random_init else 'trained weights'}) on {device}, "
          f"{torch.get_num_threads()} threads, images {args.size}x{args.size}, {args.prompts} prompts/image")
    print(f"{'encode':28s} {1 / encode_s:10.1f} images/s  ({encode_s * 1e3:.2f} ms/image)")
    print(f"{'decode, one prompt per call':28s} {1 / decode_s:10.1f} prompts/s ({decode_s * 1e3:.2f} ms/prompt)")
    print(f"{'decode, batched per image':28s} {1 / batched_s:10.1f} prompts/s ({batched_s * 1e3:.2f} ms/prompt)")
    print(f"time per image, {args.prompts} prompts: cached {cached * 1e3:.1f} ms vs re-encode {reencode * 1e3:.1f} ms "
          f"-> speed-up {reencode / cached:.1f}x")


if __name__ == "__main__":
    main()
