"""Parallel executors without a cluster: the local pool and submitit's local executor give the sequential run's
SUMMARY.md byte for byte, a killed worker's task resumes with no record lost or repeated, and the SLURM dry run
writes the array script it would submit."""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from sam_repro.reproduce.executors import RunConfig, SlurmOptions, execute, run_pool, run_slurm
from sam_repro.reproduce.profiles import Profile
from sam_repro.reproduce.runner import profile_tasks
from sam_repro.reproduce.summary import read_statuses, write_summary

PROFILE = Profile(name="t", description="test profile", parameters={"scale": 1.0})

#: a notebook that reproduces a slice of the TTA paper's table 1 (deterministic numbers, per object, so that the
#: summary checks the paper's real claims over them) and records when it ran, so that a test can see two notebooks
#: overlap. It writes results.json as ``write_results`` does, without importing the package (and torch) in the kernel:
#: the summary recomputes every verdict from the rows anyway.
_TABLE = """
import json, pathlib, time
out = pathlib.Path(output_dir); out.mkdir(parents=True, exist_ok=True)
began = time.time(); time.sleep(sleep)
rows = []
for row, base in (("baseline", 30.0), ("complete", 20.0)):
    values = [base * scale + (i % 3) for i in range(12)]
    rows.append({"paper": "sam_tta", "table": "table1", "dataset": dataset, "row": row, "metric": "FR",
                 "value": sum(values) / len(values), "stand_in": "", "n": 12, "values": values,
                 "units": [f"s{i}#0" for i in range(12)]})
(out / "results.json").write_text(json.dumps({"paper": "sam_tta", "rows": rows, "verdicts": []}))
(out / "window.json").write_text(json.dumps([began, time.time()]))
"""


