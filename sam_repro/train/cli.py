"""`sam-repro train ...`: train the models the package ships."""
from __future__ import annotations

import argparse
import dataclasses


def register(subparsers: argparse._SubParsersAction) -> None:
    from sam_repro.train.tiny_sam import TinySamTrainConfig

    train = subparsers.add_parser("train", help="train the embedded world's models")
    models = train.add_subparsers(dest="model", metavar="MODEL")
    models.required = True
    tiny = models.add_parser("tiny-sam", help="the tiny SAM (default backbone) on the synthetic generic pool",
                             description="Train the tiny SAM; every hyperparameter of TinySamTrainConfig is an option.")
    defaults = TinySamTrainConfig()
    for field in dataclasses.fields(TinySamTrainConfig):
        if field.name == "extra":
            continue
        value = getattr(defaults, field.name)
        tiny.add_argument(f"--{field.name.replace('_', '-')}", type=type(value), default=value,
                          help=f"(default: {value})")
    tiny.add_argument("--no-resume", action="store_true", help="start over even if run-dir holds a state")
    tiny.set_defaults(handler=_train_tiny_sam)


def _train_tiny_sam(args: argparse.Namespace) -> int:
    from sam_repro.backbones.checkpoints import sha256_file
    from sam_repro.train.tiny_sam import TinySamTrainConfig, train_tiny_sam

    names = {f.name for f in dataclasses.fields(TinySamTrainConfig)} - {"extra"}
    config = TinySamTrainConfig(**{name: getattr(args, name) for name in names})
    path = train_tiny_sam(config, resume=not args.no_resume)
    print(f"wrote {path} (sha256 {sha256_file(path)})")
    return 0
