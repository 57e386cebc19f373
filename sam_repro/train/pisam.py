"""Train the embedded world's Pi-SAM parts on top of the frozen tiny SAM (``pi_sam_tiny.pt``).

Recipe of Pi-SAM (Liu et al., ACM MM 2024; ``lmzpai/pi-sam`` ``runner.py`` / ``mask_decoder_pi.py``), as
followed here, in two stages over one step counter (``steps_hr`` then ``steps_interactor``):

* **stage 1** (``"hr"``): the HQ parts and the HR decoder (:data:`~sam_repro.methods.pisam.HR_STAGE_MODULES`,
  RGB embedding included: the official code never trains or saves it) are trained; SAM stays frozen. Loss:
  BCE + dice at PointRend uncertain points on the **low-res** and the **HR** logits, summed;
* **stage 2** (``"interactor"``): only the Precise Interactor is trained, everything else frozen. Clicks are
  simulated from the error regions between the binarised low-res prediction (logits > 0) and the ground truth
  bilinearly resized to the low-res grid (:func:`sam_repro.prompts.error_region_clicks` with
  ``training=True``: k in 1..min(10, regions) largest regions, FN = flag 1, FP = flag 0). Loss on the **HR**
  logits only, averaged over the samples that received clicks (Pi-SAM's ``valid`` weighting); a step whose
  batch has no error region updates nothing. The share of positive (FN) clicks is logged (the paper's
  limitation: DIS5K yields mostly background clicks);
* the official code's flags train nothing as shipped (issue defect 1): the stage sets are explicit here
  (:func:`~sam_repro.methods.pisam.set_trainable_stage`);
* **data**: the HQSeg-44K + HRSOD + UHRSD stand-in is the *train* splits of ``synthetic/thin`` and
  ``synthetic/salient``, read, resized and cached by HQ-SAM's training pool (:mod:`sam_repro.train.hq_pool`);
  augmentation: horizontal flip and large-scale jitter 0.8-1.6 (Pi-SAM's range);
* **prompts**: the tight box of the ground truth only (Pi-SAM trains and tests with GT boxes);
* **optimiser**: Adam lr 1e-3, cosine annealing to 0 within each stage (the official scheduler anneals over
  its 100 epochs); the loss points are HQ-SAM's share of the low-res grid on both outputs (784 for the tiny
  64 x 64 grid; official 112 x 112 on 256 x 256), sampled at the same normalised places.

The state (Pi parts, optimizer, step, stage, RNGs, base SAM sha256) is saved every ``checkpoint_every`` steps
and at ``stop_after``, so runs resume exactly. The result is a Pi-only file
(:func:`~sam_repro.methods.pisam.save_pi_checkpoint`) with ``interactor_trained`` = (``steps_interactor`` > 0).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sam_repro.backbones.registry import get_backbone
from sam_repro.backbones.weights import PI_TRAIN_COMMAND as TRAIN_COMMAND, get_weights
from sam_repro.train.common import (
    restore_rng, resumable_state, rng_state_to_tensor, save_training_state, seed_everything, trim_log,
)
from sam_repro.train.hq_pool import HqPool, large_scale_jitter, prompt_binary
from sam_repro.train.losses import HQ_SAM_POINT_SHARE, mask_iou, point_sampled_bce_dice


@dataclass
class PiSamTrainConfig:
    """Hyperparameters of :func:`train_pi_sam`."""

    backbone: str = "tiny"
    """registry name of the frozen SAM"""
    base_checkpoint: str | None = None
    """SAM weights to train on (None: the backbone's registered file)"""
    datasets: str = "synthetic/thin,synthetic/salient"
    """comma-separated catalog names of the training pool (thin: DIS5K / ThinObject5K, salient: HRSOD / UHRSD)"""
    train_split: str = "train"
    samples_per_dataset: int = 1000
    """samples drawn from each dataset's train split (0: its nominal length)"""
    steps_hr: int = 5000
    """stage-1 optimizer steps (HQ parts + HR decoder)"""
    steps_interactor: int = 2000
    """stage-2 optimizer steps (interactor alone); 0 leaves the interactor untrained"""
    images_per_step: int = 4
    flip_probability: float = 0.5
    jitter_min: float = 0.8
    """large-scale jitter range (Pi-SAM: 0.8-1.6)"""
    jitter_max: float = 1.6
    min_mask_area: int = 16
    lr: float = 1e-3
    """Adam's lr at the start of each stage (cosine to 0 over the stage)"""
    num_points: int = 0
    """loss points per mask (0: HQ-SAM's share of the low-res grid, 784 for 64 x 64)"""
    oversample_ratio: float = 3.0
    importance_sample_ratio: float = 0.75
    bce_weight: float = 1.0
    dice_weight: float = 1.0
    max_points: int = 10
    """most simulated clicks per sample (Pi-SAM: 10)"""
    min_area: int = 2
    """smallest error region (after the boundary strip) that can receive a click (Pi-SAM: 2)"""
    variant: str = "full"
    """Table 5's decoder variant (:data:`~sam_repro.methods.pisam.VARIANTS`: ``none``, ``rgb``, ``rgb_hr``,
    ``full``); its ablation files are trained by ``scripts/train_pisam_ablations.sh`` at one equal budget"""
    init_hq: str = "registry"
    """where the HQ parts start: ``"registry"`` (the backbone's registered HQ-SAM file, ``hqsam:BACKBONE``, as the
    official code starts from HQ-SAM's ``sam_vit_*_maskdecoder.pth``), ``"random"`` (freshly drawn), or the path of
    an HQ-only file trained on the same SAM weights"""
    hr_dim_1: int = 0
    """first HR-head width (0: default_hr_dims)"""
    hr_dim_2: int = 0
    """second HR-head width, also the RGB embedding's (0: default_hr_dims)"""
    seed: int = 0
    cache_samples: bool = True
    checkpoint_every: int = 100
    run_dir: str = "runs/pi_sam"
    """training state (resumable), log.jsonl"""
    output: str = str(get_weights("pisam", "tiny").checkpoint.shipped)
    """where the Pi-only weights go"""
    threads: int = 0
    """torch threads (0 = torch's default)"""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.steps_hr + self.steps_interactor


def check_config(config: PiSamTrainConfig) -> None:
    """Validate ``config`` before anything is loaded (the message names the field)."""
    if not [name for name in config.datasets.split(",") if name.strip()]:
        raise ValueError("datasets must name at least one dataset")
    from sam_repro.methods.pisam.decoder import VARIANTS

    if config.variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {config.variant!r}")
    if config.steps_hr < 0 or config.steps_interactor < 0 or config.steps < 1:
        raise ValueError(f"steps_hr and steps_interactor must be >= 0 with at least one step, got "
                         f"{config.steps_hr}, {config.steps_interactor}")
    if not 0 < config.jitter_min <= config.jitter_max:
        raise ValueError(f"need 0 < jitter_min <= jitter_max, got {config.jitter_min}, {config.jitter_max}")
    for name in ("images_per_step", "checkpoint_every", "max_points", "min_area"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")
    if config.max_points > 10:
        raise ValueError(f"max_points is at most 10 (the interactor's limit), got {config.max_points}")
    if min(config.num_points, config.samples_per_dataset, config.hr_dim_1, config.hr_dim_2) < 0:
        raise ValueError("num_points, samples_per_dataset and hr_dim_* must be >= 0 (0: the default)")


def stage_of(step: int, config: PiSamTrainConfig) -> str:
    """The stage of 0-based ``step``: ``"hr"`` for the first ``steps_hr`` steps, then ``"interactor"``."""
    return "hr" if step < config.steps_hr else "interactor"


def lr_at(step: int, config: PiSamTrainConfig) -> float:
    """Cosine annealing within the step's stage: lr * (1 + cos(pi * t / T)) / 2 (t from 0 at the stage start)."""
    start, length = (0, config.steps_hr) if stage_of(step, config) == "hr" else (config.steps_hr,
                                                                                  config.steps_interactor)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * (step - start) / max(1, length)))


