"""Where a profile's tasks run: one after another, a local pool, or a SLURM array through submitit.

* ``local``: :func:`sam_repro.reproduce.runner.run_profile`, one task after another in this process.
* ``pool``: one worker per visible GPU (``CUDA_VISIBLE_DEVICES`` set to that GPU for the worker's kernels), or on a
  machine without one ``--workers N`` CPU workers (each with ``OMP_NUM_THREADS`` = cores / N unless set). Every task
  runs in a fresh process, so a worker that dies costs only its task: the status reads ``interrupted`` and the next
  run resumes it from its per-sample records.
* ``slurm``: submitit submits one array job, one array task per task, each with one GPU
  (``--gpus-per-node=1``), requeued on preemption and on reaching its time limit (the task is a
  :class:`submitit.helpers.Checkpointable`: on the signal it is resubmitted as is and, on its restart, the notebook
  resumes from the harness's per-sample records); the final tasks of sample-sharded notebooks go in a second
  array that starts after the first (``afterany``), and a last job rebuilds SUMMARY.md. ``dry_run`` writes the
  ``sbatch`` scripts it would submit (``<results>/<profile>/_slurm/array.sbatch`` ...) and submits nothing.
* ``submitit-local``: the same submitit path through its ``LocalExecutor`` (local processes), what tests and a
  machine without SLURM use to exercise it.

No scheduler here: the pool is a few threads handing tasks to processes; SLURM does the rest.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sam_repro.reproduce.profiles import Profile
from sam_repro.reproduce.runner import NotebookRun, report, run_task
from sam_repro.reproduce.tasks import Task

EXECUTORS = ("local", "pool", "slurm", "submitit-local")
SLURM_FOLDER = "_slurm"


@dataclass(frozen=True)
class RunConfig:
    """What every worker needs besides its task (picklable: it travels to pool processes and SLURM jobs).

    Attributes:
        notebooks_dir / results_dir: absolute folders (shared storage on a cluster).
        environment: variables set in the worker before it runs (``SAM_REPRO_*``, ``CUDA_VISIBLE_DEVICES``);
            the notebook kernels inherit them.
    """

    profile: Profile
    notebooks_dir: Path
    results_dir: Path
    force: bool = False
    kernel_name: str = "python3"
    progress: bool = False
    log_output: bool = False
    environment: dict[str, str] = field(default_factory=dict)


def _execute(task: Task, config: RunConfig, executor: str, extra_env: dict[str, str] | None = None) -> NotebookRun:
    os.environ.update(config.environment)
    os.environ.update(extra_env or {})
    return run_task(task, config.profile, notebooks_dir=config.notebooks_dir, results_dir=config.results_dir,
                    force=config.force, kernel_name=config.kernel_name, progress=config.progress,
                    log_output=config.log_output, executor=executor)


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """``variables`` set in ``os.environ`` for the block, the previous values restored after it."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ------------------------------------------------------------------------------------------------------- pool

