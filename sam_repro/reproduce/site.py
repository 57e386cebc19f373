"""Browsable results: ``results/<profile>/index.html``, opened from disk without a server.

Every executed notebook of the profile is exported to HTML beside it (nbconvert's HTML exporter, outputs and
figures embedded), ``SUMMARY.md`` is rendered to ``SUMMARY.html`` (its figures are files beside it, linked
relatively), and ``index.html`` links them all. Every file is written to a temporary name and renamed, so a
reader never sees half a page.
"""
from __future__ import annotations

import html
import os
from pathlib import Path

INDEX_FILE = "index.html"
SUMMARY_HTML = "SUMMARY.html"

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}}
table{{border-collapse:collapse;font-size:0.9em}}td,th{{border:1px solid #ccc;padding:2px 6px}}
img{{max-width:100%}}code{{background:#f4f4f4}}</style></head>
<body>
{body}
</body></html>
"""


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def notebook_html(notebook: Path) -> Path:
    """Export an executed notebook to ``<name>.html`` beside it; returns the HTML path."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    target = notebook.with_suffix(".html")
    _write_atomic(target, body)
    return target


def summary_html(summary: Path) -> Path:
    """Render ``SUMMARY.md`` (or another markdown page, e.g. ``RUNS.md``; GitHub-style tables) to ``<name>.html``
    beside it."""
    import mistune

    render = mistune.create_markdown(plugins=["table"], escape=False)
    target = summary.with_suffix(".html")
    _write_atomic(target, _PAGE.format(title=html.escape(f"{summary.parent.name} {summary.stem.lower()}"),
                                       body=render(summary.read_text(encoding="utf-8"))))
    return target


def build_index(profile_dir: str | os.PathLike) -> Path:
    """Export every executed notebook under ``profile_dir``, render its SUMMARY.md, and write ``index.html`` linking
    them (relative links: the folder can be moved or opened from disk). Returns the index path."""
    root = Path(profile_dir)
    notebooks = sorted(p for p in root.rglob("*.ipynb") if not p.name.startswith(".")
                       and ".ipynb_checkpoints" not in p.parts)
    items = []
    for notebook in notebooks:
        try:
            page = notebook_html(notebook)
            items.append(f'<li><a href="{html.escape(page.relative_to(root).as_posix())}">'
                         f"{html.escape(notebook.relative_to(root).as_posix())}</a></li>")
        except Exception as error:  # one unreadable notebook must not cost the others their pages
            items.append(f"<li>{html.escape(notebook.relative_to(root).as_posix())}: could not be exported "
                         f"({html.escape(type(error).__name__)}: {html.escape(str(error))})</li>")
    summary = root / "SUMMARY.md"
    head = []
    if summary.is_file():
        summary_html(summary)
        head.append(f'<p><a href="{SUMMARY_HTML}">Summary: claim verdicts and paper vs ours</a></p>')
    runs = root / "RUNS.md"
    if runs.is_file():
        summary_html(runs)
        head.append('<p><a href="RUNS.html">Runs: where and how long each task ran</a></p>')
    body = (f"<h1>Results of profile <code>{html.escape(root.name)}</code></h1>" + "".join(head)
            + f"<h2>Executed notebooks ({len(notebooks)})</h2><ul>" + "".join(items) + "</ul>")
    index = root / INDEX_FILE
    _write_atomic(index, _PAGE.format(title=html.escape(f"sam-repro results: {root.name}"), body=body))
    return index
