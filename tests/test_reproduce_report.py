"""What a researcher reads: rank agreement with the paper, the paper-vs-ours CSV and figure, and index.html that
opens from disk with every link resolving."""
from __future__ import annotations

import math
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from sam_repro.reproduce.compare import rank_agreement
from sam_repro.reproduce.site import build_index


def _cell(dataset: str, row: str, paper: float, ours: float, metric: str = "FR", table: str = "table1") -> dict:
    return {"table": table, "dataset": dataset, "row": row, "metric": metric, "paper_value": paper, "ours_value": ours}


def test_rank_agreement_by_hand() -> None:
    cells = [_cell("A", "x", 10, 1), _cell("A", "y", 20, 2), _cell("B", "x", 30, 4), _cell("B", "y", 40, 3),
             _cell("C", "x", 5, math.nan), _cell("C", "y", None, 1)]  # NaN and missing cells are left out
    (row,) = rank_agreement(cells)
    assert row["cells"] == 4 and row["row_pairs"] == 2 and row["same_order"] == 0.5  # A agrees, B does not
    assert row["spearman_rho"] == pytest.approx(0.8)  # ranks (1,2,3,4) vs (1,2,4,3)
    ties = rank_agreement([_cell("A", "x", 1, 5), _cell("A", "y", 1, 6)])
    assert ties[0]["row_pairs"] == 0 and math.isnan(ties[0]["same_order"]) and math.isnan(ties[0]["spearman_rho"])


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value and not value.startswith(("http", "#", "data:")):
                self.links.append(value)


def test_index_opens_from_disk_and_every_link_resolves(tmp_path: Path) -> None:
    root = tmp_path / "embedded"
    (root / "sam_tta" / "tta_tables").mkdir(parents=True)
    for name in ("sam_tta/tta_tables.ipynb", "data/synthetic_families.ipynb"):
        notebook = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("print('hi')")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
        notebook.cells = [nbformat.v4.new_markdown_cell("# A notebook"), cell]
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, root / name)
    (root / "sam_tta" / "paper_vs_ours.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "SUMMARY.md").write_text("# Summary\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                                     "![fig](sam_tta/paper_vs_ours.png)\n")
    index = build_index(root)
    for page in (index, root / "SUMMARY.html", root / "sam_tta" / "tta_tables.html"):
        parser = _Links()
        parser.feed(page.read_text())
        for link in parser.links:
            assert (page.parent / link).exists(), f"{page.name}: {link} does not resolve"
    text = index.read_text()
    assert "sam_tta/tta_tables.html" in text and "data/synthetic_families.html" in text and "SUMMARY.html" in text
    assert "<table>" in (root / "SUMMARY.html").read_text()  # the markdown tables are rendered
    assert not list(root.rglob(".*.tmp"))  # nothing half-written left behind
