"""Where the suite keeps downloaded weights, datasets and run results.

Environment variables move each location:
    SAM_REPRO_HOME     root of the cache (default: the OS cache dir, e.g. ~/.cache/sam-repro)
    SAM_REPRO_WEIGHTS  checkpoints (default: $SAM_REPRO_HOME/weights)
    SAM_REPRO_DATA     datasets (default: $SAM_REPRO_HOME/data)
"""
from __future__ import annotations

import os
from pathlib import Path

#: The repository root when the package runs from a source checkout (editable install).
REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_root() -> Path:
    override = os.environ.get("SAM_REPRO_HOME")
    if override:
        return Path(override).expanduser()
    import pooch

    return Path(pooch.os_cache("sam-repro"))


def weights_dir() -> Path:
    override = os.environ.get("SAM_REPRO_WEIGHTS")
    return Path(override).expanduser() if override else cache_root() / "weights"


def data_dir() -> Path:
    override = os.environ.get("SAM_REPRO_DATA")
    return Path(override).expanduser() if override else cache_root() / "data"
