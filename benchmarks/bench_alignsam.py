"""Cost of AlignSAM per image next to plain SAM's, with its split and a PPO update, in one run on one image.

The paper gives no cost. AlignSAM's evaluation has no user prompt: encode, then (explicit branch) CLIP Surgery's
semantic map M_c, the SRM's P_0 (highest and lowest cell of y_r) and one SAM decode, then T steps of (the agent's
greedy patch, the SRM's label of its centre, one SAM decode), then the upscale of the last prediction
(:meth:`AlignSamSegmenter.run <sam_repro.methods.alignsam.segmenter.AlignSamSegmenter.run>`). Plain SAM's image is
encode + one point-prompt prediction (decode + upscale). SAM is frozen in AlignSAM, so both share one encoder, timed
once. Prints, for one implicit and one explicit task (``--tasks``):

* per image: encode ms, prompting ms (SAM: one point predicted; AlignSAM: the whole self-prompted run with T steps),
  image ms (encode + prompting) and its ratio to SAM's;
* the split of AlignSAM's prompting: the CLIP map (and its text half: the text features of the prompt and of the
  empty text, the same on every image), the SRM's P_0, ``start`` (a run with T = 0: CLIP map + SRM P_0 + one decode +
  upscale), T steps (run(T) - run(0)) and per step, with the step's parts timed apart (policy: state
  + actor-critic + argmax; SRM label; decode: one SAM decode on the episode's prompts at step T/2 + the probability
  grid) and the rest (per step minus their sum: bookkeeping);
* training: one PPO update of the trainer (:func:`sam_repro.train.ppo.ppo_update` with the trainer's configuration:
  K = 20 full-batch epochs, Adam 1e-4) on a rollout of T transitions per episode, collected by running the agent on
  the image (sampled actions, GT rewards on a synthetic disc, SRM labels); on the CPU also one training episode of
  the trainer (:func:`sam_repro.train.alignsam.run_episode`: T steps with both SRMs trained q = 1 and 5 Adam steps
  each, as with a CLIP), which with the update is the cost of one episode of training. Both run on the parts of the
  first task with a CLIP (the explicit one), on copies.

The shipped weights are used when present (SAM, AlignSAM's parts, the CLIP); else random ones (cost depends on the
architecture, not the weights: the header says which).

    python benchmarks/bench_alignsam.py --threads 1 --repeats 3
    python benchmarks/bench_alignsam.py --backbone vit_b --device cuda --size 1024     # on a GPU, random ViT-B weights
"""
from __future__ import annotations

import argparse
import copy

import numpy as np
import torch

import sam_repro
from _segmenter_args import add_segmenter_arguments, median_ms
from sam_repro.backbones.weights import weights_present

TASKS = ("blur", "shadow")  # the implicit and the explicit branch's first tasks



def _image(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded uint8 RGB test image (a bright disc on noise) and the disc as a {0, 1} ground truth (rewards)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size * 0.45) ** 2 + (xx - size * 0.55) ** 2 < (size * 0.25) ** 2
    image[disc] += 150
    return image, disc.astype(np.uint8)


def _load(backbone: str, device: str, random_init: bool, **options):
    """(AlignSAM segmenter, random_init): the shipped weights unless ``random_init`` or they fail to load."""
    name = f"alignsam:{backbone}"
    if not random_init:
        try:
            return sam_repro.load_segmenter(name, device=device, **options), False
        except (FileNotFoundError, OSError, ValueError, RuntimeError) as error:
            print(f"note: {name} weights did not load ({type(error).__name__}: {str(error)[:120]}); random weights")
    return sam_repro.load_segmenter(name, device=device, random_init=True, **options), True


def _greedy_action(segmenter, episode, s_c) -> int:
    """The evaluation's choice, as in :meth:`AlignSamSegmenter.run`: the unmasked patch of highest probability."""
    agent = segmenter.head.agent
    logits, _ = agent(agent.inputs(episode.state, s_c), episode.pooling, episode.valid)
    return int(torch.argmax(agent.distribution(logits, episode.available[None]).probs[0]))


def _clip_text(segmenter) -> None:
    """The text half of a CLIP map: CLIP Surgery's text features of the run's text and of the empty text (the same
    on every image of a task)."""
    from sam_repro.data.captions import TEXT_PROMPTS
    from sam_repro.nn.clip_surgery import ClipSurgery

    text = segmenter.text if segmenter.text is not None else TEXT_PROMPTS.get(segmenter.task.dataset)
    surgery = ClipSurgery(segmenter.clip)
    surgery.text_features([text])
    surgery.text_features([""])


