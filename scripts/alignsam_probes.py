"""The probes behind AlignSAM's stand-in recalibration (issue #20): what the tiny SAM can reach on each task, and how
well the tiny CLIP's Surgery maps localise their text.

* ``oracle``: per image (per class for multiclass), the tiny SAM prompted at the centres of the 10 x 10 patch grid,
  each point labelled from the ground truth: P_0 = the first centre inside the target and the first outside, then
  ``steps`` more, each the first centre (row-major) whose current prediction disagrees with its label: an upper bound
  on what AlignSAM's agent + SRM can give the model on a stand-in (a target no centre falls in scores 0). Mean
  foreground IoU.
* ``clip``: ROC AUC of CLIP Surgery's M_c (resized to the image) against the target's pixels (multiclass: each class
  present, ignore pixels dropped; ``single``: the class name against the empty text; ``all``: surgery over the 13
  class names), mean over targets.

    .venv/bin/python scripts/alignsam_probes.py oracle --images 30
    .venv/bin/python scripts/alignsam_probes.py clip --images 40 [--clip FILE]

Both measures live in the package (:func:`sam_repro.methods.alignsam.oracle.oracle_prompting_iou`,
:func:`sam_repro.reproduce.calibration.surgery_roc_auc`), where the calibration table's AlignSAM rows use them on
fewer images; this script runs them over more images and every stand-in (salient has no text map).
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

SETS = ("synthetic/blur:test", "synthetic/multiclass:test", "synthetic/multiclass:voc_test", "synthetic/salient:test",
        "synthetic/shadow:test", "synthetic/glass:test")


def run_oracle(images: int) -> None:
    import sam_repro
    from sam_repro.data import open_evaluation_set
    from sam_repro.methods.alignsam.oracle import oracle_prompting_iou
    from sam_repro.reproduce.calibration import targets_of

    segmenter = sam_repro.load_segmenter("tiny")
    for spec in SETS:
        data, ious = open_evaluation_set(spec), []
        for index in range(images):
            sample = data[index]
            segmenter.set_image(sample.image)
            ious += [oracle_prompting_iou(segmenter, gt) for gt in targets_of(sample)]
        print(f"oracle {spec}: mean IoU {np.mean(ious):.3f} over {len(ious)} targets", flush=True)


def run_clip(images: int, checkpoint: str | None) -> None:
    from sam_repro.data import open_evaluation_set
    from sam_repro.data.captions import TEXT_PROMPTS
    from sam_repro.data.synthetic.multiclass import CLASS_NAMES
    from sam_repro.nn.clip import load_clip
    from sam_repro.nn.clip_surgery import ClipSurgery
    from sam_repro.reproduce.calibration import surgery_roc_auc

    surgery = ClipSurgery(load_clip(checkpoint))

    def auc(grid_map: np.ndarray, gt: np.ndarray, keep: np.ndarray) -> float:
        resized = cv2.resize(grid_map, gt.shape[::-1], interpolation=cv2.INTER_LINEAR)
        return float(roc_auc_score(gt[keep], resized[keep])) if 0 < gt[keep].mean() < 1 else float("nan")

    for spec in SETS:
        family = spec.split(":")[0]
        if family == "synthetic/salient":
            continue
        data, single, every = open_evaluation_set(spec), [], []
        for index in range(images):
            sample = data[index]
            if sample.class_map is not None:
                keep = sample.class_map != 255
                maps = surgery.maps([sample.image], list(CLASS_NAMES[1:]))[0].numpy()  # surgery over every name
                for c in (c for c in np.unique(sample.class_map) if c not in (0, 255)):
                    gt = sample.class_map == c
                    single.append(surgery_roc_auc(surgery, sample.image, gt, CLASS_NAMES[c], keep))
                    every.append(auc(maps[c - 1], gt, keep))
            else:
                single.append(surgery_roc_auc(surgery, sample.image, sample.masks.any(0), TEXT_PROMPTS[family]))
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
