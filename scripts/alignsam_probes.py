"""The probes behind AlignSAM's stand-in recalibration (issue #20): what the tiny SAM can reach on each task, and how
well the tiny CLIP's Surgery maps localise their text.

* ``oracle``: per target of the trainer (:func:`sam_repro.train.alignsam.binary_targets`: per class for multiclass),
  the tiny SAM prompted at the centres of the 10 x 10 patch grid, each point labelled from the ground truth (see
  :mod:`sam_repro.methods.alignsam.oracle`): an upper bound on what AlignSAM's agent + SRM can give the model on a
  stand-in. Mean foreground IoU (VOC's 255 border left out).
* ``clip``: ROC AUC of CLIP Surgery's M_c (resized to the image) against the target's pixels (255 left out), mean
  over targets: the target's text against the empty text, and for multiclass also ``all-names``, surgery over the
  13 class names at once.

    .venv/bin/python scripts/alignsam_probes.py oracle --images 30
    .venv/bin/python scripts/alignsam_probes.py clip --images 40 [--clip FILE]

Both measures live in the package (:func:`sam_repro.methods.alignsam.oracle.oracle_prompting_iou`,
:func:`sam_repro.reproduce.calibration.surgery_roc_auc`), where the calibration table's AlignSAM rows use them on
fewer images; this script runs them over more images and every stand-in (salient has no text map).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

SETS = ("synthetic/blur:test", "synthetic/multiclass:test", "synthetic/multiclass:voc_test", "synthetic/salient:test",
        "synthetic/shadow:test", "synthetic/glass:test")


def run_oracle(images: int) -> None:
    import sam_repro
    from sam_repro.data import open_evaluation_set
    from sam_repro.methods.alignsam.oracle import oracle_prompting_iou
    from sam_repro.train.alignsam import binary_targets

    segmenter = sam_repro.load_segmenter("tiny")
    for spec in SETS:
        data, ious = open_evaluation_set(spec), []
        for index in range(images):
            sample = data[index]
            segmenter.set_image(sample.image)
            ious += [oracle_prompting_iou(segmenter, gt) for gt in binary_targets(sample, spec.split(":")[0])[0]]
        print(f"oracle {spec}: mean IoU {np.mean(ious):.3f} over {len(ious)} targets", flush=True)


def run_clip(images: int, checkpoint: str | None) -> None:
    from sam_repro.data import open_evaluation_set
    from sam_repro.nn.clip import load_clip
    from sam_repro.nn.clip_surgery import ClipSurgery
    from sam_repro.reproduce.calibration import map_roc_auc, surgery_roc_auc
    from sam_repro.train.alignsam import binary_targets

    surgery = ClipSurgery(load_clip(checkpoint))
    for spec in SETS:
        family = spec.split(":")[0]
        if family == "synthetic/salient":
            continue
        data, single, every = open_evaluation_set(spec), [], []
        for index in range(images):
            sample = data[index]
            targets, texts = binary_targets(sample, family)
            single += [surgery_roc_auc(surgery, sample.image, target, text) for target, text in zip(targets, texts)]
            if sample.class_map is not None:  # surgery over every class name at once: one map per name
                names = list(sample.class_names[1:])
                maps = surgery.maps([sample.image], names)[0].numpy()
                every += [map_roc_auc(maps[names.index(text)], target) for target, text in zip(targets, texts)]
        extra = f", all-names {np.nanmean(every):.3f}" if every else ""
        print(f"clip {spec}: AUC {np.nanmean(single):.3f}{extra} over {len(single)} targets", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=("oracle", "clip"))
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--clip", default=None, help="CLIP file (default: the shipped tiny_clip.pt)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    run_oracle(args.images) if args.probe == "oracle" else run_clip(args.images, args.clip)


if __name__ == "__main__":
    main()
