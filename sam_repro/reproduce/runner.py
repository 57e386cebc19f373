"""Execute the suite's notebooks with papermill under a profile, isolating failures.

A profile's work is a list of tasks (:mod:`sam_repro.reproduce.tasks`: a notebook, or a shard of one). Executed
notebooks go to ``results/<profile>/<task stem>.ipynb``, each with a status record ``<stem>.status.json`` beside it
(status, error, seconds, and where it ran: host, GPU names, ``CUDA_VISIBLE_DEVICES``, executor, job id). A task
whose status is ``ok`` is skipped on the next run unless forced, so an interrupted run resumes where it stopped
(inside a notebook the harness resumes from its per-sample records). A failing task is reported with the cell that
failed; the others still run. While a task runs, its lock ``<stem>.lock`` (``filelock``, released by the OS when
the process dies) is held, so two workers never execute the same task: the second reports it ``locked``.

Tasks run one after another here (:func:`run_profile`, the ``local`` executor) or in parallel
(:mod:`sam_repro.reproduce.executors`); either way SUMMARY.md is rebuilt from every file on disk
(:mod:`sam_repro.reproduce.summary`).
"""
from __future__ import annotations

import fnmatch
import json
import os
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sam_repro.files import write_json_atomic
from sam_repro.paths import REPO_ROOT, notebooks_dir as default_notebooks_dir, results_dir as default_results_dir
from sam_repro.paths import work_dir
from sam_repro.reproduce.profiles import Profile
from sam_repro.reproduce.summary import (  # noqa: F401  (re-exported: the runner's former API)
    collect_results, paper_sections, paper_vs_ours_section, summarize, write_summary,
)
from sam_repro.reproduce.tasks import Task, expand


def _ipc_kernel_manager():
    """A kernel manager whose kernels talk over local IPC sockets instead of TCP on localhost.

    ipykernel warns on every TCP start that its traffic is unencrypted (one warning per notebook of a batch
    run); over IPC sockets (files in Jupyter's runtime directory) there is no network traffic to warn about,
    so the warning is gone at its source rather than filtered from the log.

    Each kernel gets socket files of its own (``<tmp>/sam-repro-<random>-ipc-<n>``): jupyter_client's default,
    ``kernel-ipc-<n>`` in the current directory, is shared by every kernel started from the same folder, so two
    workers starting kernels at once would connect to each other's sockets ("Invalid Signature").
    """
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum

    class IpcKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        def _ip_default(self) -> str:
            if self.transport != "ipc":
                return super()._ip_default()
            return os.path.join(tempfile.gettempdir(), f"sam-repro-{uuid.uuid4().hex[:16]}-ipc")

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts the kernel before every shutdown; papermill shuts it down only after the
            # last cell, so there is nothing to stop, and the interrupt racing a late message logged "KeyboardInterrupt
            # caught in kernel" into the batch log. A cell that times out is still interrupted (not at shutdown).
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return IpcKernelManager


#: The checkout's folders (the defaults when no option or environment variable moves them; see sam_repro.paths).
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RESULTS_DIR = REPO_ROOT / "results"


@dataclass
class NotebookRun:
    """Outcome of one task under a profile.

    Attributes:
        notebook: the task id (the notebook's path under ``notebooks/``, plus ``@<label>`` for a shard).
        status: ``ok``, ``failed``, ``skipped`` (already complete) or ``locked`` (another worker runs it now).
        where: host, pid, GPU names, ``CUDA_VISIBLE_DEVICES``, executor and job id of the worker.
    """

    notebook: str
    status: str
    seconds: float = 0.0
    output: str = ""
    error: str = ""
    failed_cell: int | None = None
    parameters: dict[str, Any] | None = None
    where: dict[str, Any] | None = None


