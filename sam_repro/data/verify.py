"""Verifying a dataset or checkpoint on disk against the manifest.

For a dataset: the archives kept in the downloads folder (size, sha256, md5), then every split: it is
indexed with the same loader the notebooks use (``on_error="skip"``, file headers checked), so that
missing partners, unreadable files, size mismatches and stray files are reported *by name*, and the
number of samples is compared with the manifest's ``count``. ``deep=True`` also decodes every sample
(slow; catches truncated image data that headers do not reveal) and reports, by mask file name, masks
that are empty (no foreground pixel after thresholding: often a 0/1 mask under a 0/255 threshold, or the
wrong threshold) or all foreground (often inverted or a 0/255 mask under a 0/1 threshold), as warnings,
and masks stored as 0/1 that were read as binary (see :class:`~sam_repro.data.loaders.FolderPairSet`) as
info. For a checkpoint: its file's size and digests.

Severities: ``error`` (a wrong hash, a wrong verified count, a missing/unreadable/mismatched file, a
missing folder), ``warning`` (a count that differs from an *unverified* count, stray files) and ``info``.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from sam_repro.data.checksums import check_file
from sam_repro.data.errors import DataError, LayoutError
from sam_repro.data.fetch import install_marker
from sam_repro.data.image_io import MaskEncodingWarning
from sam_repro.data.loaders import FileSampleSet, Problem
from sam_repro.data.manifest import CheckpointInfo, DatasetInfo, Manifest, load_manifest
from sam_repro.data.real import make_split
from sam_repro.data.sample import Sample


@dataclass(frozen=True)
class Finding:
    """One line of a report: ``severity`` (``error``/``warning``/``info``), the ``subject`` (a file, a split)
    and the ``message``."""

    severity: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.subject}: {self.message}"


@dataclass
class SplitReport:
    """Counts of one split: ``found`` samples (None when the split could not be indexed), the manifest's
    ``expected`` count and whether that count is ``unverified``."""

    split: str
    found: int | None
    expected: int | None
    expected_unverified: bool = False


@dataclass
class VerifyReport:
    """Everything :func:`verify` found; ``ok`` is False when there is any error."""

    name: str
    kind: str
    path: Path
    splits: list[SplitReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def add(self, severity: str, subject: str, message: str) -> None:
        self.findings.append(Finding(severity, subject, message))

    def lines(self) -> list[str]:
        """A human-readable report."""
        lines = [f"{self.kind} {self.name} at {self.path}"]
        for split in self.splits:
            expected = "?" if split.expected is None else str(split.expected)
            if split.expected is not None and split.expected_unverified:
                expected += " (unverified)"
            found = "-" if split.found is None else str(split.found)
            lines.append(f"  split {split.split:<14} found {found:>7}   expected {expected}")
        lines.extend(f"  {finding}" for finding in self.findings)
        lines.append("OK" if self.ok else f"FAILED: {sum(f.severity == 'error' for f in self.findings)} error(s)")
        return lines


def _check_resources(info: DatasetInfo, report: VerifyReport, root: Path, data_root: str | os.PathLike | None) -> None:
    downloads = info.downloads(data_root)
    for resource in info.resources:
        path = downloads / resource.file
        if path.exists():
            check = check_file(path, resource)
            for mismatch in check.mismatches:
                report.add("error", str(path), mismatch)
            if check.ok:
                if check.unrecorded:
                    report.add("info", str(path), f"sha256 {check.sha256}, {check.size} bytes (the manifest records "
                                                  "no digest for it)")
                else:
                    report.add("info", str(path), f"matches the manifest ({check.size} bytes)")
        elif install_marker(root, resource).exists():
            report.add("info", resource.file, "installed (archive no longer in the downloads folder)")
        else:
            report.add("info", resource.file, f"archive not in {downloads} (fine if you placed the files by hand)")


def _report_problems(report: VerifyReport, problems: list[Problem], limit: int) -> None:
    for problem in problems[:limit]:
        report.add("error" if problem.fatal else "warning", problem.path, f"{problem.kind}: {problem.detail}")
    if len(problems) > limit:
        report.add("error" if any(p.fatal for p in problems[limit:]) else "warning", "...",
                   f"{len(problems) - limit} more problem(s) not shown")


def _mask_findings(sample: Sample, split: str) -> list[Finding]:
    """What is suspicious about the masks of one decoded sample, each naming the mask file."""
    meta = sample.meta or {}
    if meta.get("source_mask"):
        subject = str(meta["source_mask"])
    elif meta.get("source_annotations"):
        subject = f"{meta['source_annotations']} (image {meta.get('file_name', sample.id)})"
    else:
        subject = f"{split}: sample {sample.id}"
    found = []
    if sample.masks is not None:
        if not sample.masks.any():
            found.append(Finding("warning", subject, "empty mask: no foreground pixel after thresholding (a 0/1 "
                                                     "mask under a 0/255 threshold? an image without object?)"))
        elif any(mask.all() for mask in sample.masks):
            found.append(Finding("warning", subject, "all-foreground mask: every pixel is foreground (inverted? "
                                                     "a threshold below the background value?)"))
    if meta.get("mask_values") == "0/1":
        found.append(Finding("info", subject, "mask stored as 0/1 (maximum 1) under a 0/255 threshold: read as "
                                              "binary, value >= 1"))
    return found


def _report_findings(report: VerifyReport, findings: list[Finding], limit: int) -> None:
    for severity in ("warning", "info"):
        chosen = [f for f in findings if f.severity == severity]
        report.findings.extend(chosen[:limit])
        if len(chosen) > limit:
            report.add(severity, "...", f"{len(chosen) - limit} more mask finding(s) not shown")


def verify_dataset(info: DatasetInfo, *, data_root: str | os.PathLike | None = None, deep: bool = False,
                   limit: int = 50, progress: bool = False) -> VerifyReport:
    """Check the archives and every split of ``info`` (see the module docstring); ``progress`` shows a progress bar
    (stderr) per split while ``deep`` decodes its files."""
    root = info.root(data_root)
    report = VerifyReport(info.name, "dataset", root)
    _check_resources(info, report, root, data_root)
    if not root.is_dir():
        report.add("error", str(root), f"not present; run `sam-repro data fetch {info.name}`")
        return report
    if info.format == "none":
        report.add("info", info.name, "no loader for this benchmark; only archives are checked")
        return report
    sets: dict[str, int] = {}
    for name, layout in info.splits.items():
        split = SplitReport(name, None, layout.count, layout.count_unverified)
        report.splits.append(split)
        if layout.union:
            if all(part in sets for part in layout.union):
                split.found = sum(sets[part] for part in layout.union)
        else:
            try:
                loader = make_split(info, name, root, on_error="skip", validate=True)
            except (LayoutError, DataError) as error:
                report.add("error", f"{info.name}:{name}", str(error))
                continue
            assert isinstance(loader, FileSampleSet)
            _report_problems(report, loader.extras + loader.skipped, limit)
            if deep:
                before = len(loader.skipped)
                decoded, mask_findings = 0, []
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MaskEncodingWarning)  # reported per file below instead
                    for sample in tqdm(loader, total=len(loader), desc=f"{info.name}:{name}", unit="file",
                                       disable=not progress, leave=False):
                        decoded += 1
                        mask_findings.extend(_mask_findings(sample, f"{info.name}:{name}"))
                _report_problems(report, loader.skipped[before:], limit)
                _report_findings(report, mask_findings, limit)
                split.found = decoded
            else:
                split.found = len(loader)
            sets[name] = split.found
        if split.found is not None and layout.count is not None and split.found != layout.count:
            severity = "warning" if layout.count_unverified else "error"
            source = f" ({layout.count_source})" if layout.count_source else ""
            report.add(severity, f"{info.name}:{name}",
                       f"count mismatch: found {split.found} samples, expected {layout.count}{source}")
    return report


def verify_checkpoint(info: CheckpointInfo, *, weights_root: str | os.PathLike | None = None) -> VerifyReport:
    """Check the checkpoint file's size and digests."""
    path = info.path(weights_root)
    report = VerifyReport(info.name, "checkpoint", path)
    if not path.is_file():
        report.add("error", str(path), f"not present; run `sam-repro data fetch {info.name}`")
        return report
    check = check_file(path, info.resource)
    for mismatch in check.mismatches:
        report.add("error", str(path), mismatch)
    if check.ok:
        note = " (the manifest records no digest for it)" if check.unrecorded else " (matches the manifest)"
        report.add("info", str(path), f"sha256 {check.sha256}, {check.size} bytes{note}")
    return report


def verify(name: str, *, manifest: Manifest | None = None, data_root: str | os.PathLike | None = None,
           weights_root: str | os.PathLike | None = None, deep: bool = False, progress: bool = False) -> VerifyReport:
    """Verify the dataset or checkpoint ``name`` (see :func:`verify_dataset`, :func:`verify_checkpoint`)."""
    manifest = manifest or load_manifest()
    info = manifest.get(name)
    if isinstance(info, CheckpointInfo):
        return verify_checkpoint(info, weights_root=weights_root)
    return verify_dataset(info, data_root=data_root, deep=deep, progress=progress)