def mask_loss(logits: torch.Tensor, targets: torch.Tensor, count: int, config: PiSamTrainConfig,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """BCE + dice at ``count`` uncertain points of (N, 1, h, w) logits against (N, 1, H, W) soft targets
    (sampled at the same normalised places, so any two resolutions compare), averaged over the N masks."""
    return point_sampled_bce_dice(logits, targets, num_points=count, oversample_ratio=config.oversample_ratio,
                                  importance_sample_ratio=config.importance_sample_ratio,
                                  bce_weight=config.bce_weight, dice_weight=config.dice_weight, generator=generator)


def simulate_corrections(low_res: torch.Tensor, targets: torch.Tensor, config: PiSamTrainConfig,
                         rng: np.random.Generator) -> tuple[list[tuple[torch.Tensor, torch.Tensor] | None], int, int]:
    """Training clicks for each sample: error regions of (low-res logits > 0) against the targets resized
    (bilinear, as Pi-SAM) to the low-res grid.

    Returns:
        per sample None (no error region) or ((K, 2) (x + 0.5) / G coords, (K,) flags), and the counts of
        positive and of all clicks.
    """
    from sam_repro.prompts import error_region_clicks

    grid = low_res.shape[-1]
    gt = F.interpolate(targets, (grid, grid), mode="bilinear", align_corners=False)[:, 0].clamp(0, 1).numpy()
    pred = (low_res[:, 0] > 0).cpu().numpy()
    out: list[tuple[torch.Tensor, torch.Tensor] | None] = []
    positives = total = 0
    for i in range(low_res.shape[0]):
        clicks = error_region_clicks(gt[i], pred[i], rng, training=True, max_points=config.max_points,
                                     min_area=config.min_area)
        if not clicks:
            out.append(None)
            continue
        coords = torch.tensor([[(c.x + 0.5) / grid, (c.y + 0.5) / grid] for c in clicks], dtype=torch.float32)
        flags = torch.tensor([c.label for c in clicks], dtype=torch.int64)
        out.append((coords, flags))
        positives += int(flags.sum())
        total += len(clicks)
    return out, positives, total


def train_pi_sam(config: PiSamTrainConfig, resume: bool = True, progress: bool = True,
                 stop_after: int | None = None) -> Path | None:
    """Train (or resume) the Pi parts and write the Pi-only weights to ``config.output``; return that path
    (None when ``stop_after`` ended the call first: the state is saved, resume with ``resume=True``).

    Raises:
        ValueError: a bad configuration, or a saved state of another configuration or base SAM.
    """
    import cv2
    from tqdm.auto import tqdm

    from sam_repro.methods.pisam import (
        VARIANTS, load_pi_sam_model, pi_state_dict, save_pi_checkpoint, set_trainable_stage,
    )
    from sam_repro.methods.pisam.weights import load_pi_only_state

    check_config(config)
    if config.threads:
        torch.set_num_threads(config.threads)
    cv2.setNumThreads(1)
    seed_everything(config.seed)
    spec = get_backbone(config.backbone)
    size = spec.config.img_size
    hr_dims = (config.hr_dim_1, config.hr_dim_2) if config.hr_dim_1 and config.hr_dim_2 else None
    model, provenance = load_pi_sam_model(spec, config.base_checkpoint, device="cpu", random_init_pi=True,
                                          seed=config.seed, hr_dims=hr_dims, components=VARIANTS[config.variant])
    base_sha = provenance["checkpoint_sha256"]
    hq_source = _init_hq_parts(model, spec.name, config)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    run_dir = Path(config.run_dir)
    state_path = run_dir / "state.pt"
    step = 0
    saved_optimizer = None
    state = resumable_state(state_path, _comparable(config), resume)
    if state is not None:
        if state["base_sha256"] != base_sha:
            raise ValueError(f"{state_path} was trained on SAM weights with sha256 {state['base_sha256']}, but the "
                             f"base now has sha256 {base_sha}; use another run_dir or resume=False")
        load_pi_only_state(model, state["pi"], state_path)
        restore_rng(rng, state["rng"])
        generator.set_state(state["torch_rng"])
        step = int(state["step"])
        saved_optimizer = (state["stage"], state["optimizer"])
    run_dir.mkdir(parents=True, exist_ok=True)
    pool = HqPool(config.datasets, config.train_split, size, seed=config.seed,
                  samples_per_dataset=config.samples_per_dataset, cache=config.cache_samples)
    log_path = run_dir / "log.jsonl"
    trim_log(log_path, step)
    model.train()  # dropout-free; LayerNorms have no running statistics
    stage = optimizer = None
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="Pi-SAM", unit="step")
    started = time.perf_counter()
    running: dict[str, float] = {}
    stop_at = config.steps if stop_after is None else min(config.steps, step + stop_after)
    while step < stop_at:
        tick = time.perf_counter()
        if stage != stage_of(step, config):
            stage = stage_of(step, config)
            optimizer = torch.optim.Adam(set_trainable_stage(model, stage), lr=config.lr)
            if saved_optimizer is not None and saved_optimizer[0] == stage:
                optimizer.load_state_dict(saved_optimizer[1])
            saved_optimizer = None
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        loss, stats = _train_step(model, pool, step, stage, config, size, rng, generator)
        optimizer.zero_grad(set_to_none=True)
        if loss is not None:
            loss.backward()
            optimizer.step()
        step += 1
        record: dict[str, Any] = {"step": step, "stage": stage, "lr": optimizer.param_groups[0]["lr"],
                                  "loss": None if loss is None else float(loss.detach()), **stats,
                                  "seconds": round(time.perf_counter() - tick, 4)}
        for key in ("loss", "iou_low_res", "iou_hr", "positive_click_share"):
            if record.get(key) is not None:
                running[key] = record[key] if key not in running else 0.98 * running[key] + 0.02 * record[key]
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        with log_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if step % config.checkpoint_every == 0 or step == stop_at:
            save_training_state(state_path, pi=pi_state_dict(model), optimizer=optimizer.state_dict(), stage=stage,
                                step=step, rng=rng_state_to_tensor(rng), torch_rng=generator.get_state(),
                                config=_comparable(config), base_sha256=base_sha)
    bar.close()
    if step < config.steps:
        return None
    model.eval()
    model.mask_decoder.interactor_trained = config.steps_interactor > 0
    meta = {
        "train_config": _comparable(config), "steps": step, "base_checkpoint": provenance["checkpoint"],
        "hq_parts_started_from": hq_source, "train_seconds_this_session": round(time.perf_counter() - started, 1), "command": TRAIN_COMMAND,
        "data": f"{config.datasets}:{config.train_split} (seed {config.seed})",
    }
    save_pi_checkpoint(model, config.output, base_sha256=base_sha, backbone=config.backbone, meta=meta)
    return Path(config.output)


