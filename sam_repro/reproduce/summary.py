"""SUMMARY.md, RUNS.md and the browsable pages of a profile, rebuilt from every file on disk.

Every task (a notebook or a shard of one, see :mod:`sam_repro.reproduce.tasks`) leaves a status file
``<stem>.status.json`` beside its executed notebook, and each notebook that reproduces a paper's table leaves a
``results.json``. :func:`write_summary` reads all of them, whoever wrote them (this invocation, an earlier one, a
pool worker, a SLURM array task on another node), so parallel workers never overwrite each other's part: any of
them, or ``sam-repro reproduce summarize``, rebuilds the same files.

* ``SUMMARY.md``: what was reproduced: per task its status (and error), then per paper the claim verdicts over the
  rows of all its notebooks and shards (sorted by table, dataset, row and metric: the same records give the same
  file, however they were split across workers) and the paper-vs-ours tables. It holds no timings or host names, so
  a parallel run's SUMMARY.md equals a sequential one's byte for byte when their records agree.
* ``RUNS.md``: where and how long: per task the seconds, host, GPU, ``CUDA_VISIBLE_DEVICES``, executor and job.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from sam_repro.reproduce.profiles import Profile

SUMMARY_FILE = "SUMMARY.md"
RUNS_FILE = "RUNS.md"
STATUS_SUFFIX = ".status.json"


def _merged_rows(paper: str, sources: list) -> list:
    """The rows of ``paper`` over every results file (``sources``: ``[(where, rows, verdicts)]`` in path order),
    one per (table, dataset, row, metric), sorted by that key. A key measured by two files (shards that overlap)
    keeps the first file's row, with a warning naming the key."""
    chosen: dict[tuple[str, str, str, str], Any] = {}
    repeated = []
    for _, rows, _ in sources:
        for row in rows:
            key = (row.table, row.dataset, row.row, row.metric)
            if key in chosen:
                repeated.append(key)
                continue
            chosen[key] = row
    if repeated:
        warnings.warn(f"{paper}: {len(repeated)} row(s) measured by more than one results file, keeping the first "
                      f"of each (e.g. {repeated[0]})", stacklevel=3)
    return [chosen[key] for key in sorted(chosen)]


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
        rows = _merged_rows(paper, found[paper])
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


def read_statuses(profile_dir: Path) -> list[dict[str, Any]]:
    """Every task status under ``profile_dir``, sorted by task id; a ``running`` status whose task lock is free
    (its worker died or was preempted) reads as ``interrupted``. Unreadable status files are skipped."""
    from filelock import FileLock, Timeout

    found = []
    for path in sorted(profile_dir.rglob(f"*{STATUS_SUFFIX}")) if profile_dir.is_dir() else []:
        try:
            status = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(status, dict) or "status" not in status:
            continue
        status.setdefault("task", status.get("notebook", path.name[: -len(STATUS_SUFFIX)]))
        if status["status"] == "running":
            lock = FileLock(path.with_name(path.name[: -len(STATUS_SUFFIX)] + ".lock"))
            try:
                lock.acquire(blocking=False)
            except Timeout:
                pass  # still running
            else:
                lock.release()
                status["status"] = "interrupted"
        found.append(status)
    return sorted(found, key=lambda s: str(s["task"]))


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def write_summary(profile: Profile, runs: Any = None, results_dir: str | os.PathLike | None = None) -> Path:
    """Rebuild ``<results_dir>/<profile>/SUMMARY.md`` and ``RUNS.md`` from every status and results file on disk.

    Args:
        runs: unused (kept for callers of the former signature): statuses are read from disk, so a run over a
            subset, or a worker that ran one shard, never drops the others from the summary.
        results_dir: default :func:`sam_repro.paths.results_dir`.
    """
    from sam_repro.paths import results_dir as default_results

    results = Path(results_dir) if results_dir is not None else default_results()
    root = results / profile.name
    statuses = read_statuses(root)
    lines = [f"# Reproduction summary: profile `{profile.name}`", "", profile.description, "",
             "| notebook | status | error |", "|---|---|---|"]
    for status in statuses:
        error = (f"cell {status['failed_cell']}: " if status.get("failed_cell") else "") + str(status.get("error") or "")
        lines.append(f"| {status['task']} | {status['status']} | {_cell(error)[:200]} |")
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status["status"]] = counts.get(status["status"], 0) + 1
    tally = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    lines += ["", f"{len(statuses)} tasks{': ' + tally if tally else ''}. Where and how long each ran: "
                  f"[{RUNS_FILE}]({RUNS_FILE})."]
    lines += paper_sections(results, profile.name)
    path = root / SUMMARY_FILE
    _write_text(path, "\n".join(lines) + "\n")
    write_runs(profile, statuses, root)
    return path


def write_runs(profile: Profile, statuses: list[dict[str, Any]], root: Path) -> Path:
    """``RUNS.md``: per task its status, seconds, host, GPU, ``CUDA_VISIBLE_DEVICES``, executor, job and end time."""
    lines = [f"# Runs of profile `{profile.name}`", "",
             "| task | status | seconds | host | GPU | CUDA_VISIBLE_DEVICES | executor | job | finished |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in statuses:
        gpu = ", ".join(s.get("gpu") or []) or "none"
        visible = s.get("cuda_visible_devices")
        lines.append(f"| {s['task']} | {s['status']} | {float(s.get('seconds') or 0):.1f} | {_cell(s.get('host'))} | "
                     f"{_cell(gpu)} | {_cell('unset' if visible is None else visible)} | {_cell(s.get('executor'))} "
                     f"| {_cell(s.get('job'))} | {_cell(s.get('finished'))} |")
    total = sum(float(s.get("seconds") or 0) for s in statuses)
    lines += ["", f"{len(statuses)} tasks, {total:.1f} s of notebook time in all."]
    path = root / RUNS_FILE
    _write_text(path, "\n".join(lines) + "\n")
    return path


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def summarize(profile: Profile, results_dir: str | os.PathLike | None = None, *, pages: bool = True) -> Path:
    """``sam-repro reproduce summarize``: :func:`write_summary`, then (``pages``) the browsable pages
    (:func:`sam_repro.reproduce.site.build_index`). Returns the SUMMARY.md path."""
    path = write_summary(profile, None, results_dir)
    if pages:
        from sam_repro.reproduce.site import build_index

        build_index(path.parent)
    return path
