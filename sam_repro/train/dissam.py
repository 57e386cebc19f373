"""Train DIS-SAM's second stage (``sam-repro train dissam``): the GT encoder first, then one IS-Net per Table 2 row.

Recipe of the paper (Sec. 2, eq. 1; App. A) and its code (research/methods.md §4), as followed here:

* **first stage**: the frozen tiny SAM, box-prompted by each target's tight box, multimask ``masks[0]`` (the code's
  choice), binary; computed once per target and cached;
* **enrichment** (rows with it): each ground truth's 8-connected parts of at least 0.4% of the image plus the whole
  mask, each with its own box and SAM mask (:func:`~sam_repro.methods.dissam.enrich_gt`);
* **GT encoder** (:class:`~sam_repro.methods.isnet.ISNetGTEncoder`, trained first, then frozen and shared by every
  row): per side output 20 BCE + 0.5 IoU loss, plus ORTHO, until the val max-F of its side 1 exceeds 0.99 or
  ``gt_steps`` (the code: AdamW 1e-4 until maxF > 0.99 on the validation list);
* **IS-Net** on [RGB (x/255 - 0.5), SAM mask, filled box] (zero channels for the inputs a row leaves out; row 1 is
  the 3-channel IS-Net): eq. (1) = sum over the six sides of (20 BCE + 0.5 IoU) + 1 MSE between the decoder's six
  features and the frozen GT encoder's + 1e-8 ORTHO (the code's: every non-bias tensor; the paper's conv-only
  reading is ``ortho_include="conv"``); AdamW, no weight decay; flips (horizontal, vertical, both, 1/4 each).

Scaled-down choices (2 CPU cores; the full network is 44M parameters at 1024 px, ~1 TFLOP per training image):
width 1/4 (2.76M parameters) at input 512 (the images and maps are resized to 512 x 512 as the code resizes to
1024 x 1024, whatever the aspect), trained on random ``crop`` x ``crop`` windows of that input that keep part of the
target's box (a full 512 input would cost 4x per step); the learning rate is ours (``lr``; the code's 4e-5 is for
batch 6 at 1024 px with early stopping over many epochs, far beyond this budget) and is chosen on the val split only.
Never reads a test split.

Table 2 rows (``row``): 1 = IS-Net (3 channels); 2 = box only; 3 = SAM mask only; 4 = both, no enrichment;
5 = both with enrichment = DIS-SAM (``dissam:tiny``).
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

from sam_repro.backbones.registry import get_backbone
from sam_repro.backbones.weights import DIS_TRAIN_COMMAND as TRAIN_COMMAND, get_weights
from sam_repro.train.common import (
    restore_rng, resumable_state, rng_state_to_tensor, save_training_state, seed_everything, trim_log,
)
from sam_repro.train.losses import iou_loss, ortho_loss

#: Table 2 rows: (enrichment, box input, SAM-mask input); row 1 is the 3-channel IS-Net.
ROWS: dict[int, tuple[bool, bool, bool]] = {1: (False, False, False), 2: (False, True, False),
                                            3: (False, False, True), 4: (False, True, True), 5: (True, True, True)}


@dataclass
class DisSamTrainConfig:
    """Hyperparameters of :func:`train_dis_sam` (defaults: the shipped ``dis_sam_tiny.pt``'s run, row 5)."""

    backbone: str = "tiny"
    base_checkpoint: str | None = None
    """SAM weights of the first stage (None: the backbone's registered file)"""
    row: int = 5
    """Table 2 row: 1 IS-Net, 2 box, 3 mask, 4 box + mask, 5 box + mask + enrichment (DIS-SAM)"""
    dataset: str = "synthetic/thin_multi"
    train_split: str = "train"
    val_split: str = "val"
    samples: int = 0
    """training images (0: the split's nominal length)"""
    width: float = 0.25
    input_size: int = 512
    crop: int = 256
    steps: int = 3000
    batch: int = 4
    lr: float = 3e-4
    bce_weight: float = 20.0
    iou_weight: float = 0.5
    feature_weight: float = 1.0
    ortho_weight: float = 1e-8
    ortho_include: str = "weights"
    """``weights``: every non-bias tensor (the code); ``conv``: convolution kernels only (the paper)"""
    gt_steps: int = 1500
    """cap of the GT encoder's training (it stops earlier once its val max-F exceeds ``gt_target_maxf``)"""
    gt_lr: float = 1e-4
    gt_target_maxf: float = 0.99
    mask_choice: str = "first"
    order: str = "code"
    seed: int = 0
    eval_every: int = 500
    eval_samples: int = 12
    checkpoint_every: int = 100
    run_dir: str = ""
    """training state and logs ("": runs/dis_sam/row<row>; the GT encoder lives beside, in runs/dis_sam/gt_encoder)"""
    output: str = ""
    """where the weights go ("": the shipped dis_sam_tiny.pt for row 5, dis_sam_tiny_row<row>.pt else)"""
    threads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> "DisSamTrainConfig":
        """A copy with the default paths filled in, checked.

        Raises:
            ValueError: naming the offending field.
        """
        if self.row not in ROWS:
            raise ValueError(f"row must be one of {sorted(ROWS)} (Table 2), got {self.row}")
        if self.crop > self.input_size or self.crop < 32:
            raise ValueError(f"crop must be in [32, input_size={self.input_size}], got {self.crop}")
        if self.ortho_include not in ("weights", "conv"):
            raise ValueError(f"ortho_include must be 'weights' or 'conv', got {self.ortho_include!r}")
        for name in ("steps", "batch", "checkpoint_every", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        values = asdict(self)
        values["run_dir"] = self.run_dir or f"runs/dis_sam/row{self.row}"
        if not self.output:
            shipped = get_weights("dissam", "tiny").checkpoint.shipped
            values["output"] = str(shipped if self.row == 5 else shipped.with_name(f"dis_sam_tiny_row{self.row}.pt"))
        return DisSamTrainConfig(**values)

    @property
    def settings(self):
        from sam_repro.methods.dissam import DisSamSettings

        _, box, mask = ROWS[self.row]
        return DisSamSettings(width=self.width, in_ch=3 if self.row == 1 else 5, input_size=self.input_size,
                              use_mask=mask, use_box=box, order=self.order, mask_choice=self.mask_choice)


# -- data ------------------------------------------------------------------------------------------------------
@dataclass
class Target:
    """One training target at the network's input size: the (S, S, 3) uint8 image, the (S, S) uint8 ground truth
    coverage (0..255), the (S, S) bool SAM mask and the (4,) xyxy box, all resized to S x S."""

    image: np.ndarray
    gt: np.ndarray
    sam_mask: np.ndarray
    box: np.ndarray


class TargetPool:
    """The (image, target) pairs of a split, with SAM's box-prompted masks made once by the frozen first stage.

    Args:
        segmenter: the frozen SAM (a :class:`~sam_repro.methods.sam.SamSegmenter`).
        enrich: split ground truths into their parts (App. A) or keep each whole.
    """

    def __init__(self, dataset, segmenter, size: int, enrich: bool, mask_choice: str, samples: int = 0):
        self.dataset, self.segmenter, self.size = dataset, segmenter, size
        self.enrich, self.mask_choice = enrich, mask_choice
        self.count = samples or len(dataset)
        self.index: list[tuple[int, int]] | None = None
        self.cache: dict[int, list[Target]] = {}
        self.skipped: list[int] = []

    def targets(self, image_index: int) -> list[Target]:
        """The targets of one image (made and cached on first use)."""
        if image_index not in self.cache:
            self.cache[image_index] = self._make(image_index)
        return self.cache[image_index]

    def _make(self, image_index: int) -> list[Target]:
        import cv2

        from sam_repro.methods.dissam import enrich_gt
        from sam_repro.prompts import mask_to_box

        sample = self.dataset[image_index]
        gt = sample.masks.any(axis=0)
        masks = enrich_gt(gt) if self.enrich else ([gt] if gt.any() else [])
        if not masks:
            self.skipped.append(image_index)
            return []
        height, width = gt.shape
        sy, sx = self.size / height, self.size / width
        image = cv2.resize(sample.image, (self.size, self.size), interpolation=cv2.INTER_AREA)
        self.segmenter.set_image(sample.image)
        out = []
        for mask in masks:
            box = mask_to_box(mask)
            coarse = self.segmenter.predict(box=box, multimask=self.mask_choice != "single")
            pick = 0 if self.mask_choice != "best" else int(np.argmax(coarse.iou_predictions))
            small = cv2.resize(coarse.masks[pick].astype(np.float32), (self.size, self.size),
                               interpolation=cv2.INTER_AREA) >= 0.5
            cover = cv2.resize(mask.astype(np.float32), (self.size, self.size), interpolation=cv2.INTER_AREA)
            scaled = np.array([box[0] * sx, box[1] * sy, (box[2] + 1) * sx - 1, (box[3] + 1) * sy - 1])
            out.append(Target(image, np.round(cover * 255).astype(np.uint8), small, scaled))
        return out

    def pair(self, position: int, seed: int) -> Target | None:
        """Stream item ``position``: one (image, target) pair of a seeded per-epoch order over the images (the
        targets of an image are drawn uniformly), or None for an image without a target."""
        epoch, offset = divmod(position, self.count)
        order = np.random.default_rng([seed, epoch]).permutation(self.count)
        image_index = int(order[offset])
        targets = self.targets(image_index)
        if not targets:
            return None
        return targets[int(np.random.default_rng([seed, epoch, offset]).integers(len(targets)))]


def make_batch(targets: list[Target], settings, crop: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Network inputs (B, C, crop, crop) and soft ground truths (B, 1, crop, crop): a random window that overlaps
    the target's box, then a flip (horizontal, vertical or both, 1/4 each)."""
    from sam_repro.methods.dissam import five_channel_input

    inputs, gts = [], []
    for target in targets:
        full = five_channel_input(target.image, target.sam_mask, target.box, use_mask=settings.use_mask,
                                  use_box=settings.use_box, order=settings.order)[: settings.in_ch]
        size = full.shape[-1]
        x0, y0, x1, y1 = target.box
        top, left = _window_start(y0, y1, size, crop, rng), _window_start(x0, x1, size, crop, rng)
        window = full[:, top : top + crop, left : left + crop]
        gt = target.gt[top : top + crop, left : left + crop].astype(np.float32)[None] / 255.0
        flip = int(rng.integers(4))  # 0: none, 1: horizontal, 2: vertical, 3: both
        if flip in (1, 3):
            window, gt = window[..., ::-1], gt[..., ::-1]
        if flip in (2, 3):
            window, gt = window[..., ::-1, :], gt[..., ::-1, :]
        inputs.append(np.ascontiguousarray(window))
        gts.append(np.ascontiguousarray(gt))
    return torch.from_numpy(np.stack(inputs)), torch.from_numpy(np.stack(gts))


def _window_start(low: float, high: float, size: int, crop: int, rng: np.random.Generator) -> int:
    """A uniformly drawn start of a ``crop`` window inside [0, size) that overlaps the box's span [low, high]."""
    first = max(0, int(np.ceil(low)) - crop + 1)
    last = min(size - crop, int(np.floor(high)))
    if first > last:  # the span is outside the reachable starts (cannot happen for a box inside the image)
        first = last = max(0, min(first, size - crop))
    return int(rng.integers(first, last + 1))


# -- losses ---------------------------------------------------------------------------------------------------------
def side_loss(sides: list[torch.Tensor], gt: torch.Tensor, config: DisSamTrainConfig) -> torch.Tensor:
    """Sum over the side outputs of ``bce_weight`` BCE + ``iou_weight`` IoU loss (means over the batch)."""
    total = 0.0
    for logits in sides:
        bce = F.binary_cross_entropy_with_logits(logits, gt)
        total = total + config.bce_weight * bce + config.iou_weight * iou_loss(logits, gt).mean()
    return total


def feature_loss(features: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    """Sum over the six stages of the MSE between the IS-Net decoder's features and the GT encoder's."""
    return sum(F.mse_loss(a, b) for a, b in zip(features, targets))


# -- training -------------------------------------------------------------------------------------------------------
def train_dis_sam(config: DisSamTrainConfig, resume: bool = True, progress: bool = True,
                  stop_after: int | None = None) -> Path | None:
    """Train the GT encoder (once, shared by the rows) and then the row's IS-Net; write its DIS-SAM file.

    Returns:
        the weights path, or None when ``stop_after`` ended the call first (the state is saved; run again).

    Raises:
        ValueError: a bad configuration, or saved state of another configuration or another base SAM.
    """
    import cv2

    from sam_repro.data import open_dataset
    from sam_repro.methods.dissam import build_isnet, save_dissam_parts
    from sam_repro.methods.sam import SamSegmenter, load_sam_model

    config = config.resolved()
    if config.threads:
        torch.set_num_threads(config.threads)
    cv2.setNumThreads(1)
    seed_everything(config.seed)
    spec = get_backbone(config.backbone)
    sam, provenance = load_sam_model(spec, config.base_checkpoint, device="cpu")
    base_sha = provenance["checkpoint_sha256"]
    segmenter = SamSegmenter(sam, provenance)
    enrich = ROWS[config.row][0]
    train_set = open_dataset(config.dataset, config.train_split, seed=config.seed)
    val_set = open_dataset(config.dataset, config.val_split, seed=config.seed)
    pool = TargetPool(train_set, segmenter, config.input_size, enrich, config.mask_choice, config.samples)
    gt_encoder, gt_info = _gt_encoder(config, pool, val_set, segmenter, progress, stop_after)
    if gt_encoder is None:
        return None
    settings = config.settings
    network = build_isnet(settings, seed=config.seed).train()
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=0.0)
    rng = np.random.default_rng([config.seed, config.row])
    run_dir = Path(config.run_dir)
    state_path = run_dir / "state.pt"
    step = 0
    state = resumable_state(state_path, _comparable(config), resume)
    if state is not None:
        if state["base_sha256"] != base_sha or state["gt_encoder_sha256"] != gt_info["sha256"]:
            raise ValueError(f"{state_path} was trained on another base SAM or GT encoder; use another run_dir or "
                             "resume=False")
        network.load_state_dict(state["network"])
        optimizer.load_state_dict(state["optimizer"])
        restore_rng(rng, state["rng"])
        step = int(state["step"])
    position = int(state["position"]) if state is not None else step * config.batch
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "log.jsonl"
    trim_log(log_path, step)
    evaluator = _Evaluator(val_set, segmenter, config)
    stop_at = config.steps if stop_after is None else min(config.steps, step + stop_after)
    from tqdm.auto import tqdm

    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc=f"DIS-SAM row {config.row}", unit="step")
    started = time.perf_counter()
    while step < stop_at:
        tick = time.perf_counter()
        targets = []
        while len(targets) < config.batch:
            target = pool.pair(position, config.seed)
            position += 1
            if target is not None:
                targets.append(target)
        inputs, gt = make_batch(targets, settings, config.crop, rng)
        sides, features = network(inputs)
        with torch.no_grad():
            _, gt_features = gt_encoder(gt)
        sides_term = side_loss(sides, gt, config)
        feature_term = feature_loss(features, gt_features)
        ortho_term = ortho_loss(network.named_parameters(), config.ortho_include)
        loss = sides_term + config.feature_weight * feature_term + config.ortho_weight * ortho_term
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        record: dict[str, Any] = {"step": step, "loss": float(loss.detach()), "sides": float(sides_term.detach()),
                                  "features": float(feature_term.detach()), "ortho": float(ortho_term.detach()),
                                  "seconds": round(time.perf_counter() - tick, 4)}
        bar.update(1)
        bar.set_postfix(loss=f"{record['loss']:.3f}")
        if step % config.eval_every == 0 or step == config.steps:
            network.eval()
            record.update(evaluator(network, settings))
            network.train()
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in record.items() if k.startswith("val_")))
        with log_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if step % config.checkpoint_every == 0 or step == stop_at:
            save_training_state(state_path, network=network.state_dict(), optimizer=optimizer.state_dict(),
                                step=step, position=position, rng=rng_state_to_tensor(rng),
                                config=_comparable(config), base_sha256=base_sha,
                                gt_encoder_sha256=gt_info["sha256"])
    bar.close()
    if step < config.steps:
        return None
    network.eval()
    meta = {"train_config": _comparable(config), "steps": step, "row": config.row, "gt_encoder": gt_info,
            "skipped_images": sorted(set(pool.skipped)), "command": f"{TRAIN_COMMAND} --row {config.row}",
            "train_seconds_this_session": round(time.perf_counter() - started, 1),
            "data": f"{config.dataset}:{config.train_split} (seed {config.seed})"}
    save_dissam_parts(network, config.output, settings=settings, base_sha256=base_sha, backbone=config.backbone,
                      meta=meta, dtype=torch.float16)
    return Path(config.output)


