"""Helpers the notebooks call: where to write results (and, re-exported, atomic JSON files)."""
from __future__ import annotations

import os
from pathlib import Path

from sam_repro.files import write_json_atomic  # noqa: F401  (re-exported for the notebooks)
from sam_repro.paths import results_dir, work_dir


def resolve_output_dir(output_dir: str | os.PathLike) -> Path:
    """The directory a notebook writes to, created if needed.

    A relative ``output_dir`` under ``results/`` (the notebooks' default ``results/ci/...``) lands under
    :func:`sam_repro.paths.results_dir` (``$SAM_REPRO_RESULTS``, else the checkout's ``results/``), so the result
    lands in the same place whether the notebook runs from JupyterLab, papermill or nbval (which start the kernel
    in the notebook's folder); another relative path is taken relative to the repository root in a source
    checkout, else to the current directory.
    """
    path = Path(output_dir).expanduser()
    if not path.is_absolute():
        parts = path.parts
        path = results_dir().joinpath(*parts[1:]) if parts and parts[0] == "results" else work_dir() / path
    path.mkdir(parents=True, exist_ok=True)
    return path
