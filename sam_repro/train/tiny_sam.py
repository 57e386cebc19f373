"""Train the embedded world's tiny SAM: the SAM paper's recipe, scaled down to a 2-core CPU.

Recipe (Kirillov et al. 2023, section 3 and appendix A), as followed here:

* every part is trained (image encoder, prompt encoder, mask decoder), from scratch, on the
  synthetic generic multi-object pool only (task families and novel domains stay unseen);
* per image, up to ``masks_per_image`` of its object masks are prompted, each either by a box (the
  tight box, half of the time with noise of std 10% of the side, capped at ``box_noise_max_px``) or
  by 1..``max_initial_points`` positive points sampled uniformly in the mask (SAM draws the kind per
  mask; here per step, see below);
* then ``corrective_rounds`` iterative rounds: a point is sampled uniformly from the error region
  of the previous prediction (positive on a false negative, negative on a false positive) and the
  previous low-res logits are fed back as the mask prompt;
* a single-point prompt is ambiguous: the decoder outputs three masks and only the lowest loss is
  back-propagated; other prompts train the single-output token;
* mask loss = 20 * focal + 1 * dice (SAM's 20:1) on the mask logits; the IoU head regresses the IoU
  of each predicted mask with MSE.

Scaled-down choices (not in the paper, documented here): AdamW with linear warm-up and cosine decay,
fewer corrective rounds (SAM uses 8 plus 2 mask-only rounds), mask losses at ``loss_size`` (the
low-res logits' own 64 px by default), and one prompt kind (box or points) per step for all its
images, so that each round is a single mask-decoder pass over the whole batch
(:func:`~sam_repro.backbones.decoding.decode_multi_image`).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sam_repro.backbones.build import build_sam
from sam_repro.backbones.decoding import decode_multi_image
from sam_repro.backbones.checkpoints import save_checkpoint
from sam_repro.backbones.registry import SHIPPED_WEIGHTS_DIR, get_backbone
from sam_repro.train.common import (
    resumable_state,
    restore_rng,
    rng_state_to_tensor,
    save_training_state,
    seed_everything,
    trim_log,
)
from sam_repro.prompts import mask_to_box, oracle_first_click
from sam_repro.train.losses import dice_loss, mask_iou, sigmoid_focal_loss

REGENERATE_COMMAND = "sam-repro train tiny-sam"


@dataclass
class TinySamTrainConfig:
    """Hyperparameters of :func:`train_tiny_sam` (defaults = the shipped checkpoint's run)."""

    backbone: str = "tiny"
    """registry name of the architecture to train"""
    dataset: str = "synthetic/generic"
    """catalog name of the training pool"""
    train_split: str = "train"
    val_split: str = "val"
    steps: int = 9000
    """optimizer steps"""
    images_per_step: int = 8
    masks_per_image: int = 3
    """object masks prompted per image (fewer when the image has fewer)"""
    corrective_rounds: int = 2
    """iterative rounds with an error-region click and the previous logits fed back"""
    mask_only_rounds: int = 0
    """extra rounds with the previous logits fed back and no new click (SAM: 2, one at a random place among
    the iterative rounds and one last); they teach the decoder to refine from its own mask"""
    box_fraction: float = 0.5
    """share of images whose masks are prompted by boxes (else by points)"""
    box_noise_fraction: float = 0.5
    """share of box prompts that get noise"""
    box_noise_std: float = 0.1
    """box-corner noise std as a fraction of the box side (SAM: 10%)"""
    box_noise_max_px: float = 5.0
    """cap of the corner noise in pixels at 256 px (SAM: 20 px at 1024)"""
    max_initial_points: int = 3
    single_point_probability: float = 0.6
    """probability that a point prompt starts with one point (the ambiguous, multimask case)"""
    loss_size: int = 64
    """side at which mask losses are computed (logits upsampled, ground truth area-downsampled and
    thresholded at 0.5); the input size gives the sharpest supervision, half of it is 2x cheaper"""
    min_mask_area: int = 12
    """masks smaller than this many pixels (at training size) are not prompted"""
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 500
    min_lr_ratio: float = 0.02
    focal_weight: float = 20.0
    dice_weight: float = 1.0
    iou_weight: float = 1.0
    grad_clip: float = 1.0
    seed: int = 0
    eval_every: int = 1000
    eval_samples: int = 32
    checkpoint_every: int = 200
    run_dir: str = "runs/tiny_sam"
    """training state (resumable), log.jsonl"""
    output: str = str(SHIPPED_WEIGHTS_DIR / "tiny_sam.pt")
    """where the final weights go (the shipped checkpoint by default)"""
    threads: int = 0
    """torch threads (0 = torch's default)"""
    save_dtype: str = "float16"
    """dtype of the floating-point tensors in the final weights file (float16 halves the shipped file;
    ``float32`` keeps the trained values exactly)"""
    init_from: str = ""
    """a partial weights file (:func:`export_partial_weights`) of this same run to continue from when
    ``run_dir`` holds no state as far along: how a run goes on when its state was lost between sessions.
    Not bit-identical to an uninterrupted run: the weights were stored in float16, the optimizer's moments
    start from zero (hence ``rewarm_steps``) and the data order is re-seeded from (seed, step)."""
    rewarm_steps: int = 200
    """after continuing from ``init_from``, the learning rate ramps linearly back to the schedule over this
    many steps (fresh Adam moments make the first updates large)"""
    end_at: int = 0
    """0, or a step before ``steps`` at which the run ends instead: how a run whose budget ran out is finished
    properly. From step ``end_from`` on, the cosine goes from the schedule's value there down to ``min_lr_ratio`` at
    ``end_at`` (no jump in the learning rate); before it, the schedule of ``steps``. Both are in the final meta."""
    end_from: int = 0
    """the step from which the tail is compressed (with ``end_at``)"""
    extra: dict[str, Any] = field(default_factory=dict)


def _lr_factor(step: int, config: TinySamTrainConfig, rewarm_from: int | None = None,
               shortened_at: int | None = None) -> float:
    if shortened_at is not None:  # the tail compressed into [shortened_at, end_at] (see TinySamTrainConfig.end_at)
        start = _lr_factor(shortened_at, config)
        progress = (step - shortened_at) / max(1, config.end_at - shortened_at)
        factor = config.min_lr_ratio + (start - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        if rewarm_from is not None and config.rewarm_steps > 0:
            factor *= min(1.0, (step - rewarm_from + 1) / config.rewarm_steps)
        return factor
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    factor = config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine
    if rewarm_from is not None and config.rewarm_steps > 0:
        factor *= min(1.0, (step - rewarm_from + 1) / config.rewarm_steps)
    return factor


def _sample_pixels(regions: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uniformly random pixels of each region: (M, H, W) bool -> (M, count, 2) xy."""
    points = np.zeros((len(regions), count, 2), dtype=np.float64)
    for i, region in enumerate(regions):
        rows, cols = np.nonzero(region)
        picks = rng.integers(0, len(rows), count)
        points[i, :, 0], points[i, :, 1] = cols[picks], rows[picks]
    return points


class _PromptState:
    """Prompts of the M masks of one image through the rounds."""

    def __init__(self, gts: np.ndarray, config: TinySamTrainConfig, rng: np.random.Generator, size: int):
        self.gts = gts
        self.boxes: np.ndarray | None = None
        self.points = np.zeros((len(gts), 0, 2))
        self.labels = np.zeros((len(gts), 0), dtype=np.int64)
        if rng.random() < config.box_fraction:
            boxes = np.stack([mask_to_box(gt) for gt in gts])
            noisy = rng.random(len(gts)) < config.box_noise_fraction
            side = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, axis=1)
            noise = np.clip(rng.normal(0, 1, boxes.shape) * config.box_noise_std * side,
                            -config.box_noise_max_px, config.box_noise_max_px)
            boxes = np.where(noisy[:, None], boxes + noise, boxes)
            self.boxes = np.clip(boxes, 0, size - 1)
        else:
            count = 1 if rng.random() < config.single_point_probability else int(rng.integers(2, config.max_initial_points + 1))
            self.points = _sample_pixels(gts, count, rng)
            self.labels = np.ones((len(gts), count), dtype=np.int64)

    @property
    def ambiguous(self) -> bool:
        return self.boxes is None and self.points.shape[1] == 1

    def add_corrections(self, predictions: np.ndarray, rng: np.random.Generator) -> None:
        """One click per mask, uniform in its error region (positive on a false negative)."""
        errors = predictions ^ self.gts
        no_error = ~errors.reshape(len(errors), -1).any(1)
        errors[no_error] = self.gts[no_error]  # perfect already: a positive click inside the object
        clicks = _sample_pixels(errors, 1, rng)
        cols, rows = clicks[:, 0, 0].astype(int), clicks[:, 0, 1].astype(int)
        labels = self.gts[np.arange(len(self.gts)), rows, cols].astype(np.int64)
        self.points = np.concatenate([self.points, clicks], axis=1)
        self.labels = np.concatenate([self.labels, labels[:, None]], axis=1)


def _step_loss(model: torch.nn.Module, features: torch.Tensor, gts: np.ndarray, image_index: np.ndarray,
               config: TinySamTrainConfig, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of all rounds for the N masks of a step (features: (B, C, g, g); gts: (N, H, W) bool;
    image_index: (N,) the image of each mask). All masks of a step share the prompt kind, so each
    round is one prompt-encoder and one mask-decoder call (:func:`decode_multi_image`)."""
    size = config.loss_size
    device = features.device
    index = torch.as_tensor(image_index, dtype=torch.long, device=device)
    targets = torch.as_tensor(gts, dtype=torch.float32, device=device)[:, None]  # (N, 1, H, W)
    if targets.shape[-1] != size:
        targets = (F.adaptive_avg_pool2d(targets, (size, size)) >= 0.5).float()
    prompts = _PromptState(gts, config, rng, gts.shape[-1])
    mask_input = None
    total = features.new_zeros(())
    ious = []
    rows = torch.arange(len(gts), device=device)
    image_pe = model.prompt_encoder.get_dense_pe()
    rounds = 1 + config.corrective_rounds + config.mask_only_rounds
    # which rounds get a new click before them: every corrective round; the mask-only ones are the last
    # round and (for more than one) random places among the rest, as in SAM's schedule
    clicked = np.ones(rounds, dtype=bool)
    clicked[0] = False
    if config.mask_only_rounds:
        clicked[-1] = False
        others = rng.choice(np.arange(1, rounds - 1), size=config.mask_only_rounds - 1, replace=False)
        clicked[others] = False
    for round_index in range(rounds):
        if clicked[round_index]:
            prompts.add_corrections(predictions[:, 0].cpu().numpy() > 0, rng)
        multimask = prompts.ambiguous
        points = None
        if prompts.points.shape[1]:
            points = (torch.as_tensor(prompts.points, dtype=torch.float32, device=device),
                      torch.as_tensor(prompts.labels, dtype=torch.int64, device=device))
        boxes = None if prompts.boxes is None else torch.as_tensor(prompts.boxes, dtype=torch.float32, device=device)
        sparse, dense = model.prompt_encoder(points=points, boxes=boxes, masks=mask_input)
        low_res, iou_pred = decode_multi_image(model.mask_decoder, features, index, image_pe, sparse, dense, multimask)
        logits = low_res if low_res.shape[-1] == size else F.interpolate(low_res, (size, size), mode="bilinear",
                                                                         align_corners=False)  # (N, K, S, S)
        expanded = targets.expand_as(logits)
        mask_loss = config.focal_weight * sigmoid_focal_loss(logits, expanded) + config.dice_weight * dice_loss(logits, expanded)
        true_iou = mask_iou(logits.detach(), expanded)
        iou_loss = F.mse_loss(iou_pred, true_iou, reduction="none")
        chosen = mask_loss.argmin(1) if multimask else torch.zeros(len(gts), dtype=torch.long, device=device)
        total = total + mask_loss[rows, chosen].mean() + config.iou_weight * iou_loss.mean()
        ious.append(float(true_iou[rows, chosen].mean()))
        predictions = logits[rows, chosen].detach()[:, None]
        if size != gts.shape[-1]:
            predictions = F.interpolate(predictions, gts.shape[-2:], mode="bilinear", align_corners=False)
        mask_input = low_res[rows, chosen][:, None].detach()
    if not config.mask_only_rounds:
        # runs without mask-only rounds drew one click after the last round (unused), as the v2 run did: kept so
        # that the shipped v2 checkpoint's command still regenerates it exactly
        prompts.add_corrections(predictions[:, 0].cpu().numpy() > 0, rng)
    return total / rounds, {"iou_first": ious[0], "iou_last": ious[-1]}


def _batch(dataset, start: int, config: TinySamTrainConfig, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, masks) pairs for one step; masks: the prompted subset, (M, H, W) bool."""
    items = []
    for offset in range(config.images_per_step):
        sample = dataset[(start + offset) % len(dataset)]
        masks = sample.masks[sample.masks.reshape(len(sample.masks), -1).sum(1) >= config.min_mask_area]
        if len(masks) == 0:
            continue
        keep = rng.permutation(len(masks))[: config.masks_per_image]
        items.append((sample.image, masks[np.sort(keep)]))
    return items


def train_tiny_sam(config: TinySamTrainConfig, resume: bool = True, progress: bool = True,
                   stop_after: int | None = None) -> Path | None:
    """Train (or resume) and write the final weights to ``config.output``; return that path.

    ``stop_after`` ends this call after that many steps (the state is saved, None is returned), so a
    long run can be split across sessions and continued with ``resume=True``.

    The training state is saved to ``<run_dir>/state.pt`` every ``checkpoint_every`` steps, with the
    model, optimizer, step and RNG states, so an interrupted run resumes exactly where it stopped.
    Metrics go to ``<run_dir>/log.jsonl``.
    """
    from tqdm.auto import tqdm

    from sam_repro.data import open_dataset

    if config.threads:
        torch.set_num_threads(config.threads)
    import cv2

    cv2.setNumThreads(1)  # the synthetic generators run in this process; OpenCV threads only contend
    save_dtype = _dtype(config.save_dtype)  # fail now, not after hours of training
    seed_everything(config.seed)
    spec = get_backbone(config.backbone)
    size = spec.config.img_size
    model = build_sam(spec.config, seed=config.seed).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    run_dir = Path(config.run_dir)
    state_path = run_dir / "state.pt"
    step = 0
    rewarm_from: int | None = None
    partial_resumes: list[int] = []
    shortened_at = config.end_from if config.end_at else None
    if config.end_at and not config.warmup_steps <= config.end_from < config.end_at < config.steps:
        raise ValueError(f"end_at={config.end_at} with end_from={config.end_from}: expected warm-up "
                         f"({config.warmup_steps}) <= end_from < end_at < steps ({config.steps}), or end_at 0")
    state = resumable_state(state_path, _comparable(config), resume)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        restore_rng(rng, state["rng"])
        torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
        partial_resumes = [int(s) for s in state.get("partial_resumes", [])]
        rewarm_from = partial_resumes[-1] if partial_resumes else None
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "log.jsonl"
    partial = _read_partial(config, step) if resume and config.init_from else None
    if partial is not None:
        weights, meta = partial
        model.load_state_dict(weights)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        step = int(meta["steps"])
        rng = np.random.default_rng([config.seed, step])
        torch.manual_seed(config.seed * 1_000_003 + step)
        partial_resumes = [int(s) for s in meta.get("partial_resumes", [])] + [step]
        rewarm_from = step
        trim_log(log_path, 0)
        with log_path.open("a") as handle:  # the curve so far travels in the partial file
            handle.write("".join(json.dumps(record) + "\n" for record in meta.get("val_history", [])))
        print(f"continuing from {config.init_from} at step {step} (float16 weights, fresh optimizer, "
              f"learning rate re-warmed over {config.rewarm_steps} steps)")
    train_set = open_dataset(config.dataset, config.train_split, size=size, seed=config.seed)
    val_set = open_dataset(config.dataset, config.val_split, size=size, seed=config.seed)
    trim_log(log_path, step)
    last = config.end_at or config.steps
    bar = tqdm(total=last, initial=step, disable=not progress, desc="tiny SAM", unit="step")
    started = time.perf_counter()
    running: dict[str, float] = {}
    stop_at = last if stop_after is None else min(last, step + stop_after)
    while step < stop_at:
        for group in optimizer.param_groups:
            tail = shortened_at if shortened_at is not None and step >= shortened_at else None
            group["lr"] = config.lr * _lr_factor(step, config, rewarm_from, tail)
        items = _batch(train_set, step * config.images_per_step, config, rng)
        images = torch.stack([torch.tensor(image).permute(2, 0, 1) for image, _ in items]).float()  # copies: read-only samples
        features = model.image_encoder(model.preprocess(images))
        gts = np.concatenate([masks for _, masks in items])
        image_index = np.concatenate([np.full(len(masks), i) for i, (_, masks) in enumerate(items)])
        loss, stats = _step_loss(model, features, gts, image_index, config, rng)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        for key, value in {"loss": float(loss.detach()), **stats}.items():
            running[key] = value if key not in running else 0.98 * running[key] + 0.02 * value
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        record: dict[str, Any] = {"step": step, "lr": optimizer.param_groups[0]["lr"], "loss": float(loss.detach()), **stats}
        if step % config.eval_every == 0 or step == last:
            model.eval()
            record.update(quick_eval(model, val_set, config.eval_samples))
            model.train()
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in record.items() if k.startswith("val_")))
        with log_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if step % config.checkpoint_every == 0 or step == stop_at:
            save_training_state(state_path, model=model.state_dict(), optimizer=optimizer.state_dict(), step=step,
                                rng=rng_state_to_tensor(rng), torch_rng=torch.get_rng_state(), config=_comparable(config),
                                partial_resumes=partial_resumes)
    bar.close()
    if step < last:
        return None
    meta = {
        "backbone": config.backbone, "config": asdict(spec.config), "train_config": _comparable(config),
        "steps": step, "train_seconds_this_session": round(time.perf_counter() - started, 1),
        "command": REGENERATE_COMMAND, "data": f"{config.dataset}:{config.train_split} (seed {config.seed})",
        "continued_from_partial_at_steps": partial_resumes,
        **({"planned_steps": config.steps, "ended_at": last, "schedule_shortened_at": shortened_at}
           if shortened_at is not None else {}),
    }
    model.eval()
    save_checkpoint(model, config.output, meta=meta, dtype=save_dtype)
    return Path(config.output)


def export_partial_weights(config: TinySamTrainConfig, path: str | os.PathLike) -> Path:
    """Write the weights of ``<run_dir>/state.pt`` (an unfinished run) as a small float16 file that
    ``init_from`` continues from, with the run's configuration, step and validation curve in its meta.

    This is what survives a session whose ``runs/`` does not: the optimizer state (twice the weights)
    stays behind, so the file is about half the size of the full-precision weights.

    Raises:
        FileNotFoundError: no state in ``run_dir``. ValueError: the state belongs to another configuration.
    """
    state_path = Path(config.run_dir) / "state.pt"
    if not state_path.is_file():
        raise FileNotFoundError(f"{state_path}: no training state to export (has the run started?)")
    state = resumable_state(state_path, _comparable(config), resume=True)
    log_path = Path(config.run_dir) / "log.jsonl"
    val_history = []
    if log_path.is_file():
        for line in log_path.read_text().splitlines():
            record = json.loads(line) if line.strip() else {}
            if any(key.startswith("val_") for key in record) and record["step"] <= int(state["step"]):
                val_history.append(record)
    meta = {"partial": True, "backbone": config.backbone, "steps": int(state["step"]),
            "train_config": _comparable(config), "val_history": val_history,
            "partial_resumes": [int(s) for s in state.get("partial_resumes", [])],
            "command": "bash scripts/train_tiny_sam_v3.sh (continues from this file when runs/ is gone)"}
    save_checkpoint(state["model"], path, meta=meta, dtype=torch.float16)
    return Path(path)


def _read_partial(config: TinySamTrainConfig, step: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The weights and meta of ``config.init_from`` when they are further along than ``step`` (None: the
    run directory's own state is as far or further, or the file is absent).

    Raises:
        ValueError: the file is not a partial file of this run's configuration (naming the file).
    """
    from sam_repro.backbones.checkpoints import read_checkpoint

    path = Path(config.init_from)
    if not path.is_file():
        return None
    weights, meta = read_checkpoint(path)
    if not meta.get("partial") or meta.get("train_config") != _comparable(config):
        raise ValueError(f"init_from={path} is not a partial weights file of this run's configuration "
                         "(written by export_partial_weights with the same training options)")
    if int(meta["steps"]) <= step:
        return None
    return weights, meta


def _dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"save_dtype must name a floating-point torch dtype (float16, bfloat16, float32), got {name!r}")
    return dtype


def _comparable(config: TinySamTrainConfig) -> dict[str, Any]:
    """The configuration fields that define a run (not where it writes or how fast it runs)."""
    data = asdict(config)
    for key in ("run_dir", "output", "threads", "eval_every", "eval_samples", "checkpoint_every", "save_dtype", "extra",
                "init_from", "rewarm_steps", "end_at", "end_from"):
        data.pop(key)
    return json.loads(json.dumps(data))


@torch.no_grad()
def quick_eval(model: torch.nn.Module, dataset, samples: int) -> dict[str, float]:
    """Tight-box mIoU and single-centre-point mIoU (best of three by predicted IoU) on the first
    ``samples`` samples of ``dataset`` (all masks of each), through the common segmenter interface."""
    from sam_repro.methods.sam import SamSegmenter

    segmenter = SamSegmenter(model, {"backbone": "training"})
    box_ious, point_ious = [], []
    for index in range(min(samples, len(dataset))):
        sample = dataset[index]
        segmenter.set_image(sample.image)
        for gt in sample.masks:
            if gt.sum() < 12:
                continue
            box_ious.append(_iou(segmenter.predict(box=mask_to_box(gt)).mask, gt))
            click = oracle_first_click(gt)
            prediction = segmenter.predict(points=np.array([[click.x, click.y]], dtype=float), labels=np.array([1]),
                                           multimask=True)
            point_ious.append(_iou(prediction.mask, gt))
    return {"val_box_miou": float(np.mean(box_ious)), "val_point_miou": float(np.mean(point_ious))}


def _iou(pred: np.ndarray, gt: np.ndarray) -> float:
    union = np.logical_or(pred, gt).sum()
    return float(np.logical_and(pred, gt).sum() / union) if union else 1.0
