"""Train the embedded world's CLIP: ``sam-repro train tiny-clip`` -> ``tiny_clip.pt`` (AlignSAM's explicit branch).

Recipe (ours; CLIP's own recipe at toy scale):

* **data**: the train splits of the captioned families (:data:`sam_repro.data.captions.CAPTIONED_FAMILIES`:
  multiclass, shadow, glass, blur; never salient), ``images_per_family`` each, drawn in a seeded order; every time
  an image is used it gets a fresh caption (random template and wording, random class order:
  :func:`~sam_repro.data.captions.caption`) and a random horizontal flip;
* **region crops** (version 2 recipe, the default and the shipped ``tiny_clip.pt``; ``crop_share=0`` and
  ``extra_splits=""`` give the whole-image recipe of version 1): a share
  ``crop_share`` of the multiclass pairs is a random square crop (``crop_side_min``-``crop_side_max`` of the shorter
  side) captioned with the classes that cover at least ``crop_min_cover`` of the crop (a crop without one is redrawn,
  then the whole image is used); ``extra_splits`` adds pools such as ``synthetic/multiclass:voc_train`` (VOC-sized
  objects). A caption naming every class of a scene never tells the image tokens *where* a class is; a crop naming
  only what it holds does (RegionCLIP's idea at toy scale). ``scripts/alignsam_probes.py clip`` measures the effect
  (ROC AUC of CLIP Surgery's maps; whole-image -> crop recipe: VOC stand-in 0.60 -> 0.73, shadow 0.21 -> 0.88,
  glass 0.34 -> 0.32, blur 0.52 -> 0.56);
* **loss**: CLIP's symmetric contrastive loss with the learnt temperature, except that two pairs of a batch whose
  *content* is the same (two "a shadow on textured ground" images) are not each other's negatives: the targets
  spread uniformly over every pair with the same content phrase (a soft-target cross-entropy; with the few distinct
  phrases of the binary families, hard negatives would teach the CLIP to tell apart images the captions do not);
* **optimiser**: AdamW, lr 5e-4, weight decay 0.1, cosine decay after a linear warm-up, batches of
  ``batch_size`` pairs drawn equally from the families;
* the file stores float16 weights, the config and the caption vocabulary (unseen words warn at encoding).

Resumable (``run_dir/state.pt``), ``stop_after`` steps per call; the same seed gives the same weights on CPU.
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

from sam_repro.backbones.weights import CLIP_TRAIN_COMMAND as TRAIN_COMMAND, get_weights
from sam_repro.train.common import (
    restore_rng, resumable_state, rng_state_to_tensor, save_training_state, seed_everything, trim_log,
)


@dataclass
class TinyClipTrainConfig:
    """Hyperparameters of :func:`train_tiny_clip`."""

    families: str = "synthetic/multiclass,synthetic/shadow,synthetic/glass,synthetic/blur"
    """captioned families (never synthetic/salient)"""
    split: str = "train"
    extra_splits: str = "synthetic/multiclass:voc_train"
    """more FAMILY:SPLIT pools added to their family's images ("": none); the default adds AlignSAM's VOC-sized
    multiclass pool, so that class names meet objects at the scale the VOC task tests them"""
    images_per_family: int = 200
    """images per family and per split"""
    crop_share: float = 0.5
    """share of the multiclass pairs that are region crops (0: whole images only, the recipe before version 2)"""
    crop_side_min: float = 0.35
    """a crop's smallest side, as a share of the image's shorter side"""
    crop_side_max: float = 0.7
    """a crop's largest side, as a share of the image's shorter side"""
    crop_min_cover: float = 0.03
    """a class is named in a crop's caption when its pixels cover this share of the crop"""
    image_size: int = 256
    """side of the synthetic images before the CLIP's own resize"""
    steps: int = 3000
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.1
    warmup_steps: int = 100
    seed: int = 0
    checkpoint_every: int = 250
    run_dir: str = "runs/tiny_clip"
    output: str = ""
    """where the CLIP goes ("": the registry's tiny_clip.pt)"""
    threads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def family_names(self) -> list[str]:
        """Raises ValueError for a family that is not captioned (salient included)."""
        from sam_repro.data.captions import CAPTIONED_FAMILIES

        names = [f.strip() for f in self.families.split(",") if f.strip()]
        bad = [f for f in names if f not in CAPTIONED_FAMILIES]
        if not names or bad:
            raise ValueError(f"families must be captioned ones ({', '.join(CAPTIONED_FAMILIES)}), got {self.families!r}")
        return names

    def check(self) -> None:
        self.family_names()
        for name in ("images_per_family", "steps", "batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError("a contrastive batch needs at least 2 pairs")
        if not 0.0 <= self.crop_share <= 1.0:
            raise ValueError(f"crop_share must be in [0, 1], got {self.crop_share}")
        if not 0.0 < self.crop_side_min <= self.crop_side_max <= 1.0:
            raise ValueError("crop_side_min and crop_side_max must satisfy 0 < min <= max <= 1, got "
                             f"{self.crop_side_min}, {self.crop_side_max}")
        for item in self.extra_pools():
            if item[0] not in self.family_names():
                raise ValueError(f"extra_splits: {item[0]!r} is not one of the families ({self.families})")

    def extra_pools(self) -> list[tuple[str, str]]:
        """(family, split) pairs of ``extra_splits``.

        Raises:
            ValueError: an item that is not FAMILY:SPLIT.
        """
        pools = []
        for item in (t.strip() for t in self.extra_splits.split(",") if t.strip()):
            family, _, split = item.partition(":")
            if not split:
                raise ValueError(f"extra_splits items must be FAMILY:SPLIT, got {item!r}")
            pools.append((family, split))
        return pools


def contrastive_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor,
                     content: list[str]) -> torch.Tensor:
    """Symmetric CLIP loss with soft targets: pairs with the same ``content`` phrase share the target mass.

    Args:
        image_features, text_features: (B, D) normalised; logit_scale: log temperature (scalar);
        content: B content phrases (equal strings are positives of each other).
    """
    logits = logit_scale.exp().clamp(max=100.0) * image_features @ text_features.t()
    same = torch.tensor([[a == b for b in content] for a in content], dtype=logits.dtype, device=logits.device)
    targets = same / same.sum(dim=1, keepdim=True)
    image_loss = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    text_loss = -(targets * F.log_softmax(logits.t(), dim=1)).sum(dim=1).mean()
    return 0.5 * (image_loss + text_loss)


