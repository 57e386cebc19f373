"""The papermill runner: parameters injected, failures isolated, completed notebooks skipped."""
from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import nbformat
import pytest

from sam_repro.reproduce.profiles import Profile, list_profiles, load_profile
from sam_repro.reproduce.runner import discover, run_profile


def _notebook(path: Path, body: str, parameters: str = "value = 1\noutput_dir = 'unset'") -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture()
def tree(tmp_path: Path) -> tuple[Path, Path]:
    notebooks = tmp_path / "notebooks"
    _notebook(notebooks / "a" / "good.ipynb",
              "import pathlib\npathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)\n"
              "pathlib.Path(output_dir, 'value.txt').write_text(str(value))")
    _notebook(notebooks / "b" / "bad.ipynb", "raise ValueError('deliberate failure')")
    return notebooks, tmp_path / "results"


def test_profiles_load() -> None:
    assert {"ci", "embedded", "full"} <= set(list_profiles())
    assert load_profile("ci").name == "ci"
    with pytest.raises(FileNotFoundError, match="known profiles"):
        load_profile("nope")


def test_failure_is_isolated_and_completed_notebooks_are_skipped(tree) -> None:
    notebooks, results = tree
    profile = Profile(name="t", description="test", parameters={"value": 42, "not_declared": 3},
                      notebooks={"b/*": {"value": 7}})
    assert [p.name for p in discover(notebooks)] == ["good.ipynb", "bad.ipynb"]
    runs = {r.notebook: r for r in run_profile(profile, notebooks_dir=notebooks, results_dir=results, verbose=False)}
    good, bad = runs["a/good.ipynb"], runs["b/bad.ipynb"]
    assert good.status == "ok" and good.parameters == {"value": 42, "output_dir": str(results / "t" / "a" / "good")}
    assert (results / "t" / "a" / "good" / "value.txt").read_text() == "42"
    assert bad.status == "failed" and "deliberate failure" in bad.error and bad.failed_cell is not None
    assert bad.parameters["value"] == 7
    assert (results / "t" / "b" / "bad.ipynb").is_file()  # the failed notebook is kept as the report
    assert json.loads((results / "t" / "b" / "bad.status.json").read_text())["status"] == "failed"
    summary = (results / "t" / "SUMMARY.md").read_text()
    assert "| a/good.ipynb | ok |" in summary and "| b/bad.ipynb | failed |" in summary

    again = {r.notebook: r.status for r in run_profile(profile, notebooks_dir=notebooks, results_dir=results, verbose=False)}
    assert again == {"a/good.ipynb": "skipped", "b/bad.ipynb": "failed"}
    forced = run_profile(profile, notebooks_dir=notebooks, results_dir=results, only="good", force=True, verbose=False)
    assert [(r.notebook, r.status) for r in forced] == [("a/good.ipynb", "ok")]


def test_a_profile_skips_notebooks_and_says_why(tree, capsys) -> None:
    from sam_repro.reproduce.runner import profile_tasks, skipped_notebooks

    notebooks, results = tree
    profile = Profile(name="t", description="test", skip={"b/*": "evaluated with its authors' code at this scale"})
    assert [t.notebook for t in profile_tasks(profile, notebooks_dir=notebooks)] == ["a/good.ipynb"]
    assert skipped_notebooks(profile, notebooks_dir=notebooks) == {
        "b/bad.ipynb": "evaluated with its authors' code at this scale"}
    runs = run_profile(profile, notebooks_dir=notebooks, results_dir=results)
    assert [r.notebook for r in runs] == ["a/good.ipynb"]
    assert "skipped b/bad.ipynb: evaluated with its authors' code at this scale" in capsys.readouterr().out


def test_the_full_profile_names_every_dataset_of_each_paper_table() -> None:
    """For every notebook that reproduces paper tables, the full profile's parameters name every dataset of
    those tables (a full run that silently skipped datasets would still 'pass')."""
    from sam_repro.reproduce.papers import paper_module
    from sam_repro.reproduce.results import PAPER_TABLES_DIR, paper_rows
    from sam_repro.reproduce.runner import NOTEBOOKS_DIR, declared_parameters

    full = load_profile("full")
    checked = 0
    for paper in sorted(p.stem for p in PAPER_TABLES_DIR.glob("*.yaml")):
        module = paper_module(paper)
        for notebook, (tables, parameters) in getattr(module, "TABLE_NOTEBOOKS", {}).items():
            assert set(parameters) <= declared_parameters(NOTEBOOKS_DIR / notebook), notebook
            named = {d for p in parameters for d in full.parameters_for(notebook).get(p) or []}
            for table in tables:
                wanted = {row["dataset"] for row in paper_rows(paper, table)}
                assert wanted <= named, f"{notebook}: the full profile misses {sorted(wanted - named)} of {table}"
                checked += 1
    assert checked >= 4  # the TTA tables at least


@pytest.mark.parametrize("name", ["ci", "embedded", "full"])
def test_profile_overrides_name_real_notebooks_and_their_parameters(name: str) -> None:
    """Every per-notebook glob of a profile matches a notebook, and every parameter it sets is declared by each
    notebook it matches (a misspelt parameter would be injected nowhere and the run would silently use the default).
    Globs over many notebooks (``sam_tta/*``) need a parameter declared by at least one of them."""
    from sam_repro.reproduce.runner import NOTEBOOKS_DIR, declared_parameters

    profile = load_profile(name)
    notebooks = [p.relative_to(NOTEBOOKS_DIR).as_posix() for p in discover(NOTEBOOKS_DIR)]
    for pattern in [*profile.notebooks, *profile.shards, *profile.skip]:
        assert any(fnmatch.fnmatch(n, pattern) for n in notebooks), f"{name}: {pattern!r} matches no notebook"
    for pattern, overrides in profile.notebooks.items():
        matched = [n for n in notebooks if fnmatch.fnmatch(n, pattern)]
        declared = [declared_parameters(NOTEBOOKS_DIR / n) for n in matched]
        for parameter in overrides:
            if "*" in pattern:
                assert any(parameter in d for d in declared), f"{name}: {pattern} sets undeclared {parameter!r}"
            else:
                assert parameter in declared[0], f"{name}: {pattern} sets {parameter!r}, which it does not declare"