def _notebook(path: Path, parameters: str, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture()
def tables(tmp_path: Path) -> Path:
    notebooks = tmp_path / "notebooks"
    for name, dataset in (("camo", "CAMO"), ("trashcan", "TrashCan")):
        _notebook(notebooks / "tta" / f"{name}.ipynb",
                  f"dataset = {dataset!r}\nscale = 2.0\nsleep = 1.5\noutput_dir = 'unset'", _TABLE)
    return notebooks


def _config(notebooks: Path, results: Path) -> RunConfig:
    # one thread per kernel: the machine has two cores and the test must not oversubscribe them
    return RunConfig(PROFILE, notebooks, results, environment={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})


def _overlap(results: Path) -> float:
    windows = [json.loads(p.read_text()) for p in sorted(results.rglob("window.json"))]
    assert len(windows) == 2
    (a0, a1), (b0, b1) = windows
    return min(a1, b1) - max(a0, b0)


_FAKE_NVIDIA_SMI = """#!/bin/sh
case "$*" in
  *index,uuid,name*) printf '0, GPU-aaaa, NVIDIA H200\\n1, GPU-bbbb, NVIDIA H200\\n' ;;
  *) printf '0\\n1\\n' ;;
esac
"""


@pytest.fixture()
def two_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``nvidia-smi`` that lists two GPUs (the pool binds one worker to each; the notebooks run on CPU)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(_FAKE_NVIDIA_SMI)
    (bin_dir / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_one_worker_per_gpu_or_per_share_of_the_cores(two_gpus, monkeypatch: pytest.MonkeyPatch) -> None:
    from sam_repro.reproduce.executors import detect_gpus, worker_environments
    from sam_repro.reproduce.runner import visible_gpus

    assert detect_gpus() == ["0", "1"] and visible_gpus() == ["NVIDIA H200", "NVIDIA H200"]
    assert worker_environments(None, ["0", "1"]) == [{"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in worker_environments(3, ["0", "1"])] == ["0", "1", "0"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb")
    assert detect_gpus() == ["GPU-bbbb"] and visible_gpus() == ["NVIDIA H200"]
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    assert worker_environments(2, [], cpus=8) == [{"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"}] * 2
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the user's setting wins
    assert worker_environments(None, [], cpus=8)[0]["OMP_NUM_THREADS"] == "1"


@pytest.mark.slow
def test_the_pool_summary_equals_the_sequential_one(tables: Path, tmp_path: Path, two_gpus) -> None:
    tasks = profile_tasks(PROFILE, notebooks_dir=tables)
    assert [t.id for t in tasks] == ["tta/camo.ipynb", "tta/trashcan.ipynb"]
    runs = {}
    for executor in ("local", "pool"):
        config = _config(tables, tmp_path / executor)
        runs[executor] = execute(tasks, config, executor, verbose=False, summary=False)  # pool: one per GPU
        assert [r.status for r in runs[executor]] == ["ok", "ok"], runs[executor]
        write_summary(PROFILE, None, config.results_dir)
    sequential = (tmp_path / "local" / "t" / "SUMMARY.md").read_text()
    assert "| tta/camo.ipynb | ok |" in sequential and "From `tta/camo`, `tta/trashcan`." in sequential
    assert "**Claims**: 1 held" in sequential  # claim 1 (adaptation lowers FR) over both datasets' objects
    assert (tmp_path / "pool" / "t" / "SUMMARY.md").read_text() == sequential
    assert _overlap(tmp_path / "pool") > 0.3, "the two notebooks did not run at the same time"
    assert _overlap(tmp_path / "local") < 0  # the sequential run did run one after the other
    statuses = read_statuses(tmp_path / "pool" / "t")
    assert {s["executor"] for s in statuses} == {"pool"}
    assert sorted(s["cuda_visible_devices"] for s in statuses) == ["0", "1"]  # one notebook per GPU
    assert all(s["host"] and s["gpu"] == ["NVIDIA H200"] for s in statuses)
    assert "| NVIDIA H200 | 0 | pool |" in (tmp_path / "pool" / "t" / "RUNS.md").read_text()
    # the profile's parameters reached the notebooks (scale 1.0 instead of the notebook's 2.0)
    assert runs["pool"][0].parameters["scale"] == 1.0


@pytest.mark.slow
def test_submitit_local_executor_runs_the_tasks_as_submitit_jobs(tables: Path, tmp_path: Path) -> None:
    """The SLURM path (pickled Checkpointable tasks run by ``submitit.core._submit``) through submitit's local
    executor; its summary equals the one written from the same notebooks' results."""
    tasks = profile_tasks(PROFILE, notebooks_dir=tables)
    config = _config(tables, tmp_path / "submitit")
    runs = execute(tasks, config, "submitit-local", workers=2, verbose=False, summary=False)
    assert [(r.notebook, r.status) for r in runs] == [("tta/camo.ipynb", "ok"), ("tta/trashcan.ipynb", "ok")]
    statuses = read_statuses(tmp_path / "submitit" / "t")
    assert {s["executor"] for s in statuses} == {"submitit-local"}
    assert list((tmp_path / "submitit" / "t" / "_slurm" / "local").rglob("*_result.pkl"))  # submitit's own files
    assert all(json.loads(p.read_text())["rows"] for p in (tmp_path / "submitit" / "t").rglob("results.json"))


def _descendants(pid: int) -> list[int]:
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found += [int(child), *_descendants(int(child))]
    return found


_EVALUATION = """
import time
import numpy as np
import sam_repro
from sam_repro.data import Sample, SampleSet
from sam_repro.eval.harness import evaluate
from sam_repro.eval.protocols import TIGHT_BOX

class Slow(SampleSet):
    name, split = "test/slow", "test"
    def __len__(self): return samples
    def fingerprint(self): return "slow-v1"
    def load(self, index):
        time.sleep(0.2)
        image = np.full((64, 64, 3), 20, np.uint8)
        masks = np.zeros((1, 64, 64), bool); masks[0, 5 + index % 20: 40, 8:40] = True
        image[masks[0]] = 200
        return Sample(id=f"slow{index}", image=image, masks=masks)

segmenter = sam_repro.load_segmenter("micro", random_init=True, device="cpu")
evaluate(segmenter, Slow(), TIGHT_BOX, output_dir, progress=False)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the kernel process through /proc")
def test_a_killed_worker_task_resumes_with_no_record_lost_or_repeated(tmp_path: Path) -> None:
    notebooks, results = tmp_path / "notebooks", tmp_path / "results"
    _notebook(notebooks / "eval.ipynb", "samples = 16\noutput_dir = 'unset'", _EVALUATION)
    tasks = profile_tasks(PROFILE, notebooks_dir=notebooks)
    records = results / "t" / "eval" / "records.jsonl"
    killed = []

    def kill_when_recording(task, process) -> None:
        def watch() -> None:
            while process.is_alive():
                if records.is_file() and len(records.read_text().splitlines()) >= 4:
                    family = [process.pid, *_descendants(process.pid)]  # the worker and its kernel: a lost node
                    for pid in reversed(family):
                        os.kill(pid, signal.SIGKILL)
                    killed.append(len(records.read_text().splitlines()))
                    return
                time.sleep(0.05)
        threading.Thread(target=watch, daemon=True).start()

    config = _config(notebooks, results)
    (first,) = run_pool(tasks, config, workers=1, gpus=[], verbose=False, on_start=kill_when_recording)
    assert killed and first.status == "failed" and "exit code" in first.error
    (status,) = read_statuses(results / "t")
    assert status["status"] == "interrupted"  # "running" on disk, but nobody holds its lock
    before = [json.loads(line) for line in records.read_text().splitlines() if line.strip().endswith("}")]
    assert 4 <= len(before) < 16

    (second,) = run_pool(tasks, config, workers=1, gpus=[], verbose=False)
    assert second.status == "ok", second.error
    after = [json.loads(line) for line in records.read_text().splitlines()]
    indices = [r["index"] for r in after]
    assert sorted(indices) == list(range(16)) and len(indices) == 16  # 0 lost, 0 duplicated
    kept = {r["index"]: r for r in after}
    assert all(kept[r["index"]] == r for r in before)  # the records made before the kill were kept, not redone
    summary = json.loads((results / "t" / "eval" / "summary.json").read_text())
    assert summary["samples"] == 16 and summary["provenance"]["samples_this_run"] == 16 - len(before)


def test_slurm_dry_run_writes_the_array_script(tables: Path, tmp_path: Path) -> None:
    results = tmp_path / "shared" / "results"
    tasks = profile_tasks(PROFILE, notebooks_dir=tables)
    options = SlurmOptions(partition="gpu", time_min=90, cpus_per_task=6, mem_gb=32, array_parallelism=5,
                           setup=("source /opt/venv/bin/activate",), extra={"constraint": "a100"})
    outcome = run_slurm(tasks, RunConfig(PROFILE, tables, results), options, dry_run=True, verbose=False)
    folder = results / "t" / "_slurm"
    script = (folder / "array.sbatch").read_text()
    assert outcome["scripts"] == [str(folder / "array.sbatch")] and outcome["jobs"] == []
    assert script.startswith("#!/bin/bash")
    for line in ("#SBATCH --array=0-1%2", "#SBATCH --gpus-per-node=1", "#SBATCH --partition=gpu",
                 "#SBATCH --time=90", "#SBATCH --cpus-per-task=6", "#SBATCH --mem=32768MB",
                 "#SBATCH --constraint=a100", "#SBATCH --signal=USR2@90", "#SBATCH --ntasks-per-node=1", "#SBATCH --requeue",
                 "source /opt/venv/bin/activate"):
        assert line in script.splitlines(), line
    # each array task runs one pickled task through submitit, which requeues it on preemption / timeout
    assert "-m submitit.core._submit" in script and str(folder) in script and "%A_%a" in script
    assert [t["id"] for t in json.loads((folder / "tasks.json").read_text())] == [t.id for t in tasks]
    assert not list(results.rglob("*.status.json"))  # nothing ran


def test_cli_list_and_dry_run_from_any_directory(tables: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """The options (or SAM_REPRO_RESULTS / SAM_REPRO_NOTEBOOKS) locate everything: no checkout needed."""
    from sam_repro.cli import main

    monkeypatch.chdir(tmp_path)
    before = os.environ.get("SAM_REPRO_RESULTS")
    profile = tmp_path / "p.yaml"
    profile.write_text("name: p\ndescription: d\nshards:\n  'tta/camo.ipynb': {grid: [[dataset]]}\n")
    tables.joinpath("tta", "camo.ipynb").write_text(
        tables.joinpath("tta", "camo.ipynb").read_text().replace("dataset = 'CAMO'", "dataset = ['CAMO', 'DOORS']"))
    monkeypatch.setenv("SAM_REPRO_NOTEBOOKS", str(tables))
    assert main(["reproduce", "--profile", str(profile), "--list", "--results-dir", "shared"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in listing] == ["tta/camo.ipynb@dataset=CAMO", "tta/camo.ipynb@dataset=DOORS",
                                          "tta/trashcan.ipynb"]
    assert listing[0]["output"] == str(tmp_path / "shared" / "p" / "tta" / "camo@dataset=CAMO.ipynb")
    assert listing[0]["shard"] == {"dataset": ["CAMO"]} and listing[0]["status"] is None
    assert main(["reproduce", "--profile", str(profile), "--executor", "slurm", "--dry-run", "--results-dir",
                 "shared", "--notebook", "tta/camo.ipynb", "--partition", "a100"]) == 0
    script = (tmp_path / "shared" / "p" / "_slurm" / "array.sbatch").read_text()
    assert "#SBATCH --array=0-1%2" in script and "#SBATCH --partition=a100" in script
    assert main(["reproduce", "--profile", str(profile), "--notebook", "nope.ipynb"]) == 2
    assert "no task 'nope.ipynb'" in capsys.readouterr().err
    assert os.environ.get("SAM_REPRO_RESULTS") == before  # the options did not leak into this process


_FAKE_SBATCH = """#!/bin/sh
n=$(ls "$SBATCH_LOG" | wc -l)
cp "$1" "$SBATCH_LOG/$((n + 100)).sbatch"
echo "Submitted batch job $((n + 100))"
"""


def test_slurm_submission_waves_and_summary_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What reaches ``sbatch`` (a stand-in that keeps the scripts): the shard array, the final task after it, and a
    GPU-less summary job after both."""
    bin_dir, log = tmp_path / "bin", tmp_path / "submitted"
    bin_dir.mkdir()
    log.mkdir()
    for name, text in (("sbatch", _FAKE_SBATCH), ("srun", "#!/bin/sh\nexit 0\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_LOG", str(log))
    notebooks = tmp_path / "notebooks"
    _notebook(notebooks / "eval.ipynb", "shard_index = 0\nnum_shards = 1\noutput_dir = 'unset'", "pass")
    profile = Profile("t", "", shards={"eval.ipynb": {"samples": 3}})
    tasks = profile_tasks(profile, notebooks_dir=notebooks)
    outcome = run_slurm(tasks, RunConfig(profile, notebooks, tmp_path / "results"), SlurmOptions(partition="gpu"),
                        verbose=False)
    assert outcome["jobs"] == ["100", "101", "102"]
    shards, final, summary = (log / f"{n}.sbatch" for n in (100, 101, 102))
    assert "#SBATCH --array=0-2%3" in shards.read_text() and "--dependency" not in shards.read_text()
    assert "#SBATCH --dependency=afterany:100" in final.read_text() and "--array" not in final.read_text()
    assert "#SBATCH --gpus-per-node=1" in final.read_text()
    text = summary.read_text()
    assert "#SBATCH --dependency=afterany:101" in text and "gpus-per-node" not in text
    assert "#SBATCH --job-name=sam-repro-t-summary" in text