def region_crop(sample: Any, rng: np.random.Generator, sides: tuple[float, float], min_cover: float,
                tries: int = 5) -> tuple[np.ndarray, list[str]] | None:
    """A random square crop of a class-map sample and the names of the classes covering ``min_cover`` of it
    (ascending class id; 0 and 255 never named), or None when ``tries`` crops named no class.

    Args:
        sample: a sample with ``class_map`` (H, W) uint8 and ``class_names``; its image is (H, W, 3) uint8.
        sides: (low, high) crop side as a share of the shorter image side.
    """
    height, width = sample.class_map.shape
    for _ in range(tries):
        side = max(8, int(round(min(height, width) * rng.uniform(*sides))))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        window = sample.class_map[top:top + side, left:left + side]
        counts = np.bincount(window.ravel(), minlength=256)
        ids = [c for c in range(1, len(sample.class_names)) if counts[c] >= min_cover * side * side]
        if ids:
            return sample.image[top:top + side, left:left + side], [sample.class_names[c] for c in ids]
    return None


def _batch(samples: dict[str, Any], families: list[str], config: TinyClipTrainConfig,
           rng: np.random.Generator) -> tuple[list[np.ndarray], list[str], list[str]]:
    from sam_repro.data.captions import content_phrase, list_phrase, TEMPLATES

    images, captions, contents = [], [], []
    for i in range(config.batch_size):
        family = families[i % len(families)]
        sample = samples[family][int(rng.integers(len(samples[family])))]
        image = sample.image
        crop = None
        if sample.class_map is not None and config.crop_share > 0 and rng.random() < config.crop_share:
            crop = region_crop(sample, rng, (config.crop_side_min, config.crop_side_max), config.crop_min_cover)
        if crop is not None:
            image, names = crop
            content = list_phrase([names[j] for j in rng.permutation(len(names))])
        else:
            content = content_phrase(sample, family, rng)
        template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
        image = image[:, ::-1] if rng.random() < 0.5 else image
        images.append(np.ascontiguousarray(image))
        captions.append(template.format(content))
        contents.append(" ".join(sorted(content.replace(",", " ").split())))  # class order does not matter
    return images, captions, contents


