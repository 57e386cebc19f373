"""Shared training utilities: seeding, resumable training state, atomic saves."""
from __future__ import annotations

import json

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators (code of this package also passes
    explicit generators; this covers third-party code that uses the global ones)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def save_training_state(path: str | os.PathLike, **state: Any) -> None:
    """Write a resumable training state (model/optimizer state dicts, step, RNG states) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_training_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a state written by :func:`save_training_state` (safe loading: tensors and plain types only)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def resumable_state(state_path: Path, comparable: dict[str, Any], resume: bool) -> dict[str, Any] | None:
    """The saved state to resume from (None: start over), refusing one written under another
    configuration (``comparable``: the fields that define a run)."""
    if not resume or not state_path.is_file():
        return None
    state = load_training_state(state_path)
    if state["config"] != comparable:
        raise ValueError(f"{state_path} was written with another configuration; use another run_dir or resume=False")
    return state


def trim_log(log_path: Path, step: int) -> None:
    """Drop JSONL records past ``step`` (written after the last saved state of an interrupted run)."""
    if log_path.is_file():
        kept = [line for line in log_path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        log_path.write_text("".join(line + "\n" for line in kept))


def rng_state_to_tensor(generator: np.random.Generator) -> dict[str, Any]:
    """A numpy Generator's state in a form ``torch.load(weights_only=True)`` accepts."""
    state = generator.bit_generator.state
    return {"bit_generator": state["bit_generator"], "state": {k: int(v) for k, v in state["state"].items()},
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}


def restore_rng(generator: np.random.Generator, saved: dict[str, Any]) -> None:
    generator.bit_generator.state = {
        "bit_generator": saved["bit_generator"], "state": dict(saved["state"]),
        "has_uint32": saved["has_uint32"], "uinteger": saved["uinteger"],
    }
