"""Safe, strict, verified checkpoint loading and checksum-verified downloads.

* safe: ``torch.load(..., weights_only=True)`` never unpickles arbitrary objects;
* verified: the file's sha256 is compared with the registry's when the registry knows it;
* strict: a state dict with missing or unexpected keys (or wrong shapes) is rejected, naming them.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from sam_repro.hashing import sha256_file  # noqa: F401  (re-exported)
from sam_repro.backbones.specs import CheckpointSpec
from sam_repro.paths import weights_dir


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, corrupt, or does not fit the model."""


class ChecksumError(CheckpointError):
    """A file's sha256 differs from the expected one."""

    def __init__(self, path: Path, expected: str, actual: str):
        super().__init__(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}. "
            "The file is corrupt, truncated or a different checkpoint; delete it and fetch it again."
        )
        self.path, self.expected, self.actual = path, expected, actual


class WeightsNotFoundError(CheckpointError, FileNotFoundError):
    """The weights of a registered backbone are not on this machine."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint's pickle asks for objects outside the tensors and containers that
    ``torch.load(weights_only=True)`` allows (e.g. a call to ``os.system``): refused, never run."""


def _load(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, with every failure as a :class:`CheckpointError`
    naming the file: :class:`UnsafeCheckpointError` when the restricted unpickler refused the content
    (``pickle.UnpicklingError`` mentioning weights_only), else an unreadable (corrupt, truncated, not a
    torch file) checkpoint."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        if "weights_only" in text or "Weights only" in text:
            # torch's message suggests weights_only=False, which would run the file's code: name the global instead
            detail = next((line.strip().rstrip(".") for line in text.splitlines()
                           if "GLOBAL" in line or line.strip().lower().startswith("unsupported")), "")
            raise UnsafeCheckpointError(
                f"refused to load checkpoint {path} as unsafe: torch.load(weights_only=True) found objects or "
                f"pickle instructions beyond tensors and plain containers{' (' + detail + ')' if detail else ''}. "
                "The file may try to run code; load it with weights_only=False only if you trust its source."
            ) from error
        raise CheckpointError(_unreadable(path, error)) from error
    except Exception as error:  # torch raises many types for truncated zip / bad pickle
        raise CheckpointError(_unreadable(path, error)) from error


def _unreadable(path: Path, error: Exception) -> str:
    return (f"could not read checkpoint {path}: {type(error).__name__}: {error}. "
            "Expected a torch.save'd state dict; the file may be corrupt or truncated.")


def verify_sha256(path: str | os.PathLike, expected: str) -> str:
    """Check ``path`` against ``expected`` (hex, case-insensitive); return the actual digest.

    Raises:
        ChecksumError: the digests differ.
    """
    actual = sha256_file(path)
    if actual.lower() != expected.lower():
        raise ChecksumError(Path(path), expected.lower(), actual)
    return actual


def read_state_dict(path: str | os.PathLike, expected_sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Read a state dict safely.

    Accepts a plain ``{name: tensor}`` mapping or a wrapper ``{"state_dict": {...}, ...}`` (the
    format :func:`save_checkpoint` writes, with metadata beside the weights).

    Raises:
        CheckpointError: missing file, unreadable/corrupt/truncated file, or content that is not a
            state dict of tensors.
        UnsafeCheckpointError: (a CheckpointError) the pickle asks for objects weights_only refuses.
        ChecksumError: ``expected_sha256`` given and the file differs.
    """
    return read_checkpoint(path, expected_sha256)[0]


def read_checkpoint(path: str | os.PathLike,
                    expected_sha256: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """:func:`read_state_dict` plus the metadata stored beside the weights, from one read of the file.

    Returns:
        (state dict, metadata); the metadata is {} for a plain ``{name: tensor}`` file.

    Raises:
        as :func:`read_state_dict`.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    if expected_sha256:
        verify_sha256(path, expected_sha256)
    content = _load(path)
    meta: dict[str, Any] = {}
    if isinstance(content, Mapping) and "state_dict" in content and isinstance(content["state_dict"], Mapping):
        meta = dict(content.get("meta") or {})
        content = content["state_dict"]
    if not isinstance(content, Mapping) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in content.items()
    ):
        raise CheckpointError(f"checkpoint {path} does not hold a state dict of tensors (got {type(content).__name__})")
    return dict(content), meta


def read_checkpoint_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata stored beside the weights by :func:`save_checkpoint` ({} for plain state dicts).

    Raises:
        CheckpointError: missing, unreadable (corrupt, truncated) file, or a ``meta`` entry that is not a
            mapping; :class:`UnsafeCheckpointError` for a pickle weights_only refuses.
    """
    path = Path(path)
    content = _load(path)
    if isinstance(content, Mapping) and "state_dict" in content:
        meta = content.get("meta") or {}
        if not isinstance(meta, Mapping):
            raise CheckpointError(f"checkpoint {path}: 'meta' is a {type(meta).__name__}, expected a mapping")
        return dict(meta)
    return {}


def load_strict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load ``state_dict`` into ``model``, failing on any missing/unexpected key or shape mismatch.

    Raises:
        CheckpointError: naming the file and the offending keys.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        f"{key}: checkpoint {tuple(state_dict[key].shape)} vs model {tuple(expected[key].shape)}"
        for key in set(expected) & set(state_dict)
        if state_dict[key].shape != expected[key].shape
    )
    problems = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): {_shorten(missing)}")
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {_shorten(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches ({len(mismatched)}): {_shorten(mismatched)}")
    if problems:
        raise CheckpointError(f"checkpoint {source} does not fit the model: " + "; ".join(problems))
    model.load_state_dict(state_dict, strict=True)


def _shorten(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")


def save_checkpoint(model_or_state: torch.nn.Module | Mapping[str, torch.Tensor], path: str | os.PathLike,
                    meta: Mapping[str, Any] | None = None, dtype: torch.dtype | None = None) -> str:
    """Write weights (and JSON-like metadata) atomically; return the file's sha256.

    The file is written to a temporary name in the same directory and renamed, so a crash never
    leaves a half-written checkpoint under the final name.

    Args:
        dtype: store floating-point tensors in this dtype (e.g. ``torch.float16`` halves a shipped
            file); loading casts them back to the model's dtype. Recorded as ``meta["stored_dtype"]``.
    """
    path = Path(path)
    state = model_or_state.state_dict() if isinstance(model_or_state, torch.nn.Module) else model_or_state
    state = {key: value.detach().cpu().contiguous() for key, value in state.items()}
    if dtype is not None:
        state = {key: value.to(dtype) if value.is_floating_point() else value for key, value in state.items()}
        meta = {**dict(meta or {}), "stored_dtype": str(dtype).removeprefix("torch.")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save({"state_dict": state, "meta": dict(meta or {})}, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return sha256_file(path)


def cached_path(checkpoint: CheckpointSpec) -> Path:
    """Where a downloadable checkpoint lives in the weights cache."""
    return weights_dir() / checkpoint.filename
