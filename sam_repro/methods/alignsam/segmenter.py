"""AlignSAM under the common :class:`~sam_repro.methods.base.Segmenter` interface (``alignsam:BACKBONE``).

AlignSAM prompts itself: capability ``"prompts_itself"``. How it fits the interface:

* :meth:`AlignSamSegmenter.prompt_itself` is the method's evaluation (no user prompt): the SRM's highest and lowest
  cells on s_0 = E_I(x) (M = 1) give P_0, then T agent steps (the patch of highest policy probability among the
  unmasked ones: greedy at evaluation, the paper being silent), each labelled by the SRM (y_r > 0.5 at the patch
  centre), each followed by a SAM decode; the last decode is the prediction. The self-prompting protocol calls it.
* :meth:`AlignSamSegmenter.predict` takes **points only** (``prompt_kinds = {"points"}``): the user's points replace
  the SRM's P_0 (the form of the training episodes' P_0), then the same T agent steps run. A call without points
  raises (it is not the self-prompting entry point); boxes and mask inputs are refused. ``multimask`` is accepted and
  ignored: the agent's prompt set is unambiguous, so one mask comes back.

Ablations of Table 2 and 5 are options: ``policy="random"`` (w/o RL: uniformly random unmasked patches, seeded by
the image), ``labels="positive"`` (w/o SRM: every agent point positive; P_0 still comes from the SRM), ``steps=1``
(w/o MSI) and any T (Table 5).

The explicit branch needs a text (``text=``, default: the task's text prompt; multiclass: the class name, given per
call) and a CLIP; without either it raises. SAM, the CLIP and the parts are frozen (no gradient, eval mode).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sam_repro.backbones.engine import SamEngine
from sam_repro.methods.alignsam.episode import PromptingEpisode, check_steps
from sam_repro.methods.alignsam.model import TaskHead, get_task
from sam_repro.methods.alignsam.semantic import semantic_grid
from sam_repro.methods.alignsam.srm import initial_points, label_points
from sam_repro.methods.base import Prediction
from sam_repro.methods.sam import SamSegmenter, load_sam_model
from sam_repro.validation import check_points

POLICIES = ("agent", "random")
LABELS = ("srm", "positive")


@dataclass
class SelfPrompted:
    """What one AlignSAM run did (Fig. 5's points and masks per step).

    Attributes:
        prediction: the final prediction.
        points: (N, 2) xy of every prompt (P_0 first, then one per step); labels: (N,) 1/0.
        actions: the chosen patch per step.
        step_low_res: (1, h, w) low-res logits after P_0 and after each step (T + 1 entries).
        initial_from: ``srm`` (self-prompted P_0) or ``user`` (points given to ``predict``).
        semantic_map: (g, g) M_c on the embedding grid (explicit branch), else None.
    """

    prediction: Prediction
    points: np.ndarray
    labels: np.ndarray
    actions: list[int]
    step_low_res: list[np.ndarray] = field(default_factory=list)
    initial_from: str = "srm"
    semantic_map: np.ndarray | None = None


class AlignSamSegmenter(SamSegmenter):
    """AlignSAM as a :class:`Segmenter` (``load_segmenter("alignsam:tiny", task="shadow")``).

    Args:
        heads: the task heads (:func:`~sam_repro.methods.alignsam.model.build_heads`).
        task: which task's agent and SRMs run; branch: ``implicit``/``explicit`` (None: the task's).
        steps: T; actions: G; mask_chosen: chosen patches masked.
        text: the explicit branch's text (None: the task's text prompt; multiclass needs one per call).
        clip: a :class:`~sam_repro.nn.clip.TinyClip` (needed by the explicit branch).
        policy: ``agent`` or ``random`` (w/o RL); labels: ``srm`` or ``positive`` (w/o SRM).
    """

    capabilities = frozenset({"prompts_itself"})
    prompt_kinds = frozenset({"points"})

    def __init__(self, model: torch.nn.Module, heads: torch.nn.ModuleDict, provenance: dict[str, Any] | None = None,
                 *, name: str | None = None, engine: SamEngine | None = None, task: str = "salient",
                 branch: str | None = None, steps: int = 15, actions: int = 10, mask_chosen: bool = True,
                 text: str | None = None, clip: Any = None, policy: str = "agent", labels: str = "srm"):
        provenance = dict(provenance or {})
        super().__init__(model, provenance, name=name or f"alignsam:{provenance.get('backbone', 'custom')}",
                         engine=engine)
        self.heads = heads
        self.task = get_task(task)
        if task not in heads:
            raise ValueError(f"the AlignSAM parts hold tasks {', '.join(heads.keys())}, not {task!r}")
        self.branch = branch or self.task.branch
        self.head.srm(self.branch)  # validates the branch
        check_steps(int(steps), int(actions), bool(mask_chosen))
        if policy not in POLICIES or labels not in LABELS:
            raise ValueError(f"policy must be one of {POLICIES} and labels one of {LABELS}, got {policy!r}, {labels!r}")
        self.steps, self.actions, self.mask_chosen = int(steps), int(actions), bool(mask_chosen)
        self.text, self.clip, self.policy, self.labels = text, clip, policy, labels
        self._surgery = None
        self._image: np.ndarray | None = None
        self.last_run: SelfPrompted | None = None

    @property
    def head(self) -> TaskHead:
        return self.heads[self.task.name]

    @property
    def needs_semantic(self) -> bool:
        """Whether a run needs s_c: the explicit SRM, or an agent that sees it."""
        return self.branch == "explicit" or self.head.agent.sees_semantic

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_backbone(cls, backbone: str, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                      random_init: bool = False, seed: int = 0, base_checkpoint: str | os.PathLike | None = None,
                      clip: Any = None, clip_checkpoint: str | os.PathLike | None = None, task: str = "salient",
                      branch: str | None = None, steps: int = 15, actions: int = 10, mask_chosen: bool = True,
                      text: str | None = None, policy: str = "agent", labels: str = "srm",
                      **engine_options: Any) -> "AlignSamSegmenter":
        """``load_segmenter("alignsam:BACKBONE", ...)``.

        ``random_init``: random SAM, parts and (explicit branch) CLIP, seeded (tests). Otherwise the SAM weights
        (``base_checkpoint`` or the registry's), the parts file (``checkpoint`` or the registry's), and for the
        explicit branch the CLIP (``clip`` or ``clip_checkpoint`` or the registry's), each checked against the
        digests the parts file records.
        """
        from sam_repro.methods.alignsam.weights import check_clip, freeze, load_alignsam_parts
        from sam_repro.nn.clip import load_clip

        model, provenance = load_sam_model(backbone, base_checkpoint, device, random_init, seed)
        freeze(model)
        heads, parts = load_alignsam_parts(model, backbone, checkpoint, random_init=random_init, seed=seed,
                                           base_sha256=provenance.get("checkpoint_sha256"),
                                           base_path=provenance.get("checkpoint"))
        freeze(heads)
        effective = branch or get_task(task).branch
        needs_clip = task in heads and (effective == "explicit" or heads[task].agent.sees_semantic)
        if needs_clip and clip is None:
            clip = load_clip(clip_checkpoint, device=model.device, random_init=random_init, seed=seed)
        if clip is not None:
            freeze(clip.model)
            if not random_init:
                check_clip(parts["checkpoint"], {"clip_sha256": parts.get("clip_sha256")}, clip.sha256)
        provenance.update(base_checkpoint=provenance.get("checkpoint"),
                          base_checkpoint_sha256=provenance.get("checkpoint_sha256"),
                          checkpoint=parts["checkpoint"], checkpoint_sha256=parts["checkpoint_sha256"],
                          head_config=parts["head_config"],
                          clip_sha256=None if clip is None else clip.sha256)
        engine = SamEngine(model, weights_id=provenance.get("base_checkpoint_sha256"), **engine_options)
        return cls(model, heads, provenance, engine=engine, task=task, branch=branch, steps=steps, actions=actions,
                   mask_chosen=mask_chosen, text=text, clip=clip, policy=policy, labels=labels)

    # -- the semantic state --------------------------------------------------------------------------
    def semantic_map(self, episode: PromptingEpisode, text: str | None) -> torch.Tensor:
        """M_c on the embedding grid (g, g): CLIP Surgery's min-max map of ``text`` on the current image, resized
        into SAM's input frame and area-averaged per cell.

        Raises:
            ValueError: no text, or no CLIP.
        """
        from sam_repro.data.captions import TEXT_PROMPTS
        from sam_repro.nn.clip_surgery import ClipSurgery

        text = text if text is not None else self.text
        if text is None and self.task.dataset in TEXT_PROMPTS:
            text = TEXT_PROMPTS[self.task.dataset]
        if not text:
            raise ValueError(f"{self.name}: the explicit branch needs a text prompt (text=...; multiclass: the class "
                             "name)")
        if self.clip is None:
            raise ValueError(f"{self.name}: the explicit branch needs a CLIP (clip=... or clip_checkpoint=...)")
        if self._surgery is None or self._surgery.clip is not self.clip:
            self._surgery = ClipSurgery(self.clip)
        return semantic_grid(self._surgery, self._image, text, episode.geometry)

    # -- running -------------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        from sam_repro.validation import as_rgb_image

        image = as_rgb_image(image)
        super().set_image(image)
        self._image = image

    def reset_image(self) -> None:
        super().reset_image()
        self._image = None

    @torch.no_grad()
    def run(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
            text: str | None = None, steps: int | None = None) -> SelfPrompted:
        """One AlignSAM run on the current image: P_0 from ``points``/``labels`` (user) or from the SRM (None),
        then T steps. Never reads a ground truth."""
        steps = self.steps if steps is None else int(steps)
        check_steps(steps, self.actions, self.mask_chosen)
        episode = PromptingEpisode(self, self.actions, self.mask_chosen)
        m_c = self.semantic_map(episode, text) if self.needs_semantic else None
        s_c = None if m_c is None else episode.state_with(m_c)
        srm = self.head.srm(self.branch)
        if points is None:
            y0 = srm(s_c, episode.state_with(None))
            points, labels = initial_points(y0, episode.geometry)
            origin = "srm"
        else:
            origin = "user"
        episode.start(points, labels)
        history = [episode.low_res[0].cpu().numpy()]
        rng = np.random.default_rng(int(self.embedding.key.encode().hex()[:15], 16))
        for _ in range(steps):
            s_t = episode.state
            if self.policy == "agent":
                logits, _ = self.head.agent(self.head.agent.inputs(s_t, s_c), episode.pooling, episode.valid)
                probs = self.head.agent.distribution(logits, episode.available[None]).probs[0]
                action = int(torch.argmax(probs))
            else:
                action = int(rng.choice(np.flatnonzero(episode.available.cpu().numpy())))
            point = episode.point_of(action)[None]
            label = 1 if self.labels == "positive" else int(label_points(srm(s_c, s_t), episode.geometry, point)[0])
            episode.act(action, label)
            history.append(episode.low_res[0].cpu().numpy())
        prediction = self._to_prediction(self.embedding, episode.low_res, episode.iou)[0]
        self.last_run = SelfPrompted(prediction, episode.points.copy(), episode.labels.copy(), list(episode.actions),
                                     history, origin, None if m_c is None else m_c.numpy())
        return self.last_run

    def prompt_itself(self, text: str | None = None, steps: int | None = None) -> Prediction:
        """AlignSAM's evaluation on the current image, with no user prompt (see the module docstring)."""
        return self.run(text=text, steps=steps).prediction

    def predict(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                box: np.ndarray | None = None, mask_input: np.ndarray | None = None,
                multimask: bool = False) -> Prediction:
        """The user's points as P_0, then the agent's T steps (see the module docstring); boxes and mask inputs are
        refused."""
        embedding = self.embedding
        if box is not None or mask_input is not None:
            raise ValueError(f"{self.name} takes points only (prompt_kinds {sorted(self.prompt_kinds)}); for no prompt "
                             "at all use prompt_itself()")
        pts, lab = check_points(points, labels, embedding.original_size)
        if pts is None:
            raise ValueError(f"{self.name}: predict() needs at least one prompt (points + labels); AlignSAM's own "
                             "prompting is prompt_itself()")
        return self.run(pts, lab).prediction

    def info(self) -> dict[str, Any]:
        return {"method": "alignsam", "name": self.name, "task": self.task.name, "branch": self.branch,
                "steps": self.steps, "actions": self.actions, "mask_chosen": self.mask_chosen, "policy": self.policy,
                "labels": self.labels, "text": self.text, **self.provenance}
