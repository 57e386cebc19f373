"""Cost of every method's decoding side by side with plain SAM, in one run, on the same image and box prompt.

Stable-SAM's Table/§ cost remarks, Pi-SAM's Table 6 (ms, FPS ratio, learnable share) and DIS-SAM's cost (SAM + an
IS-Net) are all ratios to plain SAM on the same architecture; cost depends on the architecture, not the weights, so
methods without trained weights are timed with random ones (``random_init``). Prints per method: learnable
parameters (the method's own parts: parameters beyond plain SAM's), their share of the whole model, the encoder's
ms per image, the ms of one box prediction (decode + upscale + the method's extras; DIS-SAM: SAM's decode plus the
IS-Net at its input size), its ratio to SAM's, the ms per image (encode + one prediction, what the papers' FPS
measure) and the FPS as a share of SAM's (Pi-SAM's Table 6: 93% on ViT-H at 1024 px); after DIS-SAM, the prompt-free
IS-Net alone (its network at DIS-SAM's width and input size, no SAM). Pi-SAM is also timed with 10 corrective clicks (its
interactor is marked trained for timing only: untrained it refuses clicks).

    python benchmarks/bench_methods.py --backbone tiny --threads 2
    python benchmarks/bench_methods.py --backbone vit_l --device cuda        # on a GPU, random ViT-L weights
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

import sam_repro
from _segmenter_args import median_ms
from sam_repro.backbones import build_sam, get_backbone

METHODS = ("sam", "hqsam", "stablesam", "pisam", "dissam")



def _own_parameters(segmenter, sam_count: int) -> tuple[int, int]:
    """(parameters beyond plain SAM's, all parameters) of a segmenter's model (and DIS-SAM's IS-Net)."""
    total = sum(p.numel() for p in segmenter.model.parameters())
    isnet = getattr(segmenter, "isnet", None)
    if isnet is not None:
        total += sum(p.numel() for p in isnet.parameters())
    return total - sam_count, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="tiny")
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=512, help="side of the synthetic test image")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (args.size, args.size, 3), dtype=np.uint8)
    box = np.array([args.size * 0.2, args.size * 0.25, args.size * 0.7, args.size * 0.8])
    clicks = rng.uniform(args.size * 0.25, args.size * 0.65, (10, 2)).round()
    click_labels = (np.arange(10) % 2).astype(int)
    sam_count = sum(p.numel() for p in build_sam(get_backbone(args.backbone).config).parameters())
    print(f"backbone {args.backbone} (random weights), device {args.device}, {torch.get_num_threads()} threads, "
          f"image {args.size}x{args.size}, medians of {args.repeats}")
    print(f"{'method':22s} {'own params':>11s} {'share':>7s} {'encode ms':>10s} {'predict ms':>11s} {'x SAM':>7s} "
          f"{'image ms':>9s} {'FPS vs SAM':>11s}")
    reference = image_reference = None
    for method in args.methods:
        segmenter = sam_repro.load_segmenter(f"{method}:{args.backbone}", random_init=True, device=args.device)
        own, total = _own_parameters(segmenter, sam_count)
        with torch.no_grad():
            encode = median_ms(lambda: segmenter.engine.encode(image), args.repeats, args.device)
            segmenter.set_image(image)
            predict = median_ms(lambda: segmenter.predict(box=box), args.repeats, args.device)
        reference = reference or predict
        image_reference = image_reference or encode + predict
        print(f"{method:22s} {own / 1e6:10.3f}M {100 * own / total:6.2f}% {encode:10.1f} {predict:11.2f} "
              f"{predict / reference:7.2f} {encode + predict:9.1f} {image_reference / (encode + predict):10.0%}")
        if method == "dissam":
            # the prompt-free IS-Net alone (no SAM): the same network on the image (the 3 channels a plain IS-Net
            # reads; its first convolution's two extra input channels cost nothing measurable)
            from sam_repro.methods.dissam import refine
            from sam_repro.methods.isnet import ISNet

            settings = segmenter.settings
            plain = ISNet(in_ch=3, width=settings.width).to(args.device).eval()
            inputs = np.zeros((3, args.size, args.size), np.float32)
            alone = median_ms(lambda: refine(plain, inputs, settings.input_size), args.repeats, args.device)
            print(f"{'isnet (prompt-free)':22s} {'':>11s} {'':>7s} {0.0:10.1f} {alone:11.2f} "
                  f"{alone / reference:7.2f} {alone:9.1f} {image_reference / alone:10.0%}")
        if method == "pisam":
            segmenter.model.mask_decoder.interactor_trained = True  # timing only: clicks through the interactor
            with torch.no_grad():
                corrected = median_ms(lambda: segmenter.predict(box=box, corrections=clicks,
                                                                 correction_labels=click_labels),
                                       args.repeats, args.device)
            print(f"{'pisam + 10 clicks':22s} {'':>11s} {'':>7s} {encode:10.1f} {corrected:11.2f} "
                  f"{corrected / reference:7.2f} {encode + corrected:9.1f} "
                  f"{image_reference / (encode + corrected):10.0%}")


if __name__ == "__main__":
    main()
