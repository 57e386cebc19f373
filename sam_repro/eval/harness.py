"""The evaluation harness: a segmenter on a dataset under a prompt protocol, with metrics.

Writes, under ``out_dir``:

* ``records.jsonl``: one line per sample (its objects' metric values, or the error that made it
  fail), appended as each sample finishes; a re-run skips the samples already recorded, so an
  interrupted run resumes without duplicating or losing records (a torn last line is dropped);
* ``run_key.json``: what the records depend on (segmenter with its checkpoint hash, protocol, data,
  seed, object selection); records written under another key are discarded, not resumed;
* ``summary.json`` (atomically): aggregated metrics and provenance (package version and git commit,
  segmenter info with checkpoint sha256, dataset name/split/fingerprint, protocol, seed, device,
  wall time, encoder passes).

Objects are each mask of a sample (``Sample.masks``). The protocol (:class:`~sam_repro.eval.protocols.Protocol`)
runs the segmenter on a sample; the metrics (:class:`~sam_repro.eval.scoring.MetricSpec`: the package's
metric objects, each reading the binary mask, the probability map, the per-click IoUs or the image's
class map) score its output. Each record keeps every metric's per-sample statistics, and the summary is
each metric's ``compute()`` over the statistics replayed from the records, in one schema (see
:mod:`sam_repro.eval.scoring`). Each image is embedded once: all its objects and clicks are decoded
against the cached embedding.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sam_repro.data.catalog import SampleSet
from sam_repro.eval.protocols import Protocol, SampleOutput
from sam_repro.eval.provenance import environment
from sam_repro.eval.scoring import MetricSpec
from sam_repro.files import write_json_atomic
from sam_repro.methods.base import Segmenter

RECORD_FORMAT = 2
"""Version of the per-sample record layout (2: per-metric statistics under ``stats``)."""


def _read_records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records, lines = [], path.read_text().splitlines()
    for number, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except ValueError:
            if number != len(lines) - 1:
                raise ValueError(f"{path}: line {number + 1} is not JSON; delete the file to start over") from None
    if len(records) != len([line for line in lines if line.strip()]):  # torn last line: rewrite without it
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
        os.replace(tmp, path)
    return records


def load_records(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a finished (or interrupted) run under ``out_dir``, in index order, read-only (a torn last
    line is skipped, not repaired)."""
    path = Path(out_dir) / "records.jsonl"
    if not path.is_file():
        return []
    records = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except ValueError:
            if number != len(lines) - 1:
                raise ValueError(f"{path}: line {number + 1} is not JSON") from None
    return sorted(records, key=lambda r: r["index"])


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as handle:  # one write per record; flushed and synced before the next sample
        handle.write(json.dumps(record, default=float) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def select_objects(sample, min_object_area: int = 0, max_objects: int | None = None,
                   min_object_fraction: float = 0.0) -> list[int]:
    """Indices of the objects of ``sample`` to evaluate: at least ``min_object_area`` pixels and at least
    ``min_object_fraction`` of the image (and never empty), and at most ``max_objects`` of them (the largest,
    kept in their original order)."""
    areas = [int(np.count_nonzero(gt)) for gt in sample.masks]
    least = max(1, min_object_area, int(np.ceil(min_object_fraction * sample.masks[0].size)) if len(areas) else 1)
    kept = [k for k in range(len(sample.masks)) if areas[k] >= least]
    if max_objects is not None and len(kept) > max_objects:
        kept = sorted(sorted(kept, key=lambda k: (-areas[k], k))[:max_objects])
    return kept


def _metric_input(spec: MetricSpec, output) -> Any:
    if spec.reads == "mask":
        return output.mask
    if spec.reads == "probability":
        return output.probability
    if output.ious is None:
        raise ValueError(f"metric {spec.name!r} reads per-click IoUs, which this protocol does not produce")
    return output.ious


def _score(sample, output: SampleOutput, metrics: Sequence[MetricSpec],
           measurers: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Records of the objects and the image-level statistics of one sample."""
    objects = []
    for obj in output.objects:
        gt = sample.masks[obj.object]
        record: dict[str, Any] = {"object": obj.object, **obj.record}
        stats: dict[str, Any] = {}
        for spec in metrics:
            if spec.per_image:
                continue
            data = _metric_input(spec, obj)
            stats[spec.name] = measurers[spec.name].measure(data) if spec.reads == "ious" else \
                measurers[spec.name].measure(data, gt)
            if spec.per_object is not None:
                record[spec.name] = float(stats[spec.name][spec.per_object])
        record["stats"] = stats
        objects.append(record)
    image_stats: dict[str, Any] = {}
    for spec in metrics:
        if not spec.per_image:
            continue
        if output.class_map is None or sample.class_map is None:
            raise ValueError(f"metric {spec.name!r} scores class maps: the protocol must return one and the "
                             "sample must carry its ground-truth class_map")
        image_stats[spec.name] = measurers[spec.name].measure(output.class_map, sample.class_map)
    return objects, image_stats


def summarize(records: list[dict[str, Any]], metrics: Sequence[MetricSpec]) -> dict[str, Any]:
    """Counts of samples and objects, and every metric's entry (:meth:`MetricSpec.summarize`) over the
    statistics stored in the successful records."""
    ok = [r for r in records if r.get("status") == "ok"]
    objects = [obj for r in ok for obj in r["objects"]]
    summary: dict[str, Any] = {"samples": len(ok),
                               "failed_samples": sum(r.get("status") == "failed" for r in records),
                               "objects": len(objects), "metrics": {}}
    for spec in metrics:
        if spec.per_image:
            stats = [r["image_stats"][spec.name] for r in ok if spec.name in r.get("image_stats", {})]
        else:
            stats = [obj["stats"][spec.name] for obj in objects if spec.name in obj.get("stats", {})]
        summary["metrics"][spec.name] = spec.summarize(stats)
    return summary


def evaluate(segmenter: Segmenter, dataset: SampleSet, protocol: Protocol,
             out_dir: str | os.PathLike, *, metrics: Sequence[MetricSpec] | None = None, seed: int = 0,
             limit: int | None = None, hooks=(), progress: bool = True,
             noc_targets=((0.85, 20), (0.90, 20)), min_object_area: int = 0, min_object_fraction: float = 0.0,
             order_seed: int | None = None, max_objects: int | None = None) -> dict[str, Any]:
    """Evaluate and write ``records.jsonl`` and ``summary.json`` under ``out_dir``; return the summary.

    Args:
        protocol: how the segmenter runs on a sample (:class:`~sam_repro.eval.protocols.Protocol`).
        metrics: the metrics (:class:`~sam_repro.eval.scoring.MetricSpec`); None for IoU and boundary IoU,
            plus NoC / FR at ``noc_targets`` for protocols that click (``protocol.default_metrics``).
        limit: evaluate only the first ``limit`` samples.
        seed: prompts of sample i are drawn from ``default_rng([seed, i])``: the same whatever the order
            or resumption.
        hooks: interactive hooks (e.g. test-time adaptation). Hooks may carry state from one sample to
            the next (an adapted decoder), which is not checkpointed: an interrupted run with hooks
            restarts from its first sample instead of resuming.
        max_objects: evaluate at most this many objects per sample (the largest; None = all).
        order_seed: visit the samples in a permutation drawn with this seed (None: index order). The
            order matters only to stateful hooks; records stay keyed by sample index.
        min_object_fraction: objects smaller than this share of the image are not evaluated (the tiny SAM's
            targets count objects of at least 1% of the image).
        min_object_area: objects with fewer foreground pixels are not evaluated (0 = all non-empty
            objects; an empty mask has no box or click and is always skipped).
    """
    from tqdm.auto import tqdm

    metrics = list(protocol.default_metrics(noc_targets) if metrics is None else metrics)
    names = [spec.name for spec in metrics]
    if len(set(names)) != len(names):
        raise ValueError(f"metric names must be unique, got {names}")
    measurers = {spec.name: spec.factory() for spec in metrics}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records_path = out / "records.jsonl"
    count = len(dataset) if limit is None else min(limit, len(dataset))
    fingerprint = dataset.fingerprint()  # may hash files: once per call
    run_key = json.loads(json.dumps({
        "segmenter": segmenter.info(), "protocol": {"type": type(protocol).__name__, **dataclasses.asdict(protocol)},
        "dataset": [dataset.name, dataset.split, fingerprint], "seed": seed, "record_format": RECORD_FORMAT,
        "metrics": [spec.key() for spec in metrics],
        "min_object_area": min_object_area, "min_object_fraction": min_object_fraction, "max_objects": max_objects,
        "order_seed": order_seed,
    }, default=str))
    key_path = out / "run_key.json"
    if records_path.is_file() and (not key_path.is_file() or json.loads(key_path.read_text()) != run_key):
        records_path.unlink()  # records of another configuration (segmenter, protocol, data...): start over
    write_json_atomic(key_path, run_key)
    records = _read_records(records_path)
    stateful = bool(hooks) or "adapts" in segmenter.capabilities
    if stateful and records and {r["index"] for r in records} != set(range(count)):
        records_path.unlink()  # hook state of the interrupted run is gone: start over
        records = []
    done = {r["index"] for r in records}
    from sam_repro.methods.base import SamBacked

    engine = segmenter.engine if isinstance(segmenter, SamBacked) else None
    passes_before = engine.stats.encoder_passes if engine is not None else None
    start = time.perf_counter()
    order = range(count) if order_seed is None else np.random.default_rng(order_seed).permutation(count).tolist()
    todo = [i for i in order if i not in done]
    bar = tqdm(todo, disable=not progress or len(todo) < 5, unit="sample",
               desc=f"{dataset.name}:{dataset.split} / {segmenter.name} / {protocol.name}")
    for index in bar:
        bar.set_postfix_str(f"sample {index}", refresh=False)
        rng = np.random.default_rng([seed, index])
        t0 = time.perf_counter()
        try:
            sample = dataset[index]
            chosen = select_objects(sample, min_object_area, max_objects, min_object_fraction)
            output = protocol.run(segmenter, sample, chosen, rng, hooks)
            objects, image_stats = _score(sample, output, metrics, measurers)
            record = {"index": index, "sample_id": sample.id, "status": "ok", "objects": objects}
            if image_stats:
                record["image_stats"] = image_stats
        except Exception as error:  # one bad sample is recorded and the rest go on
            record = {"index": index, "sample_id": None, "status": "failed",
                      "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(limit=5)}
        record["seconds"] = round(time.perf_counter() - t0, 4)
        _append(records_path, record)
        records.append(record)
    records.sort(key=lambda r: r["index"])
    summary = summarize([r for r in records if r["index"] < count], metrics)
    summary["provenance"] = {
        **environment(),
        "segmenter": segmenter.info(),
        "dataset": {"name": dataset.name, "split": dataset.split, "fingerprint": fingerprint,
                    "samples": count},
        "protocol": {"type": type(protocol).__name__, **dataclasses.asdict(protocol)},
        "seed": seed,
        "min_object_area": min_object_area,
        "min_object_fraction": min_object_fraction,
        "order_seed": order_seed,
        "max_objects": max_objects,
        "wall_seconds_this_run": round(time.perf_counter() - start, 3),
        "samples_this_run": len(todo),
        "encoder_passes_this_run": None if engine is None else engine.stats.encoder_passes - passes_before,
    }
    write_json_atomic(out / "summary.json", summary)
    return summary
