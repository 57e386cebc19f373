"""Train AlignSAM's parts on the frozen tiny SAM (and tiny CLIP): ``sam-repro train alignsam`` -> ``alignsam_tiny.pt``.

Recipe (AlignSAM Alg. 1, §3.3, §4.1; choices where the paper is silent are marked *):

* per task (blur, shadow, glass, salient, multiclass: :data:`~sam_repro.methods.alignsam.model.TASKS`), the first
  ``train_images`` usable images of the stand-in's train split (multiclass: ``voc_train``) (the paper: 50 random training images per task);
  an image whose ground truth has no foreground or no background pixel cannot give P_0 and is **skipped and
  counted** (``skipped`` in the log and the file's metadata); multiclass: one class present per episode, drawn at
  random, its GT = class map == class (255 kept as ignore) and its text = the class name;
* ``epochs`` passes over the images in a seeded random order, one episode per image per pass (* the paper's
  "E = 50 episodes" does not say per image or in all);
* an episode: P_0 = one random GT-positive and one GT-negative pixel; T steps of: the actor samples a patch (masked
  patches excluded), reward +-1 by the GT at its centre (0 on 255), **both SRMs** train on (s_c, s_t) with Dice +
  BCE, ``q_implicit`` and ``q_explicit`` Adam steps (the paper's q = 1 and 5), the point's label comes from the task's
  own branch (``label_source = srm``: y_r > 0.5 at the centre after the update*; ``gt``: the GT there) and SAM
  decodes P_t;
* after each episode, PPO (:mod:`sam_repro.train.ppo`): GAE lambda = 1 with V(s_{T+1}) bootstrapped, clip 0.2,
  K = 20 full-batch epochs, Adam 1e-4, no entropy bonus;
* SAM and CLIP are frozen (no gradient; the tests check their weights do not move). The explicit SRM needs CLIP
  maps: without a CLIP (``clip_checkpoint = "none"``) only the implicit SRM trains and the file records no CLIP.

Resumable like the other trainers: ``run_dir/state.pt`` after every ``checkpoint_every`` episodes and at
``stop_after``; the same seed gives the same weights (CPU, one thread).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sam_repro.backbones.weights import ALIGN_TRAIN_COMMAND as TRAIN_COMMAND, get_weights
from sam_repro.data.sample import IGNORE_INDEX
from sam_repro.train.common import (
    restore_rng, resumable_state, rng_state_to_tensor, save_training_state, seed_everything, trim_log,
)
from sam_repro.train.ppo import PPOConfig, Rollout, masked_categorical, ppo_update, sample_action


@dataclass
class AlignSamTrainConfig:
    """Hyperparameters of :func:`train_alignsam`."""

    backbone: str = "tiny"
    base_checkpoint: str | None = None
    """SAM weights (None: the backbone's registered file)"""
    clip_checkpoint: str | None = None
    """CLIP file (None: the registry's tiny_clip.pt; "none": no CLIP, implicit SRM only; "random": a seeded random
    CLIP, for tests)"""
    tasks: str = "blur,shadow,glass,salient,multiclass"
    split: str = ""
    """the stand-ins' split ("": each task's own, ``Task.train_split``: multiclass trains on ``voc_train``)"""
    train_images: int = 50
    """usable images per task (the paper: 50)"""
    epochs: int = 20
    """passes over each task's images, one episode per image per pass"""
    steps: int = 15
    """T, prompting steps per episode"""
    actions: int = 10
    """G, the action grid's side"""
    mask_chosen: bool = True
    label_source: str = "srm"
    """labels of the agent's points given to SAM in training: "srm" (the task's branch) or "gt\""""
    sees_semantic: bool = False
    """the actor reads [s_t, s_c] instead of s_t"""
    agent_width: int = 32
    srm_width: int = 32
    srm_heads: int = 4
    q_implicit: int = 1
    q_explicit: int = 5
    srm_lr: float = 1e-4
    lr: float = 1e-4
    """PPO's Adam learning rate"""
    gamma: float = 0.99
    gae_lambda: float = 1.0
    clip_range: float = 0.2
    ppo_epochs: int = 20
    seed: int = 0
    checkpoint_every: int = 25
    run_dir: str = "runs/alignsam"
    output: str = ""
    """where the parts go ("": the registry's alignsam_tiny.pt)"""
    threads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def task_names(self) -> list[str]:
        from sam_repro.methods.alignsam.model import get_task

        names = [t.strip() for t in self.tasks.split(",") if t.strip()]
        if not names:
            raise ValueError("tasks must name at least one task")
        for name in names:
            get_task(name)
        return names

    def check(self) -> None:
        """Raises ValueError naming the offending field."""
        from sam_repro.methods.alignsam.episode import check_steps

        self.task_names()
        check_steps(self.steps, self.actions, self.mask_chosen)
        if self.steps < 1:
            raise ValueError("training needs T >= 1 steps")
        if self.label_source not in ("srm", "gt"):
            raise ValueError(f"label_source must be srm or gt, got {self.label_source!r}")
        for name in ("train_images", "epochs", "ppo_epochs", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.q_implicit < 0 or self.q_explicit < 0:
            raise ValueError("q_implicit and q_explicit must be >= 0")

    def head_config(self) -> dict[str, Any]:
        return {"agent_width": self.agent_width, "srm_width": self.srm_width, "srm_heads": self.srm_heads,
                "sees_semantic": self.sees_semantic}

    def ppo(self) -> PPOConfig:
        return PPOConfig(gamma=self.gamma, gae_lambda=self.gae_lambda, clip_range=self.clip_range,
                         epochs=self.ppo_epochs, lr=self.lr)


@dataclass
class TrainImage:
    """One usable training image of a task: the image, its (H, W) uint8 GT per target in {0, 1, 255}, the texts
    (one per target: the task's text, or each class name), the sample id."""

    id: str
    image: np.ndarray
    targets: list[np.ndarray]
    texts: list[str]


def binary_targets(sample: Any, dataset: str) -> tuple[list[np.ndarray], list[str]]:
    """The episode targets of a sample: multiclass: one per class present (class map == class, 255 kept);
    other tasks: the union of the masks. Each target is (H, W) uint8 in {0, 1, 255}."""
    from sam_repro.data.captions import TEXT_PROMPTS

    if sample.class_map is not None and dataset == "synthetic/multiclass":
        out, texts = [], []
        for class_id in sorted(int(c) for c in np.unique(sample.class_map) if 0 < c < IGNORE_INDEX):
            target = (sample.class_map == class_id).astype(np.uint8)
            target[sample.class_map == IGNORE_INDEX] = IGNORE_INDEX
            out.append(target)
            texts.append(sample.class_names[class_id])
        return out, texts
    return [np.any(sample.masks, axis=0).astype(np.uint8)], [TEXT_PROMPTS.get(dataset, "")]


def usable(target: np.ndarray) -> bool:
    """A target gives P_0 only with at least one foreground and one background pixel."""
    return bool((target == 1).any()) and bool((target == 0).any())


def collect_images(dataset: str, split: str, count: int, seed: int) -> tuple[list[TrainImage], int]:
    """The first ``count`` usable images of ``dataset``'s ``split`` (targets without foreground or background
    dropped; images left without a target skipped) and the number of skipped images.

    Raises:
        ValueError: the split holds fewer usable images.
    """
    from sam_repro.data import open_dataset

    data = open_dataset(dataset, split, seed=seed)
    images, skipped = [], 0
    for index in range(len(data)):
        if len(images) == count:
            break
        sample = data[index]
        targets, texts = binary_targets(sample, dataset)
        kept = [(t, s) for t, s in zip(targets, texts) if usable(t)]
        if not kept:
            skipped += 1
            continue
        images.append(TrainImage(sample.id, sample.image, [t for t, _ in kept], [s for _, s in kept]))
    if len(images) < count:
        raise ValueError(f"{dataset}:{split} has only {len(images)} usable images ({skipped} skipped: empty or "
                         f"full ground truth), {count} asked")
    return images, skipped


def initial_prompt(target: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training's P_0 (Alg. 1 line 2): one random foreground and one random background pixel (pixel centres), never
    on 255."""
    points = []
    for value in (1, 0):
        rows, cols = np.nonzero(target == value)
        k = int(rng.integers(len(rows)))
        points.append([cols[k] + 0.5, rows[k] + 0.5])
    return np.array(points, dtype=np.float64), np.array([1, 0])


class _EpisodePolicy:
    """:func:`ppo_update`'s view of the agent on one episode (one image: one pooling matrix)."""

    def __init__(self, agent: torch.nn.Module, pooling: torch.Tensor, valid: torch.Tensor):
        self.agent, self.pooling, self.valid = agent, pooling, valid

    def evaluate(self, rollout: Rollout, index: torch.Tensor):
        logits, values = self.agent(rollout.observations[index], self.pooling, self.valid)
        distribution = masked_categorical(logits, rollout.action_masks[index])
        return distribution.log_prob(rollout.actions[index]), distribution.entropy(), values


def run_episode(segmenter: Any, head: Any, item: TrainImage, target_index: int, config: AlignSamTrainConfig,
                branch: str, m_c: torch.Tensor | None, optimizers: dict[str, torch.optim.Optimizer],
                rng: np.random.Generator, generator: torch.Generator) -> tuple[Rollout, dict[str, float], Any]:
    """One training episode (Alg. 1 lines 2-10 with the SRM updates); returns the rollout, its statistics and the
    episode. ``segmenter``'s current image must be ``item.image``."""
    from sam_repro.methods.alignsam.episode import PromptingEpisode
    from sam_repro.methods.alignsam.grid import reward_at
    from sam_repro.methods.alignsam.srm import label_points, srm_loss

    target = item.targets[target_index]
    episode = PromptingEpisode(segmenter, config.actions, config.mask_chosen)
    geometry = episode.geometry
    s_c = None if m_c is None else episode.state_with(m_c)
    grid_target, grid_weight = (torch.as_tensor(a) for a in geometry.target_grid(target))
    episode.start(*initial_prompt(target, rng))
    agent = head.agent
    observations, actions, log_probs, values, rewards, masks = [], [], [], [], [], []
    srm_losses: dict[str, list[float]] = {"implicit": [], "explicit": []}
    for _ in range(config.steps):
        s_t = episode.state
        x = agent.inputs(s_t, s_c)
        with torch.no_grad():
            logits, value = agent(x, episode.pooling, episode.valid)
            distribution = masked_categorical(logits, episode.available[None])
            action = sample_action(distribution, generator)
            log_prob = distribution.log_prob(action)
        point = episode.point_of(int(action))
        reward = reward_at(target, point)
        for name, q in (("implicit", config.q_implicit), ("explicit", config.q_explicit)):
            if name == "explicit" and s_c is None:
                continue
            srm = head.srm(name)
            for _ in range(q):
                loss = srm_loss(srm(s_c, s_t), grid_target, grid_weight)
                optimizers[name].zero_grad(set_to_none=True)
                loss.backward()
                optimizers[name].step()
                srm_losses[name].append(float(loss.detach()))
        if config.label_source == "gt" and reward != 0.0:
            label = int(reward > 0)
        else:
            with torch.no_grad():
                label = int(label_points(head.srm(branch)(s_c, s_t), geometry, point[None])[0])
        observations.append(x[0])
        actions.append(action[0])
        log_probs.append(log_prob[0])
        values.append(value[0])
        rewards.append(reward)
        masks.append(episode.available.clone())
        episode.act(int(action), label)
    with torch.no_grad():
        _, next_value = agent(agent.inputs(episode.state, s_c), episode.pooling, episode.valid)
    n = len(actions)
    ends = torch.zeros(n, dtype=torch.bool)
    ends[-1] = True
    rollout = Rollout(observations=torch.stack(observations), actions=torch.stack(actions),
                      log_probs=torch.stack(log_probs), values=torch.stack(values),
                      rewards=torch.tensor(rewards, dtype=torch.float32), terminated=torch.zeros(n, dtype=torch.bool),
                      next_values=next_value.expand(n).clone(), episode_ends=ends, action_masks=torch.stack(masks))
    stats = {"reward": float(np.mean(rewards)),
             **{f"srm_{k}": float(np.mean(v)) for k, v in srm_losses.items() if v}}
    return rollout, stats, episode


def _episode_iou(segmenter: Any, episode: Any, target: np.ndarray) -> float:
    with torch.no_grad():
        mask = segmenter.upscale(episode.low_res)[0, 0].cpu().numpy() > segmenter.mask_threshold
    labelled = target != IGNORE_INDEX
    fg = target == 1
    union = np.count_nonzero((mask | fg) & labelled)
    return float(np.count_nonzero(mask & fg & labelled) / union) if union else 1.0


def train_alignsam(config: AlignSamTrainConfig, resume: bool = True, progress: bool = True,
                   stop_after: int | None = None) -> Path | None:
    """Train (or resume) every task's agent and SRMs and write the parts file to ``config.output``; return that path
    (None when ``stop_after`` episodes of this call ended it first; the state is saved in ``run_dir``).

    Raises:
        ValueError: a bad configuration, too few usable images, or a saved state of another configuration.
    """
    from tqdm.auto import tqdm

    from sam_repro.methods.alignsam.model import build_heads, get_task
    from sam_repro.methods.alignsam.weights import freeze, save_alignsam_parts
    from sam_repro.methods.sam import SamSegmenter, load_sam_model
    from sam_repro.nn.clip import load_clip

    config.check()
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    tasks = config.task_names()
    model, provenance = load_sam_model(config.backbone, config.base_checkpoint, "cpu")
    freeze(model)
    base_sha = provenance["checkpoint_sha256"]
    clip = None
    if config.clip_checkpoint != "none":
        clip = load_clip(None if config.clip_checkpoint in (None, "random") else config.clip_checkpoint,
                         random_init=config.clip_checkpoint == "random", seed=config.seed)
        freeze(clip.model)
    clip_sha = None if clip is None else (clip.sha256 or "random")
    heads = build_heads(int(model.prompt_encoder.embed_dim), tasks, seed=config.seed, **config.head_config())
    optimizers = {name: {"agent": torch.optim.Adam(heads[name].agent.parameters(), lr=config.lr),
                         "implicit": torch.optim.Adam(heads[name].implicit.parameters(), lr=config.srm_lr),
                         "explicit": torch.optim.Adam(heads[name].explicit.parameters(), lr=config.srm_lr)}
                  for name in tasks}
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    run_dir = Path(config.run_dir)
    state_path = run_dir / "state.pt"
    comparable = _comparable(config)
    step = 0
    state = resumable_state(state_path, comparable, resume)
    if state is not None:
        if state["base_sha256"] != base_sha or state["clip_sha256"] != clip_sha:
            raise ValueError(f"{state_path} was trained on other SAM or CLIP weights; use another run_dir or "
                             "resume=False")
        heads.load_state_dict(state["heads"])
        for name in tasks:
            for part, optimizer in optimizers[name].items():
                optimizer.load_state_dict(state["optimizers"][name][part])
        restore_rng(rng, state["rng"])
        generator.set_state(state["torch_rng"])
        step = int(state["step"])
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "log.jsonl"
    trim_log(log_path, step)
    data = {name: collect_images(get_task(name).dataset, config.split or get_task(name).train_split,
                                 config.train_images, config.seed)
            for name in tasks}
    skipped = {name: data[name][1] for name in tasks}
    per_task = config.train_images * config.epochs
    total = per_task * len(tasks)
    segmenter = SamSegmenter(model, provenance, engine=None)
    # every training image stays embedded (the tiny SAM's embedding is ~100 KB): one encoder pass per image
    segmenter.engine.cache_entries = max(segmenter.engine.cache_entries, config.train_images + 1)
    segmenter.engine.cache_bytes = max(segmenter.engine.cache_bytes, 1 << 30)
    clip_maps: dict[tuple[str, int, int], torch.Tensor] = {}
    ppo_config = config.ppo()
    bar = tqdm(total=total, initial=step, disable=not progress, desc="AlignSAM", unit="episode")
    started = time.perf_counter()
    stop_at = total if stop_after is None else min(total, step + stop_after)
    while step < stop_at:
        tick = time.perf_counter()
        task_index, within = divmod(step, per_task)
        name = tasks[task_index]
        epoch, position = divmod(within, config.train_images)
        order = np.random.default_rng([config.seed, task_index, epoch]).permutation(config.train_images)
        item = data[name][0][int(order[position])]
        target_index = int(rng.integers(len(item.targets)))
        segmenter.set_image(item.image)
        m_c = None
        if clip is not None:
            key = (name, int(order[position]), target_index)
            if key not in clip_maps:
                clip_maps[key] = _clip_map(clip, segmenter, item.image, item.texts[target_index])
            m_c = clip_maps[key]
        head = heads[name]
        branch = get_task(name).branch if clip is not None else "implicit"
        rollout, stats, episode = run_episode(segmenter, head, item, target_index, config, branch, m_c,
                                              optimizers[name], rng, generator)
        policy = _EpisodePolicy(head.agent, episode.pooling, episode.valid)
        stats.update(ppo_update(policy, optimizers[name]["agent"], rollout, ppo_config))
        step += 1
        record = {"step": step, "task": name, "image": item.id, "iou": _episode_iou(segmenter, episode,
                                                                                       item.targets[target_index]),
                  **stats, "seconds": round(time.perf_counter() - tick, 4)}
        with log_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        bar.update(1)
        bar.set_postfix({"task": name, "reward": f"{stats['reward']:.2f}", "iou": f"{record['iou']:.2f}"})
        if step % config.checkpoint_every == 0 or step == stop_at:
            save_training_state(state_path, heads=heads.state_dict(),
                                optimizers={n: {p: o.state_dict() for p, o in optimizers[n].items()} for n in tasks},
                                step=step, rng=rng_state_to_tensor(rng), torch_rng=generator.get_state(),
                                config=comparable, base_sha256=base_sha, clip_sha256=clip_sha)
    bar.close()
    if step < total:
        return None
    output = config.output or str(get_weights("alignsam", "tiny").checkpoint.shipped)
    meta = {"train_config": comparable, "steps": step, "skipped": skipped, "command": TRAIN_COMMAND,
            "base_checkpoint": provenance["checkpoint"],
            "train_seconds_this_session": round(time.perf_counter() - started, 1)}
    save_alignsam_parts(heads, output, backbone=config.backbone, base_sha256=base_sha,
                        clip_sha256=None if clip is None else clip.sha256, head_config=config.head_config(),
                        meta=meta, dtype=torch.float16)
    return Path(output)


def _clip_map(clip: Any, segmenter: Any, image: np.ndarray, text: str) -> torch.Tensor:
    """M_c of ``text`` on ``image`` on the segmenter's embedding grid (as the segmenter computes it)."""
    from sam_repro.methods.alignsam.grid import geometry_of
    from sam_repro.methods.alignsam.semantic import semantic_grid
    from sam_repro.nn.clip_surgery import ClipSurgery

    return semantic_grid(ClipSurgery(clip), image, text, geometry_of(segmenter.embedding, segmenter.model, 1))


def _comparable(config: AlignSamTrainConfig) -> dict[str, Any]:
    data = asdict(config)
    for key in ("base_checkpoint", "clip_checkpoint", "run_dir", "output", "threads", "checkpoint_every", "extra"):
        data.pop(key)
    return json.loads(json.dumps(data))