def discover(notebooks_dir: Path | None = None, only: str | None = None) -> list[Path]:
    """Notebooks under ``notebooks_dir`` (default :func:`sam_repro.paths.notebooks_dir`; sorted), optionally those
    whose relative path matches ``only`` (a glob, or a plain substring such as ``tta``).

    Raises:
        FileNotFoundError: the folder does not exist (an installed package has no notebooks: the message says how
            to point at them).
    """
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"notebooks folder {notebooks_dir} does not exist; pass --notebooks-dir or set "
                                "SAM_REPRO_NOTEBOOKS to the notebooks/ folder of a sam-repro checkout")
    found = sorted(p for p in notebooks_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if only:
        def matches(path: Path) -> bool:
            rel = path.relative_to(notebooks_dir).as_posix()
            return fnmatch.fnmatch(rel, only) or only in rel
        found = [p for p in found if matches(p)]
    return found


def profile_tasks(profile: Profile, *, notebooks_dir: Path | None = None, only: str | None = None,
                  notebook: str | None = None) -> list[Task]:
    """The tasks of ``profile`` over the (matching) notebooks it does not skip (``Profile.skip``); ``notebook``: one
    task id or notebook path."""
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    kept = [p for p in discover(notebooks_dir, only)
            if profile.skip_reason(p.relative_to(notebooks_dir).as_posix()) is None]
    return expand(profile, kept, notebooks_dir, exact=notebook)


def skipped_notebooks(profile: Profile, *, notebooks_dir: Path | None = None,
                      only: str | None = None) -> dict[str, str]:
    """Relative path -> reason, for the (matching) notebooks ``profile`` skips."""
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    found = {p.relative_to(notebooks_dir).as_posix(): None for p in discover(notebooks_dir, only)}
    return {rel: reason for rel in found if (reason := profile.skip_reason(rel)) is not None}


def declared_parameters(notebook: Path) -> set[str]:
    """Names assigned in the notebook's ``parameters``-tagged cell."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)).keys())


def visible_gpus() -> list[str] | None:
    """Names of the GPUs this process may use (``nvidia-smi``, filtered by ``CUDA_VISIBLE_DEVICES`` when it holds
    indices or UUIDs), or None without ``nvidia-smi`` (no NVIDIA GPU)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid,name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    gpus = [[part.strip() for part in line.split(",", 2)] for line in out.splitlines() if line.count(",") >= 2]
    wanted = os.environ.get("CUDA_VISIBLE_DEVICES")
    if wanted is None:
        return [name for _, _, name in gpus]
    chosen = [w.strip() for w in wanted.split(",") if w.strip()]
    return [name for index, uuid, name in gpus if index in chosen or uuid in chosen]


def worker_info(executor: str = "local") -> dict[str, Any]:
    """Where a task runs: host, pid, GPU names, ``CUDA_VISIBLE_DEVICES`` (None when unset), executor and the
    SLURM job (``<array job>_<task>``, or the job id) when under SLURM."""
    job = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{job}_{os.environ.get('SLURM_ARRAY_TASK_ID')}" if job else os.environ.get("SLURM_JOB_ID")
    return {"host": socket.gethostname(), "pid": os.getpid(), "gpu": visible_gpus(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "executor": executor, "job": job}


def _status_ok(status_path: Path, output: Path) -> bool:
    try:
        previous = json.loads(status_path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(previous, dict) and previous.get("status") == "ok" and output.is_file()


def run_task(task: Task, profile: Profile, *, notebooks_dir: Path | None = None, results_dir: Path | None = None,
             force: bool = False, kernel_name: str = "python3", cell_timeout: int | None = None,
             progress: bool = False, log_output: bool = False, executor: str = "local") -> NotebookRun:
    """Execute one task under ``profile`` (skipped when already complete, unless ``force``), holding its lock.

    Args:
        progress: papermill's progress bar over the notebook's cells.
        log_output: stream the cells' output to the log as they run.
        executor: recorded in the status (``local``, ``pool``, ``slurm``...).

    Returns:
        the outcome; ``locked`` when another process holds the task (nothing is written then).
    """
    import papermill
    from filelock import FileLock, Timeout

    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    root = (Path(results_dir) if results_dir is not None else default_results_dir()) / profile.name
    output, status_path = task.output_notebook(root), task.status_path(root)
    if not force and _status_ok(status_path, output):
        return NotebookRun(task.id, "skipped", output=str(output))
    output.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(task.lock_path(root))
    try:
        lock.acquire(blocking=False)
    except Timeout:
        holder = {}
        try:
            holder = json.loads(status_path.read_text()).get("where") or {}
        except (OSError, ValueError, AttributeError):
            pass
        return NotebookRun(task.id, "locked", output=str(output), where=holder,
                           error=f"running on host {holder.get('host')!r} (pid {holder.get('pid')})")
    try:
        if not force and _status_ok(status_path, output):  # finished by another worker while we looked
            return NotebookRun(task.id, "skipped", output=str(output))
        source = notebooks_dir / task.notebook
        declared = declared_parameters(source)
        wanted = {**profile.parameters_for(task.notebook), **task.shard}
        if "output_dir" in declared:
            wanted.setdefault("output_dir", str(task.output_dir(root)))
        parameters = {k: v for k, v in wanted.items() if k in declared}
        where = worker_info(executor)
        run = NotebookRun(task.id, "ok", output=str(output), parameters=parameters, where=where)
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_json_atomic(status_path, {**asdict(run), "status": "running", "task": task.id,
                                        "notebook_path": task.notebook, "shard": task.shard, **where,
                                        "started": started})
        tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp.ipynb")
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(source), str(tmp), parameters=parameters, kernel_name=kernel_name, cwd=str(work_dir()),
                progress_bar=progress, log_output=log_output, execution_timeout=cell_timeout,
                **({"kernel_manager_class": _ipc_kernel_manager()} if os.name == "posix" else {}),  # no IPC on Windows
            )
        except papermill.PapermillExecutionError as error:
            run.status, run.failed_cell = "failed", error.exec_count
            run.error = f"{error.ename}: {error.evalue}"
        except Exception as error:  # kernel died, bad notebook JSON, missing kernel...
            run.status, run.error = "failed", f"{type(error).__name__}: {error}"
        finally:
            run.seconds = round(time.perf_counter() - start, 2)
            if tmp.exists():
                os.replace(tmp, output)  # failed notebooks are kept too: their error cell is the report
        write_json_atomic(status_path, {**asdict(run), "task": task.id, "notebook_path": task.notebook,
                                        "shard": task.shard, **where, "started": started,
                                        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        return run
    finally:
        lock.release()


def run_notebook(notebook: Path, profile: Profile, *, notebooks_dir: Path | None = None,
                 results_dir: Path | None = None, force: bool = False, kernel_name: str = "python3",
                 cell_timeout: int | None = None, progress: bool = False, log_output: bool = False) -> NotebookRun:
    """Execute one whole notebook (unsharded) under ``profile``: :func:`run_task` on its path."""
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    relative = Path(notebook).relative_to(notebooks_dir).as_posix()
    return run_task(Task(relative, relative), profile, notebooks_dir=notebooks_dir, results_dir=results_dir,
                    force=force, kernel_name=kernel_name, cell_timeout=cell_timeout, progress=progress,
                    log_output=log_output)


def report(index: int, total: int, run: NotebookRun) -> str:
    """The log line of a finished task."""
    detail = {"skipped": " (already complete)", "locked": f" ({run.error})"}.get(run.status, f" in {run.seconds:.1f} s")
    line = f"[{index}/{total}] {run.notebook}: {run.status}{detail}"
    if run.error and run.status == "failed":
        line += f"\n    cell {run.failed_cell}: {run.error}"
    return line


def run_profile(profile: Profile, *, only: str | None = None, force: bool = False,
                notebooks_dir: Path | None = None, results_dir: Path | None = None,
                kernel_name: str = "python3", verbose: bool = True, progress: bool = False,
                log_output: bool = False, notebook: str | None = None, tasks: list[Task] | None = None,
                summary: bool = True) -> list[NotebookRun]:
    """Run every (matching) task of ``profile`` one after another and rebuild ``results/<profile>/SUMMARY.md``.

    The log gets one line when a task starts and one when it ends (status, seconds, the failing cell);
    ``progress`` adds a bar over each notebook's cells, ``log_output`` streams their output.

    Args:
        notebook: run only this task id or notebook path (``--notebook``); tasks: run these instead.
        summary: rebuild SUMMARY.md and the pages at the end (a worker running one task of many does not).
    """
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    if tasks is None:
        tasks = profile_tasks(profile, notebooks_dir=notebooks_dir, only=only, notebook=notebook)
        if verbose and notebook is None:
            for rel, reason in skipped_notebooks(profile, notebooks_dir=notebooks_dir, only=only).items():
                print(f"skipped {rel}: {reason}", flush=True)
    runs: list[NotebookRun] = []
    for index, task in enumerate(tasks, 1):
        if verbose:
            print(f"[{index}/{len(tasks)}] {task.id}: started {time.strftime('%H:%M:%S')}", flush=True)
        run = run_task(task, profile, notebooks_dir=notebooks_dir, results_dir=results_dir, force=force,
                       kernel_name=kernel_name, progress=progress, log_output=log_output)
        if verbose:
            print(report(index, len(tasks), run), flush=True)
        runs.append(run)
    if summary:
        path = summarize(profile, results_dir)
        if verbose:
            print(f"browsable results: {path.parent / 'index.html'}", flush=True)
    return runs


def missing_requirements(profile: Profile) -> list[str]:
    """What ``profile.requires`` names that is not on this machine, each with how to get it.

    ``requires`` keys: ``backbones`` (registry names: shipped or cached weights), ``weights`` (``METHOD:BACKBONE``
    entries of the weights registry, e.g. user-trained plug-ins), ``checkpoints`` and ``datasets`` (names in
    ``data_manifest.yaml``). Unknown names are reported too.
    """
    from sam_repro.backbones.registry import get_backbone
    from sam_repro.backbones.weights import get_weights, locate_weights

    missing: list[str] = []
    for name in profile.requires.get("weights", []):
        method, _, backbone = name.partition(":")
        entry = get_weights(method, backbone)
        if entry is None:
            missing.append(f"weights {name}: not in the weights registry (`sam-repro weights list`)")
        elif locate_weights(entry) is None:
            how = (f"run `sam-repro weights fetch {name}`" if entry.checkpoint.url
                   else f"make it: {entry.checkpoint.regenerate}" if entry.checkpoint.regenerate else "see its note")
            missing.append(f"weights {name}: {entry.checkpoint.filename} not found; {how}")
    for name in profile.requires.get("backbones", []):
        try:
            spec = get_backbone(name)
        except KeyError as error:
            missing.append(f"backbone {name}: {error}")
            continue
        entry = get_weights("sam", spec.name)
        if entry is not None and locate_weights(entry) is None:
            missing.append(f"backbone {name}: weights not found; run `sam-repro weights fetch {name}`")
    names = {"checkpoints": profile.requires.get("checkpoints", []), "datasets": profile.requires.get("datasets", [])}
    if names["checkpoints"] or names["datasets"]:
        from sam_repro.data.fetch import layout_present
        from sam_repro.data.manifest import load_manifest

        manifest = load_manifest()
        for kind, wanted in names.items():
            for name in wanted:
                try:
                    info = manifest.get(name)
                except KeyError as error:
                    missing.append(f"{kind[:-1]} {name}: {error}")
                    continue
                if kind == "checkpoints":
                    present = info.path().is_file()
                else:
                    present = info.root().is_dir() and layout_present(info, info.root())
                if not present:
                    where = info.path() if kind == "checkpoints" else info.root()
                    missing.append(f"{kind[:-1]} {name}: not found at {where}; run `sam-repro data fetch {name}` "
                                   f"(or see `sam-repro data list` for manual download instructions)")
    return missing


