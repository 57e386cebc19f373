"""AlignSAM's trained parts: per task, an agent and both SRM branches (the paper trains per task; Table 4 evaluates
both branches on every task, so both are trained on the same rollouts).

Tasks are the paper's five, by the name of their embedded stand-in (research/methods.md §1, Table 1): each has a
default branch (I: blur, glass, salient; E: shadow, multiclass) and a text for the explicit branch
(:data:`sam_repro.data.captions.TEXT_PROMPTS`; multiclass prompts with the class name).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sam_repro.methods.alignsam.agent import ActorCritic
from sam_repro.methods.alignsam.srm import BRANCHES, ExplicitSRM, ImplicitSRM


@dataclass(frozen=True)
class Task:
    """One AlignSAM task: its stand-in dataset, its default SRM branch, the paper's dataset it stands in for, and the
    stand-in's train / test splits (multiclass: the ``voc_*`` splits, drawn with VOC-sized objects)."""

    name: str
    dataset: str
    branch: str
    paper_dataset: str
    train_split: str = "train"
    test_split: str = "test"


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("blur", "synthetic/blur", "implicit", "CUHK"),
    Task("shadow", "synthetic/shadow", "explicit", "SBU"),
    Task("glass", "synthetic/glass", "implicit", "MSD"),
    Task("salient", "synthetic/salient", "implicit", "DUTS"),
    Task("multiclass", "synthetic/multiclass", "explicit", "PASCAL VOC 2012", "voc_train", "voc_test"),
)}


def get_task(name: str) -> Task:
    """Raises ValueError for an unknown task (listing the known ones)."""
    if name not in TASKS:
        raise ValueError(f"unknown AlignSAM task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


class TaskHead(nn.Module):
    """The trained parts of one task: ``agent`` (actor + critic) and the SRMs ``implicit`` and ``explicit``."""

    def __init__(self, channels: int, agent_width: int = 32, srm_width: int = 64, srm_heads: int = 4,
                 sees_semantic: bool = False):
        super().__init__()
        self.agent = ActorCritic(channels, agent_width, sees_semantic)
        self.implicit = ImplicitSRM(channels, srm_width)
        self.explicit = ExplicitSRM(channels, srm_width, srm_heads)

    def srm(self, branch: str) -> nn.Module:
        if branch not in BRANCHES:
            raise ValueError(f"SRM branch must be one of {', '.join(BRANCHES)}, got {branch!r}")
        return self.implicit if branch == "implicit" else self.explicit


def build_heads(channels: int, tasks: list[str] | tuple[str, ...] | None = None, seed: int = 0,
                **options) -> nn.ModuleDict:
    """Seeded :class:`TaskHead` per task (default: all five), keyed by task name."""
    names = list(tasks or TASKS)
    for name in names:
        get_task(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.ModuleDict({name: TaskHead(channels, **options) for name in names})
