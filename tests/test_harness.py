"""The evaluation harness: records, resume, failure isolation, provenance, one encoding per image."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sam_repro
from sam_repro.data import Sample, SampleSet
from sam_repro.eval.harness import evaluate
from sam_repro.eval.interactive import InteractiveProtocol
from sam_repro.eval.protocols import CENTER_POINT, TIGHT_BOX, noisy_box_protocol, points_protocol


class _Squares(SampleSet):
    """Five 64 px images with two squares each; sample ``broken`` raises on load."""

    name, split = "test/squares", "test"

    def __init__(self, broken: int | None = None):
        self.broken = broken

    def __len__(self) -> int:
        return 5

    def fingerprint(self) -> str:
        return "squares-v1"

    def load(self, index: int) -> Sample:
        if index == self.broken:
            raise OSError(f"cannot read sample {index}")
        image = np.full((64, 64, 3), 20, np.uint8)
        masks = np.zeros((2, 64, 64), bool)
        masks[0, 5 + index : 30 + index, 5:30] = True
        masks[1, 40:60, 35 + index : 60] = True
        image[masks.any(0)] = 200
        return Sample(id=f"sq{index}", image=image, masks=masks)


@pytest.fixture()
def segmenter():
    return sam_repro.load_segmenter("micro", random_init=True, device="cpu")


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def test_records_summary_and_provenance(segmenter, tmp_path: Path) -> None:
    summary = evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, progress=False)
    records = _records(tmp_path)
    assert [r["index"] for r in records] == list(range(5)) and all(len(r["objects"]) == 2 for r in records)
    ious = [o["iou"] for r in records for o in r["objects"]]
    assert summary["metrics"]["iou"]["value"] == pytest.approx(np.mean(ious)) and summary["objects"] == 10
    provenance = summary["provenance"]
    for key in ("sam_repro", "commit", "segmenter", "dataset", "protocol", "seed", "wall_seconds_this_run",
                "encoder_passes_this_run"):
        assert key in provenance
    assert provenance["dataset"] == {"name": "test/squares", "split": "test", "fingerprint": "squares-v1", "samples": 5}
    assert provenance["segmenter"]["backbone"] == "micro" and provenance["protocol"]["name"] == "tight_box"
    assert provenance["encoder_passes_this_run"] == 5  # one per image, both objects decoded on it
    assert json.loads((tmp_path / "summary.json").read_text())["objects"] == 10


def test_resume_neither_duplicates_nor_loses(segmenter, tmp_path: Path) -> None:
    evaluate(segmenter, _Squares(), noisy_box_protocol(0.4), tmp_path, limit=3, progress=False)
    with (tmp_path / "records.jsonl").open("a") as handle:
        handle.write('{"index": 3, "sample_id": "sq3", "sta')  # a run killed mid-write
    summary = evaluate(segmenter, _Squares(), noisy_box_protocol(0.4), tmp_path, progress=False)
    assert [r["index"] for r in _records(tmp_path)] == [0, 1, 2, 3, 4]
    assert summary["provenance"]["samples_this_run"] == 2 and summary["samples"] == 5
    fresh = evaluate(segmenter, _Squares(), noisy_box_protocol(0.4), tmp_path / "fresh", progress=False)
    assert fresh["metrics"]["iou"]["value"] == pytest.approx(summary["metrics"]["iou"]["value"])  # same prompts


def test_failing_sample_is_isolated(segmenter, tmp_path: Path) -> None:
    summary = evaluate(segmenter, _Squares(broken=2), points_protocol(3), tmp_path, progress=False)
    records = {r["index"]: r for r in _records(tmp_path)}
    assert records[2]["status"] == "failed" and "cannot read sample 2" in records[2]["error"]
    assert all(records[i]["status"] == "ok" for i in (0, 1, 3, 4))
    assert summary["samples"] == 4 and summary["failed_samples"] == 1


def test_interactive_protocol_records_click_sequences(segmenter, tmp_path: Path) -> None:
    protocol = InteractiveProtocol(max_clicks=5, target_iou=0.9)
    summary = evaluate(segmenter, _Squares(), protocol, tmp_path, limit=2, progress=False,
                       noc_targets=((0.85, 5), (0.9, 5)))
    objects = [o for r in _records(tmp_path) for o in r["objects"]]
    assert all(1 <= len(o["ious"]) <= 5 and len(o["clicks"]) == len(o["ious"]) for o in objects)
    nocs = [next((i + 1 for i, v in enumerate(o["ious"]) if v >= 0.9), 5) for o in objects]
    assert summary["metrics"]["nocfr_5"]["noc_5@90"] == pytest.approx(np.mean(nocs))
    assert summary["metrics"]["nocfr_5"]["value"] == summary["metrics"]["nocfr_5"]["noc_5@85"]
    assert summary["provenance"]["encoder_passes_this_run"] == 2  # every click decoded on one embedding


def test_center_point_protocol_runs(segmenter, tmp_path: Path) -> None:
    summary = evaluate(segmenter, _Squares(), CENTER_POINT, tmp_path, limit=1, progress=False)
    assert summary["objects"] == 2 and 0 <= summary["metrics"]["iou"]["value"] <= 1


def test_records_of_another_configuration_are_not_resumed(segmenter, tmp_path: Path) -> None:
    out = tmp_path / "run"
    evaluate(segmenter, _Squares(), TIGHT_BOX, out, limit=3, progress=False)
    same = evaluate(segmenter, _Squares(), TIGHT_BOX, out, limit=3, progress=False)
    assert same["provenance"]["samples_this_run"] == 0  # same configuration: resumed, nothing to do
    other = evaluate(segmenter, _Squares(), noisy_box_protocol(0.4), out, limit=3, progress=False)
    assert other["provenance"]["samples_this_run"] == 3  # another protocol: the old records are dropped
    assert len(_records(out)) == 3
    largest = evaluate(segmenter, _Squares(), TIGHT_BOX, out, limit=3, progress=False, max_objects=1)
    assert largest["provenance"]["samples_this_run"] == 3 and largest["objects"] == 3
    assert all(record["objects"][0]["object"] == 0 for record in _records(out))  # the larger square


# -- reliability (issue 21): one run per folder, failed samples retried, records that cannot glue ---------------
class _Flaky(_Squares):
    """Like :class:`_Squares`, but sample ``flaky`` fails on its first load only."""

    def __init__(self, flaky: int = 2):
        super().__init__()
        self.flaky, self.loads = flaky, 0

    def load(self, index: int) -> Sample:
        if index == self.flaky:
            self.loads += 1
            if self.loads == 1:
                raise OSError(f"first attempt at sample {index} failed")
        return super().load(index)


class _Gated(_Squares):
    """Like :class:`_Squares`, but loading sample ``gate`` waits until ``release`` is set (announcing it on
    ``reached``): a run that stays in progress while the test starts another one."""

    def __init__(self, gate: int = 2):
        import threading

        super().__init__()
        self.gate, self.reached, self.release = gate, threading.Event(), threading.Event()

    def load(self, index: int) -> Sample:
        if index == self.gate:
            self.reached.set()
            assert self.release.wait(60), "the test never released the first run"
        return super().load(index)


def test_a_second_run_into_the_same_folder_is_refused(segmenter, tmp_path: Path) -> None:
    import os
    import socket
    import threading

    from sam_repro.eval.harness import RunLockedError

    gated, results = _Gated(), {}
    first = threading.Thread(target=lambda: results.update(
        summary=evaluate(segmenter, gated, TIGHT_BOX, tmp_path, progress=False)))
    first.start()
    try:
        assert gated.reached.wait(60)  # the first run is inside its loop, holding the folder
        with pytest.raises(RunLockedError) as refused:
            evaluate(sam_repro.load_segmenter("micro", random_init=True, device="cpu"), _Squares(), TIGHT_BOX,
                     tmp_path, progress=False)
    finally:
        gated.release.set()
        first.join(60)
    message = str(refused.value)
    assert str(tmp_path) in message and f"pid {os.getpid()}" in message and socket.gethostname() in message
    assert [r["index"] for r in _records(tmp_path)] == [0, 1, 2, 3, 4]  # each sample once, from the first run
    assert results["summary"]["samples"] == 5
    assert evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, progress=False)["provenance"]["samples_this_run"] == 0


def test_a_failed_sample_is_retried_and_recorded_once(segmenter, tmp_path: Path) -> None:
    flaky = _Flaky()
    first = evaluate(segmenter, flaky, TIGHT_BOX, tmp_path, progress=False)
    assert first["failed_samples"] == 1 and first["retried_samples"] == 0
    assert first["failures"] == [{"index": 2, "error": "OSError: first attempt at sample 2 failed"}]
    again = evaluate(segmenter, flaky, TIGHT_BOX, tmp_path, progress=False)
    assert again["retried_samples"] == 1 and again["retried_still_failing"] == 0
    assert again["failed_samples"] == 0 and again["failures"] == [] and again["samples"] == 5
    assert again["provenance"]["samples_this_run"] == 1
    records = _records(tmp_path)
    assert sorted(r["index"] for r in records) == [0, 1, 2, 3, 4]  # the failed record is gone, not doubled
    assert all(r["status"] == "ok" for r in records)


def test_failed_samples_kept_or_retried_on_request(segmenter, tmp_path: Path) -> None:
    evaluate(segmenter, _Squares(broken=2), TIGHT_BOX, tmp_path, progress=False)
    kept = evaluate(segmenter, _Squares(broken=2), TIGHT_BOX, tmp_path, progress=False, retry_failed=False)
    assert kept["provenance"]["samples_this_run"] == 0 and kept["failed_samples"] == 1 and kept["retried_samples"] == 0
    retried = evaluate(segmenter, _Squares(broken=2), TIGHT_BOX, tmp_path, progress=False)
    assert retried["retried_samples"] == 1 and retried["retried_still_failing"] == 1
    assert retried["failures"] == [{"index": 2, "error": "OSError: cannot read sample 2"}]
    assert [r["index"] for r in _records(tmp_path)].count(2) == 1


def test_a_stateful_run_with_failures_restarts_to_retry(segmenter, tmp_path: Path) -> None:
    from sam_repro.methods.hooks import InteractionHooks

    evaluate(segmenter, _Flaky(), TIGHT_BOX, tmp_path, progress=False, hooks=(InteractionHooks(),))
    again = evaluate(segmenter, _Flaky(), TIGHT_BOX, tmp_path, progress=False, hooks=(InteractionHooks(),))
    assert again["provenance"]["samples_this_run"] == 5 and again["retried_samples"] == 1  # hook state is gone
    assert len(_records(tmp_path)) == 5


def test_an_unterminated_last_record_is_terminated_before_appending(segmenter, tmp_path: Path) -> None:
    evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, limit=3, progress=False)
    path = tmp_path / "records.jsonl"
    path.write_text(path.read_text().rstrip("\n"))  # the last write lost its newline
    summary = evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, progress=False)
    assert [r["index"] for r in _records(tmp_path)] == [0, 1, 2, 3, 4]  # no two records glued onto one line
    assert summary["samples"] == 5 and summary["provenance"]["samples_this_run"] == 2


def test_a_repeated_index_counts_once(segmenter, tmp_path: Path) -> None:
    from sam_repro.eval.harness import RecordsWarning, load_records

    evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, limit=2, progress=False)
    path = tmp_path / "records.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], lines[1].replace('"seconds": ', '"seconds": 99.0, "x": ')]) + "\n")
    with pytest.warns(RecordsWarning, match=r"index\(es\) \[1\]"):
        assert [r["index"] for r in load_records(tmp_path)] == [0, 1]
    with pytest.warns(RecordsWarning, match=r"\[1\]"):
        summary = evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, limit=2, progress=False)
    assert summary["samples"] == 2 and summary["objects"] == 4
    assert [r["index"] for r in _records(tmp_path)] == [0, 1]  # rewritten without the repeat


_HOLDING_RUN = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
import sam_repro
from sam_repro.eval.harness import evaluate
from sam_repro.eval.protocols import TIGHT_BOX
from test_harness import _Squares

class Stuck(_Squares):  # the test's samples; loading sample 2 never returns (the process is killed there)
    def load(self, index):
        if index == 2:
            Path(sys.argv[2]).touch()
            while True:
                time.sleep(0.05)
        return super().load(index)

evaluate(sam_repro.load_segmenter("micro", random_init=True, device="cpu"), Stuck(), TIGHT_BOX, sys.argv[1],
         progress=False)
"""


