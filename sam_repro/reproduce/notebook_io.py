"""Helpers the notebooks call: where to write results, and atomic JSON records."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sam_repro.paths import REPO_ROOT


def resolve_output_dir(output_dir: str | os.PathLike) -> Path:
    """The directory a notebook writes to, created if needed.

    A relative ``output_dir`` (the notebooks' default ``results/smoke/...``) is taken relative to the
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


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` through a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_jsonable))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
