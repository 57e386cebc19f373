"""Quality report of a backbone on the synthetic families (tiny SAM report notebook).

For every family, through the harness (records and provenance on disk, resumable), objects of at least
``min_object_fraction`` of the image: mIoU with the tight box, with a noisy box (DN-DETR scale 0.4), with one
centre point (the oracle first click, SAM's best-predicted-IoU mask of the multimask output), with 1, 3 and 5
random positive points, and NoC@85 / NoC@90 / FR with 20 RITM clicks (the previous logits fed back).
Every number also comes as a :class:`~sam_repro.reproduce.results.ResultRow` with its per-object values, so the
targets of :mod:`sam_repro.reproduce.papers.tiny_sam` are decided with intervals.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sam_repro.data import open_dataset
from sam_repro.eval.harness import evaluate, load_records
from sam_repro.eval.interactive import InteractiveProtocol
from sam_repro.eval.protocols import CENTER_POINT, TIGHT_BOX, noisy_box_protocol, points_protocol
from sam_repro.methods.base import Segmenter
from sam_repro.reproduce.experiment import per_object
from sam_repro.reproduce.results import ResultRow

REPORT_TABLE = "report"
"""Table id of the report's result rows (paper ``tiny_sam``)."""


def report_protocols(noisy_box_scale: float = 0.4, max_clicks: int = 20) -> dict[str, Any]:
    """Column key -> protocol of the report."""
    return {"box": TIGHT_BOX, "noisy_box": noisy_box_protocol(noisy_box_scale), "point": CENTER_POINT,
            "1_points": points_protocol(1), "3_points": points_protocol(3), "5_points": points_protocol(5),
            "clicks": InteractiveProtocol(name=f"ritm_{max_clicks}", max_clicks=max_clicks, target_iou=0.90)}


def run_backbone_report(segmenter: Segmenter, families: list[str], out_dir: str | os.PathLike, *,
                        samples: int | dict[str, int] = 12, split: str = "test", seed: int = 0,
                        noisy_box_scale: float = 0.4, max_clicks: int = 20, min_object_fraction: float = 0.01,
                        min_object_area: int = 0, progress: bool = False) -> tuple[list[dict[str, Any]], list]:
    """One row per family with the report's metrics (means over objects), and the same numbers as result rows.

    Args:
        samples: images per family (a dict overrides per family).
        noisy_box_scale: DN-DETR noise scale of the noisy-box column (0.4 = Stable-SAM's).
        min_object_fraction: objects smaller than this share of the image are skipped (the targets count
            objects of at least 1%); min_object_area: a pixel floor on top of it.

    Returns:
        (rows for display, :class:`~sam_repro.reproduce.results.ResultRow` s of table ``report`` with
        per-object values: metrics ``box_miou``, ``box_mbiou``, ``noisy_box_miou``, ``point_miou``,
        ``{1,3,5}_points_miou``, ``noc@85``, ``noc@90``, ``fr@85``, ``fr@90``).
    """
    rows, result_rows = [], []
    backbone = str(segmenter.info().get("backbone", segmenter.name))
    for family in families:
        count = samples.get(family, 12) if isinstance(samples, dict) else samples
        dataset = open_dataset(family, split, seed=seed)
        row: dict[str, Any] = {"family": family}
        for key, protocol in report_protocols(noisy_box_scale, max_clicks).items():
            run_dir = Path(out_dir) / family.replace("/", "_") / protocol.name
            summary = evaluate(segmenter, dataset, protocol, run_dir, seed=seed, limit=count, progress=progress,
                               noc_targets=((0.85, max_clicks), (0.90, max_clicks)),
                               min_object_area=min_object_area, min_object_fraction=min_object_fraction)
            records = load_records(run_dir)
            metrics = summary["metrics"]
            measured: dict[str, tuple[float, tuple[list[str], list[float]]]] = {}
            if key == "clicks":
                name = f"nocfr_{max_clicks}"
                for pct in (85, 90):
                    suffix = f"{max_clicks}@{pct}"
                    measured[f"noc@{pct}"] = (metrics[name][f"noc_{suffix}"], per_object(records, name, f"noc_{suffix}"))
                    measured[f"fr@{pct}"] = (metrics[name][f"fr_{suffix}"],
                                             per_object(records, name, f"failed_{suffix}", lambda f: 100.0 * f))
            else:
                measured[f"{key}_miou"] = (metrics["iou"]["value"], per_object(records, "iou", "iou"))
                if key == "box":
                    measured["box_mbiou"] = (metrics["biou"]["value"], per_object(records, "biou", "value"))
            for metric, (value, (units, values)) in measured.items():
                row[metric] = value
                result_rows.append(ResultRow("tiny_sam", REPORT_TABLE, family, backbone, metric, float(value), family,
                                             len(values), tuple(values), tuple(units)))
            row["objects"] = summary["objects"]
        rows.append(row)
    return rows, result_rows
