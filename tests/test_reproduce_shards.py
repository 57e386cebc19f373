"""Tasks and shards: grid shards of table notebooks (never splitting a dataset), sample shards in the harness (one
records folder per shard, merged without loss or repeats), summaries merged from every file on disk, per-task
locks, and the locations an installed package is told by option or environment variable."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest

import sam_repro
from sam_repro.data import Sample, SampleSet
from sam_repro.eval.harness import RunLockedError, _run_lock, evaluate, load_records, shard_folder
from sam_repro.eval.protocols import TIGHT_BOX
from sam_repro.reproduce.profiles import Profile, load_profile
from sam_repro.reproduce.results import ResultRow, write_results
from sam_repro.reproduce.summary import read_statuses, write_summary
from sam_repro.reproduce.tasks import expand, grid_shards, notebook_tasks


def _notebook(path: Path, parameters: str) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_grid_shards_cross_axes_and_deal_each_dataset_to_one_shard(tmp_path: Path) -> None:
    _notebook(tmp_path / "tta" / "tables.ipynb",
              "rows = ['baseline', 'R/U/CM']\nrare = ['A', 'B']\nmedical = ['M']\ncost = ['vit_b']\noutput_dir = 'x'")
    profile = Profile("p", "", notebooks={"tta/*": {"rare": ["A", "B", "C"]}},
                      shards={"tta/tables.ipynb": {"grid": [["rare", "medical"], "rows"], "once": {"cost": []}}})
    tasks = notebook_tasks("tta/tables.ipynb", profile, tmp_path)
    assert len(tasks) == 4 * 2  # (3 rare from the profile + 1 medical) x 2 rows
    assert tasks[0].id == "tta/tables.ipynb@rare=A,rows=baseline" and tasks[0].shard == {
        "rare": ["A"], "medical": [], "rows": ["baseline"]}
    assert tasks[1].label == "rare=A,rows=R_U_CM"  # '/' is not a file name character
    assert tasks[-1].shard == {"rare": [], "medical": ["M"], "rows": ["R/U/CM"], "cost": []}
    assert ["cost" in t.shard for t in tasks] == [False] + [True] * 7  # the timing runs once
    cells = {(d, r) for t in tasks for d in t.shard["rare"] + t.shard["medical"] for r in t.shard["rows"]}
    assert len(cells) == 8 and all(len(t.shard["rare"] + t.shard["medical"]) == 1 for t in tasks)
    root = tmp_path / "results" / "p"
    assert tasks[1].output_notebook(root) == root / "tta" / "tables@rare=A,rows=R_U_CM.ipynb"
    assert tasks[1].output_dir(root) == root / "tta" / "tables@rare=A,rows=R_U_CM"
    assert [t.id for t in expand(profile, [tmp_path / "tta" / "tables.ipynb"], tmp_path, exact=tasks[3].id)] \
        == [tasks[3].id]
    assert len(expand(profile, [tmp_path / "tta" / "tables.ipynb"], tmp_path, exact="tta/tables.ipynb")) == 8
    with pytest.raises(ValueError, match="no task 'tta/nope'"):
        expand(profile, [tmp_path / "tta" / "tables.ipynb"], tmp_path, exact="tta/nope")
    with pytest.raises(ValueError, match="must be a list"):
        grid_shards({"rows": "baseline"}, [["rows"]])


def test_sample_shards_wait_for_one_final_task(tmp_path: Path) -> None:
    _notebook(tmp_path / "eval.ipynb", "shard_index = 0\nnum_shards = 1\noutput_dir = 'x'")
    _notebook(tmp_path / "plain.ipynb", "output_dir = 'x'")
    profile = Profile("p", "", shards={"eval.ipynb": {"samples": 3}, "plain.ipynb": {"samples": 2}})
    tasks = notebook_tasks("eval.ipynb", profile, tmp_path)
    assert [t.id for t in tasks] == ["eval.ipynb@shard-0-of-3", "eval.ipynb@shard-1-of-3", "eval.ipynb@shard-2-of-3",
                                     "eval.ipynb"]
    assert tasks[1].shard == {"shard_index": 1, "num_shards": 3}
    assert tasks[-1].after == tuple(t.id for t in tasks[:3]) and not tasks[-1].shard
    root = tmp_path / "r"
    assert {t.output_dir(root) for t in tasks} == {root / "eval"}  # one harness folder, shard sub-folders inside
    with pytest.raises(ValueError, match="shard_index"):
        notebook_tasks("plain.ipynb", profile, tmp_path)


def test_the_full_profile_splits_the_tta_tables_into_cells() -> None:
    from sam_repro.reproduce.runner import NOTEBOOKS_DIR

    full = load_profile("full")
    tasks = notebook_tasks("sam_tta/tta_tables.ipynb", full, NOTEBOOKS_DIR)
    parameters = full.parameters_for("sam_tta/tta_tables.ipynb")
    datasets = parameters["rare_objects"] + parameters["medical"]
    assert len(tasks) == len(datasets) * len(parameters["rows"]) == 108
    cells = sorted((t.shard["rare_objects"] + t.shard["medical"], t.shard["rows"]) for t in tasks)
    assert all(len(d) == 1 and len(r) == 1 for d, r in cells)
    assert len({(d[0], r[0]) for d, r in cells}) == 108
    assert sum("cost_models" not in t.shard for t in tasks) == 1


class _Squares(SampleSet):
    name, split = "test/squares7", "test"

    def __len__(self) -> int:
        return 7

    def fingerprint(self) -> str:
        return "squares7-v1"

    def load(self, index: int) -> Sample:
        image = np.full((64, 64, 3), 20, np.uint8)
        masks = np.zeros((1, 64, 64), bool)
        masks[0, 5 + index: 30 + index, 5:40] = True
        image[masks[0]] = 200
        return Sample(id=f"sq{index}", image=image, masks=masks)


@pytest.fixture()
def segmenter():
    return sam_repro.load_segmenter("micro", random_init=True, device="cpu")


def _strip(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_harness_shards_merge_without_loss_or_repeats(segmenter, tmp_path: Path) -> None:
    whole = evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path / "whole", progress=False)
    sharded = tmp_path / "sharded"
    parts = [evaluate(segmenter, _Squares(), TIGHT_BOX, sharded, progress=False, shard_index=i, num_shards=3)
             for i in range(3)]
    assert [p["samples"] for p in parts] == [3, 2, 2]  # indices 0,3,6 / 1,4 / 2,5
    assert [r["index"] for r in load_records(shard_folder(sharded, 1, 3))] == [1, 4]
    assert parts[1]["provenance"]["shard"] == [1, 3]
    assert _strip(load_records(sharded)) == _strip(load_records(tmp_path / "whole"))  # merged from the shards
    merged = evaluate(segmenter, _Squares(), TIGHT_BOX, sharded, progress=False)  # adopts the shards' records
    assert merged["provenance"]["samples_this_run"] == 0
    assert merged["metrics"] == whole["metrics"] and merged["samples"] == 7
    assert [r["index"] for r in load_records(sharded)] == list(range(7))


def test_an_unfinished_shard_is_completed_by_the_unsharded_run(segmenter, tmp_path: Path) -> None:
    evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, progress=False, shard_index=0, num_shards=2)
    with _run_lock(shard_folder(tmp_path, 1, 2)):  # shard 1 is running (or its worker holds it)
        with pytest.raises(RunLockedError, match="shard-1-of-2"):
            evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, progress=False)
    summary = evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, progress=False)  # shard 1 never ran
    assert summary["samples"] == 7 and summary["provenance"]["samples_this_run"] == 3  # 1, 3, 5
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in records) == list(range(7))


def test_stateful_runs_and_bad_shards_are_refused(segmenter, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be sharded"):
        evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, progress=False, hooks=(object(),), shard_index=0,
                 num_shards=2)
    with pytest.raises(ValueError, match="shard_index"):
        evaluate(segmenter, _Squares(), TIGHT_BOX, tmp_path, progress=False, shard_index=2, num_shards=2)
    assert not (tmp_path / "records.jsonl").exists()


def _rows(dataset: str, rows: dict[str, float]) -> list[ResultRow]:
    return [ResultRow("sam_tta", "table1", dataset, row, "FR", base, values=tuple(base + (i % 3) for i in range(10)),
                      units=tuple(f"{dataset}{i}#0" for i in range(10))) for row, base in rows.items()]


def test_summary_merges_shards_and_reads_every_status_on_disk(tmp_path: Path) -> None:
    profile = Profile("t", "test")
    cells = {"CAMO": {"baseline": 40.0, "complete": 20.0}, "DOORS": {"baseline": 35.0, "complete": 30.0}}
    whole = tmp_path / "whole"
    write_results(whole / "t" / "tta" / "tables", "sam_tta", [r for d, c in cells.items() for r in _rows(d, c)], [])
    split = tmp_path / "split"
    for dataset, rows in cells.items():
        for row, value in rows.items():
            write_results(split / "t" / "tta" / f"tables@dataset={dataset},rows={row}", "sam_tta",
                          _rows(dataset, {row: value}), [])
    for root, name, status in ((split, "tta/a", "ok"), (split, "tta/b", "failed"), (whole, "tta/a", "ok"),
                               (whole, "tta/b", "failed")):
        (root / "t" / f"{name}.status.json").write_text(json.dumps({"notebook": f"{name}.ipynb", "status": status,
                                                                    "error": "boom" if status == "failed" else ""}))
    (split / "t" / "tta" / "c.status.json").write_text(json.dumps({"task": "tta/c.ipynb", "status": "running"}))
    text = {root: write_summary(profile, None, root).read_text() for root in (whole, split)}
    assert "| tta/a.ipynb | ok |" in text[split] and "| tta/b.ipynb | failed | boom |" in text[split]
    # nobody holds tta/c's lock: its worker died
    assert "| tta/c.ipynb | interrupted |" in text[split] and "3 tasks: 1 failed, 1 interrupted, 1 ok" in text[split]
    # claims and tables over the four shards are those over the whole table (only the sources line differs)
    claims = {root: "\n".join(line for line in text[root].split("\n## ", 1)[1].splitlines()
                              if not line.startswith("From ")) for root in text}
    assert claims[split] == claims[whole] and "**Claims**: 1 held" in claims[whole]
    assert (split / "t" / "sam_tta" / "paper_vs_ours.csv").read_text() == \
        (whole / "t" / "sam_tta" / "paper_vs_ours.csv").read_text()
    assert [s["status"] for s in read_statuses(split / "t")] == ["ok", "failed", "interrupted"]


def test_a_row_measured_twice_counts_once(tmp_path: Path) -> None:
    rows = _rows("CAMO", {"baseline": 40.0, "complete": 20.0})
    write_results(tmp_path / "t" / "a", "sam_tta", rows, [])
    write_results(tmp_path / "t" / "b", "sam_tta", rows[:1], [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = write_summary(Profile("t", ""), None, tmp_path).read_text()
    assert any("more than one results file" in str(w.message) for w in caught)
    csv = (tmp_path / "t" / "sam_tta" / "paper_vs_ours.csv").read_text().splitlines()
    assert len(csv) == 1 + 2 and "## sam_tta" in text


def test_a_task_locked_by_another_worker_is_not_run_twice(tmp_path: Path) -> None:
    from filelock import FileLock

    from sam_repro.reproduce.runner import run_task
    from sam_repro.reproduce.tasks import Task

    _notebook(tmp_path / "nb" / "a.ipynb", "output_dir = 'x'")
    task, profile = Task("a.ipynb", "a.ipynb"), Profile("t", "")
    with FileLock(task.lock_path(tmp_path / "r" / "t")):
        run = run_task(task, profile, notebooks_dir=tmp_path / "nb", results_dir=tmp_path / "r")
    assert run.status == "locked" and not task.output_notebook(tmp_path / "r" / "t").exists()
    assert not task.status_path(tmp_path / "r" / "t").exists()


def test_locations_come_from_the_environment_when_installed(tmp_path: Path, monkeypatch) -> None:
    import sam_repro.paths as paths
    from sam_repro.reproduce.notebook_io import resolve_output_dir
    from sam_repro.reproduce.runner import discover

    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path / "site-packages")  # no pyproject.toml: an installed package
    monkeypatch.chdir(tmp_path)
    assert not paths.is_checkout() and paths.work_dir() == tmp_path
    assert paths.results_dir() == tmp_path / "results"
    with pytest.raises(FileNotFoundError, match="SAM_REPRO_NOTEBOOKS"):
        discover()
    monkeypatch.setenv("SAM_REPRO_RESULTS", str(tmp_path / "shared"))
    monkeypatch.setenv("SAM_REPRO_NOTEBOOKS", str(tmp_path / "nbs"))
    _notebook(tmp_path / "nbs" / "x" / "a.ipynb", "output_dir = 'results/ci/x/a'")
    assert [p.name for p in discover()] == ["a.ipynb"]
    # a notebook run by hand writes its default results/ci/... output under $SAM_REPRO_RESULTS too
    assert resolve_output_dir("results/ci/x/a") == tmp_path / "shared" / "ci" / "x" / "a"
    assert resolve_output_dir("elsewhere") == tmp_path / "elsewhere"
