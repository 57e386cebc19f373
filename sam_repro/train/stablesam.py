"""Train Stable-SAM's plug-ins on top of the frozen tiny SAM (``stable_sam_tiny.pt``; ``sam-repro train stablesam``).

Recipe of the supplement (../shared/papers/004, "Training Details" and "Occlusion Image Synthesis"), as followed:

* **frozen SAM**; only DSP and DRP train (:func:`~sam_repro.methods.stablesam.freeze_sam_parts`), or, for the
  ``decoder_ft`` ablation, SAM's whole mask decoder with the plug-ins (conventional deformable attention);
* **data**: HQSeg-44K, stood in for by HQ-SAM's pool (:mod:`sam_repro.train.hq_pool`: thin + salient train splits),
  with large-scale jitter and **occlusion synthesis** with probability 0.5 (:mod:`sam_repro.train.occlusion`);
* **prompts** drawn per object from the mixed types: the ground-truth box, 1/3/5/10 random positive points, a noisy
  box (noise scale 0.4, redrawn until its IoU with the ground-truth box is at least 0.5) and a coarse mask (Gaussian
  noise in the boundary band, HQ-SAM's); "robust training against ambiguous prompts" supervises every prompt, an
  ambiguous one included, with the whole object, which is what a single-output decoder trained on object masks does;
* **loss**: BCE + dice on the single-mask output (``multimask_output=False``; the paper names the losses but not the
  output), at PointRend uncertain points as HQ-SAM (:func:`~sam_repro.train.losses.point_sampled_bce_dice`);
* **optimiser**: Adam, lr 1e-3, no weight decay, constant (the paper gives no schedule), **one epoch** ("fast
  adaptation"): 1/12 of HQ-SAM's 12-epoch schedule, i.e. 16,000 / 12 ~ 1,350 steps of 4 images here (the embedded
  HQ run's 16,000 steps of 4).

Variants (:data:`~sam_repro.methods.stablesam.VARIANTS`, the Table 8 ablations, reconstructed) train with the same
data and steps; ``no_rts`` replaces the robust prompt mix by HQ-SAM's clean one (the ground-truth box, 10 points,
a coarse mask) and no occlusion synthesis.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sam_repro.backbones.decoding import decode_multi_image
from sam_repro.backbones.registry import get_backbone
from sam_repro.backbones.weights import STABLE_TRAIN_COMMAND as TRAIN_COMMAND, get_weights
from sam_repro.train.common import (
    restore_rng, resumable_state, rng_state_to_tensor, save_training_state, seed_everything, trim_log,
)
from sam_repro.train.hq_pool import HqPool, large_scale_jitter, prompt_binary
from sam_repro.train.losses import mask_iou, point_sampled_bce_dice
from sam_repro.train.occlusion import paste_occluder

PROMPT_KINDS = ("box", "points", "noisy_box", "mask")
ROBUST_PROMPTS = "box,points,noisy_box,mask"
CLEAN_PROMPTS = "box,points,mask"
"""HQ-SAM's prompt mix, for the ``no_rts`` ablation (with ``point_counts`` 10)."""


