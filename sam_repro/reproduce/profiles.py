"""Run profiles: named sets of notebook parameters, one meaning each.

* ``ci``: every notebook with its own defaults (what nbval and CI run): proves the code runs, not the claims;
* ``embedded`` (the README's main job): the embedded world at the size where claims are decided by evidence;
* ``full``: the papers' scale (official checkpoints, the real datasets, every image, a GPU).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


@dataclass(frozen=True)
class Profile:
    """A profile file's content.

    Attributes:
        name: profile name (also the results sub-directory).
        parameters: overrides applied to every notebook (only those a notebook declares are injected).
        notebooks: per-notebook overrides, keyed by a glob over paths relative to ``notebooks/``.
        requires: ``{"backbones": [...], "datasets": [...]}`` that must be present before running.
        shards: how notebooks split into parallel tasks, keyed by a glob like ``notebooks`` (see
            :mod:`sam_repro.reproduce.tasks`): ``{"grid": [[list parameter, ...], ...], "once": {...}}`` for
            row x dataset grids, ``{"samples": N}`` for notebooks that pass ``shard_index/num_shards`` to the
            harness.
        skip: notebooks this profile does not run, keyed by a glob like ``notebooks``, each with the reason (e.g. a
            benchmark evaluated with its authors' own code at full scale); the runner prints the reason.
    """

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    notebooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    requires: dict[str, list[str]] = field(default_factory=dict)
    shards: dict[str, dict[str, Any]] = field(default_factory=dict)
    skip: dict[str, str] = field(default_factory=dict)

    def skip_reason(self, relative_path: str) -> str | None:
        """Why this profile does not run a notebook (None: it runs it)."""
        for pattern, reason in self.skip.items():
            if fnmatch.fnmatch(relative_path, pattern):
                return reason
        return None

    def shards_for(self, relative_path: str) -> dict[str, Any]:
        """The shard specification of a notebook (the matching globs' entries merged; empty: one task)."""
        merged: dict[str, Any] = {}
        for pattern, spec in self.shards.items():
            if fnmatch.fnmatch(relative_path, pattern):
                merged.update(spec or {})
        return merged

    def parameters_for(self, relative_path: str) -> dict[str, Any]:
        merged = dict(self.parameters)
        for pattern, overrides in self.notebooks.items():
            if fnmatch.fnmatch(relative_path, pattern):
                merged.update(overrides or {})
        return merged


def list_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_profile(name_or_path: str) -> Profile:
    """Load a profile by name (``ci``, ``embedded``, ``full``) or from a YAML file path.

    Raises:
        FileNotFoundError: no such profile (the message lists the known ones).
        ValueError: the file is not a valid profile.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no profile {name_or_path!r}; known profiles: {', '.join(list_profiles())}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError(f"profile file {path} must be a mapping with at least a 'name' key")
    unknown = set(data) - {"name", "description", "parameters", "notebooks", "requires", "shards", "skip"}
    if unknown:
        raise ValueError(f"profile file {path}: unknown keys {sorted(unknown)}")
    return Profile(
        name=str(data["name"]),
        description=str(data.get("description", "")),
        parameters=dict(data.get("parameters") or {}),
        notebooks={str(k): dict(v or {}) for k, v in (data.get("notebooks") or {}).items()},
        requires={str(k): list(v or []) for k, v in (data.get("requires") or {}).items()},
        shards={str(k): dict(v or {}) for k, v in (data.get("shards") or {}).items()},
        skip={str(k): str(v) for k, v in (data.get("skip") or {}).items()},
    )
