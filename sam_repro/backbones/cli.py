"""`sam-repro weights ...`: list and fetch the checkpoints of every method (the one weights registry)."""
from __future__ import annotations

import argparse

from sam_repro.backbones import checkpoints
from sam_repro.backbones.weights import fetch_weights, find_weights, list_weights, locate_weights
from sam_repro.paths import weights_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    weights = subparsers.add_parser("weights", help="list and fetch the checkpoints of every method")
    actions = weights.add_subparsers(dest="weights_command", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="every registered checkpoint: URL, sha256, size, whether present")
    listing.add_argument("--method", default=None, help="only this method (sam, hqsam, ...)")
    listing.set_defaults(handler=_list)
    fetching = actions.add_parser("fetch", help="download a checkpoint with checksum verification")
    fetching.add_argument("name", help="METHOD:BACKBONE (a bare backbone is plain SAM); see `sam-repro weights list`")
    fetching.add_argument("--timeout", type=float, default=10.0, help="connect timeout in seconds")
    fetching.set_defaults(handler=_fetch)


def _list(args: argparse.Namespace) -> int:
    print(f"weights directory: {weights_dir()}  (set SAM_REPRO_WEIGHTS to move it)")
    entries = list_weights(args.method)
    if not entries:
        print(f"no weights registered for method {args.method!r}")
        return 0
    for entry in entries:
        ckpt = entry.checkpoint
        path = locate_weights(entry)
        print(f"\n{entry.name}")
        print(f"  file    {ckpt.filename}" + (f"  ({ckpt.size_bytes:,} bytes)" if ckpt.size_bytes else ""))
        manual = ckpt.url is None and ckpt.shipped is None and ckpt.regenerate is None
        source = ("(manual download: see the note)" if manual
                  else f"(ships with the package; regenerate: {ckpt.regenerate})")
        print(f"  url     {ckpt.url or source}")
        unpublished = "(not published)" if manual else "(not published: recorded at the first download)"
        print(f"  sha256  {ckpt.sha256 or unpublished}")
        if entry.tied_to:
            print(f"  tied to base SAM sha256 {entry.tied_to}")
        if entry.manifest_name:
            print(f"  manifest entry {entry.manifest_name}")
        print(f"  license {ckpt.license}; paper: {ckpt.paper}")
        if entry.note:
            print(f"  note    {entry.note}")
        print(f"  status  {'present: ' + str(path) if path else 'missing'}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from sam_repro.errors import CommandError

    try:
        entry = find_weights(args.name)
        path = fetch_weights(entry, timeout=args.timeout)
    except (KeyError, checkpoints.CheckpointError) as error:
        raise CommandError(str(error).strip("'\"")) from error
    print(f"{entry.name}: {path} (sha256 verified)")
    return 0
