"""Run the notebooks under a profile (here, on a local pool or on a SLURM cluster), or summarize what ran.

``sam-repro reproduce [run]`` executes a profile's tasks; ``sam-repro reproduce summarize`` rebuilds SUMMARY.md from
every status and results file on disk.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from sam_repro.reproduce.profiles import list_profiles

EXECUTOR_HELP = ("local: one task after another; pool: one process per visible GPU (CUDA_VISIBLE_DEVICES) or "
                 "--workers CPU processes; slurm: a submitit array job, one GPU per task, requeued on preemption; "
                 "submitit-local: the slurm path through submitit's local executor (no cluster)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("reproduce", help="execute the notebooks with a profile's parameters",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", choices=("run", "summarize"), default="run",
                        help="run (default) the tasks, or summarize: rebuild SUMMARY.md, RUNS.md and index.html "
                             "from the files on disk")
    parser.add_argument("--profile", default="embedded", help=f"profile name ({', '.join(list_profiles())}) or YAML file")
    parser.add_argument("--only", default=None, help="run only notebooks whose path matches (glob or substring)")
    parser.add_argument("--notebook", default=None, metavar="EXACT",
                        help="run one task: a task id from --list, or a notebook path (all its shards)")
    parser.add_argument("--list", action="store_true", help="print the profile's tasks as JSON and exit")
    parser.add_argument("--force", action="store_true", help="re-run notebooks that already completed")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name")
    parser.add_argument("--progress", action="store_true", help="a progress bar over each notebook's cells")
    parser.add_argument("--log-output", action="store_true", help="stream each notebook's cell output to the log")
    parser.add_argument("--executor", default="local", choices=("local", "pool", "slurm", "submitit-local"),
                        help=EXECUTOR_HELP)
    parser.add_argument("--workers", type=int, default=None,
                        help="pool / submitit-local: parallel tasks (default: one per visible GPU, else 1)")
    parser.add_argument("--results-dir", default=None,
                        help="where results go (default: $SAM_REPRO_RESULTS, else results/ of the checkout or the "
                             "current directory); shared storage for a cluster")
    parser.add_argument("--notebooks-dir", default=None,
                        help="the notebooks to run (default: $SAM_REPRO_NOTEBOOKS, else the checkout's notebooks/)")
    parser.add_argument("--manifest", default=None, help="data_manifest.yaml (default: $SAM_REPRO_MANIFEST, else "
                                                         "the checkout's)")
    parser.add_argument("--no-summary", action="store_true", help="do not rebuild SUMMARY.md at the end")
    slurm = parser.add_argument_group("slurm executor")
    slurm.add_argument("--dry-run", action="store_true",
                       help="write the sbatch array script(s) under <results>/<profile>/_slurm/ and submit nothing")
    slurm.add_argument("--wait", action="store_true", help="wait for the jobs to end")
    slurm.add_argument("--partition", default=None)
    slurm.add_argument("--account", default=None)
    slurm.add_argument("--qos", default=None)
    slurm.add_argument("--time-min", type=int, default=240, help="per task; requeued when reached (default 240)")
    slurm.add_argument("--cpus-per-task", type=int, default=8)
    slurm.add_argument("--mem-gb", type=float, default=48)
    slurm.add_argument("--array-parallelism", type=int, default=64)
    slurm.add_argument("--setup", action="append", default=[], metavar="LINE",
                       help="a shell line run before each task (repeatable), e.g. 'source .venv/bin/activate'")
    slurm.add_argument("--sbatch", action="append", default=[], metavar="KEY=VALUE",
                       help="a further #SBATCH option (repeatable), e.g. constraint=a100")
    parser.set_defaults(handler=_reproduce)


LOCATION_VARIABLES = ("SAM_REPRO_RESULTS", "SAM_REPRO_NOTEBOOKS", "SAM_REPRO_MANIFEST")


def _locations(args: argparse.Namespace) -> dict[str, str]:
    """The ``SAM_REPRO_*`` variables the options set (absolute paths), set in ``os.environ`` for this process and
    its kernels, and passed to every worker (workers on other nodes must agree on the folders)."""
    from sam_repro.paths import NOTEBOOKS_ENV, RESULTS_ENV, notebooks_dir, results_dir

    env = {}
    for option, name in ((args.results_dir, RESULTS_ENV), (args.notebooks_dir, NOTEBOOKS_ENV),
                         (args.manifest, "SAM_REPRO_MANIFEST")):
        if option:
            env[name] = str(Path(option).expanduser().absolute())
    os.environ.update(env)
    env.setdefault(RESULTS_ENV, str(results_dir()))
    env.setdefault(NOTEBOOKS_ENV, str(notebooks_dir()))
    os.environ.update(env)
    return env


def _reproduce(args: argparse.Namespace) -> int:
    previous = {name: os.environ.get(name) for name in LOCATION_VARIABLES}
    try:
        return _run(args)
    finally:  # main() may be called in-process (tests, scripts): leave the environment as it was
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run(args: argparse.Namespace) -> int:
    from sam_repro.errors import CommandError
    from sam_repro.paths import notebooks_dir, results_dir
    from sam_repro.reproduce.profiles import load_profile

    try:
        profile = load_profile(args.profile)
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from error
    env = _locations(args)
    results = results_dir()
    if args.action == "summarize":
        from sam_repro.reproduce.summary import summarize

        path = summarize(profile, results)
        print(f"summary: {path}\nbrowsable results: {path.parent / 'index.html'}")
        return 0
    from sam_repro.reproduce.runner import missing_requirements, profile_tasks

    try:
        tasks = profile_tasks(profile, notebooks_dir=notebooks_dir(), only=args.only, notebook=args.notebook)
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from error
    if not tasks:
        raise CommandError(f"no notebook matches {args.only!r}")
    if args.list:
        root = results / profile.name
        listing = []
        for task in tasks:
            try:
                status = json.loads(task.status_path(root).read_text()).get("status")
            except (OSError, ValueError):
                status = None
            listing.append({**task.to_json(), "output": str(task.output_notebook(root)), "status": status})
        print(json.dumps(listing, indent=2))
        return 0
    missing = [] if args.dry_run else missing_requirements(profile)
    if missing:  # fail before running anything: a full run without its data would only waste hours
        raise CommandError(f"profile {profile.name!r} needs {len(missing)} item(s) that are not on this machine:\n  "
                           + "\n  ".join(missing))
    from sam_repro.reproduce.executors import RunConfig, SlurmOptions, execute

    config = RunConfig(profile, notebooks_dir(), results, force=args.force, kernel_name=args.kernel,
                       progress=args.progress, log_output=args.log_output, environment=env)
    extra = {}
    for item in args.sbatch:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"--sbatch takes KEY=VALUE, got {item!r}")
        extra[key.strip()] = value.strip()
    slurm = SlurmOptions(partition=args.partition, account=args.account, qos=args.qos, time_min=args.time_min,
                         cpus_per_task=args.cpus_per_task, mem_gb=args.mem_gb,
                         array_parallelism=args.array_parallelism, setup=tuple(args.setup), extra=extra)
    try:
        outcome = execute(tasks, config, args.executor, workers=args.workers, slurm=slurm, dry_run=args.dry_run,
                          wait=args.wait, summary=not args.no_summary)
    except ImportError as error:
        raise CommandError(f"the {args.executor} executor needs submitit: pip install 'sam-repro[cluster]' "
                           f"({error})") from error
    if isinstance(outcome, dict):  # slurm: submitted (or written); runs only when waited for
        runs = outcome.get("runs", [])
    else:
        runs = outcome
    failed = [r for r in runs if r.status == "failed"]
    if runs:
        print(f"\n{len(runs)} tasks, {len(failed)} failed; summary: {results / profile.name / 'SUMMARY.md'}")
    return 1 if failed else 0
