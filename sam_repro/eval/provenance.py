"""Provenance recorded with every result: code version, model, data, protocol, machine."""
from __future__ import annotations

import platform
import subprocess
from typing import Any

from sam_repro.paths import REPO_ROOT


def git_commit() -> dict[str, Any]:
    """{"commit": sha or None, "dirty": bool or None} of the source checkout, if there is one."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=5, check=True).stdout
        return {"commit": commit, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def environment() -> dict[str, Any]:
    import numpy
    import torch

    import sam_repro

    return {
        "sam_repro": sam_repro.__version__, **git_commit(), "python": platform.python_version(),
        "torch": torch.__version__, "numpy": numpy.__version__, "machine": platform.machine(),
        "torch_threads": torch.get_num_threads(),
    }
