"""Shared by the ``build_*_notebooks.py`` scripts: a notebook from (kind, source) cells, no outputs, stable cell ids."""
from __future__ import annotations

import hashlib

import nbformat


def cell_id(folder: str, stem: str, index: int) -> str:
    """A cell id derived from the notebook's folder, name and the cell's position (rebuilding gives the same file)."""
    return hashlib.sha1(f"{folder}/{stem}:{index}".encode()).hexdigest()[:8]


def build(cells: list[tuple[str, str]], folder: str, stem: str) -> nbformat.NotebookNode:
    """A v4 notebook of ``cells`` ((kind, source); kind ``markdown``, ``code`` or ``parameters``: a code cell tagged
    ``parameters`` for papermill), without outputs."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}}
    for index, (kind, source) in enumerate(cells):
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
        cell.id = cell_id(folder, stem, index)
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return notebook