def _train_step(model: torch.nn.Module, pool: HqPool, step: int, stage: str, config: PiSamTrainConfig, size: int,
                rng: np.random.Generator,
                generator: torch.Generator) -> tuple[torch.Tensor | None, dict[str, Any]]:
    """The loss of one step's images (GT tight box per image); None when stage 2 finds no error region."""
    from sam_repro.methods.pisam import Corrections
    from sam_repro.prompts import mask_to_box

    images, targets, boxes = [], [], []
    for j in range(config.images_per_step):
        image, coverage = pool.item(step * config.images_per_step + j)
        soft = coverage[int(rng.integers(len(coverage)))].astype(np.float32) / 255.0
        image, soft = large_scale_jitter(image, soft, size, rng, flip_probability=config.flip_probability,
                                         jitter_min=config.jitter_min, jitter_max=config.jitter_max,
                                         min_mask_area=config.min_mask_area)
        target = np.zeros((size, size), np.float32)
        target[: soft.shape[0], : soft.shape[1]] = soft
        tensor = torch.tensor(image).permute(2, 0, 1).float()
        images.append(model.preprocess(tensor[None])[0])
        targets.append(target)
        boxes.append(mask_to_box(prompt_binary(target)))
    targets_t = torch.as_tensor(np.stack(targets))[:, None]
    decoder = model.mask_decoder
    with torch.no_grad():  # SAM is frozen in both stages
        embeddings, inputs = model.encode(torch.stack(images))
        sparse, dense = model.prompt_encoder(points=None, boxes=torch.as_tensor(np.stack(boxes), dtype=torch.float32),
                                             masks=None)
    pe = model.prompt_encoder.get_dense_pe()
    count = config.num_points or max(1, round(HQ_SAM_POINT_SHARE * (size // 4) ** 2))
    stats: dict[str, Any] = {}
    if stage == "hr":
        out = decoder.predict_pi(embeddings, pe, sparse, dense, inputs["early_features"], inputs["image"])
        low_res, hr = out.low_res, out.hr
        loss = mask_loss(low_res, targets_t, count, config, generator) + mask_loss(hr, targets_t, count, config,
                                                                                    generator)
    else:
        with torch.no_grad():  # everything before the interactor is frozen: no graph needed
            features, hyper_in, _ = decoder.mask_features(embeddings, pe, sparse, dense, inputs["early_features"])
            low_res = decoder.low_res_logits(features, hyper_in)
            features = decoder.embed_object(features, low_res)
        clicks, positives, total = simulate_corrections(low_res, targets_t, config, rng)
        stats.update(clicks=total, positive_click_share=positives / total if total else None)
        valid = [i for i, c in enumerate(clicks) if c is not None]
        stats["valid_samples"] = len(valid)
        if not valid:
            return None, stats
        index = torch.as_tensor(valid)
        corrections = Corrections.pad([clicks[i][0] for i in valid], [clicks[i][1] for i in valid])
        corrected = decoder.interact_2(features[index], hyper_in[index], corrections)
        hr = decoder.hr_logits(corrected, inputs["image"][index])
        targets_t = targets_t[index]
        low_res = low_res[index]
        loss = mask_loss(hr, targets_t, count, config, generator)  # averaged over the valid samples
    with torch.no_grad():
        binary = (targets_t >= 0.5).float()
        up = F.interpolate(low_res.detach(), binary.shape[-2:], mode="bilinear", align_corners=False)
        stats["iou_low_res"] = float(mask_iou(up, binary).mean())
        stats["iou_hr"] = float(mask_iou(hr.detach(), binary).mean())
    return loss, stats


def _init_hq_parts(model: torch.nn.Module, backbone: str, config: PiSamTrainConfig) -> str:
    """Start ``model``'s HQ parts as ``config.init_hq`` says and return where they came from (for the file's meta).

    An HQ file is loaded through :func:`~sam_repro.methods.hqsam.load_hq_sam_model` on the same base SAM, which
    refuses HQ parts trained on other SAM weights.
    """
    from sam_repro.methods.hqsam import load_hq_sam_model
    from sam_repro.methods.hqsam.weights import hq_state_dict, load_hq_only_state

    if config.init_hq == "random":
        return "random"
    checkpoint = None if config.init_hq == "registry" else config.init_hq
    hq_model, info = load_hq_sam_model(backbone, checkpoint, device="cpu", base_checkpoint=config.base_checkpoint)
    load_hq_only_state(model, hq_state_dict(hq_model), info["checkpoint"])
    return f"{info['checkpoint']} (sha256 {info['checkpoint_sha256']})"


def _comparable(config: PiSamTrainConfig) -> dict[str, Any]:
    """The configuration fields that define a run (not where it reads or writes, nor how fast it runs)."""
    data = asdict(config)
    for key in ("base_checkpoint", "run_dir", "output", "threads", "cache_samples", "checkpoint_every", "extra"):
        data.pop(key)
    return json.loads(json.dumps(data))