def _prompting_split(segmenter, steps: int, repeats: int, device: str) -> dict[str, float]:
    """run(T), run(0) and the parts of a run timed apart, on the segmenter's current image (no gradient)."""
    from sam_repro.methods.alignsam.episode import PromptingEpisode
    from sam_repro.methods.alignsam.srm import initial_points, label_points

    out = {"run": median_ms(lambda: segmenter.run(steps=steps), repeats, device),
           "start": median_ms(lambda: segmenter.run(steps=0), repeats, device)}
    episode = PromptingEpisode(segmenter, segmenter.actions, segmenter.mask_chosen)
    m_c = segmenter.semantic_map(episode, None) if segmenter.needs_semantic else None
    out["clip"] = out["clip_text"] = float("nan")
    if m_c is not None:
        out["clip"] = median_ms(lambda: segmenter.semantic_map(episode, None), repeats, device)
        out["clip_text"] = median_ms(lambda: _clip_text(segmenter), repeats, device)
    s_c = None if m_c is None else episode.state_with(m_c)
    srm = segmenter.head.srm(segmenter.branch)
    out["p0"] = median_ms(lambda: initial_points(srm(s_c, episode.state_with(None)), episode.geometry),
                           repeats, device)
    episode.start(*initial_points(srm(s_c, episode.state_with(None)), episode.geometry))
    for _ in range(steps // 2):  # the step parts are timed half way through the episode
        action = _greedy_action(segmenter, episode, s_c)
        label = int(label_points(srm(s_c, episode.state), episode.geometry, episode.point_of(action)[None])[0])
        episode.act(action, label)
    action = _greedy_action(segmenter, episode, s_c)
    point, s_t = episode.point_of(action)[None], episode.state
    out["policy"] = median_ms(lambda: _greedy_action(segmenter, episode, s_c), repeats, device)
    out["label"] = median_ms(lambda: label_points(srm(s_c, s_t), episode.geometry, point), repeats, device)
    out["decode"] = median_ms(episode._decode, repeats, device)  # the episode's own decode: SAM + probability grid
    return out


def _collect_rollout(segmenter, target: np.ndarray, episodes: int, steps: int, seed: int):
    """(rollout, advantages, returns, episode) of ``episodes`` episodes of T steps on the current image, collected as
    the trainer does (sampled actions, GT rewards at the patch centres, SRM labels) but without the SRM updates;
    GAE on the CPU, moved to the segmenter's device."""
    from sam_repro.methods.alignsam.episode import PromptingEpisode
    from sam_repro.methods.alignsam.grid import reward_at
    from sam_repro.methods.alignsam.srm import label_points
    from sam_repro.train.alignsam import AlignSamTrainConfig, initial_prompt
    from sam_repro.train.ppo import Rollout, compute_gae, masked_categorical, sample_action

    rng = np.random.default_rng(seed)
    generator = torch.Generator(device=segmenter.model.device).manual_seed(seed)
    agent = segmenter.head.agent
    srm = segmenter.head.srm(segmenter.branch)
    parts: list[Rollout] = []
    with torch.no_grad():
        for _ in range(episodes):
            episode = PromptingEpisode(segmenter, segmenter.actions, segmenter.mask_chosen)
            m_c = segmenter.semantic_map(episode, None) if segmenter.needs_semantic else None
            s_c = None if m_c is None else episode.state_with(m_c)
            episode.start(*initial_prompt(target, rng))
            rows: dict[str, list] = {k: [] for k in ("obs", "act", "logp", "value", "reward", "mask")}
            for _ in range(steps):
                s_t = episode.state
                x = agent.inputs(s_t, s_c)
                logits, value = agent(x, episode.pooling, episode.valid)
                distribution = masked_categorical(logits, episode.available[None])
                action = sample_action(distribution, generator)
                point = episode.point_of(int(action))
                for key, item in zip(rows, (x[0], action[0], distribution.log_prob(action)[0], value[0],
                                            reward_at(target, point), episode.available.clone())):
                    rows[key].append(item)
                episode.act(int(action), int(label_points(srm(s_c, s_t), episode.geometry, point[None])[0]))
            _, next_value = agent(agent.inputs(episode.state, s_c), episode.pooling, episode.valid)
            n = len(rows["act"])
            ends = torch.zeros(n, dtype=torch.bool)
            ends[-1] = True
            parts.append(Rollout(observations=torch.stack(rows["obs"]), actions=torch.stack(rows["act"]),
                                 log_probs=torch.stack(rows["logp"]), values=torch.stack(rows["value"]),
                                 rewards=torch.tensor(rows["reward"], dtype=torch.float32),
                                 terminated=torch.zeros(n, dtype=torch.bool), next_values=next_value.expand(n).clone(),
                                 episode_ends=ends, action_masks=torch.stack(rows["mask"])))
    rollout = Rollout(*(torch.cat([getattr(p, f).to(segmenter.model.device) for p in parts])
                        for f in ("observations", "actions", "log_probs", "values", "rewards", "terminated",
                                  "next_values", "episode_ends", "action_masks")))
    ppo = AlignSamTrainConfig().ppo()
    advantages, returns = compute_gae(rollout.rewards.cpu(), rollout.values.cpu(), rollout.next_values.cpu(),
                                      rollout.terminated.cpu(), rollout.episode_ends.cpu(), ppo.gamma, ppo.gae_lambda)
    return rollout, advantages.to(rollout.values.device), returns.to(rollout.values.device), episode


def _training(segmenter, image: np.ndarray, target: np.ndarray, episodes: int, steps: int, repeats: int,
              device: str) -> dict[str, float]:
    """One PPO update (the trainer's) and, on the CPU, one training episode of the trainer; on copies of the parts."""
    from sam_repro.train.alignsam import AlignSamTrainConfig, TrainImage, _EpisodePolicy, run_episode
    from sam_repro.train.ppo import ppo_update

    config = AlignSamTrainConfig(steps=steps, actions=segmenter.actions, mask_chosen=segmenter.mask_chosen)
    rollout, advantages, returns, episode = _collect_rollout(segmenter, target, episodes, steps, seed=0)
    head = copy.deepcopy(segmenter.head).train().requires_grad_(True)  # the loaded parts are frozen
    agent_optimizer = torch.optim.Adam(head.agent.parameters(), lr=config.lr)
    policy = _EpisodePolicy(head.agent, episode.pooling, episode.valid)
    ppo = config.ppo()
    out = {"transitions": float(len(rollout)), "epochs": float(ppo.epochs),
           "update": median_ms(lambda: ppo_update(policy, agent_optimizer, rollout, ppo, advantages=advantages,
                                                   returns=returns), repeats, device)}
    if device != "cpu":  # the trainer runs on the CPU (its targets and rewards are CPU tensors)
        out["episode"] = float("nan")
        return out
    with torch.no_grad():
        m_c = segmenter.semantic_map(episode, None) if segmenter.clip is not None else None
    item = TrainImage("bench", image, [target], [""])
    optimizers = {"agent": agent_optimizer,
                  "implicit": torch.optim.Adam(head.implicit.parameters(), lr=config.srm_lr),
                  "explicit": torch.optim.Adam(head.explicit.parameters(), lr=config.srm_lr)}
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    out["episode"] = median_ms(lambda: run_episode(segmenter, head, item, 0, config, segmenter.branch, m_c,
                                                    optimizers, rng, generator), repeats, device)
    out["srm_steps"] = float(config.q_implicit + (config.q_explicit if m_c is not None else 0))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_segmenter_arguments(parser, device="cpu", size=256)  # --backbone --device --size --random-init --threads
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None, help="T (default: the segmenter's, 15)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="AlignSAM tasks (their default branch)")
    parser.add_argument("--ppo-episodes", type=int, default=1,
                        help="episodes in the PPO update's rollout (the trainer: 1, T transitions)")
    args = parser.parse_args(argv)
    if (args.steps is not None and args.steps < 1) or args.ppo_episodes < 1 or args.repeats < 1:
        parser.error("--steps, --ppo-episodes and --repeats must be >= 1 (the PPO update needs T >= 1 transitions)")
    if args.threads:
        torch.set_num_threads(args.threads)
    image, target = _image(args.size)
    random_init = args.random_init or not weights_present(f"alignsam:{args.backbone}")
    segmenters, fell_back = {}, False
    for task in args.tasks:
        segmenters[task], task_random = _load(args.backbone, args.device, random_init, task=task)
        fell_back = fell_back or task_random != random_init
    if fell_back:  # one kind of weights for every row
        random_init = True
        segmenters = {task: _load(args.backbone, args.device, True, task=task)[0] for task in args.tasks}
    sam = sam_repro.load_segmenter(f"sam:{args.backbone}", device=args.device, random_init=random_init)
    first = next(iter(segmenters.values()))
    steps = first.steps if args.steps is None else args.steps
    weights = "random weights" if random_init else "shipped weights"
    print(f"AlignSAM cost: backbone {args.backbone} ({weights}), device {args.device}, {torch.get_num_threads()} "
          f"threads, image {args.size}x{args.size}, T = {steps}, G = {first.actions}, medians of {args.repeats}")

    centre = np.array([[args.size * 0.55, args.size * 0.45]])
    with torch.no_grad():
        encode = median_ms(lambda: sam.engine.encode(image), args.repeats, args.device)
        sam.set_image(image)
        decode = median_ms(lambda: sam.decode(points=centre[None], labels=np.array([[1]])), args.repeats, args.device)
        predict = median_ms(lambda: sam.predict(points=centre, labels=np.array([1])), args.repeats, args.device)
        splits = {}
        for task, segmenter in segmenters.items():
            segmenter.set_image(image)
            splits[task] = _prompting_split(segmenter, steps, args.repeats, args.device)
    reference = encode + predict

    print()
    print(f"{'per image (ms)':30s} {'encode':>8s} {'prompting':>10s} {'image':>8s} {'x SAM':>7s}")
    print(f"{'sam (1 point: decode+upscale)':30s} {encode:8.1f} {predict:10.1f} {reference:8.1f} {1:7.2f}")
    for task, split in splits.items():
        label = f"alignsam {task} ({segmenters[task].branch})"
        print(f"{label:30s} {encode:8.1f} {split['run']:10.1f} {encode + split['run']:8.1f} "
              f"{(encode + split['run']) / reference:7.2f}")
    print(f"  (SAM's decode alone, low-res: {decode:.2f} ms)")

    print()
    print(f"{'AlignSAM prompting split (ms)':30s} {'CLIP map':>8s} {'(text)':>7s} {'SRM P_0':>8s} {'start':>8s} "
          f"{'T steps':>8s} {'per step':>9s} {'policy':>7s} {'SRM lab':>8s} {'decode':>7s} {'rest':>6s}")
    for task, s in splits.items():
        label = f"alignsam {task} ({segmenters[task].branch})"
        looped = s["run"] - s["start"]
        per_step = looped / steps
        clip = f"{s['clip']:8.1f} {s['clip_text']:7.1f}" if s["clip"] == s["clip"] else f"{'-':>8s} {'-':>7s}"
        print(f"{label:30s} {clip} {s['p0']:8.2f} {s['start']:8.1f} {looped:8.1f} {per_step:9.2f} "
              f"{s['policy']:7.2f} {s['label']:8.2f} {s['decode']:7.2f} "
              f"{per_step - s['policy'] - s['label'] - s['decode']:6.2f}")
    print("  (text): the CLIP map's text features (the prompt's and the empty text's: the same on every image); "
          "start = run with T = 0\n  (CLIP map + SRM P_0 + one decode + upscale); T steps = run(T) - start; "
          "per step = T steps / T;\n  policy, SRM label (SRM + y_r at the point) and decode (SAM + probability grid) "
          "timed apart half way through; rest = per step - their sum")

    print()
    print(f"{'training (ms)':30s} {'transitions':>11s} {'PPO update':>11s} {'episode':>8s} {'episode+update':>15s}")
    train_task = next((t for t, s in segmenters.items() if s.clip is not None), next(iter(segmenters)))
    segmenter = segmenters[train_task]
    training = _training(segmenter, image, target, args.ppo_episodes, steps, args.repeats, args.device)
    label = f"alignsam {train_task} ({segmenter.branch})"
    episode = training["episode"]
    episode_text = f"{episode:8.1f} {episode + training['update']:15.1f}" if episode == episode else \
        f"{'-':>8s} {'-':>15s}"
    print(f"{label:30s} {int(training['transitions']):11d} {training['update']:11.1f} {episode_text}")
    print(f"  PPO update: the trainer's ppo_update, K = {int(training['epochs'])} full-batch epochs, Adam, on "
          f"{args.ppo_episodes} episode(s) x T = {steps} transitions collected with the agent on this image")
    if episode == episode:
        print(f"  episode: the trainer's run_episode (T steps, {int(training['srm_steps'])} SRM Adam steps per step, "
              "SRM labels); its CLIP map is computed once per image and target, outside")
    else:
        print(f"  episode: not timed on {args.device} (the trainer runs on the CPU)")


if __name__ == "__main__":
    main()