@pytest.mark.slow
def test_a_run_in_another_process_is_refused_and_its_death_frees_the_folder(segmenter, tmp_path: Path) -> None:
    """Two notebooks into one folder: the OS lock holds across processes, names the other process, and is
    released when that process is SIGKILLed mid-run; the next run resumes its records, each sample once."""
    import os
    import subprocess
    import sys
    import time

    from sam_repro.eval.harness import HOLDER_FILE, RunLockedError

    out, reached = tmp_path / "run", tmp_path / "reached"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    other = subprocess.Popen([sys.executable, "-c", _HOLDING_RUN, str(out), str(reached), str(Path(__file__).parent)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not reached.exists():
            assert other.poll() is None, f"the other run ended early:\n{other.stdout.read()}"
            assert time.monotonic() < deadline, "the other run never reached sample 2"
            time.sleep(0.05)
        with pytest.raises(RunLockedError) as refused:
            evaluate(segmenter, _Squares(), TIGHT_BOX, out, progress=False)
        assert str(out) in str(refused.value) and f"pid {other.pid}" in str(refused.value)
        assert [r["index"] for r in _records(out)] == [0, 1]  # nothing appended by the refused run
    finally:
        other.kill()  # SIGKILL: no cleanup runs in the other process
        other.wait(30)
    assert (out / HOLDER_FILE).exists()  # left behind by the killed run; the OS released its lock
    resumed = evaluate(segmenter, _Squares(), TIGHT_BOX, out, progress=False)
    assert resumed["provenance"]["samples_this_run"] == 3 and resumed["samples"] == 5
    assert [r["index"] for r in _records(out)] == [0, 1, 2, 3, 4]
    assert not (out / HOLDER_FILE).exists()


def test_records_glued_onto_one_line_by_an_older_version_are_split(segmenter, tmp_path: Path) -> None:
    """Before the fix, an unterminated last record had the next one appended onto its line, and every resume
    after that aborted. Such a line (complete records back to back) is split again, with a warning naming it;
    a line that is not records at all still stops the run, naming the file and the line."""
    from sam_repro.eval.harness import RecordsWarning, load_records

    evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, limit=3, progress=False)
    path = tmp_path / "records.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(f"{lines[0]}\n{lines[1]}{lines[2]}\n")  # what the old append made of a lost newline
    with pytest.warns(RecordsWarning, match=r"records\.jsonl: line 2 holds 2 records"):
        assert [r["index"] for r in load_records(tmp_path)] == [0, 1, 2]  # not dropped as a torn last line
    path.write_text(f"{lines[0]}{lines[1]}\n{lines[2]}\n")  # glued, then a later run appended: resume aborted
    with pytest.warns(RecordsWarning, match=r"records\.jsonl: line 1 holds 2 records"):
        summary = evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, progress=False)
    assert summary["samples"] == 5 and summary["provenance"]["samples_this_run"] == 2
    assert [r["index"] for r in _records(tmp_path)] == [0, 1, 2, 3, 4]  # split and rewritten, one per line
    path.write_text(f"{lines[0]}\nnot a record\n{lines[1]}\n")
    with pytest.raises(ValueError, match=r"records\.jsonl: line 2 is not a JSON record"):
        evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, progress=False)