def _gt_encoder(config: DisSamTrainConfig, pool: TargetPool, val_set, segmenter, progress: bool,
                stop_after: int | None):
    """The frozen GT encoder of ``runs/dis_sam/gt_encoder`` (trained here first if it is not finished); returns
    (encoder or None when ``stop_after`` ended its training, {"sha256", "steps", "val_maxf"})."""
    from sam_repro.backbones.checkpoints import read_checkpoint, save_checkpoint, sha256_file
    from sam_repro.methods.isnet import ISNetGTEncoder

    run_dir = Path(config.run_dir).parent / "gt_encoder"
    done = run_dir / "gt_encoder.pt"
    encoder = ISNetGTEncoder(width=config.width)
    comparable = {k: v for k, v in _comparable(config).items()
                  if k in ("backbone", "dataset", "train_split", "samples", "width", "input_size", "crop", "batch",
                           "gt_lr", "gt_steps", "gt_target_maxf", "bce_weight", "iou_weight", "ortho_weight",
                           "ortho_include", "seed")}
    if done.is_file():
        state, meta = read_checkpoint(done)
        if meta.get("config") != comparable:
            raise ValueError(f"{done} was trained with another configuration; remove it to retrain the GT encoder")
        encoder.load_state_dict(state)
        return encoder.eval().requires_grad_(False), {"sha256": sha256_file(done), **meta["result"]}
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=config.gt_lr, weight_decay=0.0)
    rng = np.random.default_rng([config.seed, 0])
    state_path = run_dir / "state.pt"
    step, best = 0, 0.0
    state = resumable_state(state_path, comparable, True)
    if state is not None:
        encoder.load_state_dict(state["encoder"])
        optimizer.load_state_dict(state["optimizer"])
        restore_rng(rng, state["rng"])
        step, best = int(state["step"]), float(state["val_maxf"])
    position = int(state["position"]) if state is not None else 0
    run_dir.mkdir(parents=True, exist_ok=True)
    from sam_repro.methods.dissam import DisSamSettings

    mask_only = DisSamSettings(width=config.width, in_ch=5, input_size=config.input_size, use_box=False)
    stop_at = config.gt_steps if stop_after is None else min(config.gt_steps, step + stop_after)
    encoder.train()
    while step < stop_at and best <= config.gt_target_maxf:
        targets = []
        while len(targets) < config.batch:
            target = pool.pair(position, config.seed + 1)
            position += 1
            if target is not None:
                targets.append(target)
        _, gt = make_batch(targets, mask_only, config.crop, rng)
        sides, _ = encoder(gt)
        loss = side_loss(sides, gt, config) + config.ortho_weight * ortho_loss(encoder.named_parameters(),
                                                                                config.ortho_include)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % config.eval_every == 0 or step == config.gt_steps:
            best = _gt_encoder_maxf(encoder, val_set, config)
            if progress:
                print(f"GT encoder step {step}: val maxF {best:.4f}")
        if step % config.checkpoint_every == 0 or step == stop_at:
            save_training_state(state_path, encoder=encoder.state_dict(), optimizer=optimizer.state_dict(), step=step,
                                position=position, rng=rng_state_to_tensor(rng), config=comparable, val_maxf=best)
    if step < config.gt_steps and best <= config.gt_target_maxf:
        return None, {}
    best = _gt_encoder_maxf(encoder, val_set, config)
    result = {"steps": step, "val_maxf": round(best, 5)}
    save_checkpoint(encoder.eval(), done, meta={"config": comparable, "result": result})
    return encoder.requires_grad_(False), {"sha256": sha256_file(done), **result}


