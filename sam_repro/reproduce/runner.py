"""Execute the suite's notebooks with papermill under a profile, isolating failures.

Executed notebooks go to ``results/<profile>/<path under notebooks/>``, each with a status record
``<name>.status.json`` beside it. A notebook whose status is ``ok`` is skipped on the next run unless
forced, so an interrupted run resumes where it stopped. A failing notebook is reported with the
cell that failed; the others still run.
"""
from __future__ import annotations

import fnmatch
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sam_repro.paths import REPO_ROOT
from sam_repro.files import write_json_atomic
from sam_repro.reproduce.profiles import Profile

def _ipc_kernel_manager():
    """A kernel manager whose kernels talk over local IPC sockets instead of TCP on localhost.

    ipykernel warns on every TCP start that its traffic is unencrypted (one warning per notebook of a batch
    run); over IPC sockets (files in Jupyter's runtime directory) there is no network traffic to warn about,
    so the warning is gone at its source rather than filtered from the log.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum

    class IpcKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return IpcKernelManager


NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RESULTS_DIR = REPO_ROOT / "results"


@dataclass
class NotebookRun:
    """Outcome of one notebook under a profile."""

    notebook: str
    status: str  # "ok", "failed" or "skipped" (already complete)
    seconds: float = 0.0
    output: str = ""
    error: str = ""
    failed_cell: int | None = None
    parameters: dict[str, Any] | None = None


def discover(notebooks_dir: Path = NOTEBOOKS_DIR, only: str | None = None) -> list[Path]:
    """Notebooks under ``notebooks_dir`` (sorted), optionally those whose relative path matches
    ``only`` (a glob, or a plain substring such as ``tta``)."""
    found = sorted(p for p in notebooks_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if only:
        def matches(path: Path) -> bool:
            rel = path.relative_to(notebooks_dir).as_posix()
            return fnmatch.fnmatch(rel, only) or only in rel
        found = [p for p in found if matches(p)]
    return found


def declared_parameters(notebook: Path) -> set[str]:
    """Names assigned in the notebook's ``parameters``-tagged cell."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)).keys())


