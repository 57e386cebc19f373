"""`sam-repro reproduce`: run the notebooks under a profile."""
from __future__ import annotations

import argparse

from sam_repro.reproduce.profiles import list_profiles


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("reproduce", help="execute the notebooks with a profile's parameters")
    parser.add_argument("--profile", default="embedded", help=f"profile name ({', '.join(list_profiles())}) or YAML file")
    parser.add_argument("--only", default=None, help="run only notebooks whose path matches (glob or substring)")
    parser.add_argument("--force", action="store_true", help="re-run notebooks that already completed")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name")
    parser.add_argument("--progress", action="store_true", help="a progress bar over each notebook's cells")
    parser.add_argument("--log-output", action="store_true", help="stream each notebook's cell output to the log")
    parser.set_defaults(handler=_reproduce)


def _reproduce(args: argparse.Namespace) -> int:
    from sam_repro.errors import CommandError
    from sam_repro.reproduce.profiles import load_profile
    from sam_repro.reproduce.runner import RESULTS_DIR, discover, missing_requirements, run_profile

    try:
        profile = load_profile(args.profile)
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from error
    if not discover(only=args.only):
        raise CommandError(f"no notebook matches {args.only!r}")
    missing = missing_requirements(profile)
    if missing:  # fail before running anything: a full run without its data would only waste hours
        raise CommandError(f"profile {profile.name!r} needs {len(missing)} item(s) that are not on this machine:\n  "
                           + "\n  ".join(missing))
    runs = run_profile(profile, only=args.only, force=args.force, kernel_name=args.kernel, progress=args.progress,
                       log_output=args.log_output)
    failed = [r for r in runs if r.status == "failed"]
    print(f"\n{len(runs)} notebooks, {len(failed)} failed; summary: {RESULTS_DIR / profile.name / 'SUMMARY.md'}")
    return 1 if failed else 0
