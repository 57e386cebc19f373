"""Device selection shared by every model in the suite."""
from __future__ import annotations

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` into a usable torch.device.

    ``"auto"`` picks cuda, then mps, then cpu.

    Raises:
        ValueError: the name is not a device, or names one this machine does not have.
    """
    if isinstance(device, torch.device):
        name = str(device)
    else:
        name = str(device).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device={device!r} is not a device name (expected auto, cpu, cuda[:N] or mps)") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available on this machine; use device='auto' or 'cpu'")
    if resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={device!r} requested but MPS is not available on this machine; use device='auto' or 'cpu'")
    if resolved.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(f"device={device!r}: only cpu, cuda and mps are supported")
    return resolved