@torch.no_grad()
def _gt_encoder_maxf(encoder, val_set, config: DisSamTrainConfig) -> float:
    """Dataset max-F of the GT encoder's side 1 reconstructing the first ``eval_samples`` val ground truths."""
    import cv2

    from sam_repro.metrics.sod import FMeasure

    was = encoder.training
    encoder.eval()
    measure = FMeasure()
    for index in range(min(config.eval_samples, len(val_set))):
        gt = val_set[index].masks.any(axis=0)
        small = cv2.resize(gt.astype(np.float32), (config.input_size, config.input_size), interpolation=cv2.INTER_AREA)
        sides, _ = encoder(torch.from_numpy(small)[None, None])
        probability = torch.sigmoid(sides[0])[0, 0].numpy()
        measure.update(probability, small >= 0.5)
    encoder.train(was)
    return float(measure.compute()["fm_max"])


def _comparable(config: DisSamTrainConfig) -> dict[str, Any]:
    data = asdict(config)
    for key in ("base_checkpoint", "run_dir", "output", "threads", "eval_every", "eval_samples", "checkpoint_every",
                "extra"):
        data.pop(key)
    return json.loads(json.dumps(data))


class _Evaluator:
    """Monitoring on the first ``eval_samples`` val images (nothing is selected on it, the lr is chosen on these
    figures across runs): dataset max-F and MAE of side 1 at the image size, GT box prompts."""

    def __init__(self, val_set, segmenter, config: DisSamTrainConfig):
        self.val_set, self.segmenter, self.config = val_set, segmenter, config
        self.samples = [val_set[i] for i in range(min(config.eval_samples, len(val_set)))]

    @torch.no_grad()
    def __call__(self, network, settings) -> dict[str, float]:
        from sam_repro.methods.dissam import DisSamSegmenter
        from sam_repro.metrics.sod import MAE, FMeasure
        from sam_repro.prompts import mask_to_box

        dis = DisSamSegmenter(self.segmenter.model, network, settings, {"backbone": "training"},
                              engine=self.segmenter.engine)
        fm, mae = FMeasure(), MAE()
        for sample in self.samples:
            gt = sample.masks.any(axis=0)
            dis.set_image(sample.image)
            probability = dis.predict(box=mask_to_box(gt)).probability
            fm.update(probability, gt)
            mae.update(probability, gt)
        return {"val_maxf": float(fm.compute()["fm_max"]), "val_mae": float(mae.compute()["mae"])}