@dataclass
class StableSamTrainConfig:
    """Hyperparameters of :func:`train_stable_sam` (defaults: the shipped ``stable_sam_tiny.pt``'s run)."""

    backbone: str = "tiny"
    base_checkpoint: str | None = None
    """SAM weights under the plug-ins (None: the backbone's registered file)"""
    variant: str = "full"
    """``full`` (Stable-SAM) or a Table 8 ablation: no_amplitude, spatial_attn, fixed_alpha, no_rts, decoder_ft"""
    datasets: str = "synthetic/thin,synthetic/salient"
    train_split: str = "train"
    samples_per_dataset: int = 1000
    steps: int = 1350
    """one epoch = 1/12 of HQ-SAM's 16,000-step embedded schedule"""
    images_per_step: int = 4
    prompts: str = ""
    """comma-separated prompt kinds drawn uniformly per object ("": the variant's, robust or clean)"""
    point_counts: str = ""
    """numbers of positive points of a point prompt, drawn uniformly ("": 1,3,5,10; no_rts: 10)"""
    noisy_box_scale: float = 0.4
    noisy_box_min_iou: float = 0.5
    occlusion_probability: float = -1.0
    """probability of occlusion synthesis (< 0: the variant's, 0.5; no_rts: 0)"""
    mask_band_factor: int = 2
    mask_noise_std: float = 1.0
    flip_probability: float = 0.5
    jitter_min: float = 0.5
    jitter_max: float = 2.0
    min_mask_area: int = 16
    lr: float = 1e-3
    point_sampling: bool = True
    num_points: int = 0
    seed: int = 0
    cache_samples: bool = True
    eval_dataset: str = "synthetic/thin"
    eval_split: str = "val"
    eval_every: int = 250
    eval_samples: int = 12
    checkpoint_every: int = 100
    run_dir: str = ""
    """training state and log.jsonl ("": runs/stable_sam_<variant>)"""
    output: str = ""
    """where the parts go ("": the shipped stable_sam_tiny.pt for ``full``, stable_sam_tiny_<variant>.pt else)"""
    threads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> "StableSamTrainConfig":
        """A copy with every "variant default" field filled in (and checked).

        Raises:
            ValueError: naming the offending field.
        """
        from sam_repro.methods.stablesam import variant_config

        variant_config(self.variant)
        clean = self.variant == "no_rts"
        values = asdict(self)
        values["prompts"] = self.prompts or (CLEAN_PROMPTS if clean else ROBUST_PROMPTS)
        values["point_counts"] = self.point_counts or ("10" if clean else "1,3,5,10")
        if self.occlusion_probability < 0:
            values["occlusion_probability"] = 0.0 if clean else 0.5
        values["run_dir"] = self.run_dir or f"runs/stable_sam_{self.variant}"
        if not self.output:
            shipped = get_weights("stablesam", "tiny").checkpoint.shipped
            values["output"] = str(shipped if self.variant == "full" else
                                   shipped.with_name(f"stable_sam_tiny_{self.variant}.pt"))
        config = StableSamTrainConfig(**values)
        kinds = config.kinds()
        if not kinds or any(kind not in PROMPT_KINDS for kind in kinds):
            raise ValueError(f"prompts must be a comma-separated subset of {', '.join(PROMPT_KINDS)}, "
                             f"got {config.prompts!r}")
        counts = config.counts()
        if not counts or min(counts) < 1:
            raise ValueError(f"point_counts must be positive integers, got {config.point_counts!r}")
        if not 0 <= config.occlusion_probability <= 1:
            raise ValueError(f"occlusion_probability must be in [0, 1], got {config.occlusion_probability}")
        if not 0 < config.noisy_box_min_iou <= 1 or not 0 <= config.noisy_box_scale <= 1:
            raise ValueError("noisy_box_scale must be in [0, 1] and noisy_box_min_iou in (0, 1]")
        for name in ("steps", "images_per_step", "checkpoint_every", "eval_every", "mask_band_factor"):
            if getattr(config, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")
        return config

    def kinds(self) -> list[str]:
        return list(dict.fromkeys(k.strip() for k in self.prompts.split(",") if k.strip()))

    def counts(self) -> list[int]:
        try:
            return [int(c) for c in self.point_counts.split(",") if c.strip()]
        except ValueError:
            raise ValueError(f"point_counts must be comma-separated integers, got {self.point_counts!r}") from None


@dataclass
class TrainItem:
    """One prompted object: the preprocessed image (3, S, S), the soft target (S, S) zero-padded, the prompt kind,
    the prompt (box (4,) xyxy; points ((P, 2), (P,)); mask input (1, m, m)) and the group it decodes with."""

    image: torch.Tensor
    target: np.ndarray
    kind: str
    prompt: Any

    @property
    def group(self) -> tuple[str, int]:
        """Items of one group share the prompt encoder's output shape: boxes, points of one count, masks."""
        if self.kind in ("box", "noisy_box"):
            return ("box", 0)
        if self.kind == "points":
            return ("points", len(self.prompt[0]))
        return ("mask", 0)


def make_item(model: torch.nn.Module, image: np.ndarray, soft: np.ndarray, config: StableSamTrainConfig, size: int,
              rng: np.random.Generator) -> TrainItem:
    """Prompt one object (``soft``: (h, w) coverage in [0, 1] on the (h, w, 3) ``image``, h, w <= size) with a kind
    drawn uniformly from ``config.kinds()``; a point prompt with more points than object pixels falls back to the
    box."""
    from sam_repro.prompts import coarse_mask, hq_sam_mask_input, mask_to_box, noisy_box, random_points

    target = np.zeros((size, size), np.float32)
    target[: soft.shape[0], : soft.shape[1]] = soft
    binary = prompt_binary(target)
    kinds = config.kinds()
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "points":
        counts = config.counts()
        count = counts[int(rng.integers(len(counts)))]
        if np.count_nonzero(binary) < count:
            kind = "box"
    if kind == "box":
        prompt: Any = mask_to_box(binary)
    elif kind == "noisy_box":
        prompt = noisy_box(mask_to_box(binary), soft.shape, rng, scale=config.noisy_box_scale,
                           min_iou=config.noisy_box_min_iou, on_failure="best")
    elif kind == "points":
        prompt = random_points(binary, rng, count)
    else:
        prompt = hq_sam_mask_input(coarse_mask(binary, rng, size=tuple(model.prompt_encoder.mask_input_size),
                                               factor=config.mask_band_factor, noise_std=config.mask_noise_std))
    tensor = torch.tensor(image).permute(2, 0, 1).float()  # a copy: pool samples may be read-only
    return TrainItem(model.preprocess(tensor[None])[0], target, kind, prompt)


def decode_items(model: torch.nn.Module, embeddings: torch.Tensor, items: list[TrainItem],
                 prompt_grad: bool = False) -> torch.Tensor:
    """Single-output low-res logits (N, 1, 4g, 4g) of every item (item i on embedding i), grouped by prompt shape;
    autograd flows through the decoder (the plug-ins), and through the prompt encoder with ``prompt_grad`` (learned
    prompt tokens)."""
    device = embeddings.device
    out: list[torch.Tensor | None] = [None] * len(items)
    groups: dict[tuple[str, int], list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.group, []).append(i)
    for (kind, _), chosen in groups.items():
        prompts = [items[i].prompt for i in chosen]
        points = boxes = masks = None
        if kind == "box":
            boxes = torch.as_tensor(np.stack(prompts), dtype=torch.float32, device=device)
        elif kind == "points":
            points = (torch.as_tensor(np.stack([p for p, _ in prompts]), dtype=torch.float32, device=device),
                      torch.as_tensor(np.stack([lab for _, lab in prompts]), dtype=torch.int64, device=device))
        else:
            masks = torch.as_tensor(np.stack(prompts), dtype=torch.float32, device=device)
        with torch.set_grad_enabled(prompt_grad):
            sparse, dense = model.prompt_encoder(points=points, boxes=boxes, masks=masks)
        index = torch.as_tensor(chosen, device=device)
        logits, _ = decode_multi_image(model.mask_decoder, embeddings, index, model.prompt_encoder.get_dense_pe(),
                                       sparse, dense, multimask_output=False)
        for row, i in enumerate(chosen):
            out[i] = logits[row]
    return torch.stack(out)


def _images(pool: HqPool, step: int, config: StableSamTrainConfig, size: int,
            rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """The step's augmented (image, target coverage) pairs: jitter, occlusion synthesis, one object each."""
    pairs = []
    jitter = dict(flip_probability=config.flip_probability, jitter_min=config.jitter_min,
                  jitter_max=config.jitter_max, min_mask_area=config.min_mask_area)
    for j in range(config.images_per_step):
        image, coverage = pool.item(step * config.images_per_step + j)
        image, soft = large_scale_jitter(image, coverage.astype(np.float32) / 255.0, size, rng, **jitter)
        if rng.random() < config.occlusion_probability:
            other_image, other = pool.item(int(rng.integers(1 << 62)))
            other_image, other_soft = large_scale_jitter(other_image, other.astype(np.float32) / 255.0, size, rng,
                                                         **jitter)
            occluder = other_soft[int(rng.integers(len(other_soft)))]
            image, soft, _ = paste_occluder(image, soft, other_image, occluder, rng, min_area=config.min_mask_area)
        pairs.append((image, soft[int(rng.integers(len(soft)))]))
    return pairs


def set_trainable(model: torch.nn.Module, variant: str) -> list[torch.nn.Parameter]:
    """Freeze everything but the variant's trained parts; return those parameters."""
    from sam_repro.methods.stablesam import is_trained_parameter

    trainable = []
    for name, parameter in model.named_parameters():
        train = is_trained_parameter(name, variant)
        parameter.requires_grad_(train)
        if train:
            trainable.append(parameter)
    if not trainable:
        raise ValueError(f"variant {variant!r}: the model has nothing to train")
    return trainable


def train_stable_sam(config: StableSamTrainConfig, resume: bool = True, progress: bool = True,
                     stop_after: int | None = None) -> Path | None:
    """Train (or resume) the variant's parts and write the parts file to ``config.output``; return that path
    (None when ``stop_after`` ended the call first; the state is saved in ``run_dir``).

    Raises:
        ValueError: a bad configuration, or a saved state of another configuration or another base SAM.
    """
    import cv2
    from tqdm.auto import tqdm

    from sam_repro.methods.stablesam import is_trained_parameter, load_stable_sam_model, save_stable_parts

    config = config.resolved()
    if config.threads:
        torch.set_num_threads(config.threads)
    cv2.setNumThreads(1)
    seed_everything(config.seed)
    spec = get_backbone(config.backbone)
    size = spec.config.img_size
    model, provenance = load_stable_sam_model(spec, config.base_checkpoint, device="cpu", random_init_plugins=True,
                                              variant=config.variant, seed=config.seed)
    base_sha = provenance["base_checkpoint_sha256"]
    trainable = set_trainable(model, config.variant)
    model.eval()  # the frozen parts keep their statistics (a conv encoder's batch norm); the trained parts have
    # no mode-dependent layers, and gradients flow in eval mode as well
    optimizer = torch.optim.Adam(trainable, lr=config.lr, weight_decay=0.0)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    run_dir = Path(config.run_dir)
    state_path = run_dir / "state.pt"
    step = 0
    state = resumable_state(state_path, _comparable(config), resume)
    if state is not None:
        if state["base_sha256"] != base_sha:
            raise ValueError(f"{state_path} was trained on SAM weights with sha256 {state['base_sha256']}, not on "
                             f"{provenance['base_checkpoint']} (sha256 {base_sha}); use another run_dir or resume=False")
        current = model.state_dict()
        with torch.no_grad():
            for key, value in state["parts"].items():
                current[key].copy_(value)
        optimizer.load_state_dict(state["optimizer"])
        restore_rng(rng, state["rng"])
        generator.set_state(state["torch_rng"])
        step = int(state["step"])
    run_dir.mkdir(parents=True, exist_ok=True)
    pool = HqPool(config.datasets, config.train_split, size, seed=config.seed,
                  samples_per_dataset=config.samples_per_dataset, cache=config.cache_samples)
    log_path = run_dir / "log.jsonl"
    trim_log(log_path, step)
    evaluator = _Evaluator(model, provenance, config)
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc=f"Stable-SAM ({config.variant})",
               unit="step")
    started = time.perf_counter()
    stop_at = config.steps if stop_after is None else min(config.steps, step + stop_after)
    running: dict[str, float] = {}
    while step < stop_at:
        tick = time.perf_counter()
        items = [make_item(model, image, soft, config, size, rng) for image, soft in _images(pool, step, config, size,
                                                                                             rng)]
        with torch.no_grad():
            embeddings = model.image_encoder(torch.stack([item.image for item in items]))
        logits = decode_items(model, embeddings, items)
        targets = torch.as_tensor(np.stack([item.target for item in items]))[:, None]
        loss = point_sampled_bce_dice(logits, targets, point_sampling=config.point_sampling,
                                      num_points=config.num_points, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        with torch.no_grad():
            up = torch.nn.functional.interpolate(logits.detach(), targets.shape[-2:], mode="bilinear",
                                                 align_corners=False)
            train_iou = float(mask_iou(up, (targets >= 0.5).float()).mean())
        record: dict[str, Any] = {"step": step, "loss": float(loss.detach()), "iou": train_iou,
                                  "kinds": [item.kind for item in items],
                                  "seconds": round(time.perf_counter() - tick, 4)}
        for key in ("loss", "iou"):
            running[key] = record[key] if key not in running else 0.98 * running[key] + 0.02 * record[key]
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        if step % config.eval_every == 0 or step == config.steps:
            record.update(evaluator())
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in record.items() if k.startswith("val_")))
        with log_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if step % config.checkpoint_every == 0 or step == stop_at:
            parts = {k: v.detach().clone() for k, v in model.state_dict().items()
                     if is_trained_parameter(k, config.variant)}
            save_training_state(state_path, parts=parts, optimizer=optimizer.state_dict(), step=step,
                                rng=rng_state_to_tensor(rng), torch_rng=generator.get_state(),
                                config=_comparable(config), base_sha256=base_sha)
    bar.close()
    if step < config.steps:
        return None
    model.eval()
    meta = {"train_config": _comparable(config), "steps": step, "base_checkpoint": provenance["base_checkpoint"],
            "train_seconds_this_session": round(time.perf_counter() - started, 1), "command": TRAIN_COMMAND,
            "data": f"{config.datasets}:{config.train_split} (seed {config.seed})"}
    from sam_repro.methods.stablesam import variant_config

    save_stable_parts(model, config.output, variant=config.variant, base_sha256=base_sha, backbone=config.backbone,
                      plugin_config=variant_config(config.variant), meta=meta)
    return Path(config.output)


