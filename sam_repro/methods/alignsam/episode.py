"""One prompting episode on one image: the agent's environment, without ground truth (AlignSAM Alg. 1, lines 2-9).

The episode holds SAM's embedding of the image (frozen SAM: decoding only, no gradient), the prompt set P_t, SAM's
last prediction and the state s_t = E_I(x) * M_{t-1} (eq. 4). It never sees a ground truth: rewards (training only)
are computed by the trainer from the chosen point (:func:`~sam_repro.methods.alignsam.grid.reward_at`), and labels
come from whoever calls :meth:`PromptingEpisode.act` (the SRM, or the ground truth in training when so configured).
That separation is what makes "evaluation never reads GT" checkable.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sam_repro.methods.alignsam.grid import Geometry, geometry_of, state


def check_steps(steps: int, actions: int, mask_chosen: bool) -> None:
    """T must be >= 0, and with chosen patches masked at most G*G (each step needs a fresh patch).

    Raises:
        ValueError: naming T, G and the way out.
    """
    if steps < 0:
        raise ValueError(f"the number of prompting steps T must be >= 0, got {steps}")
    if mask_chosen and steps > actions * actions:
        raise ValueError(f"T = {steps} steps need {steps} distinct patches but the {actions} x {actions} grid has "
                         f"only {actions * actions}: lower T, raise the grid size G, or unmask chosen patches "
                         "(mask_chosen=False)")


class PromptingEpisode:
    """The environment of one image.

    Args:
        segmenter: a :class:`~sam_repro.methods.base.SamBacked` segmenter whose current image is the episode's (its
            ``decode`` runs SAM's prompt encoder and mask decoder on the cached embedding).
        actions: G (G x G patches).
        mask_chosen: patches already chosen are unavailable.
    """

    def __init__(self, segmenter, actions: int = 10, mask_chosen: bool = True):
        self.segmenter = segmenter
        self.embedding = segmenter.embedding
        self.geometry: Geometry = geometry_of(self.embedding, segmenter.model, actions)
        self.mask_chosen = bool(mask_chosen)
        self.centres = self.geometry.centres()
        # on the embedding's device: the actor multiplies them with its activations (a GPU run needs them there)
        self.device = self.embedding.features.device
        self.pooling = self.geometry.patch_pooling.to(self.device)
        self.valid = torch.as_tensor(self.geometry.valid_cells).to(self.device)
        self.points = np.zeros((0, 2))
        self.labels = np.zeros((0,), dtype=np.int64)
        self.actions: list[int] = []
        self.available = torch.ones(self.geometry.num_actions, dtype=torch.bool, device=self.device)
        self.low_res: torch.Tensor | None = None
        self.iou: torch.Tensor | None = None
        self.probability: torch.Tensor | None = None

    @property
    def features(self) -> torch.Tensor:
        """E_I(x): (1, C, g, g)."""
        return self.embedding.features

    def state_with(self, weights: torch.Tensor | None) -> torch.Tensor:
        """E_I(x) * weights for a (g, g) map; weights None means M = 1 (no prediction yet)."""
        if weights is None:
            return self.features.clone()
        return state(self.features, weights.to(self.features.device))

    @property
    def state(self) -> torch.Tensor:
        """s_t = E_I(x) * M_{t-1} (eq. 4): (1, C, g, g); M = 1 before the first prediction."""
        return self.state_with(self.probability)

    def start(self, points: np.ndarray, labels: np.ndarray) -> None:
        """P_0 (N, 2) xy with (N,) labels; SAM predicts M_0 from it. No patch is masked by P_0."""
        self.points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        self.labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        self.actions = []
        self.available = torch.ones(self.geometry.num_actions, dtype=torch.bool, device=self.device)
        self._decode()

    def point_of(self, action: int) -> np.ndarray:
        """The (2,) xy centre of patch ``action`` (eq. 3)."""
        return self.centres[int(action)]

    def act(self, action: int, label: int) -> None:
        """P_t = P_{t-1} + {(centre of patch ``action``, ``label``)}; SAM predicts M_t.

        Raises:
            ValueError: an action outside the grid, or a masked one.
        """
        action = int(action)
        if not 0 <= action < self.geometry.num_actions:
            raise ValueError(f"action {action} is outside the {self.geometry.actions}^2 grid")
        if not bool(self.available[action]):
            raise ValueError(f"patch {action} was already chosen (chosen patches are masked)")
        self.points = np.concatenate([self.points, self.point_of(action)[None]])
        self.labels = np.concatenate([self.labels, [int(label)]])
        self.actions.append(action)
        if self.mask_chosen:
            self.available[action] = False
        self._decode()

    @torch.no_grad()
    def _decode(self) -> None:
        low_res, iou = self.segmenter.decode(points=self.points[None], labels=self.labels[None], multimask=False)
        self.low_res, self.iou = low_res, iou
        self.probability = self.geometry.probability_grid(low_res[0, 0]).to(self.features.dtype)

    def history(self) -> Sequence[tuple[np.ndarray, int]]:
        """(point, label) of every prompt so far, P_0 first."""
        return [(p, int(lab)) for p, lab in zip(self.points, self.labels)]
