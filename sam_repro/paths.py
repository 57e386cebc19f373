"""Where the suite keeps downloaded weights, datasets, notebooks and run results.

Environment variables move each location:
    SAM_REPRO_HOME       root of the cache (default: the OS cache dir, e.g. ~/.cache/sam-repro)
    SAM_REPRO_WEIGHTS    checkpoints (default: $SAM_REPRO_HOME/weights)
    SAM_REPRO_DATA       datasets (default: $SAM_REPRO_HOME/data)
    SAM_REPRO_RESULTS    run results of ``sam-repro reproduce`` (default: ``results/`` of the source checkout, else
                         ``./results``): point it at shared storage for a cluster run
    SAM_REPRO_NOTEBOOKS  the notebooks the runner executes (default: ``notebooks/`` of the source checkout; an
                         installed package has no notebooks of its own: set it, or pass ``--notebooks-dir``)
    SAM_REPRO_MANIFEST   ``data_manifest.yaml`` (read by :mod:`sam_repro.data.manifest`; default: the checkout's)
"""
from __future__ import annotations

import os
from pathlib import Path

#: The repository root when the package runs from a source checkout (editable install).
REPO_ROOT = Path(__file__).resolve().parent.parent

RESULTS_ENV = "SAM_REPRO_RESULTS"
NOTEBOOKS_ENV = "SAM_REPRO_NOTEBOOKS"


def is_checkout() -> bool:
    """Whether the package runs from a source checkout (``pyproject.toml`` beside it), not from site-packages."""
    return (REPO_ROOT / "pyproject.toml").is_file()


def work_dir() -> Path:
    """The directory notebooks run in and relative paths start from: the checkout's root, else the current
    directory (an installed package's parent is site-packages, no place to write)."""
    return REPO_ROOT if is_checkout() else Path.cwd()


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


def results_dir() -> Path:
    """``$SAM_REPRO_RESULTS``, else ``results/`` under :func:`work_dir`."""
    override = os.environ.get(RESULTS_ENV)
    return Path(override).expanduser().absolute() if override else work_dir() / "results"


def notebooks_dir() -> Path:
    """``$SAM_REPRO_NOTEBOOKS``, else the checkout's ``notebooks/`` (which may not exist when installed: the
    runner then says to set the variable)."""
    override = os.environ.get(NOTEBOOKS_ENV)
    return Path(override).expanduser().absolute() if override else REPO_ROOT / "notebooks"