def _comparable(config: StableSamTrainConfig) -> dict[str, Any]:
    """The fields that define a run (the base SAM is pinned by its sha256 instead of its path)."""
    data = asdict(config)
    for key in ("base_checkpoint", "run_dir", "output", "threads", "cache_samples", "eval_dataset", "eval_split",
                "eval_every", "eval_samples", "checkpoint_every", "extra"):
        data.pop(key)
    return json.loads(json.dumps(data))


class _Evaluator:
    """Monitoring only (nothing is selected on it): mIoU of Stable-SAM and of plain SAM (the same model with α1
    forced to 0) on the first ``eval_samples`` of the evaluation split, with seeded noisy boxes (scale 0.4) and with
    one random point, single-mask output, at the samples' own resolution."""

    def __init__(self, model: torch.nn.Module, provenance: dict[str, Any], config: StableSamTrainConfig):
        self.model, self.provenance, self.config = model, provenance, config
        self.samples: list[Any] | None = None

    @torch.no_grad()
    def __call__(self) -> dict[str, float]:
        from sam_repro.data import open_dataset
        from sam_repro.methods.stablesam import StableSamSegmenter
        from sam_repro.metrics import iou
        from sam_repro.prompts import mask_to_box, noisy_box, random_points

        if self.config.eval_samples < 1:
            return {}
        if self.samples is None:
            dataset = open_dataset(self.config.eval_dataset, self.config.eval_split)
            self.samples = [dataset[i] for i in range(min(self.config.eval_samples, len(dataset)))]
        was_training = self.model.training
        self.model.eval()
        segmenter = StableSamSegmenter(self.model, {"backbone": "training"})
        plain = segmenter.plugin_block is not None
        scores: dict[str, list[float]] = {}
        for index, sample in enumerate(self.samples):
            segmenter.set_image(sample.image)
            for k, gt in enumerate(sample.masks):
                rng = np.random.default_rng([self.config.seed, index, k])
                box = noisy_box(mask_to_box(gt), gt.shape, rng, min_iou=0.5, on_failure="best")
                points, labels = random_points(gt, rng, 1, allow_fewer=True)
                for name, prompt in (("noisy_box", {"box": box}), ("point", {"points": points, "labels": labels})):
                    for tag, alpha in (("stable", None), ("sam", 0.0)) if plain else (("stable", None),):
                        segmenter.force_alpha = alpha
                        scores.setdefault(f"val_{name}_miou_{tag}", []).append(iou(segmenter.predict(**prompt).mask,
                                                                                   gt))
        segmenter.force_alpha = None
        self.model.train(was_training)
        return {key: float(np.mean(values)) for key, values in scores.items()}
