"""One module per paper: its stand-in datasets, how our rows map onto its tables, its experiments
and its claims (as checks over our result rows).

A paper module (named like its ``paper_tables/<paper>.yaml``) defines ``PAPER``, ``CLAIMS`` (a list
of :class:`~sam_repro.reproduce.claims.Claim`) and ``row_key(transcribed_row) -> our row key | None``.
"""
from __future__ import annotations

import importlib
from types import ModuleType


def paper_module(paper: str) -> ModuleType | None:
    """The module of ``paper`` (e.g. ``sam_tta``), or None when the paper has none yet."""
    try:
        return importlib.import_module(f"{__name__}.{paper}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{paper}":
            raise
        return None
