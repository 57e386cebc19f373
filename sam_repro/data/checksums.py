"""Checking a downloaded file against its manifest record (size, sha256, md5) in one read."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from sam_repro.data.errors import ChecksumMismatchError
from sam_repro.data.manifest import Resource


@dataclass(frozen=True)
class FileCheck:
    """The result of :func:`check_file`.

    Attributes:
        path: the file checked.
        size: its size in bytes.
        sha256, md5: its digests (md5 only computed when the manifest records one).
        mismatches: one message per field that differs from the manifest (empty = all recorded
            fields match).
        unrecorded: True when the manifest records no digest at all for this file (nothing to check it
            against; record ``sha256`` after checking the source by other means).
    """

    path: Path
    size: int
    sha256: str
    md5: str | None
    mismatches: tuple[str, ...] = field(default_factory=tuple)
    unrecorded: bool = False

    @property
    def ok(self) -> bool:
        return not self.mismatches


def check_file(path: str | os.PathLike, resource: Resource, chunk_size: int = 1 << 20) -> FileCheck:
    """Compare ``path`` with ``resource``'s ``size_bytes``, ``sha256`` and ``md5`` (those that are recorded)."""
    path = Path(path)
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False) if resource.md5 else None
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            size += len(chunk)
            sha256.update(chunk)
            if md5 is not None:
                md5.update(chunk)
    actual_sha = sha256.hexdigest()
    actual_md5 = md5.hexdigest() if md5 is not None else None
    mismatches = []
    if resource.size_bytes is not None and size != resource.size_bytes:
        mismatches.append(f"size: expected {resource.size_bytes} bytes, got {size}")
    if resource.sha256 and actual_sha != resource.sha256:
        mismatches.append(f"sha256: expected {resource.sha256}, got {actual_sha}")
    if resource.md5 and actual_md5 != resource.md5:
        mismatches.append(f"md5: expected {resource.md5}, got {actual_md5}")
    return FileCheck(path, size, actual_sha, actual_md5, tuple(mismatches),
                     unrecorded=not (resource.sha256 or resource.md5))


def require_match(check: FileCheck, resource: Resource) -> None:
    """Raise :class:`ChecksumMismatchError` naming the file and each differing field, if any."""
    if check.ok:
        return
    hint = (" The manifest's values are marked unverified; if you trust this file, record its digest in "
            "data_manifest.yaml." if resource.unverified else "")
    raise ChecksumMismatchError(
        f"{check.path} does not match the manifest: {'; '.join(check.mismatches)}. The file is corrupt, truncated or "
        f"a different version; delete it and fetch it again.{hint}"
    )
