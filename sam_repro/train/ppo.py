"""PPO for AlignSAM's prompting agent, CleanRL-style: one readable file, a typed config, seeded, bit-reproducible.

Why not stable-baselines3 (+ sb3-contrib's MaskablePPO)? The agent's rollout is not a self-contained environment:
after every action the semantic recalibration module (SRM) is itself trained ``q`` steps and then labels the
chosen point before SAM decodes it (AlignSAM §3.3), so the "environment" would own an optimiser and change while
SB3 collects; the policy is fully convolutional over a (C, g, g) state whose action grid depends on each image's
size (SB3 policies expect a flat feature vector of a fixed observation space); and the paper's update (one episode
of T = 15 steps, K = 20 full-batch epochs, no advantage normalisation, separate actor and critic) is a few lines.
SB3 stays a test-only dependency: ``tests/test_ppo.py`` checks :func:`compute_gae` against SB3's
``RolloutBuffer.compute_returns_and_advantage`` and :func:`ppo_update` against ``PPO.train`` on the same rollout.

The paper's settings (AlignSAM §3.2 and §4.1; research/methods.md §1) are the defaults of :class:`PPOConfig`:

* ratio r_t = pi_new(a_t|s_t) / pi_old(a_t|s_t) (eq. 8 prints pi(a_t|s_t) / pi(a_{t-1}|s_{t-1}), a misprint: the
  clipped objective of eq. 9 is PPO's, whose ratio is new over old policy at the same state and action);
* clip epsilon 0.2 (eq. 9); gamma 0.99;
* advantages: eq. 6-7 are GAE with lambda = 1 (discounted return to go plus gamma^(T-t) V(s_T), minus V(s_t)); the
  episode is truncated at T, not terminated, so V(s_T) of the state after the last action is bootstrapped;
* critic loss eq. 10: mean squared (Q - V); the actor and critic are separate networks, so one Adam over both on
  ``policy loss + value_coef * value loss`` with ``value_coef = 1`` equals two optimisers on the two losses;
* no entropy bonus (the paper has none), no advantage normalisation, no gradient clipping;
* Adam, lr 1e-4 (the text says "SGD"; §4.1 says Adam: research/methods.md §1), K = 20 epochs per episode.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from sam_repro.nn.distributions import masked_categorical  # noqa: F401  (re-exported: the trainer's API)


@dataclass
class PPOConfig:
    """Hyperparameters of :func:`ppo_update` (defaults: AlignSAM's)."""

    gamma: float = 0.99
    """discount factor gamma of eq. 6"""
    gae_lambda: float = 1.0
    """GAE lambda; 1 is eq. 6-7 (Monte-Carlo return to go, bootstrapped by V(s_T))"""
    clip_range: float = 0.2
    """epsilon of the clipped surrogate (eq. 9)"""
    epochs: int = 20
    """K: optimisation epochs over each episode's transitions"""
    minibatch_size: int = 0
    """transitions per gradient step (0: the whole rollout in one batch, the paper's T = 15 steps)"""
    lr: float = 1e-4
    """Adam learning rate (paper: 1e-4)"""
    adam_eps: float = 1e-8
    """Adam epsilon (torch's default; SB3 uses 1e-5, which the comparison test passes explicitly)"""
    value_coef: float = 1.0
    """weight of the critic loss (eq. 10) in the summed loss; separate networks make 1 the paper's two losses"""
    entropy_coef: float = 0.0
    """entropy bonus (none in the paper)"""
    normalize_advantage: bool = False
    """standardise advantages per minibatch (the paper does not)"""
    max_grad_norm: float = 0.0
    """clip the global gradient norm (0: no clipping, as in the paper)"""

    def __post_init__(self) -> None:
        if not 0 <= self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError(f"gamma and gae_lambda must be in [0, 1], got {self.gamma}, {self.gae_lambda}")
        if self.clip_range <= 0 or self.epochs < 1 or self.lr <= 0 or self.minibatch_size < 0:
            raise ValueError("clip_range and lr must be > 0, epochs >= 1, minibatch_size >= 0")


class ActorCriticLike(Protocol):
    """What :func:`ppo_update` needs of a policy: log-probabilities, entropies and values of stored transitions."""

    def evaluate(self, batch: "Rollout", index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log pi(a|s) (B,), entropy (B,), V(s) (B,)) of the transitions ``index`` of ``batch``."""


@dataclass
class Rollout:
    """Transitions of one or more episodes, in time order.

    Attributes:
        observations: whatever the policy's ``evaluate`` reads (e.g. (N, C, g, g) states); indexed by transition.
        actions: (N,) int64 actions.
        log_probs: (N,) log pi_old(a_t|s_t) at collection time.
        values: (N,) V_old(s_t) at collection time.
        rewards: (N,) rewards r_t.
        terminated: (N,) bool, True where the episode ended *for good* after step t (no bootstrap); a truncated
            episode (AlignSAM: after T steps) is not terminated: its last state's value is bootstrapped.
        next_values: (N,) V(s_{t+1}) of the state after step t, used where the episode is truncated there (the
            last step of an episode, or of the rollout); ignored elsewhere.
        episode_ends: (N,) bool, True at the last step of each episode (terminated or truncated).
        action_masks: (N, A) bool of the actions available at s_t, or None.
    """

    observations: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    next_values: torch.Tensor
    episode_ends: torch.Tensor
    action_masks: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.actions.shape[0])


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor, terminated: torch.Tensor,
                episode_ends: torch.Tensor, gamma: float, gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns (Schulman et al. 2016), one backward pass.

    delta_t = r_t + gamma * V_next_t * (1 - terminated_t) - V(s_t), where V_next_t is V(s_{t+1}) inside an episode
    and ``next_values[t]`` at its end; A_t = delta_t + gamma * lambda * A_{t+1} within an episode; returns
    R_t = A_t + V(s_t). With lambda = 1 and an episode truncated after step T, R_t is eq. 6 exactly:
    r_t + gamma r_{t+1} + ... + gamma^(T-t) V(s_T).

    Args:
        rewards, values, next_values: (N,) float; terminated, episode_ends: (N,) bool.

    Returns:
        (advantages (N,), returns (N,)) in float64 arithmetic cast back to ``values``' dtype.
    """
    n = int(rewards.shape[0])
    if not all(t.shape == (n,) for t in (values, next_values, terminated, episode_ends)):
        raise ValueError("rewards, values, next_values, terminated and episode_ends must all have shape (N,)")
    r, v, nv = rewards.double(), values.double(), next_values.double()
    advantages = torch.zeros(n, dtype=torch.float64)
    running = 0.0
    for t in reversed(range(n)):
        end = bool(episode_ends[t]) or t == n - 1
        following = nv[t] if end else v[t + 1]
        not_done = 0.0 if bool(terminated[t]) else 1.0
        delta = r[t] + gamma * following * not_done - v[t]
        running = delta + (0.0 if end else gamma * gae_lambda * running)
        advantages[t] = running
    returns = advantages + v
    return advantages.to(values.dtype), returns.to(values.dtype)


def clipped_surrogate_loss(log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor,
                           clip_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's actor loss (the negative of eq. 9) and the fraction of clipped ratios.

    ratio = exp(log pi_new - log pi_old); loss = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)).
    """
    ratio = torch.exp(log_probs - old_log_probs)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range) * advantages
    fraction = ((ratio - 1.0).abs() > clip_range).float().mean()
    return -torch.min(unclipped, clipped).mean(), fraction


def ppo_update(policy: ActorCriticLike, optimizer: torch.optim.Optimizer, rollout: Rollout, config: PPOConfig,
               generator: torch.Generator | None = None,
               advantages: torch.Tensor | None = None, returns: torch.Tensor | None = None) -> dict[str, float]:
    """K epochs of clipped PPO on ``rollout``; returns the last epoch's mean losses.

    Args:
        advantages / returns: precomputed (N,) (else :func:`compute_gae` with ``config``'s gamma and lambda).
        generator: shuffles minibatches (only used when ``config.minibatch_size`` splits the rollout; a whole-batch
            update needs no shuffling, so the result does not depend on any random state).
    """
    if advantages is None or returns is None:
        advantages, returns = compute_gae(rollout.rewards, rollout.values, rollout.next_values, rollout.terminated,
                                          rollout.episode_ends, config.gamma, config.gae_lambda)
    advantages, returns = advantages.detach(), returns.detach()
    n = len(rollout)
    size = n if config.minibatch_size in (0, None) or config.minibatch_size >= n else config.minibatch_size
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    stats: dict[str, float] = {}
    for _ in range(config.epochs):
        order = torch.arange(n) if size == n else torch.randperm(n, generator=generator)
        sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "clip_fraction": 0.0}
        batches = 0
        for start in range(0, n, size):
            index = order[start:start + size]
            log_probs, entropy, values = policy.evaluate(rollout, index)
            adv = advantages[index]
            if config.normalize_advantage and len(index) > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            policy_loss, fraction = clipped_surrogate_loss(log_probs, rollout.log_probs[index], adv,
                                                           config.clip_range)
            value_loss = F.mse_loss(values, returns[index])  # eq. 10
            entropy_mean = entropy.mean()
            loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy_mean
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
            optimizer.step()
            sums["policy_loss"] += float(policy_loss.detach())
            sums["value_loss"] += float(value_loss.detach())
            sums["entropy"] += float(entropy_mean.detach())
            sums["clip_fraction"] += float(fraction)
            batches += 1
        stats = {key: value / batches for key, value in sums.items()}
    stats["mean_advantage"] = float(advantages.mean())
    return stats


def sample_action(distribution: torch.distributions.Categorical, generator: torch.Generator | None) -> torch.Tensor:
    """(B,) int64 actions drawn with ``generator`` (torch's ``Categorical.sample`` takes none: this keeps rollouts
    reproducible from the trainer's own generator)."""
    return torch.multinomial(distribution.probs, 1, generator=generator)[:, 0]
