"""How our numbers relate to a paper's, beyond one row per cell: rank correlation, row-ordering agreement, a
figure and a CSV (what SUMMARY.md shows per paper instead of a table of every cell).

A paper's absolute numbers cannot be matched in the embedded world (another model, other data); what can be
compared is whether our cells rise and fall with the paper's (Spearman's rank correlation over the cells of a
table and metric) and whether we order the rows of each dataset as the paper does (the share of row pairs, within
one dataset and metric, that both put in the same order; ties on either side are left out).
"""
from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

CSV_FILE = "paper_vs_ours.csv"
FIGURE_FILE = "paper_vs_ours.png"


def _paired(lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("paper_value") is not None and line.get("ours_value") is not None
            and not math.isnan(line["ours_value"])]


def rank_agreement(lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (table, metric): cells with both numbers, Spearman's rho (NaN under 3 cells or without
    spread) and the share of same-dataset row pairs ordered alike (NaN without such a pair)."""
    from scipy.stats import spearmanr

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for line in _paired(lines):
        groups.setdefault((line["table"], line["metric"]), []).append(line)
    out = []
    for (table, metric), cells in sorted(groups.items()):
        paper = [c["paper_value"] for c in cells]
        ours = [c["ours_value"] for c in cells]
        rho = math.nan
        if len(cells) >= 3 and len(set(paper)) > 1 and len(set(ours)) > 1:
            rho = float(spearmanr(paper, ours).statistic)
        agree = total = 0
        by_dataset: dict[str, list[dict[str, Any]]] = {}
        for c in cells:
            by_dataset.setdefault(c["dataset"], []).append(c)
        for rows in by_dataset.values():
            for a, b in combinations(rows, 2):
                dp, do = a["paper_value"] - b["paper_value"], a["ours_value"] - b["ours_value"]
                if dp == 0 or do == 0:
                    continue
                total += 1
                agree += (dp > 0) == (do > 0)
        out.append({"table": table, "metric": metric, "cells": len(cells), "spearman_rho": rho,
                    "row_pairs": total, "same_order": agree / total if total else math.nan})
    return out


def write_csv(lines: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Every paper-vs-ours cell as CSV (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["table", "dataset", "stand_in", "row", "metric", "paper_value", "uncertain", "ours_value", "n"]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(lines)
    os.replace(tmp, path)
    return path


def plot(lines: Sequence[dict[str, Any]], title: str, path: str | os.PathLike) -> Path | None:
    """Paper (x) against ours (y), one panel per metric, y = x for reference and Spearman's rho in each
    title; None when no cell has both numbers."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cells = _paired(lines)
    metrics = sorted({c["metric"] for c in cells})
    if not metrics:
        return None
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 4), squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        chosen = [c for c in cells if c["metric"] == metric]
        tables = sorted({c["table"] for c in chosen})
        for table in tables:
            xs = [c["paper_value"] for c in chosen if c["table"] == table]
            ys = [c["ours_value"] for c in chosen if c["table"] == table]
            axis.scatter(xs, ys, s=18, alpha=0.75, label=table)
        low = min(min(c["paper_value"] for c in chosen), min(c["ours_value"] for c in chosen))
        high = max(max(c["paper_value"] for c in chosen), max(c["ours_value"] for c in chosen))
        axis.plot([low, high], [low, high], color="grey", lw=1, ls="--", label="y = x")
        rho = [a["spearman_rho"] for a in rank_agreement(chosen)]
        rho_text = ", ".join("–" if math.isnan(r) else f"{r:.2f}" for r in rho)
        axis.set_title(f"{metric} (Spearman rho per table: {rho_text})", fontsize=9)
        axis.set_xlabel("paper")
        axis.set_ylabel("ours (stand-in)")
        axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    figure.savefig(tmp, dpi=90)
    plt.close(figure)
    os.replace(tmp, path)
    return path
