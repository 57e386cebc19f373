"""Train the parameter-efficient baselines of Stable-SAM's tables (``sam-repro train tuning --kind ...``): LoRA,
adapters and PT-SAM (:mod:`sam_repro.methods.tuning`) on exactly Stable-SAM's data, prompts, loss and steps
(:mod:`sam_repro.train.stablesam`: the HQ pool with jitter and occlusion synthesis, the robust prompt mix, BCE + dice
on the single output, Adam 1e-3, 1,350 steps of 4), so the tables compare methods, not recipes. LoRA and adapters
back-propagate through the image encoder (their modules sit in its FFNs), which makes a step several times dearer
than Stable-SAM's decoder-only one.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sam_repro.backbones.registry import get_backbone, SHIPPED_WEIGHTS_DIR
from sam_repro.train.common import (
    restore_rng, resumable_state, rng_state_to_tensor, save_training_state, seed_everything, trim_log,
)
from sam_repro.train.hq_pool import HqPool
from sam_repro.train.losses import point_sampled_bce_dice
from sam_repro.train.stablesam import ROBUST_PROMPTS, StableSamTrainConfig, _images, decode_items, make_item


@dataclass
class TuningTrainConfig:
    """Hyperparameters of :func:`train_tuning` (the data and optimiser fields mean what they mean for Stable-SAM)."""

    kind: str = "lora"
    """``lora``, ``adapter`` or ``prompt`` (PT-SAM)"""
    backbone: str = "tiny"
    base_checkpoint: str | None = None
    rank: int = 4
    bottleneck: int = 0
    """adapter bottleneck (0: 64 x width / 768, at least 8)"""
    num_tokens: int = 4
    datasets: str = "synthetic/thin,synthetic/salient"
    train_split: str = "train"
    samples_per_dataset: int = 1000
    steps: int = 1350
    images_per_step: int = 4
    prompts: str = ROBUST_PROMPTS
    point_counts: str = "1,3,5,10"
    occlusion_probability: float = 0.5
    lr: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 100
    run_dir: str = ""
    """"": runs/tuning_<kind>"""
    output: str = ""
    """"": sam_repro/backbones/weights/<method>_tiny.pt"""
    threads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def stable_config(self) -> StableSamTrainConfig:
        """The Stable-SAM configuration whose data and prompt pipeline this run shares."""
        return StableSamTrainConfig(backbone=self.backbone, datasets=self.datasets, train_split=self.train_split,
                                    samples_per_dataset=self.samples_per_dataset, images_per_step=self.images_per_step,
                                    prompts=self.prompts, point_counts=self.point_counts,
                                    occlusion_probability=self.occlusion_probability, seed=self.seed).resolved()

    def options(self) -> dict[str, Any]:
        return {"lora": {"rank": self.rank}, "adapter": {"bottleneck": self.bottleneck or None},
                "prompt": {"num_tokens": self.num_tokens}}[self.kind]


def train_tuning(config: TuningTrainConfig, resume: bool = True, progress: bool = True,
                 stop_after: int | None = None) -> Path | None:
    """Train (or resume) the baseline's parts; write its parts file; return the path (None when ``stop_after``
    ended the call first; the state is saved in ``run_dir``).

    Raises:
        ValueError: an unknown kind, a bad shared configuration, or a saved state of another run.
    """
    import cv2
    from tqdm.auto import tqdm

    from sam_repro.methods.tuning import load_tuned_model, save_tuned_parts
    from sam_repro.methods.tuning.segmenter import METHOD_NAMES, trained_names

    if config.kind not in METHOD_NAMES:
        raise ValueError(f"kind must be one of {', '.join(METHOD_NAMES)}, got {config.kind!r}")
    stable = config.stable_config()
    run_dir = Path(config.run_dir or f"runs/tuning_{config.kind}")
    output = Path(config.output or SHIPPED_WEIGHTS_DIR / f"{METHOD_NAMES[config.kind]}_{config.backbone}.pt")
    if config.threads:
        torch.set_num_threads(config.threads)
    cv2.setNumThreads(1)
    seed_everything(config.seed)
    spec = get_backbone(config.backbone)
    size = spec.config.img_size
    model, provenance = load_tuned_model(config.kind, spec.name, device="cpu", untrained=True, seed=config.seed,
                                         base_checkpoint=config.base_checkpoint, **config.options())
    base_sha = provenance["base_checkpoint_sha256"]
    names = set(trained_names(model, config.kind))
    trainable = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name in names)
        if name in names:
            trainable.append(parameter)
    model.eval()  # frozen parts keep their statistics; gradients flow in eval mode
    optimizer = torch.optim.Adam(trainable, lr=config.lr, weight_decay=0.0)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    comparable = _comparable(config)
    state_path = run_dir / "state.pt"
    step = 0
    state = resumable_state(state_path, comparable, resume)
    if state is not None:
        if state["base_sha256"] != base_sha:
            raise ValueError(f"{state_path} was trained on other SAM weights; use another run_dir or resume=False")
        current = model.state_dict()
        with torch.no_grad():
            for key, value in state["parts"].items():
                current[key].copy_(value)
        optimizer.load_state_dict(state["optimizer"])
        restore_rng(rng, state["rng"])
        generator.set_state(state["torch_rng"])
        step = int(state["step"])
    run_dir.mkdir(parents=True, exist_ok=True)
    pool = HqPool(stable.datasets, stable.train_split, size, seed=config.seed,
                  samples_per_dataset=stable.samples_per_dataset)
    log_path = run_dir / "log.jsonl"
    trim_log(log_path, step)
    encoder_grad = config.kind != "prompt"
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc=f"tuning ({config.kind})", unit="step")
    started = time.perf_counter()
    stop_at = config.steps if stop_after is None else min(config.steps, step + stop_after)
    while step < stop_at:
        tick = time.perf_counter()
        items = [make_item(model, image, soft, stable, size, rng) for image, soft in _images(pool, step, stable, size,
                                                                                            rng)]
        with torch.set_grad_enabled(encoder_grad):
            embeddings = model.image_encoder(torch.stack([item.image for item in items]))
        logits = decode_items(model, embeddings, items, prompt_grad=config.kind == "prompt")
        targets = torch.as_tensor(np.stack([item.target for item in items]))[:, None]
        loss = point_sampled_bce_dice(logits, targets, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update(1)
        with log_path.open("a") as handle:
            handle.write(json.dumps({"step": step, "loss": float(loss.detach()),
                                     "seconds": round(time.perf_counter() - tick, 4)}) + "\n")
        if step % config.checkpoint_every == 0 or step == stop_at:
            parts = {k: v.detach().clone() for k, v in model.state_dict().items() if k in names}
            save_training_state(state_path, parts=parts, optimizer=optimizer.state_dict(), step=step,
                                rng=rng_state_to_tensor(rng), torch_rng=generator.get_state(), config=comparable,
                                base_sha256=base_sha)
    bar.close()
    if step < config.steps:
        return None
    meta = {"train_config": comparable, "steps": step, "command": f"sam-repro train tuning --kind {config.kind}",
            "train_seconds_this_session": round(time.perf_counter() - started, 1)}
    save_tuned_parts(model, output, kind=config.kind, base_sha256=base_sha, backbone=spec.name,
                     options=config.options(), meta=meta)
    return output


def _comparable(config: TuningTrainConfig) -> dict[str, Any]:
    data = asdict(config)
    for key in ("base_checkpoint", "run_dir", "output", "threads", "checkpoint_every", "extra"):
        data.pop(key)
    return json.loads(json.dumps(data))