def train_tiny_clip(config: TinyClipTrainConfig, resume: bool = True, progress: bool = True,
                    stop_after: int | None = None) -> Path | None:
    """Train (or resume) the tiny CLIP and write it to ``config.output``; return that path (None when ``stop_after``
    ended this call first; the state is in ``run_dir``)."""
    from tqdm.auto import tqdm

    from sam_repro.data import open_dataset
    from sam_repro.data.captions import corpus_vocabulary
    from sam_repro.nn.clip import TINY_CLIP_CONFIG, TinyClip, build_clip, save_clip

    config.check()
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    families = config.family_names()
    model = build_clip(TINY_CLIP_CONFIG, seed=config.seed).train()
    clip = TinyClip(model, TINY_CLIP_CONFIG, corpus_vocabulary())
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    run_dir = Path(config.run_dir)
    state_path = run_dir / "state.pt"
    comparable = _comparable(config)
    step = 0
    state = resumable_state(state_path, comparable, resume)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        restore_rng(rng, state["rng"])
        step = int(state["step"])
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "log.jsonl"
    trim_log(log_path, step)
    samples = {}
    for family, split in [(f, config.split) for f in families] + config.extra_pools():
        data = open_dataset(family, split, seed=config.seed, size=config.image_size)
        samples.setdefault(family, []).extend(data[i] for i in range(min(config.images_per_family, len(data))))
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="tiny CLIP", unit="step")
    started = time.perf_counter()
    stop_at = config.steps if stop_after is None else min(config.steps, step + stop_after)
    while step < stop_at:
        tick = time.perf_counter()
        lr = config.lr * min(1.0, (step + 1) / max(1, config.warmup_steps)) * \
            0.5 * (1 + math.cos(math.pi * min(1.0, step / config.steps)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, captions, contents = _batch(samples, families, config, rng)
        image_features = model.encode_image(clip.preprocess(images), normalize=True)
        text_features = model.encode_text(clip.tokenize(captions), normalize=True)
        loss = contrastive_loss(image_features, text_features, model.logit_scale, contents)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        record = {"step": step, "loss": float(loss.detach()), "lr": lr,
                  "seconds": round(time.perf_counter() - tick, 4)}
        with log_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        bar.update(1)
        bar.set_postfix(loss=f"{record['loss']:.3f}")
        if step % config.checkpoint_every == 0 or step == stop_at:
            save_training_state(state_path, model=model.state_dict(), optimizer=optimizer.state_dict(), step=step,
                                rng=rng_state_to_tensor(rng), config=comparable)
    bar.close()
    if step < config.steps:
        return None
    output = config.output or str(get_weights("clip", "tiny").checkpoint.shipped)
    model.eval()
    save_clip(clip, output, meta={"train_config": comparable, "steps": step, "command": TRAIN_COMMAND,
                                  "train_seconds_this_session": round(time.perf_counter() - started, 1)},
              dtype=torch.float16)
    return Path(output)


def _comparable(config: TinyClipTrainConfig) -> dict[str, Any]:
    data = asdict(config)
    for key in ("run_dir", "output", "threads", "checkpoint_every", "extra"):
        data.pop(key)
    return json.loads(json.dumps(data))
