"""``sam-repro data ...``: list, verify, fetch and locate the datasets and checkpoints of the manifest.

    sam-repro data list [--paper KEY]          what is known, what is present, what each paper needs
    sam-repro data verify NAME [--deep]        hashes, per-split counts, missing/extra/unreadable files
    sam-repro data fetch NAME                  download + check + extract, or manual instructions
    sam-repro data path NAME [--split SPLIT]   where the files are (or will be)

Every command accepts ``--manifest PATH`` (default: ``$SAM_REPRO_MANIFEST`` or the repository's
``data_manifest.yaml``); ``SAM_REPRO_DATA`` / ``SAM_REPRO_WEIGHTS`` move the data and weights folders.
"""
from __future__ import annotations

import argparse
from typing import Any

from sam_repro.data.errors import DataError
from sam_repro.data.manifest import CheckpointInfo, DatasetInfo, Manifest, load_manifest
from sam_repro.paths import data_dir, weights_dir


def _error(message: str) -> Exception:
    from sam_repro.errors import CommandError

    return CommandError(message)


def _manifest(args: argparse.Namespace) -> Manifest:
    try:
        return load_manifest(args.manifest)
    except DataError as error:
        raise _error(str(error)) from error


def _get(manifest: Manifest, name: str) -> DatasetInfo | CheckpointInfo:
    try:
        return manifest.get(name)
    except DataError as error:
        raise _error(str(error)) from error


def _dataset_state(info: DatasetInfo) -> str:
    from sam_repro.data.fetch import layout_present

    root = info.root()
    if layout_present(info, root):
        return "yes"
    return "partial" if root.is_dir() else "no"


def _how(info: DatasetInfo | CheckpointInfo) -> str:
    if isinstance(info, CheckpointInfo):
        if not info.released:
            return "unreleased"
        return "manual" if info.manual or not info.resource.all_urls else "auto"
    if info.manual or not info.resources or any(r.manual or not r.all_urls for r in info.resources):
        return "manual"
    return "auto"


def _splits(info: DatasetInfo) -> str:
    parts = []
    for split in info.splits.values():
        count = "?" if split.count is None else str(split.count) + ("~" if split.count_unverified else "")
        parts.append(f"{split.name}={count}")
    return " ".join(parts) or "-"


def _cmd_list(args: argparse.Namespace) -> int:
    manifest = _manifest(args)
    papers = [args.paper] if args.paper else list(manifest.papers)
    for key in papers:
        if key not in manifest.papers:
            raise _error(f"unknown paper {key!r}; papers: {', '.join(manifest.papers)}")
    print(f"manifest: {manifest.path}")
    width = max(len(name) for name in manifest.names()) + 1
    print(f"datasets (folder: {data_dir()}; '~' marks an unverified count, '?' an unknown one)")
    print(f"  {'NAME':<{width}} {'FORMAT':<13} {'PRESENT':<8} {'GET':<7} SPLITS")
    for info in manifest.datasets.values():
        if args.paper and not any(u.paper == args.paper for u in manifest.uses(info.name)):
            continue
        print(f"  {info.name:<{width}} {info.format:<13} {_dataset_state(info):<8} {_how(info):<7} {_splits(info)}")
    print(f"checkpoints (folder: {weights_dir()})")
    print(f"  {'NAME':<{width}} {'PRESENT':<8} {'GET':<11} FILE")
    for info in manifest.checkpoints.values():
        if args.paper and not any(u.paper == args.paper for u in manifest.uses(info.name)):
            continue
        present = "yes" if info.path().is_file() else "no"
        print(f"  {info.name:<{width}} {present:<8} {_how(info):<11} {info.resource.file}")
    print("what each paper needs (dataset names as printed in its tables -> manifest entries)")
    for key in papers:
        paper = manifest.papers[key]
        print(f"  {key}: {paper.title} ({paper.tables_file})")
        for row in manifest.table_datasets:
            if row.paper != key:
                continue
            targets = ", ".join(str(t) for t in row.targets) or "(no dataset)"
            note = f"   # {row.note}" if row.note else ""
            print(f"    {','.join(row.tables):<22} {row.printed!r} -> {targets}{note}")
        others = [(name, use) for name in manifest.names() for use in manifest.get(name).used_for if use.paper == key]
        for name, use in others:
            what = use.use or ",".join(use.tables)
            splits = f" [{','.join(use.splits)}]" if use.splits else ""
            print(f"    {'(other use)':<22} {name}{splits}: {what}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from sam_repro.data.verify import verify

    manifest = _manifest(args)
    _get(manifest, args.name)
    try:
        report = verify(args.name, manifest=manifest, deep=args.deep, progress=True)
    except DataError as error:
        raise _error(str(error)) from error
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _cmd_fetch(args: argparse.Namespace) -> int:
    from sam_repro.data.fetch import fetch

    manifest = _manifest(args)
    _get(manifest, args.name)
    options: dict[str, Any] = {"connect_timeout": args.connect_timeout}
    if args.overwrite:
        options["overwrite"] = True
    try:
        result = fetch(args.name, manifest=manifest, **options)
    except DataError as error:
        raise _error(str(error)) from error
    for message in result.messages:
        print(message)
    print(f"{result.name}: {result.status} at {result.path}")
    return 0


def _cmd_path(args: argparse.Namespace) -> int:
    manifest = _manifest(args)
    info = _get(manifest, args.name)
    if isinstance(info, CheckpointInfo):
        if args.split:
            raise _error(f"{args.name} is a checkpoint; --split applies to datasets")
        print(info.path())
        return 0
    root = info.root()
    if not args.split:
        print(root)
        return 0
    if args.split not in info.splits:
        raise _error(f"dataset {args.name!r} has no split {args.split!r}; splits: {', '.join(info.splits)}")
    params = info.splits[args.split].params
    key = "image_dir" if "image_dir" in params else "annotation_file" if "annotation_file" in params else None
    print(root / params[key] if key else root)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group to the ``sam-repro`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--manifest", default=None, help="manifest file (default: $SAM_REPRO_MANIFEST or the repo's)")
    parser = subparsers.add_parser("data", help="datasets and checkpoints: list, verify, fetch, path",
                                   description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION")
    actions.required = True

    listing = actions.add_parser("list", parents=[common], help="known datasets/checkpoints, presence, paper needs")
    listing.add_argument("--paper", default=None,
                         help="only what this paper (alignsam, tta, pisam, dissam, stablesam) uses")
    listing.set_defaults(handler=_cmd_list)

    verifying = actions.add_parser("verify", parents=[common], help="check hashes, counts and files of NAME")
    verifying.add_argument("name")
    verifying.add_argument("--deep", action="store_true", help="decode every sample (slow; finds truncated files)")
    verifying.set_defaults(handler=_cmd_verify)

    fetching = actions.add_parser("fetch", parents=[common], help="download/check/extract NAME or say how")
    fetching.add_argument("name")
    fetching.add_argument("--connect-timeout", type=float, default=5.0, help="seconds to wait for a connection")
    fetching.add_argument("--overwrite", action="store_true", help="re-extract archives over existing files")
    fetching.set_defaults(handler=_cmd_fetch)

    locating = actions.add_parser("path", parents=[common], help="print where NAME's files are (or will be)")
    locating.add_argument("name")
    locating.add_argument("--split", default=None, help="print the image folder of this split")
    locating.set_defaults(handler=_cmd_path)
