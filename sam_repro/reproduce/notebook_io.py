"""Helpers the notebooks call: where to write results (and, re-exported, atomic JSON files)."""
from __future__ import annotations

import os
from pathlib import Path

from sam_repro.files import write_json_atomic  # noqa: F401  (re-exported for the notebooks)
from sam_repro.paths import REPO_ROOT


def resolve_output_dir(output_dir: str | os.PathLike) -> Path:
    """The directory a notebook writes to, created if needed.

    A relative ``output_dir`` (the notebooks' default ``results/ci/...``) is taken relative to the
    repository root in a source checkout, so the result lands in the same place whether the notebook
    runs from JupyterLab, papermill or nbval (which start the kernel in the notebook's folder);
    outside a checkout it is relative to the current directory.
    """
    path = Path(output_dir).expanduser()
    if not path.is_absolute():
        base = REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()
        path = base / path
    path.mkdir(parents=True, exist_ok=True)
    return path
