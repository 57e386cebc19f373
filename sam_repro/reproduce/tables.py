"""Plain-text tables from result rows (no pandas dependency): markdown for notebooks and SUMMARY.md."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def format_value(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.{digits}f}"
    return "–" if value is None else str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                   headers: Mapping[str, str] | None = None, digits: int = 3) -> str:
    """A GitHub-markdown table of ``rows`` (dicts), one column per key in ``columns`` (default: the
    first row's keys); missing values print as '–'."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    headers = dict(headers or {})
    lines = ["| " + " | ".join(headers.get(c, c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(format_value(row.get(c), digits) for c in columns) + " |")
    return "\n".join(lines)
