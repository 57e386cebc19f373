"""Shared fixtures. Tests never touch the network or the user's caches."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # open_clip would otherwise try the hub and hang


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every sam_repro cache at a fresh temporary directory."""
    root = tmp_path_factory.mktemp("sam_repro_home")
    monkeypatch.setenv("SAM_REPRO_HOME", str(root))
    monkeypatch.delenv("SAM_REPRO_WEIGHTS", raising=False)
    monkeypatch.delenv("SAM_REPRO_DATA", raising=False)


@pytest.fixture(scope="session")
def random_image() -> np.ndarray:
    """A deterministic (120, 90, 3) uint8 RGB image with structure (a bright disc on noise)."""
    rng = np.random.default_rng(1234)
    image = rng.integers(0, 80, size=(120, 90, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:120, :90]
    image[(yy - 60) ** 2 + (xx - 45) ** 2 < 25**2] += 150
    return image
