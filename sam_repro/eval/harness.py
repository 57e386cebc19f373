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

Objects are each mask of a sample (``Sample.masks``). Aggregation is the mean over objects (HQ-SAM's
per-object mIoU/mBIoU), NaN values skipped and counted. Each image is embedded once: all its
objects and clicks are decoded against the cached embedding.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sam_repro.data.catalog import SampleSet
from sam_repro.eval.interactive import InteractiveProtocol, run_interactive
from sam_repro.eval.protocols import PromptProtocol
from sam_repro.eval.provenance import environment
from sam_repro.methods.base import Segmenter
from sam_repro.reproduce.notebook_io import write_json_atomic

#: per-object metric: (predicted (H, W) bool mask, ground truth (H, W) bool) -> float
ObjectMetric = Callable[[np.ndarray, np.ndarray], float]


def default_metrics() -> dict[str, ObjectMetric]:
    """Mask IoU and boundary IoU (HQ-SAM's evaluation)."""
    from sam_repro.metrics import boundary_iou, iou

    return {"iou": iou, "biou": boundary_iou}


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


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as handle:  # one write per record; flushed and synced before the next sample
        handle.write(json.dumps(record, default=float) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _evaluate_sample(segmenter: Segmenter, sample, protocol, metrics: Mapping[str, ObjectMetric],
                     rng: np.random.Generator, hooks, min_object_area: int = 0,
                     max_objects: int | None = None) -> list[dict[str, Any]]:
    objects = []
    areas = [int(np.count_nonzero(gt)) for gt in sample.masks]
    kept = [(k, gt) for k, gt in enumerate(sample.masks) if areas[k] >= max(1, min_object_area)]
    if max_objects is not None and len(kept) > max_objects:  # the largest ones, in their original order
        largest = sorted(kept, key=lambda item: (-areas[item[0]], item[0]))[:max_objects]
        kept = sorted(largest, key=lambda item: item[0])
    if isinstance(protocol, InteractiveProtocol):
        for k, gt in kept:
            per_mask_names = sample.class_map is None and len(sample.class_names) == len(sample.masks)
            class_name = sample.class_names[k] if per_mask_names else None
            result = run_interactive(segmenter, sample.image, gt, protocol, sample_id=f"{sample.id}#{k}",
                                     hooks=hooks, rng=rng, class_name=class_name)
            record = {"object": k, **result.to_record()}
            record.update({name: float(fn(result.final_mask, gt)) for name, fn in metrics.items()})
            objects.append(record)
        return objects
    segmenter.set_image(sample.image)
    for k, gt in kept:
        prediction = segmenter.predict(**protocol.prompts_for(gt, rng))
        objects.append({"object": k, "predicted_iou": prediction.iou,
                        **{name: float(fn(prediction.mask, gt)) for name, fn in metrics.items()}})
    return objects


def summarize(records: list[dict[str, Any]], protocol, noc_targets=((0.85, 20), (0.90, 20))) -> dict[str, Any]:
    """Mean of every numeric per-object value over objects (NaN skipped and counted); NoC_n@T and
    FR_n@T (never reached within n clicks, in percent) for interactive protocols."""
    objects = [obj for r in records if r.get("status") == "ok" for obj in r["objects"]]
    summary: dict[str, Any] = {"samples": sum(r.get("status") == "ok" for r in records),
                               "failed_samples": sum(r.get("status") == "failed" for r in records),
                               "objects": len(objects), "metrics": {}}
    names = sorted({k for o in objects for k, v in o.items() if isinstance(v, (int, float)) and k != "object"})
    for name in names:
        values = np.array([o[name] for o in objects if name in o], dtype=float)
        finite = values[~np.isnan(values)]
        summary["metrics"][name] = {"mean": float(finite.mean()) if len(finite) else math.nan,
                                    "n": int(len(finite)), "nan": int(np.isnan(values).sum())}
    if isinstance(protocol, InteractiveProtocol) and objects:
        from sam_repro.metrics import NoCFR

        for threshold, clicks in noc_targets:
            if clicks > protocol.max_clicks:
                continue
            if protocol.target_iou is not None and threshold > protocol.target_iou:
                continue  # the loop stopped at the target: higher thresholds were not observed
            accumulator = NoCFR((threshold,), max_clicks=clicks)
            for obj in objects:
                accumulator.update(obj["ious"])
            summary["metrics"].update({k: v for k, v in accumulator.compute().items() if k != "n"})
    return summary


def evaluate(segmenter: Segmenter, dataset: SampleSet, protocol: PromptProtocol | InteractiveProtocol,
             out_dir: str | os.PathLike, *, metrics: Mapping[str, ObjectMetric] | None = None, seed: int = 0,
             limit: int | None = None, hooks=(), progress: bool = True,
             noc_targets=((0.85, 20), (0.90, 20)), min_object_area: int = 0,
             order_seed: int | None = None, max_objects: int | None = None) -> dict[str, Any]:
    """Evaluate and write ``records.jsonl`` and ``summary.json`` under ``out_dir``; return the summary.

    Args:
        limit: evaluate only the first ``limit`` samples.
        seed: prompts of sample i are drawn from ``default_rng([seed, i])``: the same whatever the order
            or resumption.
        hooks: interactive hooks (e.g. test-time adaptation). Hooks may carry state from one sample to
            the next (an adapted decoder), which is not checkpointed: an interrupted run with hooks
            restarts from its first sample instead of resuming.
        max_objects: evaluate at most this many objects per sample (the largest; None = all).
        order_seed: visit the samples in a permutation drawn with this seed (None: index order). The
            order matters only to stateful hooks; records stay keyed by sample index.
        min_object_area: objects with fewer foreground pixels are not evaluated (0 = all non-empty
            objects; an empty mask has no box or click and is always skipped).
    """
    from tqdm.auto import tqdm

    metrics = default_metrics() if metrics is None else dict(metrics)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records_path = out / "records.jsonl"
    count = len(dataset) if limit is None else min(limit, len(dataset))
    fingerprint = dataset.fingerprint()  # may hash files: once per call
    run_key = json.loads(json.dumps({
        "segmenter": segmenter.info(), "protocol": {"type": type(protocol).__name__, **dataclasses.asdict(protocol)},
        "dataset": [dataset.name, dataset.split, fingerprint], "seed": seed, "metrics": sorted(metrics),
        "min_object_area": min_object_area, "max_objects": max_objects, "order_seed": order_seed,
    }, default=str))
    key_path = out / "run_key.json"
    if records_path.is_file() and (not key_path.is_file() or json.loads(key_path.read_text()) != run_key):
        records_path.unlink()  # records of another configuration (segmenter, protocol, data...): start over
    write_json_atomic(key_path, run_key)
    records = _read_records(records_path)
    stateful = bool(hooks) or bool(getattr(segmenter, "interactive_hooks", ()))
    if stateful and records and {r["index"] for r in records} != set(range(count)):
        records_path.unlink()  # hook state of the interrupted run is gone: start over
        records = []
    done = {r["index"] for r in records}
    engine = getattr(segmenter, "engine", None)
    passes_before = engine.stats.encoder_passes if engine is not None else None
    start = time.perf_counter()
    order = range(count) if order_seed is None else np.random.default_rng(order_seed).permutation(count).tolist()
    todo = [i for i in order if i not in done]
    for index in tqdm(todo, disable=not progress or len(todo) < 5, desc=f"{segmenter.name} / {protocol.name}"):
        rng = np.random.default_rng([seed, index])
        t0 = time.perf_counter()
        try:
            sample = dataset[index]
            record = {"index": index, "sample_id": sample.id, "status": "ok",
                      "objects": _evaluate_sample(segmenter, sample, protocol, metrics, rng, hooks,
                                                 min_object_area, max_objects)}
        except Exception as error:  # one bad sample is recorded and the rest go on
            record = {"index": index, "sample_id": None, "status": "failed",
                      "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(limit=5)}
        record["seconds"] = round(time.perf_counter() - t0, 4)
        _append(records_path, record)
        records.append(record)
    records.sort(key=lambda r: r["index"])
    summary = summarize([r for r in records if r["index"] < count], protocol, noc_targets)
    summary["provenance"] = {
        **environment(),
        "segmenter": segmenter.info(),
        "dataset": {"name": dataset.name, "split": dataset.split, "fingerprint": fingerprint,
                    "samples": count},
        "protocol": {"type": type(protocol).__name__, **dataclasses.asdict(protocol)},
        "seed": seed,
        "min_object_area": min_object_area,
        "order_seed": order_seed,
        "max_objects": max_objects,
        "wall_seconds_this_run": round(time.perf_counter() - start, 3),
        "samples_this_run": len(todo),
        "encoder_passes_this_run": None if engine is None else engine.stats.encoder_passes - passes_before,
    }
    write_json_atomic(out / "summary.json", summary)
    return summary