def run_notebook(notebook: Path, profile: Profile, *, notebooks_dir: Path = NOTEBOOKS_DIR,
                 results_dir: Path = RESULTS_DIR, force: bool = False, kernel_name: str = "python3",
                 cell_timeout: int | None = None, progress: bool = False, log_output: bool = False) -> NotebookRun:
    """Execute one notebook under ``profile`` (skipped when already complete, unless ``force``).

    Args:
        progress: papermill's progress bar over the notebook's cells.
        log_output: stream the cells' output to the log as they run.
    """
    import papermill

    rel = notebook.relative_to(notebooks_dir).as_posix()
    out_dir = results_dir / profile.name
    output = out_dir / rel
    status_path = output.with_suffix(".status.json")
    if not force and status_path.is_file():
        import json

        try:
            previous = json.loads(status_path.read_text())
        except ValueError:
            previous = {}
        if previous.get("status") == "ok" and output.is_file():
            return NotebookRun(rel, "skipped", output=str(output))
    declared = declared_parameters(notebook)
    wanted = profile.parameters_for(rel)
    if "output_dir" in declared:
        wanted.setdefault("output_dir", str(out_dir / Path(rel).with_suffix("")))
    parameters = {k: v for k, v in wanted.items() if k in declared}
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp.ipynb")
    start = time.perf_counter()
    run = NotebookRun(rel, "ok", output=str(output), parameters=parameters)
    try:
        papermill.execute_notebook(
            str(notebook), str(tmp), parameters=parameters, kernel_name=kernel_name, cwd=str(REPO_ROOT),
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
    write_json_atomic(status_path, asdict(run))
    return run


def run_profile(profile: Profile, *, only: str | None = None, force: bool = False,
                notebooks_dir: Path = NOTEBOOKS_DIR, results_dir: Path = RESULTS_DIR,
                kernel_name: str = "python3", verbose: bool = True, progress: bool = False,
                log_output: bool = False) -> list[NotebookRun]:
    """Run every (matching) notebook under ``profile`` and write ``results/<profile>/SUMMARY.md``.

    The log gets one line when a notebook starts and one when it ends (status, seconds, the failing cell);
    ``progress`` adds a bar over each notebook's cells, ``log_output`` streams their output.
    """
    notebooks = discover(notebooks_dir, only)
    runs: list[NotebookRun] = []
    for index, notebook in enumerate(notebooks, 1):
        rel = notebook.relative_to(notebooks_dir).as_posix()
        if verbose:
            print(f"[{index}/{len(notebooks)}] {rel}: started {time.strftime('%H:%M:%S')}", flush=True)
        run = run_notebook(notebook, profile, notebooks_dir=notebooks_dir, results_dir=results_dir,
                           force=force, kernel_name=kernel_name, progress=progress, log_output=log_output)
        if verbose:
            detail = f" in {run.seconds:.1f} s" if run.status != "skipped" else " (already complete)"
            print(f"[{index}/{len(notebooks)}] {rel}: {run.status}{detail}"
                  + (f"\n    cell {run.failed_cell}: {run.error}" if run.error else ""), flush=True)
        runs.append(run)
    write_summary(profile, runs, results_dir)
    from sam_repro.reproduce.site import build_index

    index = build_index(results_dir / profile.name)
    if verbose:
        print(f"browsable results: {index}", flush=True)
    return runs


def missing_requirements(profile: Profile) -> list[str]:
    """What ``profile.requires`` names that is not on this machine, each with how to get it.

    ``requires`` keys: ``backbones`` (registry names: shipped or cached weights), ``checkpoints`` and
    ``datasets`` (names in ``data_manifest.yaml``). Unknown names are reported too.
    """
    from sam_repro.backbones.registry import get_backbone
    from sam_repro.backbones.weights import get_weights, locate_weights

    missing: list[str] = []
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


def collect_results(results_dir: Path, profile_name: str) -> dict[str, list]:
    """Every ``results.json`` under ``results/<profile>``: paper -> [(notebook dir, rows, verdicts)]."""
    from sam_repro.reproduce.results import RESULTS_FILE, read_results

    found: dict[str, list] = {}
    root = results_dir / profile_name
    for path in sorted(root.rglob(RESULTS_FILE)) if root.is_dir() else []:
        try:
            paper, rows, verdicts = read_results(path)
        except ValueError:
            continue
        found.setdefault(paper, []).append((path.parent.relative_to(root).as_posix(), rows, verdicts))
    return found


def paper_sections(results_dir: Path, profile_name: str) -> list[str]:
    """SUMMARY.md sections: per paper, the claim verdicts over all its notebooks' rows and the
    paper-vs-ours tables; papers with no results yet are listed as not run."""
    from sam_repro.reproduce.claims import evaluate_claims
    from sam_repro.reproduce.papers import paper_module
    from sam_repro.reproduce.results import PAPER_TABLES_DIR, VERDICTS, ResultSet, comparison, paper_tables
    from sam_repro.reproduce.tables import markdown_table

    found = collect_results(results_dir, profile_name)
    lines: list[str] = []
    transcribed = {p.stem for p in PAPER_TABLES_DIR.glob("*.yaml")}
    # the five papers always (not run until they have results), then baselines that wrote results (HQ-SAM)
    for paper in sorted(transcribed) + sorted(p for p in set(found) - transcribed if paper_module(p) is not None):
        module = paper_module(paper)
        if paper in transcribed:
            title = paper_tables(paper)["paper"].get("title", paper)
        else:
            title = getattr(module, "TITLE", paper) if module is not None else paper
        lines += ["", f"## {paper}: {title}", ""]
        if paper not in found:
            claims = len(module.CLAIMS) if module else 0
            lines.append(f"Not run: no notebook has produced results for this paper yet ({claims} claims defined, "
                         "all not run).")
            continue
        rows = [row for _, paper_rows_, _ in found[paper] for row in paper_rows_]
        sources = ", ".join(f"`{where}`" for where, _, _ in found[paper])
        lines.append(f"From {sources}.")
        if module is not None:
            verdicts = evaluate_claims(module.CLAIMS, ResultSet(rows))
            counts = ", ".join(f"{sum(v.status == s for v in verdicts)} {s}" for s in VERDICTS)
            lines += ["", f"**Claims**: {counts}. Effects are paired differences (or ratios) with 95% bootstrap "
                          "intervals over the objects (or repeats) behind them; a verdict is held or not held only "
                          "when its interval decides it.", ""]
            lines.append(markdown_table(
                [{"claim": v.claim, "statement": v.statement, "verdict": v.status, "effect [95% interval]": v.effect_text,
                  "n": v.n if v.n is not None else "–", "paper": v.paper_figure or "–"} for v in verdicts]))
            lines += ["", "<details><summary>numbers behind each verdict</summary>", ""]
            lines += [f"- claim {v.claim} ({v.status}): {v.detail.replace('|', '/')}" for v in verdicts]
            lines += ["", "</details>"]
            table_rows = [r for r in rows if r.table.startswith("table")]
            if table_rows and paper in transcribed:
                lines += paper_vs_ours_section(paper, comparison(paper, table_rows, module.row_key),
                                               results_dir / profile_name)
    return lines


def paper_vs_ours_section(paper: str, cells: list[dict[str, Any]], root: Path) -> list[str]:
    """SUMMARY lines relating our cells to the paper's: a figure (paper against ours, y = x), one row per table and
    metric with the rank correlation and the share of row pairs ordered as in the paper, and every cell in a CSV
    (``<paper>/paper_vs_ours.csv``) rather than in the summary."""
    from sam_repro.reproduce.compare import CSV_FILE, FIGURE_FILE, plot, rank_agreement, write_csv
    from sam_repro.reproduce.tables import markdown_table

    folder = root / paper
    write_csv(cells, folder / CSV_FILE)
    figure = plot(cells, f"{paper}: the paper's numbers against ours (stand-ins)", folder / FIGURE_FILE)
    lines = ["", f"**Paper vs ours**: {len(cells)} cells in [`{paper}/{CSV_FILE}`]({paper}/{CSV_FILE}) (paper: the "
                 "published number; ours: on the stand-in). Absolute values are not comparable across worlds; what "
                 "is: whether our cells rise and fall with the paper's (Spearman's rho) and whether each dataset's "
                 "rows come in the paper's order.", ""]
    if figure is not None:
        lines += [f"![{paper}: paper vs ours]({paper}/{FIGURE_FILE})", ""]
    lines.append(markdown_table(rank_agreement(cells), ["table", "metric", "cells", "spearman_rho", "row_pairs",
                                                        "same_order"]))
    return lines


def write_summary(profile: Profile, runs: list[NotebookRun], results_dir: Path = RESULTS_DIR) -> Path:
    """``results/<profile>/SUMMARY.md``: one row per notebook with its status and time, then per
    paper the claim verdicts and the paper-vs-ours tables."""
    lines = [
        f"# Reproduction summary: profile `{profile.name}`",
        "",
        profile.description,
        "",
        "| notebook | status | seconds | error |",
        "|---|---|---|---|",
    ]
    for run in runs:
        error = (f"cell {run.failed_cell}: " if run.failed_cell else "") + run.error.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {run.notebook} | {run.status} | {run.seconds:.1f} | {error[:200]} |")
    failed = sum(r.status == "failed" for r in runs)
    lines += ["", f"{len(runs)} notebooks: {len(runs) - failed} ok or complete, {failed} failed."]
    lines += paper_sections(results_dir, profile.name)
    path = results_dir / profile.name / "SUMMARY.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path
