"""The ``sam-repro`` command line. Each command group lives next to the code it drives and adds its
subcommands through a ``register(subparsers)`` function listed in :data:`COMMAND_MODULES`."""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules with a ``register(subparsers)`` function, one per command group.
COMMAND_MODULES: tuple[str, ...] = (
    "sam_repro.backbones.cli",
    "sam_repro.data.cli",
    "sam_repro.reproduce.cli",
    "sam_repro.train.cli",
)


from sam_repro.errors import CommandError  # one class, also when this module runs as __main__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sam-repro", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and module_name.startswith(error.name):
                continue  # command group not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CommandError as error:
        print(f"sam-repro: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
