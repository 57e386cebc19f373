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
    .venv/bin/python scripts/alignsam_probes.py clip --images 40 [--clip runs/tiny_clip_v2/tiny_clip.pt]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch

SETS = ("synthetic/blur:test", "synthetic/multiclass:test", "synthetic/multiclass:voc_test", "synthetic/salient:test",
        "synthetic/shadow:test", "synthetic/glass:test")


def targets_of(sample) -> list[np.ndarray]:
    """(H, W) bool targets: one per class present (class-map samples), else the union of the masks."""
    if sample.class_map is not None:
        return [sample.class_map == c for c in np.unique(sample.class_map) if c not in (0, 255)]
    return [sample.masks.any(0)]


def oracle_iou(segmenter, sample, gt: np.ndarray, grid: int = 10, steps: int = 15) -> float:
    height, width = gt.shape
    ys, xs = (np.arange(grid) + 0.5) * height / grid, (np.arange(grid) + 0.5) * width / grid
    centres = np.array([(x, y) for y in ys for x in xs], dtype=np.float32)
    labels = np.array([gt[int(y), int(x)] for x, y in centres], dtype=np.int64)
    if not labels.any():
        return 0.0
    chosen = [int(np.flatnonzero(labels)[0])] + [int(i) for i in np.flatnonzero(labels == 0)[:1]]
    for step in range(steps + 1):
        mask = segmenter.predict(points=centres[chosen], labels=labels[chosen], multimask=False).masks[0]
        if step == steps:
            break
        predicted = np.array([mask[int(y), int(x)] for x, y in centres])
        rest = [k for k in range(grid * grid) if k not in chosen]
        wrong = [k for k in rest if predicted[k] != labels[k]]
        chosen.append((wrong or rest)[0])
    return float((mask & gt).sum() / max((mask | gt).sum(), 1))


def run_oracle(images: int) -> None:
    import sam_repro
    from sam_repro.data import open_evaluation_set

    segmenter = sam_repro.load_segmenter("tiny")
    for spec in SETS:
        data, ious = open_evaluation_set(spec), []
        for index in range(images):
            sample = data[index]
            segmenter.set_image(sample.image)
            ious += [oracle_iou(segmenter, sample, gt) for gt in targets_of(sample)]
        print(f"oracle {spec}: mean IoU {np.mean(ious):.3f} over {len(ious)} targets", flush=True)


def run_clip(images: int, checkpoint: str | None) -> None:
    from sklearn.metrics import roc_auc_score

    from sam_repro.data import open_evaluation_set
    from sam_repro.data.captions import TEXT_PROMPTS
    from sam_repro.data.synthetic.multiclass import CLASS_NAMES
    from sam_repro.nn.clip import load_clip
    from sam_repro.nn.clip_surgery import ClipSurgery

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
                maps = surgery.maps([sample.image], list(CLASS_NAMES[1:]))[0].numpy()
                for c in (c for c in np.unique(sample.class_map) if c not in (0, 255)):
                    gt = sample.class_map == c
                    single.append(auc(surgery.maps([sample.image], [CLASS_NAMES[c]])[0, 0].numpy(), gt, keep))
                    every.append(auc(maps[c - 1], gt, keep))
            else:
                gt = sample.masks.any(0)
                single.append(auc(surgery.maps([sample.image], [TEXT_PROMPTS[family]])[0, 0].numpy(), gt,
                                  np.ones_like(gt)))
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