def detect_gpus() -> list[str]:
    """GPU ids for the pool: the entries of ``CUDA_VISIBLE_DEVICES`` when set, else every index ``nvidia-smi``
    lists; empty on a machine without NVIDIA GPUs."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [v.strip() for v in visible.split(",") if v.strip() and v.strip() != "-1"]
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def worker_environments(workers: int | None, gpus: Sequence[str], cpus: int | None = None) -> list[dict[str, str]]:
    """One environment per pool worker: with GPUs, ``CUDA_VISIBLE_DEVICES`` = one GPU each (``workers`` defaults
    to one per GPU; more workers than GPUs share them round robin); without, ``workers`` (default 1) CPU workers,
    each given ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` = cores // workers (at least 1) unless those are set, so
    that N workers do not oversubscribe the cores."""
    if gpus:
        count = workers or len(gpus)
        return [{"CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)]} for i in range(count)]
    count = workers or 1
    threads = str(max(1, (cpus or os.cpu_count() or 1) // count))
    return [{name: os.environ.get(name, threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
            for _ in range(count)]


#: exit codes of a pool process: the outcome of its task
_EXIT = {"ok": 0, "failed": 1, "skipped": 3, "locked": 4}


def _pool_child(task: Task, config: RunConfig, env: dict[str, str]) -> None:
    run = _execute(task, config, "pool", env)
    sys.exit(_EXIT.get(run.status, 1))


def _outcome(task: Task, config: RunConfig, exitcode: int | None) -> NotebookRun:
    """What a pool process left: its exit code says the outcome, its status file the details; a process that died
    (killed: a negative exit code) is ``failed``, and its status file reads ``interrupted``."""
    import json

    status_name = {code: name for name, code in _EXIT.items()}.get(exitcode)
    if status_name in ("skipped", "locked"):
        return NotebookRun(task.id, status_name)
    try:
        status = json.loads(task.status_path(config.results_dir / config.profile.name).read_text())
    except (OSError, ValueError):
        status = {}
    if status_name is not None and status.get("status") == status_name:
        return NotebookRun(task.id, status_name, float(status.get("seconds") or 0), str(status.get("output")),
                           str(status.get("error") or ""), status.get("failed_cell"), status.get("parameters"))
    return NotebookRun(task.id, "failed", error=f"worker process ended with exit code {exitcode} (killed?); the "
                                                 "next run resumes the task from its records")


def run_pool(tasks: Sequence[Task], config: RunConfig, *, workers: int | None = None,
             gpus: Sequence[str] | None = None, verbose: bool = True,
             on_start: Callable[[Task, Any], None] | None = None) -> list[NotebookRun]:
    """Run ``tasks`` on a local pool (see :func:`worker_environments`), each in a fresh process; a task whose
    ``after`` ids have not ended waits for them. Returns the outcomes in task order.

    Args:
        gpus: GPU ids (default :func:`detect_gpus`).
        on_start: called with (task, process) when a task's process starts (tests kill one with it).
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    environments = worker_environments(workers, detect_gpus() if gpus is None else list(gpus))
    pending = list(tasks)
    ids = {t.id for t in tasks}
    outcomes: dict[str, NotebookRun] = {}
    condition = threading.Condition()
    counter = [0]

    def next_task() -> Task | None:
        with condition:
            while pending:
                ready = [t for t in pending if all(a in outcomes or a not in ids for a in t.after)]
                if ready:
                    pending.remove(ready[0])
                    return ready[0]
                condition.wait()
            return None

    def slot(env: dict[str, str]) -> None:
        while (task := next_task()) is not None:
            if verbose:
                where = f" on GPU {env['CUDA_VISIBLE_DEVICES']}" if "CUDA_VISIBLE_DEVICES" in env else ""
                print(f"{task.id}: started {time.strftime('%H:%M:%S')}{where}", flush=True)
            process = context.Process(target=_pool_child, args=(task, config, env), name=f"sam-repro {task.id}")
            process.start()
            if on_start is not None:
                on_start(task, process)
            process.join()
            run = _outcome(task, config, process.exitcode)
            with condition:
                outcomes[task.id] = run
                counter[0] += 1
                if verbose:
                    print(report(counter[0], len(tasks), run), flush=True)
                condition.notify_all()

    threads = [threading.Thread(target=slot, args=(env,), daemon=True) for env in environments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcomes[t.id] for t in tasks]


# ----------------------------------------------------------------------------------------------------- submitit

try:
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # the cluster extra is not installed: only the submitit executors need it
    _Checkpointable = object  # type: ignore[assignment,misc]


class SubmittedTask(_Checkpointable):  # type: ignore[misc,valid-type]
    """One task as a submitit job. Checkpointable: on preemption or at the time limit submitit resubmits it as is;
    the notebook then runs again and the harness skips the samples already recorded."""

    def __init__(self, task: Task, config: RunConfig, executor: str = "slurm") -> None:
        self.task, self.config, self.executor = task, config, executor

    def __call__(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(_execute(self.task, self.config, self.executor))


class SummaryJob:
    """The job that rebuilds SUMMARY.md once the arrays have ended."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def __call__(self) -> str:
        from sam_repro.reproduce.summary import summarize

        os.environ.update(self.config.environment)
        return str(summarize(self.config.profile, self.config.results_dir))


@dataclass(frozen=True)
class SlurmOptions:
    """The array job's resources (each array task: one task, one GPU).

    Attributes:
        partition / account / qos: SLURM's; None: the cluster's default.
        time_min: each task's time limit in minutes (it is requeued, up to ``max_requeues`` times, when reached).
        cpus_per_task / mem_gb / gpus_per_task: per array task.
        array_parallelism: at most this many array tasks at once.
        setup: shell lines run before the task (``module load cuda``, ``source .venv/bin/activate``).
        extra: further ``#SBATCH`` options (``{"constraint": "a100"}``).
    """

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_min: int = 240
    cpus_per_task: int = 8
    mem_gb: float = 48
    gpus_per_task: int = 1
    array_parallelism: int = 64
    max_requeues: int = 3
    setup: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    def parameters(self, name: str) -> dict[str, Any]:
        """submitit ``SlurmExecutor.update_parameters`` keywords."""
        params: dict[str, Any] = {"job_name": name, "time": self.time_min, "cpus_per_task": self.cpus_per_task,
                                  "mem": f"{int(self.mem_gb * 1024)}MB", "gpus_per_node": self.gpus_per_task,
                                  "ntasks_per_node": 1, "nodes": 1, "array_parallelism": self.array_parallelism,
                                  "setup": list(self.setup), "stderr_to_stdout": True}
        for key in ("partition", "account", "qos"):
            if getattr(self, key):
                params[key] = getattr(self, key)
        # requeueable: a preempted task goes back to the queue (and resumes from its records) instead of failing
        params["additional_parameters"] = {"requeue": True, **self.extra}
        return params


def _slurm_executor(folder: Path, options: SlurmOptions, name: str, *, dry_run: bool):
    from submitit.slurm.slurm import SlurmExecutor

    if dry_run:
        class _DryRun(SlurmExecutor):  # the same script text, without requiring srun on this machine
            @classmethod
            def affinity(cls) -> int:
                return 1

        executor = _DryRun(folder, max_num_timeout=options.max_requeues)
    else:
        executor = SlurmExecutor(folder, max_num_timeout=options.max_requeues)
    executor.update_parameters(**options.parameters(name))
    return executor


def array_script(executor, count: int, dependency: str | None = None) -> str:
    """The sbatch script submitit writes for an array of ``count`` tasks with ``executor``'s parameters (what
    ``SlurmExecutor`` submits for a batch of ``count`` jobs)."""
    array = type(executor)(executor.folder, executor.max_num_timeout)
    array.update_parameters(**executor.parameters)
    array.parameters["map_count"] = count
    if dependency:
        extra = dict(array.parameters.get("additional_parameters") or {})
        extra["dependency"] = dependency
        array.parameters["additional_parameters"] = extra
    return array._make_submission_file_text(array._submitit_command_str, "dry-run")


def split_waves(tasks: Sequence[Task]) -> tuple[list[Task], list[Task]]:
    """Tasks that may start at once, and those that wait for others (a sample-sharded notebook's final task)."""
    ids = {t.id for t in tasks}
    later = [t for t in tasks if any(a in ids for a in t.after)]
    return [t for t in tasks if t not in later], later


def run_slurm(tasks: Sequence[Task], config: RunConfig, options: SlurmOptions | None = None, *,
              dry_run: bool = False, wait: bool = False, verbose: bool = True) -> dict[str, Any]:
    """Submit ``tasks`` as SLURM arrays (see the module docstring) or, with ``dry_run``, write the scripts.

    Returns:
        ``{"folder", "scripts": [paths written by a dry run], "jobs": [array job ids], "tasks": n}``; with
        ``wait``, also ``"runs"`` (the outcomes) after every job ended.
    """
    import json

    options = options or SlurmOptions()
    folder = config.results_dir / config.profile.name / SLURM_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    first, later = split_waves(tasks)
    name = f"sam-repro-{config.profile.name}"
    executor = _slurm_executor(folder / "%j", options, name, dry_run=dry_run)
    result: dict[str, Any] = {"folder": str(folder), "scripts": [], "jobs": [], "tasks": len(tasks)}
    (folder / "tasks.json").write_text(json.dumps([t.to_json() for t in tasks], indent=2))
    if dry_run:
        waves = [("array.sbatch", first, None), ("after.sbatch", later, "afterany:<array.sbatch job id>")]
        for file_name, wave, dependency in waves:
            if wave:
                (folder / file_name).write_text(array_script(executor, len(wave), dependency))
                result["scripts"].append(str(folder / file_name))
        if verbose:
            print(f"dry run: {len(tasks)} tasks; would submit " + ", ".join(result["scripts"])
                  + f" (task list: {folder / 'tasks.json'})", flush=True)
        return result
    jobs = []
    dependency = None
    for wave in (first, later):
        if not wave:
            continue
        if dependency:
            executor.update_parameters(additional_parameters={"requeue": True, **options.extra,
                                                              "dependency": dependency})
        with executor.batch():
            wave_jobs = [executor.submit(SubmittedTask(task, config, "slurm")) for task in wave]
        jobs += wave_jobs
        array_id = wave_jobs[0].job_id.split("_")[0]
        result["jobs"].append(array_id)
        dependency = f"afterany:{array_id}"
    executor.update_parameters(additional_parameters={**options.extra, "dependency": dependency},
                               job_name=f"{name}-summary")
    executor.parameters.pop("gpus_per_node", None)  # the summary needs no GPU
    result["jobs"].append(executor.submit(SummaryJob(config)).job_id)
    if verbose:
        print(f"submitted {len(tasks)} tasks as array job(s) {', '.join(result['jobs'][:-1])}; SUMMARY.md is "
              f"rebuilt by job {result['jobs'][-1]} when they end (or run `sam-repro reproduce summarize`); "
              f"logs in {folder}", flush=True)
    if wait:
        result["runs"] = [_job_outcome(task, job) for task, job in zip(list(first) + list(later), jobs)]
    return result


def _job_outcome(task: Task, job) -> NotebookRun:
    try:
        return NotebookRun(**job.result())
    except Exception as error:  # the job itself failed (not the notebook): its log says why
        return NotebookRun(task.id, "failed", error=f"job {job.job_id}: {type(error).__name__}: {error}")


def run_submitit_local(tasks: Sequence[Task], config: RunConfig, *, workers: int | None = None,
                       verbose: bool = True) -> list[NotebookRun]:
    """Run ``tasks`` through submitit's ``LocalExecutor`` (local processes, the same pickled
    :class:`SubmittedTask` as on SLURM), at most ``workers`` (default 1) at once, waves in order."""
    from submitit import LocalExecutor

    folder = config.results_dir / config.profile.name / SLURM_FOLDER / "local"
    executor = LocalExecutor(folder / "%j")
    executor.update_parameters(timeout_min=24 * 60)
    env = worker_environments(workers, [])[0]
    config = replace(config, environment={**env, **config.environment})
    outcomes: dict[str, NotebookRun] = {}
    limit = max(1, workers or 1)
    for wave in split_waves(tasks):
        queue, running = list(wave), []
        while queue or running:
            while queue and len(running) < limit:
                task = queue.pop(0)
                if verbose:
                    print(f"{task.id}: submitted {time.strftime('%H:%M:%S')}", flush=True)
                running.append((task, executor.submit(SubmittedTask(task, config, "submitit-local"))))
            time.sleep(0.5)
            for task, job in [pair for pair in running if pair[1].done()]:
                running.remove((task, job))
                outcomes[task.id] = _job_outcome(task, job)
                if verbose:
                    print(report(len(outcomes), len(tasks), outcomes[task.id]), flush=True)
    return [outcomes[t.id] for t in tasks]


def execute(tasks: Sequence[Task], config: RunConfig, executor: str = "local", *, workers: int | None = None,
            slurm: SlurmOptions | None = None, dry_run: bool = False, wait: bool = False, verbose: bool = True,
            summary: bool = True) -> list[NotebookRun] | dict[str, Any]:
    """Run ``tasks`` with ``executor`` (one of :data:`EXECUTORS`) and rebuild SUMMARY.md (``summary``) when they
    have ended here; ``slurm`` returns what :func:`run_slurm` returns (its summary is a job of its own)."""
    from sam_repro.reproduce.runner import run_profile
    from sam_repro.reproduce.summary import summarize

    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if executor == "slurm":
        return run_slurm(tasks, config, slurm, dry_run=dry_run, wait=wait, verbose=verbose)
    if executor == "local":
        with _environment(config.environment):  # the kernels inherit it
            return run_profile(config.profile, tasks=list(tasks), force=config.force,
                               notebooks_dir=config.notebooks_dir, results_dir=config.results_dir,
                               kernel_name=config.kernel_name, verbose=verbose, progress=config.progress,
                               log_output=config.log_output, summary=summary)
    if executor == "pool":
        runs = run_pool(tasks, config, workers=workers, verbose=verbose)
    else:
        runs = run_submitit_local(tasks, config, workers=workers, verbose=verbose)
    if summary:
        path = summarize(config.profile, config.results_dir)
        if verbose:
            print(f"browsable results: {path.parent / 'index.html'}", flush=True)
    return runs
