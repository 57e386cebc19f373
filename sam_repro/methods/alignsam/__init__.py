"""AlignSAM (Huang et al., "AlignSAM: Aligning Segment Anything Model to Open Context via Reinforcement Learning",
CVPR 2024): a PPO agent that places point prompts on a patch grid for a frozen SAM, and a semantic recalibration
module (SRM: implicit conv branch / explicit CLIP-Surgery branch) that labels them.

No official code exists; the unofficial repository drops the SRM and is not followed (research/methods.md §1).
Modules, one job each: :mod:`.grid` (action grid, embedding grid, state, reward), :mod:`.agent` (fully
convolutional actor + critic), :mod:`.srm` (both branches, loss, labels, evaluation's initial points),
:mod:`.episode` (one image's prompting loop, GT-free), :mod:`.model` (tasks and their trained parts),
:mod:`.weights` (parts files tied to the SAM and CLIP under them), :mod:`.segmenter` (``alignsam:BACKBONE``).
The CLIP side: :mod:`sam_repro.nn.clip` and :mod:`sam_repro.nn.clip_surgery`. Training:
:mod:`sam_repro.train.alignsam` (``sam-repro train alignsam``) over :mod:`sam_repro.train.ppo`.
"""
from sam_repro.methods.alignsam.agent import ActorCritic
from sam_repro.methods.alignsam.episode import PromptingEpisode, check_steps
from sam_repro.methods.alignsam.grid import Geometry, geometry_of, reward_at, state
from sam_repro.methods.alignsam.model import TASKS, Task, TaskHead, build_heads, get_task
from sam_repro.methods.alignsam.segmenter import AlignSamSegmenter, SelfPrompted
from sam_repro.methods.alignsam.srm import (
    BRANCHES, ExplicitSRM, ImplicitSRM, build_srm, initial_points, label_points, srm_loss,
)

__all__ = [
    "ActorCritic", "AlignSamSegmenter", "BRANCHES", "ExplicitSRM", "Geometry", "ImplicitSRM", "PromptingEpisode",
    "SelfPrompted", "TASKS", "Task", "TaskHead", "build_heads", "build_srm", "check_steps", "geometry_of",
    "get_task", "initial_points", "label_points", "reward_at", "srm_loss", "state",
]
