"""The experiment runner every paper module uses: table rows x datasets through the evaluation harness.

A paper's table is a grid: rows (methods or configurations) by datasets. :class:`StandIns` maps each of the
paper's dataset names to what runs in its place, a synthetic family in the embedded world or the real
dataset (a ``data_manifest.yaml`` name) at full scale; :func:`run_grid` evaluates every (row, dataset) with
a fresh segmenter per row, one harness run per cell (records, resumption and provenance under
``<out_dir>/<table>/<dataset>/<row>``), and turns each summary into :class:`ResultRow` s keyed as in the
paper, which ``results.json`` carries to ``SUMMARY.md``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam_repro.reproduce.results import ResultRow

DATA_KINDS = ("synthetic", "real")


@dataclass(frozen=True)
class StandIns:
    """What runs in place of each of a paper's datasets.

    Attributes:
        synthetic: paper dataset name -> synthetic family (the embedded world).
        real: paper dataset name -> the real dataset's name in ``data_manifest.yaml`` (the full profile).
    """

    synthetic: Mapping[str, str] = field(default_factory=dict)
    real: Mapping[str, str] = field(default_factory=dict)

    def sources(self, data: str) -> dict[str, str]:
        """The mapping of ``data``: ``"synthetic"`` (the stand-ins) or ``"real"`` (the paper's datasets)."""
        if data not in DATA_KINDS:
            raise ValueError(f"data must be one of {DATA_KINDS}, got {data!r}")
        return dict(self.synthetic if data == "synthetic" else self.real)


def open_source(name: str, seed: int = 0):
    """Open the evaluation split of a catalog dataset: ``test`` when it has one, else ``all``, else its first
    split (several papers do not state their splits; see data_manifest.yaml). ``seed`` reaches synthetic
    families only."""
    from sam_repro.data import open_evaluation_set

    return open_evaluation_set(name, seed)


#: what a cell's reader returns per paper metric: the cell's number, or (number, unit ids, per-unit values)
Measured = float | tuple[float, Sequence[str], Sequence[float]]


def per_object(records: Sequence[dict[str, Any]], metric: str, key: str,
               transform: Callable[[Any], float] = float) -> tuple[list[str], list[float]]:
    """Unit ids (``sample_id#object``) and per-object values of one statistic of one metric, from a harness
    run's records (successful samples, in index order): what paired claims bootstrap over.

    Args:
        metric / key: the metric's name in the records and the key of its ``measure`` statistics
            (``nocfr_20`` / ``noc_20@85``; ``iou`` / ``iou``).
        transform: maps the stored statistic to the value (e.g. a failure flag to 0 / 100 for FR in percent).
    """
    units, values = [], []
    for record in records:
        if record.get("status") != "ok":
            continue
        for obj in record["objects"]:
            units.append(f"{record['sample_id']}#{obj['object']}")
            values.append(float(transform(obj["stats"][metric][key])))
    return units, values


def run_grid(paper: str, table: str, make_segmenter: Callable[[str], Any], rows: Sequence[str],
             datasets: Sequence[str], stand_ins: StandIns, protocol, out_dir: str | Path,
             read: Callable[[dict[str, Any], list[dict[str, Any]]], Mapping[str, Measured]], *,
             data: str = "synthetic",
             images: int | None = None, seed: int = 0, metrics=None, noc_targets=(), max_objects: int | None = None,
             min_object_area: int = 0, order_seed: int | None = None, progress: bool = False) -> list[ResultRow]:
    """Evaluate rows x datasets of one table and return our numbers keyed as the paper's.

    Args:
        paper / table: the paper-table stem and the table id (``sam_tta``, ``table1``).
        make_segmenter: ``row -> Segmenter``, a fresh one per cell (stateful methods start unadapted).
        rows: row keys; datasets: the paper's dataset names (those without a source in ``data`` are skipped).
        protocol: the harness protocol of the table; metrics / noc_targets: as :func:`~sam_repro.eval.harness.evaluate`.
        read: a cell's harness summary and records -> ``{paper metric name: number}`` or ``{name: (number,
            units, per-unit values)}`` (:func:`per_object`), e.g. ``{"NoC": ..., "FR": ...}``.
        images: images per dataset (None = all), in the dataset's fixed order or the permutation of
            ``order_seed``; max_objects / min_object_area: which objects of an image are evaluated.

    Returns:
        one :class:`ResultRow` per (dataset, row, metric), with the stand-in and the number of objects.
    """
    from sam_repro.eval.harness import evaluate, load_records

    available = stand_ins.sources(data)
    results: list[ResultRow] = []
    for dataset in datasets:
        if dataset not in available:
            continue
        source = available[dataset]
        samples = open_source(source, seed)
        for row in rows:
            cell_dir = Path(out_dir) / table / dataset / row.replace("/", "_")
            summary = evaluate(make_segmenter(row), samples, protocol, cell_dir, metrics=metrics, seed=seed,
                               limit=images, progress=progress, noc_targets=noc_targets,
                               min_object_area=min_object_area, order_seed=order_seed, max_objects=max_objects)
            for metric, measured in read(summary, load_records(cell_dir)).items():
                value, units, values = measured if isinstance(measured, tuple) else (measured, (), ())
                results.append(ResultRow(paper, table, dataset, row, metric, float(value), source, summary["objects"],
                                         tuple(values), tuple(units)))
    return results
