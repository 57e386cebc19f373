"""Notebook conventions: committed without outputs, one parseable `parameters` cell whose defaults are
the embedded default, and an output directory parameter."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import papermill
import pytest

from sam_repro.paths import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").rglob("*.ipynb"))


def _id(path: Path) -> str:
    return path.relative_to(REPO_ROOT / "notebooks").as_posix()


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{_id(path)} cell {index} has outputs: clear them before committing"
            assert cell.execution_count is None, f"{_id(path)} cell {index} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_one_parameters_cell_that_papermill_fully_parses(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{_id(path)}: expected one cell tagged 'parameters', found {len(cells)}"
    tree = ast.parse(cells[0].source)
    assigned = {target.id for node in tree.body if isinstance(node, ast.Assign) for target in node.targets}
    # papermill silently ignores the rest of the cell after a line it cannot parse (e.g. '=' in a comment)
    assert set(papermill.inspect_notebook(str(path))) == assigned
    defaults = {target.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets}
    assert str(defaults.get("output_dir", "")).startswith("results/ci/"), "needs an output_dir under results/smoke"
    if "backbone" in defaults:
        assert defaults["backbone"] == "tiny", "the default backbone is the embedded tiny SAM"
    if "device" in defaults:
        assert defaults["device"] == "cpu"
