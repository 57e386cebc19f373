"""Our numbers in the papers' terms, next to the papers' own.

A notebook that reproduces a paper's table writes ``results.json`` in its output directory
(:func:`write_results`): tidy rows (one number each, keyed like the paper's table: table id, the
paper's dataset name, the row key and the paper's metric name) and the verdicts of the paper's claims
checked over those rows. The runner reads them back into ``SUMMARY.md``.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from sam_repro.files import write_json_atomic

PAPER_TABLES_DIR = Path(__file__).resolve().parent / "paper_tables"
RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class ResultRow:
    """One of our numbers, keyed as in the paper.

    Attributes:
        paper: paper-table file stem (``sam_tta``, ``pisam``...).
        table: table id in that file (``table1``).
        dataset: the dataset name printed in the paper (``TrashCan``).
        row: the row key (a configuration or method name defined by the paper's module).
        metric: the paper's metric name (``NoC``, ``FR``), in the paper's scale.
        value: our number.
        stand_in: the dataset we ran instead (``synthetic/underwater``), or the real one.
        n: objects or images behind the number.
        values: the per-unit values behind ``value`` (per object for NoC, FR as 0/100, IoU...; per repeat for
            timings), so that claims can bootstrap an interval; empty when not recorded.
        units: the id of each value's unit (``sample_id#object``), so that two rows evaluated on the same
            objects are paired; empty when the order of ``values`` pairs them.
    """

    paper: str
    table: str
    dataset: str
    row: str
    metric: str
    value: float
    stand_in: str = ""
    n: int | None = None
    values: tuple[float, ...] = ()
    units: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        object.__setattr__(self, "units", tuple(str(u) for u in self.units))
        if self.units and len(self.units) != len(self.values):
            raise ValueError(f"{self.table}/{self.dataset}/{self.row}/{self.metric}: {len(self.units)} units for "
                             f"{len(self.values)} values")


VERDICTS = ("held", "not held", "inconclusive", "not run")


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one claim (see :mod:`sam_repro.reproduce.claims`).

    Attributes:
        status: ``held`` / ``not held`` (the interval supports the claim / its opposite), ``inconclusive``
            (it decides neither way), ``not run`` (our records lack the numbers).
        detail: every number looked at, in words.
        evidence: per case (table, dataset) the values, effect, interval, units and status.
        effect / low / high: the effect the claim is about and its 95% bootstrap interval.
        n: units (objects, repeats) behind the effect.
        paper_figure: the paper's own number for the claim.
    """

    paper: str
    claim: str
    statement: str
    status: str
    detail: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    effect: float | None = None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    paper_figure: str = ""

    def __post_init__(self) -> None:
        if self.status not in VERDICTS:
            raise ValueError(f"claim {self.claim}: status must be one of {VERDICTS}, got {self.status!r}")

    @property
    def effect_text(self) -> str:
        """``effect [low, high]`` (or ``–`` without one)."""
        if self.effect is None or math.isnan(self.effect):
            return "–"
        if self.low is None or self.high is None:
            return f"{self.effect:.3g}"
        return f"{self.effect:.3g} [{self.low:.3g}, {self.high:.3g}]"


class ResultSet:
    """Rows with lookup by (table, dataset, row, metric)."""

    def __init__(self, rows: Iterable[ResultRow]):
        self.rows = list(rows)
        self._index = {(r.table, r.dataset, r.row, r.metric): r for r in self.rows}

    def row(self, table: str, dataset: str, row: str, metric: str) -> ResultRow | None:
        return self._index.get((table, dataset, row, metric))

    def value(self, table: str, dataset: str, row: str, metric: str) -> float | None:
        found = self._index.get((table, dataset, row, metric))
        return None if found is None else found.value

    def datasets(self, table: str) -> list[str]:
        return sorted({r.dataset for r in self.rows if r.table == table})

    def tables(self) -> list[str]:
        return sorted({r.table for r in self.rows})

    def __len__(self) -> int:
        return len(self.rows)


def write_results(output_dir: str | Path, paper: str, rows: Sequence[ResultRow], verdicts: Sequence[Verdict],
                  extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``<output_dir>/results.json`` atomically; return its path."""
    clash = {"paper", "rows", "verdicts"} & set(extra or {})
    if clash:
        raise ValueError(f"extra must not redefine {sorted(clash)}")
    path = Path(output_dir) / RESULTS_FILE
    write_json_atomic(path, {"paper": paper, "rows": [asdict(r) for r in rows],
                             "verdicts": [asdict(v) for v in verdicts], **dict(extra or {})})
    return path


def read_results(path: str | Path) -> tuple[str, list[ResultRow], list[Verdict]]:
    """Read a ``results.json`` back (paper, rows, verdicts)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return (data["paper"], [ResultRow(**r) for r in data["rows"]], [Verdict(**v) for v in data["verdicts"]])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a results file written by write_results ({error})") from None


@lru_cache(maxsize=None)
def paper_tables(paper: str) -> dict[str, Any]:
    """The transcribed tables of ``paper`` (``paper_tables/<paper>.yaml``)."""
    path = PAPER_TABLES_DIR / f"{paper}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PAPER_TABLES_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"no paper table file {path.name}; known papers: {known}")
    return yaml.safe_load(path.read_text())


def paper_rows(paper: str, table: str) -> list[dict[str, Any]]:
    """The rows of one table of a paper, as transcribed (``dataset``, ``method``, ``config``, ``values``...)."""
    for entry in paper_tables(paper)["tables"]:
        if entry["id"] == table:
            return list(entry["rows"])
    raise KeyError(f"{paper}: no table {table!r}")


def comparison(paper: str, rows: Sequence[ResultRow], row_key, digits: int = 2) -> list[dict[str, Any]]:
    """Paper vs ours, one line per (table, dataset, row, metric) that we measured.

    Args:
        row_key: maps a transcribed paper row (dict) to our row key, or None when we have no such row.

    Returns:
        dicts with table, dataset, stand_in, row, metric, paper (text: '–' when the paper has no
        number there, a trailing '?' when the transcription marks the row uncertain), ours, n, and the
        numbers themselves: paper_value (None without one), ours_value, uncertain.
    """
    published: dict[tuple[str, str, str, str], tuple[float, bool]] = {}
    for table in sorted({r.table for r in rows}):
        try:
            transcribed = paper_rows(paper, table)
        except KeyError:  # a table the extraction lost (e.g. Stable-SAM's Table 8): ours only, nothing to pair
            continue
        for entry in transcribed:
            key = row_key(entry)
            if key is None:
                continue
            for metric, value in (entry.get("values") or {}).items():
                if isinstance(value, (int, float)):
                    published[(table, entry["dataset"], key, metric)] = (float(value), bool(entry.get("uncertain")))
    lines = []
    for r in rows:
        value, uncertain = published.get((r.table, r.dataset, r.row, r.metric), (None, False))
        paper_text = "–" if value is None else f"{value:.{digits}f}" + ("?" if uncertain else "")
        ours = r.value if math.isnan(r.value) else round(r.value, digits)
        lines.append({"table": r.table, "dataset": r.dataset, "stand_in": r.stand_in, "row": r.row,
                      "metric": r.metric, "paper": paper_text, "ours": ours, "n": r.n,
                      "paper_value": value, "ours_value": r.value, "uncertain": uncertain})
    return lines


def side_by_side(paper: str, rows: Sequence[ResultRow], table: str, row_key, digits: int = 3,
                 count: str = "objects") -> list[dict[str, Any]]:
    """For a notebook: one line per (dataset, row) of ``table``, each metric as ``"ours (paper)"`` (the paper's
    number of the row ``row_key`` pairs it with, '–' where it has none) and, under ``count``, the units behind ours.
    Row keys show ' | ' as ', ' (a '|' would split a markdown cell)."""
    lines: dict[tuple[str, str], dict[str, Any]] = {}
    for cell in comparison(paper, [r for r in rows if r.table == table], row_key, digits):
        shown = cell["row"].replace(" | ", ", ")
        line = lines.setdefault((cell["dataset"], cell["row"]), {"dataset": cell["dataset"], "row": shown})
        line[cell["metric"]] = f"{cell['ours_value']:.{digits}f} ({cell['paper']})"
        line[count] = cell["n"]
    return list(lines.values())
