"""The evaluation harness: a segmenter on a dataset under a prompt protocol, with metrics.

Writes, under ``out_dir``:

* ``records.jsonl``: one JSON object per line and per sample (its objects' metric values, or the error
  that made it fail, under ``"status": "ok"`` / ``"failed"``), appended as each sample finishes; a re-run
  skips the samples already recorded, so an interrupted run resumes without duplicating or losing records.
  Before appending, the file is repaired with one atomic rewrite: a torn last line (not JSON: a write cut
  short) is dropped, a complete last line whose ``\\n`` is missing is terminated (else the next append
  would glue two records onto one line), a line holding several complete records glued together (what
  older versions appended after such a line) is split into them, and a sample index recorded twice keeps
  its last record (each with a :class:`RecordsWarning` naming the line or the index). Samples recorded as
  failed are retried on resume by default (``retry_failed``): their failed records are removed in that
  rewrite, so no sample is counted twice;
* ``run_key.json``: what the records depend on (segmenter with its checkpoint hash, protocol, data,
  seed, object selection); records written under another key are discarded, not resumed. A missing or
  unreadable (corrupt, not JSON) ``run_key.json`` counts as another key: the run starts over, with a
  :class:`RecordsWarning` naming the file for a corrupt one (the records cannot be trusted to belong to
  this configuration, and the harness can always recompute them);
* ``run.lock`` and ``run.lock.holder.json``: for the length of a run the folder is locked
  (``filelock``, an exclusive OS lock, released by the OS if the process dies); the holder's
  ``{"pid", "hostname", "started"}`` sit in the JSON file beside it. A second run into the same folder
  does not wait: it raises :class:`RunLockedError` naming the folder and the holder, so two runs never
  append to one ``records.jsonl``;
* ``summary.json`` (atomically): aggregated metrics and provenance (package version and git commit,
  segmenter info with checkpoint sha256, dataset name/split/fingerprint, protocol, seed, device,
  wall time, encoder passes).

Shards (``shard_index`` / ``num_shards``, for plain evaluations spread over workers): shard ``i`` of ``n``
evaluates the samples whose index is ``i`` modulo ``n`` in its own folder ``out_dir/shard-<i>-of-<n>/`` (its own
records, run key, lock and summary: everything above holds per shard). An unsharded run into ``out_dir`` whose
``records.jsonl`` does not exist yet adopts the records of shard folders written under the same run key (holding
their locks while it reads them), so it only evaluates what the shards left undone and its summary covers every
sample; :func:`load_records` merges the shard folders likewise when ``records.jsonl`` is absent. Runs that carry
state from one sample to the next (hooks, an adapting segmenter) are never sharded.

Objects are each mask of a sample (``Sample.masks``). The protocol (:class:`~sam_repro.eval.protocols.Protocol`)
runs the segmenter on a sample; the metrics (:class:`~sam_repro.eval.scoring.MetricSpec`: the package's
metric objects, each reading the binary mask, the probability map, the per-click IoUs or the image's
class map) score its output. Each record keeps every metric's per-sample statistics, and the summary is
each metric's ``compute()`` over the statistics replayed from the records, in one schema (see
:mod:`sam_repro.eval.scoring`). Each image is embedded once: all its objects and clicks are decoded
against the cached embedding.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import time
import traceback
import warnings
from collections.abc import Iterator, Sequence
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


#: Lock file of a results folder (held for the length of a run) and the JSON file naming its holder.
LOCK_FILE = "run.lock"
HOLDER_FILE = "run.lock.holder.json"


class RunLockedError(RuntimeError):
    """Another run holds the lock of a results folder.

    Attributes:
        folder: the results folder.
        holder: what the holder wrote beside the lock, ``{"pid": int, "hostname": str, "started": str}``
            (``started`` in ISO 8601, local time), or None when it could not be read (the holder has not
            written it yet, or is a foreign process).
    """

    def __init__(self, folder: Path, holder: dict[str, Any] | None) -> None:
        if holder:
            who = (f"pid {holder.get('pid')} on host {holder.get('hostname')!r}"
                   + (f", running since {holder['started']}" if holder.get("started") else ""))
        else:
            who = f"a process that left no readable {HOLDER_FILE}"
        super().__init__(
            f"results folder {folder} is in use by another run ({who}); two runs may not append to one "
            f"records.jsonl. Wait for that run to finish (its lock {folder / LOCK_FILE} is released when it "
            "ends or dies), or write to another folder."
        )
        self.folder = folder
        self.holder = holder


class RecordsWarning(UserWarning):
    """A records folder held something the harness repaired or set aside (a repeated sample index, a corrupt
    ``run_key.json``); the message says what and which file."""


def _read_holder(path: Path) -> dict[str, Any] | None:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


@contextlib.contextmanager
def _run_lock(out: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``out`` (non-blocking: :class:`RunLockedError` when another run has it)."""
    from filelock import FileLock, Timeout

    lock = FileLock(out / LOCK_FILE)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        raise RunLockedError(out, _read_holder(out / HOLDER_FILE)) from None
    holder_path = out / HOLDER_FILE
    try:
        write_json_atomic(holder_path, {"pid": os.getpid(), "hostname": socket.gethostname(),
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        yield
    finally:
        # the holder file goes first: whoever sees the lock free never reads a stale holder
        holder_path.unlink(missing_ok=True)
        lock.release()


def _as_record(value: Any) -> dict[str, Any] | None:
    """``value`` when it is a record (a JSON object with an integer ``index``), else None."""
    return value if isinstance(value, dict) and isinstance(value.get("index"), int) else None


def _glued_records(line: str) -> list[dict[str, Any]] | None:
    """The records of a line that holds two or more complete records back to back (``{...}{...}``: what an
    older harness appended after a record whose ``\\n`` was lost), or None when the line is anything else."""
    decoder, records, position = json.JSONDecoder(), [], 0
    while position < len(line):
        try:
            value, position = decoder.raw_decode(line, position)
        except ValueError:
            return None
        record = _as_record(value)
        if record is None:
            return None
        records.append(record)
        while position < len(line) and line[position].isspace():
            position += 1
    return records if len(records) > 1 else None


def _parse_records(path: Path, text: str) -> tuple[list[dict[str, Any]], bool]:
    """The records in ``text`` (one JSON object with an integer ``index`` per line; blank lines skipped) and
    whether the file needs a rewrite before appending: its last line is torn (not a record: a write cut
    short) or a line held several records glued together (split here, with a :class:`RecordsWarning` naming
    the line).

    Raises:
        ValueError: a line other than the last is neither a record nor records glued together (the file is
            damaged, not interrupted).
    """
    lines = text.splitlines()
    records, repair = [], False
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = _as_record(json.loads(line))
        except ValueError:
            record = None
        if record is not None:
            records.append(record)
            continue
        glued = _glued_records(line)
        if glued is not None:
            warnings.warn(f"{path}: line {number + 1} holds {len(glued)} records glued together (a record whose "
                          "newline was lost, then an append); reading them as separate records",
                          RecordsWarning, stacklevel=3)
            records.extend(glued)
        elif number != len(lines) - 1:
            raise ValueError(f"{path}: line {number + 1} is not a JSON record; delete the file to start over")
        repair = True
    return records, repair


def _last_per_index(records: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    """``records`` with one record per sample index, the last written (file order kept); warns naming the
    repeated indices. Two runs appending to one file, or a retried sample whose failed record was not
    removed, leave such repeats: counting both would weigh the sample twice."""
    last = {record["index"]: position for position, record in enumerate(records)}
    if len(last) == len(records):
        return records
    repeated = sorted({r["index"] for position, r in enumerate(records) if last[r["index"]] != position})
    warnings.warn(f"{path}: sample index(es) {repeated} recorded more than once; keeping the last record of each",
                  RecordsWarning, stacklevel=3)
    return [r for position, r in enumerate(records) if last[r["index"]] == position]


def _rewrite_records(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace ``path`` by ``records``, one ``\\n``-terminated line each, atomically (temporary file, fsync,
    rename): a crash leaves the old file or the new one, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w") as handle:
            handle.write("".join(json.dumps(r, default=float) + "\n" for r in records))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _read_records(path: Path) -> list[dict[str, Any]]:
    """The records of ``path``, repaired for appending (the caller holds the run lock): a torn last line is
    dropped, an unterminated but complete last line is terminated, glued records are split, a repeated index
    keeps its last record; any of these rewrites the file atomically."""
    if not path.is_file():
        return []
    text = path.read_text()
    records, repair = _parse_records(path, text)
    kept = _last_per_index(records, path)
    if repair or len(kept) != len(records) or (text and not text.endswith("\n")):
        _rewrite_records(path, kept)
    return kept


def load_records(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a finished (or interrupted) run under ``out_dir``, in index order, read-only: a torn last
    line is skipped (not repaired), records glued onto one line are read as separate records, and a sample
    index recorded more than once keeps its last record (both with a :class:`RecordsWarning` naming the line
    or the index). Without ``records.jsonl``, the records of the shard folders (``shard-<i>-of-<n>/``, see the
    module docstring) merged."""
    path = Path(out_dir) / "records.jsonl"
    if not path.is_file():
        shards = shard_folders(out_dir)
        merged = [r for folder in shards for r in load_records(folder)]
        return sorted(_last_per_index(merged, Path(out_dir)), key=lambda r: r["index"]) if shards else []
    records, _ = _parse_records(path, path.read_text())
    return sorted(_last_per_index(records, path), key=lambda r: r["index"])


def shard_folder(out_dir: str | os.PathLike, shard_index: int, num_shards: int) -> Path:
    """The folder of shard ``shard_index`` of ``num_shards`` under ``out_dir``.

    Raises:
        ValueError: not ``0 <= shard_index < num_shards``.
    """
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index must be in [0, num_shards), got {shard_index} of {num_shards}")
    return Path(out_dir) / f"shard-{shard_index}-of-{num_shards}"


def shard_folders(out_dir: str | os.PathLike) -> list[Path]:
    """The shard folders under ``out_dir`` (``shard-<i>-of-<n>``), in shard order.

    Raises:
        ValueError: folders of two shardings (different ``n``) are mixed.
    """
    found = []
    for folder in Path(out_dir).glob("shard-*-of-*"):
        parts = folder.name.split("-")
        if folder.is_dir() and len(parts) == 4 and parts[1].isdigit() and parts[3].isdigit():
            found.append((int(parts[3]), int(parts[1]), folder))
    if len({n for n, _, _ in found}) > 1:
        raise ValueError(f"{out_dir}: shard folders of different shard counts {sorted({n for n, _, _ in found})}; "
                         "delete the ones of the abandoned sharding")
    return [folder for _, _, folder in sorted(found)]


def _adopt_shards(out: Path, records_path: Path, run_key: Any) -> None:
    """Gather into ``records_path`` the records of ``out``'s shard folders written under ``run_key`` (each shard's
    lock held meanwhile: a shard still running raises :class:`RunLockedError`)."""
    folders = shard_folders(out)
    if not folders:
        return
    with contextlib.ExitStack() as stack:
        for folder in folders:
            stack.enter_context(_run_lock(folder))
        adopted = [r for folder in folders if _read_run_key(folder / "run_key.json") == run_key
                   for r in _read_records(folder / "records.jsonl")]
        if adopted:
            _rewrite_records(records_path, sorted(_last_per_index(adopted, out), key=lambda r: r["index"]))
            write_json_atomic(out / "run_key.json", run_key)  # the adopted records are this configuration's


def _read_run_key(path: Path) -> Any:
    """The stored run key, or None when missing or unreadable (warned: the run then starts over)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (ValueError, OSError) as error:  # UnicodeDecodeError is a ValueError
        warnings.warn(f"{path} (run_key.json) is corrupt ({type(error).__name__}: {error}); the records beside it "
                      "cannot be matched to this configuration: discarding them and starting over",
                      RecordsWarning, stacklevel=3)
        return None


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
    """Counts of samples and objects, the failed samples (``failures``: ``[{"index": int, "error": str}]`` in
    index order) and every metric's entry (:meth:`MetricSpec.summarize`) over the statistics stored in the
    successful records."""
    ok = [r for r in records if r.get("status") == "ok"]
    failed = sorted((r for r in records if r.get("status") == "failed"), key=lambda r: r["index"])
    objects = [obj for r in ok for obj in r["objects"]]
    summary: dict[str, Any] = {"samples": len(ok), "failed_samples": len(failed),
                               "failures": [{"index": r["index"], "error": r.get("error")} for r in failed],
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
             order_seed: int | None = None, max_objects: int | None = None,
             retry_failed: bool = True, shard_index: int = 0, num_shards: int = 1) -> dict[str, Any]:
    """Evaluate and write ``records.jsonl`` and ``summary.json`` under ``out_dir``; return the summary.

    The folder is locked for the whole call (see the module docstring): a second run into the same
    ``out_dir`` raises :class:`RunLockedError` at once instead of appending to the same records.

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
        retry_failed: on resume, run again the samples recorded as failed (their failed records are
            replaced); False keeps them as failed. A stateful run (hooks, adapting segmenter) with failed
            samples restarts from its first sample instead, as the hook state they saw is gone.
        shard_index / num_shards: evaluate only the samples whose index is ``shard_index`` modulo ``num_shards``,
            in ``out_dir/shard-<shard_index>-of-<num_shards>/`` (see the module docstring); the unsharded run
            (``num_shards=1``, the default) adopts the shards' records.

    Returns:
        :func:`summarize`'s dict (``samples``, ``failed_samples``, ``failures``, ``objects``, ``metrics``) plus
        ``retried_samples`` (failed samples of earlier runs retried by this one), ``retried_still_failing``
        (how many of them failed again; their errors are in ``failures``) and ``provenance``.

    Raises:
        RunLockedError: another run holds ``out_dir`` (or, for an unsharded run adopting shards, a shard folder).
        ValueError: a stateful run (hooks, an adapting segmenter) asked to be sharded, or a bad shard index.
    """
    from tqdm.auto import tqdm

    metrics = list(protocol.default_metrics(noc_targets) if metrics is None else metrics)
    names = [spec.name for spec in metrics]
    if len(set(names)) != len(names):
        raise ValueError(f"metric names must be unique, got {names}")
    measurers = {spec.name: spec.factory() for spec in metrics}
    stateful = bool(hooks) or "adapts" in segmenter.capabilities
    out = Path(out_dir)
    if num_shards > 1:
        if stateful:  # its state runs over the sample sequence: a shard would start from an unadapted model
            raise ValueError("a run with hooks or an adapting segmenter carries state from sample to sample and "
                             "cannot be sharded; shard over datasets or configurations instead")
        out = shard_folder(out, shard_index, num_shards)
    elif num_shards != 1 or shard_index != 0:
        raise ValueError(f"num_shards must be >= 1 and shard_index 0 when unsharded, got {shard_index} of {num_shards}")
    out.mkdir(parents=True, exist_ok=True)
    with _run_lock(out):
        records_path = out / "records.jsonl"
        count = len(dataset) if limit is None else min(limit, len(dataset))
        fingerprint = dataset.fingerprint()  # may hash files: once per call
        run_key = json.loads(json.dumps({
            "segmenter": segmenter.info(),
            "protocol": {"type": type(protocol).__name__, **dataclasses.asdict(protocol)},
            "dataset": [dataset.name, dataset.split, fingerprint], "seed": seed, "record_format": RECORD_FORMAT,
            "metrics": [spec.key() for spec in metrics],
            "min_object_area": min_object_area, "min_object_fraction": min_object_fraction,
            "max_objects": max_objects, "order_seed": order_seed,
        }, default=str))
        key_path = out / "run_key.json"
        if num_shards == 1 and not records_path.is_file():
            _adopt_shards(out, records_path, run_key)
        if records_path.is_file() and _read_run_key(key_path) != run_key:
            records_path.unlink()  # records of another configuration (segmenter, protocol, data...): start over
        write_json_atomic(key_path, run_key)
        records = _read_records(records_path)
        retried = sorted(r["index"] for r in records if r.get("status") == "failed" and r["index"] < count) \
            if retry_failed else []
        if stateful and records and ({r["index"] for r in records} != set(range(count)) or retried):
            records_path.unlink()  # hook state of the interrupted (or failed) run is gone: start over
            records = []
        elif retried:
            # the failed records go before the samples are run again, so each sample is counted once
            records = [r for r in records if not (r.get("status") == "failed" and r["index"] < count)]
            _rewrite_records(records_path, records)
        done = {r["index"] for r in records}
        from sam_repro.methods.base import SamBacked

        engine = segmenter.engine if isinstance(segmenter, SamBacked) else None
        passes_before = engine.stats.encoder_passes if engine is not None else None
        start = time.perf_counter()
        order = range(count) if order_seed is None else np.random.default_rng(order_seed).permutation(count).tolist()
        todo = [i for i in order if i not in done and i % num_shards == shard_index]
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
        summary = summarize([r for r in records if r["index"] < count and r["index"] % num_shards == shard_index],
                            metrics)
        still_failing = {f["index"] for f in summary["failures"]}
        summary["retried_samples"] = len(retried)
        summary["retried_still_failing"] = sum(index in still_failing for index in retried)
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
            "shard": [shard_index, num_shards],
            "wall_seconds_this_run": round(time.perf_counter() - start, 3),
            "samples_this_run": len(todo),
            "encoder_passes_this_run": None if engine is None else engine.stats.encoder_passes - passes_before,
        }
        write_json_atomic(out / "summary.json", summary)
    return summary
