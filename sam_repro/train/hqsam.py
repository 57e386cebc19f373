"""Train the embedded world's HQ-SAM: the HQ parts on top of the frozen tiny SAM (``hq_sam_tiny.pt``).

Recipe of HQ-SAM (Ke et al., NeurIPS 2023; SysCV/sam-hq ``train/train.py``), as followed here:

* **frozen SAM**: the image encoder, prompt encoder and SAM's mask decoder keep the base weights (the
  ``backbone``'s registered SAM file, or ``base_checkpoint``); only the HQ modules are trained
  (:func:`~sam_repro.methods.hqsam.freeze_sam_parts`: the HQ token, its MLP and the three HQ feature
  modules);
* **data**: the high-quality segmentation pool HQSeg-44K (DIS5K-TR, ThinObject5K-TR, FSS, DUTS-TR,
  DUTS-TE, ECSSD, MSRA10K: one object mask per image). Its embedded stand-in is the *train* splits of
  ``synthetic/thin`` (DIS5K / ThinObject-5K: thin, meshed, holed structures) and ``synthetic/salient``
  (DUTS / ECSSD / MSRA10K style: one salient object); every other family (the generic pool the SAM
  was trained on, the other implicit-semantic, multi-class and domain families) is never seen, so a
  zero-shot evaluation can use any of them. The test/val splits of thin and salient are separate draws;
  HQ-SAM's own evaluation sets (DIS5K-VD, ThinObject5K-TE, HRSOD, COIFT) correspond to them;
* **augmentation**: random horizontal flip and large-scale jitter (resize by a random factor, random
  crop to the input size or pad);
* **prompts**: one prompt per object, its kind drawn uniformly from {the tight box, ``num_prompt_points``
  (10) random positive points, a noisy mask}. The noisy mask is HQ-SAM's: the mask resized to the mask
  prompt's resolution, Gaussian noise (std 1) added inside the incoherent boundary band only, threshold
  0.5 (:func:`sam_repro.prompts.coarse_mask`), fed to SAM as 0/255 values
  (:func:`sam_repro.prompts.hq_sam_mask_input`), as HQ-SAM does; the box and the points come from the
  same binary mask; an object with fewer pixels than points gets a box or a mask instead (HQ-SAM drops
  the point prompt for such a batch);
* **loss**: BCE + dice (1:1) on the HQ output's logits only, evaluated at PointRend-style uncertain
  points (``point_sampling``: ``oversample_ratio`` 3, ``importance_sample_ratio`` 0.75) and averaged
  over objects, against the soft ground truth sampled at the same points;
* **optimiser**: Adam, lr 1e-3, no weight decay, a 10x step drop (HQ-SAM: StepLR at epoch 10 of 12,
  so here at ``lr_drop_at`` = 10/12 of the steps).

Scaled-down choices and deviations (the embedded world runs on a 2-core CPU):

* **input size 256** (the tiny backbone's) instead of 1024: every family is generated at its own
  default size (thin at 1024, like DIS5K's high-resolution images; salient at 256) and resized to 256
  on the long side exactly as the segmenter resizes images at evaluation time
  (``ResizeLongestSide.apply_image``); masks are *area*-averaged to the same size, so a stroke of
  1-2 px at 1024 stays present as partial coverage (a soft target, like HQ-SAM's bilinearly resized
  0-255 labels divided by 255) instead of being redrawn at >= 1 px at 256 (what generating thin at 256
  would do: its line widths are clamped to 1 px, i.e. 4x too thick, and its finest twigs are cut);
* **ground truth vs logits**: HQ-SAM's 256x256 low-res logits are supervised with 1024 px labels
  (4x); the tiny SAM's 64x64 logits are supervised with the 256 px soft labels (the same 4x);
* **points**: HQ-SAM samples 112x112 = 12,544 points on a 256x256 logit map (19% of its cells); the
  same share of the tiny backbone's 64x64 map is 28x28 = 784 points (``num_points``, derived from the
  low-res size when 0). ``point_sampling=False`` is a dense loss on the logits upsampled to 256 px;
* **noisy-mask band**: HQ-SAM's band is where the mask differs from its 8x-downsampled copy at 256 px
  (1/32 of the image side); the tiny SAM's mask prompt is 64 px, so ``mask_band_factor`` 2 keeps the
  band at 1/32 of the side (8 would make it 4x wider);
* **jitter range** 0.5-2.0 instead of 0.1-2.0: at 256 px an object shrunk 10x spans a few of the
  encoder's 16 px patches and its thin structures vanish below a pixel;
* **batch** 4 images per step (HQ-SAM: 4 per GPU on 8 GPUs), same lr; ``steps`` instead of epochs
  (the step drop scales with it): 6,000 steps by default, the budget of the shipped v3 run (HQ-SAM itself runs
  about 16.5K iterations: 44K images / 32 x 12 epochs; the v2 run took 16,000 steps, 41.6 min on 2 CPU threads);
* **data volume**: 1,000 samples from each train split (``samples_per_dataset``; the families'
  nominal train splits hold 200 each, which 6,000 steps would cycle 60 times, against HQ-SAM's 12
  epochs; the extra indices are further draws of the same *train* split, disjoint from val and test by
  construction of the seeds), i.e. 2,000 images and 12 epochs; each is generated on first use and
  then held in memory (about 0.5 GB), so the first pass (500 steps) is the slow part of a run (2-3
  steps/s on 2 threads, mostly thin at 1024 px); later steps encode the cached images and run the
  decoder (about 0.15 s per step, 6-7 steps/s);
* the encoder and prompt encoder run without autograd (frozen, nothing upstream is trained); only the
  mask decoder's pass (through which the HQ token's gradient flows) is recorded;
* a quick evaluation every ``eval_every`` steps (tight box, HQ output alone: ``hq_token_only=True``,
  the maintainers' setting for single-object HQ data) on the first ``eval_samples`` of the thin
  family's *val* split at its full 1024 px (mIoU and boundary IoU, against plain SAM on the same
  prompts), for monitoring only: nothing is selected on it.

The result is an HQ-only checkpoint (:func:`~sam_repro.methods.hqsam.save_hq_checkpoint`: the HQ
parameters in float32, about 0.2 MB for tiny, with the base SAM file's sha256 in its metadata), which
``load_segmenter("hqsam:tiny")`` loads on top of the shipped tiny SAM.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sam_repro.backbones.weights import HQ_TRAIN_COMMAND as TRAIN_COMMAND, get_weights
from sam_repro.backbones.registry import get_backbone
from sam_repro.train.common import (
    restore_rng,
    resumable_state,
    rng_state_to_tensor,
    save_training_state,
    seed_everything,
    trim_log,
)
from sam_repro.train.hq_pool import HqPool, large_scale_jitter, prompt_binary
from sam_repro.train.losses import mask_iou, point_sampled_bce_dice

PROMPT_KINDS = ("box", "points", "mask")


@dataclass
class HqSamTrainConfig:
    """Hyperparameters of :func:`train_hq_sam` (defaults = the shipped ``hq_sam_tiny.pt``'s run)."""

    backbone: str = "tiny"
    """registry name of the frozen SAM"""
    base_checkpoint: str | None = None
    """SAM weights to train on (None: the backbone's registered file, the shipped tiny_sam.pt)"""
    datasets: str = "synthetic/thin,synthetic/salient"
    """comma-separated catalog names of the training pool (the HQSeg-44K stand-in)"""
    train_split: str = "train"
    samples_per_dataset: int = 1000
    """samples drawn from each dataset's train split (0: its nominal length, 200 for thin and salient)"""
    steps: int = 6000
    """optimizer steps (HQ-SAM: 12 epochs of HQSeg-44K at batch 32, about 16.5K iterations)"""
    images_per_step: int = 4
    prompts: str = "box,points,mask"
    """prompt kinds drawn uniformly per object (HQ-SAM: box, points, noisy mask)"""
    num_prompt_points: int = 10
    """positive points of a point prompt (HQ-SAM: 10)"""
    mask_band_factor: int = 2
    """downsampling factor defining the noisy mask's boundary band at the mask prompt's resolution
    (HQ-SAM: 8 at 256 px; 2 at the tiny backbone's 64 px keeps the band at 1/32 of the image side)"""
    mask_noise_std: float = 1.0
    flip_probability: float = 0.5
    jitter_min: float = 0.5
    """large-scale jitter range (HQ-SAM: 0.1-2.0 at 1024 px; 1.0-1.0 turns jitter off)"""
    jitter_max: float = 2.0
    min_mask_area: int = 16
    """a jittered crop keeping fewer object pixels (at 256 px) is redrawn"""
    lr: float = 1e-3
    lr_drop_at: float = 10 / 12
    """fraction of the steps after which the lr drops (HQ-SAM: epoch 10 of 12)"""
    lr_drop_factor: float = 0.1
    point_sampling: bool = True
    """loss at PointRend uncertain points (HQ-SAM); False: dense loss on logits upsampled to the input size"""
    num_points: int = 0
    """loss points per mask (0: HQ-SAM's share of the low-res logit map, 784 for 64x64)"""
    oversample_ratio: float = 3.0
    importance_sample_ratio: float = 0.75
    bce_weight: float = 1.0
    dice_weight: float = 1.0
    seed: int = 0
    cache_samples: bool = True
    """hold the resized training samples in memory (about 0.26 MB each at 256 px)"""
    eval_dataset: str = "synthetic/thin"
    eval_split: str = "val"
    eval_every: int = 500
    eval_samples: int = 16
    checkpoint_every: int = 100
    run_dir: str = "runs/hq_sam"
    """training state (resumable), log.jsonl"""
    output: str = str(get_weights("hqsam", "tiny").checkpoint.shipped)
    """where the HQ-only weights go (the shipped hq_sam_tiny.pt by default)"""
    threads: int = 0
    """torch threads (0 = torch's default)"""
    extra: dict[str, Any] = field(default_factory=dict)


def check_config(config: HqSamTrainConfig) -> list[str]:
    """Validate ``config`` before anything is loaded; return the prompt kinds.

    Raises:
        ValueError: naming the offending field.
    """
    kinds = [kind.strip() for kind in config.prompts.split(",") if kind.strip()]
    if not kinds or any(kind not in PROMPT_KINDS for kind in kinds):
        raise ValueError(f"prompts must be a comma-separated subset of {', '.join(PROMPT_KINDS)}, "
                         f"got {config.prompts!r}")
    if not [name for name in config.datasets.split(",") if name.strip()]:
        raise ValueError("datasets must name at least one dataset")
    if not 0 < config.jitter_min <= config.jitter_max:
        raise ValueError(f"need 0 < jitter_min <= jitter_max, got {config.jitter_min}, {config.jitter_max}")
    if not 0 <= config.lr_drop_at <= 1:
        raise ValueError(f"lr_drop_at is a fraction of the steps in [0, 1], got {config.lr_drop_at}")
    for name in ("steps", "images_per_step", "num_prompt_points", "mask_band_factor", "checkpoint_every",
                 "eval_every"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")
    if config.num_points < 0 or config.samples_per_dataset < 0:
        raise ValueError("num_points and samples_per_dataset must be >= 0 (0: the default)")
    return list(dict.fromkeys(kinds))


def lr_factor(step: int, config: HqSamTrainConfig) -> float:
    """The lr multiplier at ``step`` (0-based): 1, then ``lr_drop_factor`` from ``lr_drop_at`` of the steps."""
    return config.lr_drop_factor if step >= round(config.lr_drop_at * config.steps) else 1.0


# -- data ------------------------------------------------------------------------------------------------
def _pool(config: HqSamTrainConfig, size: int) -> HqPool:
    return HqPool(config.datasets, config.train_split, size, seed=config.seed,
                  samples_per_dataset=config.samples_per_dataset, cache=config.cache_samples)


def _augment(image: np.ndarray, soft: np.ndarray, config: HqSamTrainConfig, size: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return large_scale_jitter(image, soft, size, rng, flip_probability=config.flip_probability,
                              jitter_min=config.jitter_min, jitter_max=config.jitter_max,
                              min_mask_area=config.min_mask_area)


@dataclass
class _Item:
    image: torch.Tensor  # (3, S, S) preprocessed
    target: np.ndarray  # (S, S) float32 soft mask, zero-padded
    kind: str
    prompt: Any  # box (4,), points ((P, 2), (P,)), or mask input (1, m, m)


def _make_item(model: torch.nn.Module, image: np.ndarray, soft: np.ndarray, kinds: list[str],
               config: HqSamTrainConfig, size: int, rng: np.random.Generator) -> _Item:
    from sam_repro.prompts import coarse_mask, hq_sam_mask_input, mask_to_box, random_points

    target = np.zeros((size, size), np.float32)
    target[: soft.shape[0], : soft.shape[1]] = soft
    binary = prompt_binary(target)
    allowed = [k for k in kinds if k != "points" or np.count_nonzero(binary) >= config.num_prompt_points]
    kind = (allowed or ["box"])[int(rng.integers(len(allowed or ["box"])))]
    if kind == "box":
        prompt: Any = mask_to_box(binary)
    elif kind == "points":
        prompt = random_points(binary, rng, config.num_prompt_points)
    else:
        prompt = hq_sam_mask_input(coarse_mask(binary, rng, size=tuple(model.prompt_encoder.mask_input_size),
                                               factor=config.mask_band_factor, noise_std=config.mask_noise_std))
    tensor = torch.tensor(image).permute(2, 0, 1).float()  # a copy: samples may be read-only
    return _Item(model.preprocess(tensor[None])[0], target, kind, prompt)


# -- the model's pass --------------------------------------------------------------------------------------
def decode_hq_batch(model: torch.nn.Module, embeddings: torch.Tensor, early: torch.Tensor, kind: str,
                    prompts: list[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """HQ and SAM logits for one prompt per image, all images in one decoder pass.

    ``MaskDecoderHQ.predict_masks`` repeats one image's embedding for every prompt; with a zero
    embedding and each prompt's own image embedding added to its dense prompt embedding it runs the
    same computation for a batch of images (``0 + (dense + e) == e + dense`` exactly).

    Args:
        embeddings: (N, C, g, g) image embeddings; early: (N, g, g, D) early features.
        kind: ``box``, ``points`` or ``mask``; prompts: N prompts of that kind (see :func:`_make_item`).

    Returns:
        HQ logits (N, 1, 4g, 4g) (with autograd through the HQ parameters) and SAM's single-output
        logits (N, 1, 4g, 4g) from the same pass.
    """
    decoder = model.mask_decoder
    device = embeddings.device
    points = boxes = masks = None
    if kind == "box":
        boxes = torch.as_tensor(np.stack(prompts), dtype=torch.float32, device=device)
    elif kind == "points":
        points = (torch.as_tensor(np.stack([p for p, _ in prompts]), dtype=torch.float32, device=device),
                  torch.as_tensor(np.stack([lab for _, lab in prompts]), dtype=torch.int64, device=device))
    else:
        masks = torch.as_tensor(np.stack(prompts), dtype=torch.float32, device=device)
    with torch.no_grad():
        sparse, dense = model.prompt_encoder(points=points, boxes=boxes, masks=masks)
        dense = dense + embeddings
    features = decoder.hq_features(embeddings, early)
    zero = embeddings.new_zeros((1, *embeddings.shape[1:]))
    logits, _ = decoder.predict_masks(zero, model.prompt_encoder.get_dense_pe(), sparse, dense, features)
    return logits[:, decoder.num_sam_mask_tokens :], logits[:, :1].detach()


def hq_loss(logits: torch.Tensor, targets: torch.Tensor, config: HqSamTrainConfig,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """HQ-SAM's mask loss, averaged over masks: ``bce_weight`` * BCE + ``dice_weight`` * dice at
    PointRend uncertain points (``point_sampling``) or densely on logits upsampled to the targets' size.

    Args:
        logits: (N, 1, h, w) low-res logits; targets: (N, 1, H, W) soft masks in [0, 1].
    """
    return point_sampled_bce_dice(logits, targets, point_sampling=config.point_sampling, num_points=config.num_points,
                                  oversample_ratio=config.oversample_ratio,
                                  importance_sample_ratio=config.importance_sample_ratio,
                                  bce_weight=config.bce_weight, dice_weight=config.dice_weight, generator=generator)


# -- training ------------------------------------------------------------------------------------------------
def train_hq_sam(config: HqSamTrainConfig, resume: bool = True, progress: bool = True,
                 stop_after: int | None = None) -> Path | None:
    """Train (or resume) the HQ parts and write the HQ-only weights to ``config.output``; return that path.

    ``stop_after`` ends this call after that many steps (the state is saved, None is returned), so a
    long run can be split across sessions and continued with ``resume=True``.

    The training state (HQ parameters, optimizer, step, RNG states, the base SAM's sha256) is saved to
    ``<run_dir>/state.pt`` every ``checkpoint_every`` steps, so an interrupted run resumes exactly
    where it stopped. Metrics go to ``<run_dir>/log.jsonl``.

    Raises:
        ValueError: a bad configuration, or a saved state written with another configuration or
            another base SAM.
    """
    import cv2
    from tqdm.auto import tqdm

    from sam_repro.methods.hqsam import freeze_sam_parts, hq_state_dict, load_hq_only_state, load_hq_sam_model
    from sam_repro.methods.hqsam import save_hq_checkpoint

    kinds = check_config(config)
    if config.threads:
        torch.set_num_threads(config.threads)
    cv2.setNumThreads(1)  # the synthetic generators run in this process; OpenCV threads only contend
    seed_everything(config.seed)
    spec = get_backbone(config.backbone)
    size = spec.config.img_size
    model, provenance = load_hq_sam_model(spec, config.base_checkpoint, device="cpu", random_init_hq=True,
                                          seed=config.seed)
    base_sha = provenance["checkpoint_sha256"]
    trainable = freeze_sam_parts(model)
    optimizer = torch.optim.Adam(trainable, lr=config.lr)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    run_dir = Path(config.run_dir)
    state_path = run_dir / "state.pt"
    step = 0
    state = resumable_state(state_path, _comparable(config), resume)
    if state is not None:
        if state["base_sha256"] != base_sha:
            raise ValueError(f"{state_path} was trained on SAM weights with sha256 {state['base_sha256']}, but the "
                             f"base now is {provenance['checkpoint']} (sha256 {base_sha}); use another run_dir or "
                             "resume=False")
        load_hq_only_state(model, state["hq"], state_path)
        optimizer.load_state_dict(state["optimizer"])
        restore_rng(rng, state["rng"])
        generator.set_state(state["torch_rng"])
        step = int(state["step"])
    run_dir.mkdir(parents=True, exist_ok=True)
    pool = _pool(config, size)
    log_path = run_dir / "log.jsonl"
    trim_log(log_path, step)
    evaluator = _Evaluator(model, provenance, config)
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="HQ-SAM", unit="step")
    started = time.perf_counter()
    running: dict[str, float] = {}
    stop_at = config.steps if stop_after is None else min(config.steps, step + stop_after)
    while step < stop_at:
        tick = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = config.lr * lr_factor(step, config)
        loss, stats = _train_step(model, pool, step, kinds, config, size, rng, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        record: dict[str, Any] = {"step": step, "lr": optimizer.param_groups[0]["lr"], "loss": float(loss.detach()),
                                  **stats, "seconds": round(time.perf_counter() - tick, 4)}
        for key in ("loss", "iou_hq", "iou_sam"):
            running[key] = record[key] if key not in running else 0.98 * running[key] + 0.02 * record[key]
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        if step % config.eval_every == 0 or step == config.steps:
            record.update(evaluator())
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in record.items() if k.startswith("val_")))
        with log_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if step % config.checkpoint_every == 0 or step == stop_at:
            save_training_state(state_path, hq=hq_state_dict(model), optimizer=optimizer.state_dict(), step=step,
                                rng=rng_state_to_tensor(rng), torch_rng=generator.get_state(),
                                config=_comparable(config), base_sha256=base_sha)
    bar.close()
    if step < config.steps:
        return None
    meta = {
        "train_config": _comparable(config), "steps": step, "base_checkpoint": provenance["checkpoint"],
        "train_seconds_this_session": round(time.perf_counter() - started, 1), "command": TRAIN_COMMAND,
        "data": f"{config.datasets}:{config.train_split} (seed {config.seed})",
    }
    save_hq_checkpoint(model, config.output, base_sha256=base_sha, backbone=config.backbone, meta=meta)
    return Path(config.output)


def _train_step(model: torch.nn.Module, pool: HqPool, step: int, kinds: list[str], config: HqSamTrainConfig,
                size: int, rng: np.random.Generator,
                generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one step's images (one prompt per image, its object drawn when there are several)."""
    items = []
    for j in range(config.images_per_step):
        image, coverage = pool.item(step * config.images_per_step + j)
        soft = coverage[int(rng.integers(len(coverage)))].astype(np.float32) / 255.0
        image, soft = _augment(image, soft, config, size, rng)
        items.append(_make_item(model, image, soft, kinds, config, size, rng))
    with torch.no_grad():
        embeddings, decoder_inputs = model.encode(torch.stack([item.image for item in items]))
        early = decoder_inputs["early_features"]
    hq = [None] * len(items)
    sam = [None] * len(items)
    for kind in PROMPT_KINDS:
        chosen = [i for i, item in enumerate(items) if item.kind == kind]
        if not chosen:
            continue
        index = torch.as_tensor(chosen)
        hq_logits, sam_logits = decode_hq_batch(model, embeddings[index], early[index], kind,
                                                [items[i].prompt for i in chosen])
        for row, i in enumerate(chosen):
            hq[i], sam[i] = hq_logits[row], sam_logits[row]
    logits = torch.stack(hq)
    targets = torch.as_tensor(np.stack([item.target for item in items]))[:, None]
    loss = hq_loss(logits, targets, config, generator)
    with torch.no_grad():  # monitoring: IoU at the input size, HQ output vs SAM's output of the same pass
        binary = (targets >= 0.5).float()
        up = F.interpolate(torch.cat([logits.detach(), torch.stack(sam)], 1), targets.shape[-2:], mode="bilinear",
                           align_corners=False)
        ious = mask_iou(up, binary.expand_as(up)).mean(0)
    return loss, {"iou_hq": float(ious[0]), "iou_sam": float(ious[1])}


def _comparable(config: HqSamTrainConfig) -> dict[str, Any]:
    """The configuration fields that define a run (not where it reads the base from or writes, how fast
    it runs, or what it monitors; the base SAM is pinned by its sha256 instead)."""
    data = asdict(config)
    for key in ("base_checkpoint", "run_dir", "output", "threads", "cache_samples", "eval_dataset", "eval_split",
                "eval_every", "eval_samples", "checkpoint_every", "extra"):
        data.pop(key)
    return json.loads(json.dumps(data))


class _Evaluator:
    """Tight-box mIoU and boundary IoU of the HQ output (``hq_token_only=True``) and of plain SAM (the
    frozen base, computed once per session) on the first ``eval_samples`` of the evaluation split, at
    the samples' own resolution, through the common segmenter interface."""

    def __init__(self, model: torch.nn.Module, provenance: dict[str, Any], config: HqSamTrainConfig):
        self.model, self.provenance, self.config = model, provenance, config
        self.samples: list[Any] | None = None
        self.segmenter = None
        self.baseline: dict[str, float] | None = None

    def __call__(self) -> dict[str, float]:
        from sam_repro.data import open_dataset
        from sam_repro.methods.hqsam import HqSamSegmenter
        from sam_repro.methods.sam import SamSegmenter, load_sam_model

        if self.config.eval_samples < 1:
            return {}
        if self.samples is None:
            dataset = open_dataset(self.config.eval_dataset, self.config.eval_split)
            self.samples = [dataset[i] for i in range(min(self.config.eval_samples, len(dataset)))]
            self.segmenter = HqSamSegmenter(self.model, {"backbone": "training"}, hq_token_only=True)
        if self.baseline is None:
            sam, info = load_sam_model(self.config.backbone, self.provenance["checkpoint"], device="cpu")
            self.baseline = _box_scores(SamSegmenter(sam, info), self.samples, "sam")
        return {**_box_scores(self.segmenter, self.samples, "hq"), **self.baseline}


@torch.no_grad()
def _box_scores(segmenter: Any, samples: list[Any], tag: str) -> dict[str, float]:
    from sam_repro.metrics import boundary_iou, iou
    from sam_repro.prompts import mask_to_box

    ious, bious = [], []
    for sample in samples:
        segmenter.set_image(sample.image)
        for gt in sample.masks:
            pred = segmenter.predict(box=mask_to_box(gt)).mask
            ious.append(iou(pred, gt))
            bious.append(boundary_iou(pred, gt))
    return {f"val_box_miou_{tag}": float(np.nanmean(ious)), f"val_box_mbiou_{tag}": float(np.nanmean(bious))}
