"""Shared by the ``build_*_notebooks.py`` scripts: a notebook from (kind, source) cells, no outputs, stable cell ids."""
from __future__ import annotations

import hashlib

import nbformat

CLAIMS_TABLE = '''display(Markdown(markdown_table([{"claim": v.claim, "statement": v.statement, "verdict": v.status,
                                  "effect [95% interval]": v.effect_text, "n": v.n, "paper": v.paper_figure}
                                 for v in verdicts])))
for v in verdicts:
    print(f"claim {v.claim} ({v.status}): {v.detail}")'''
"""The code that shows a notebook's claim verdicts (``verdicts``) as a table, then the numbers behind each."""


def sets_literal(stand_ins, *names: str) -> str:
    """A dict literal for a ``parameters`` cell: each paper dataset name -> its embedded stand-in (``stand_ins``: a
    paper module's ``STAND_INS``)."""
    return "{" + ", ".join(f"{name!r}: {stand_ins.synthetic[name]!r}" for name in names).replace("'", '"') + "}"


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
