"""`sam-repro weights ...`: list and fetch backbone checkpoints."""
from __future__ import annotations

import argparse

from sam_repro.backbones import checkpoints
from sam_repro.backbones.registry import get_backbone, list_backbones
from sam_repro.paths import weights_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    weights = subparsers.add_parser("weights", help="list and fetch backbone checkpoints")
    actions = weights.add_subparsers(dest="weights_command", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="known backbones, their URL and sha256, and whether present")
    listing.set_defaults(handler=_list)
    fetching = actions.add_parser("fetch", help="download a checkpoint with checksum verification")
    fetching.add_argument("name", help="backbone name (see `sam-repro weights list`)")
    fetching.add_argument("--timeout", type=float, default=10.0, help="connect timeout in seconds")
    fetching.set_defaults(handler=_fetch)


def _list(args: argparse.Namespace) -> int:
    print(f"weights directory: {weights_dir()}  (set SAM_REPRO_WEIGHTS to move it)")
    for name in list_backbones():
        spec = get_backbone(name)
        ckpt = spec.checkpoint
        path = checkpoints.locate(spec)
        status = f"present: {path}" if path else ("no weights (random init only)" if ckpt is None else "missing")
        print(f"\n{name:8s} {spec.description}")
        print(f"  config  img {spec.config.img_size}, ViT {spec.config.encoder_embed_dim}x{spec.config.encoder_depth}, "
              f"prompt dim {spec.config.prompt_embed_dim}")
        if ckpt is not None:
            print(f"  file    {ckpt.filename}" + (f"  ({ckpt.size_bytes:,} bytes)" if ckpt.size_bytes else ""))
            print(f"  url     {ckpt.url or '(ships with the package; regenerate: ' + str(ckpt.regenerate) + ')'}")
            print(f"  sha256  {ckpt.sha256 or '(recorded in the checkpoint metadata)'}")
            print(f"  license {ckpt.license}; paper: {ckpt.paper}")
        print(f"  status  {status}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from sam_repro.cli import CommandError

    try:
        spec = get_backbone(args.name)
        path = checkpoints.fetch(spec, timeout=args.timeout)
    except (KeyError, checkpoints.CheckpointError) as error:
        raise CommandError(str(error).strip("'\"")) from error
    print(f"{args.name}: {path} (sha256 verified)")
    return 0
