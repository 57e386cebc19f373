"""Papers' headline claims as checks over our result rows.

A :class:`Claim` restates one claim of ``paper_tables/CLAIMS.md`` and holds a function from a
:class:`~sam_repro.reproduce.results.ResultSet` to a :class:`~sam_repro.reproduce.results.Verdict`.
Checks are built from a few comparisons (:func:`compare_rows`, :func:`compare_values`) that report
every number they looked at, so a verdict can be audited, and that answer ``not run`` when our
records lack the numbers rather than guessing.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sam_repro.reproduce.results import ResultSet, Verdict


@dataclass(frozen=True)
class Claim:
    """One machine-checkable claim of a paper."""

    paper: str
    id: str
    statement: str
    check: Callable[[ResultSet], Verdict]

    def evaluate(self, results: ResultSet) -> Verdict:
        verdict = self.check(results)
        return Verdict(self.paper, self.id, self.statement, verdict.status, verdict.detail, verdict.evidence)


def _verdict(status: str, detail: str, evidence: list[dict] | None = None) -> Verdict:
    return Verdict("", "", "", status, detail, evidence or [])


def compare_rows(results: ResultSet, tables: Sequence[str], metric: str, better: str, worse: str, *,
                 lower_is_better: bool = True, strict: bool = True, required: str = "all",
                 min_fraction: float = 1.0) -> Verdict:
    """Does row ``better`` beat row ``worse`` on ``metric`` for every dataset of ``tables``?

    Args:
        strict: ``<`` (or ``>``) rather than ``<=``.
        required: ``"all"``: held iff it holds on every (table, dataset) with both numbers;
            ``"fraction"``: held iff it holds on at least ``min_fraction`` of them.

    Returns:
        ``not run`` when no (table, dataset) has both numbers.
    """
    evidence = []
    for table in tables:
        for dataset in results.datasets(table):
            a = results.value(table, dataset, better, metric)
            b = results.value(table, dataset, worse, metric)
            if a is None or b is None:
                continue
            if lower_is_better:
                ok = a < b if strict else a <= b
            else:
                ok = a > b if strict else a >= b
            evidence.append({"table": table, "dataset": dataset, better: a, worse: b, "holds": ok})
    if not evidence:
        return _verdict("not run", f"no dataset has both {better!r} and {worse!r} for {metric} in {list(tables)}")
    held = sum(e["holds"] for e in evidence)
    op = ("<" if strict else "<=") if lower_is_better else (">" if strict else ">=")
    cases = "; ".join(f"{e['table']}/{e['dataset']}: {e[better]:.3g} {op} {e[worse]:.3g}"
                      f"{'' if e['holds'] else ' (fails)'}" for e in evidence)
    ok = held == len(evidence) if required == "all" else held >= min_fraction * len(evidence)
    return _verdict("held" if ok else "not held", f"{metric} {better} {op} {worse} in {held}/{len(evidence)}: {cases}",
                    evidence)


def compare_values(name: str, value: float | None, bound: float | None, *, below: bool = True,
                   unit: str = "") -> Verdict:
    """``value < bound`` (``below``) or ``value > bound``; ``not run`` if either is missing."""
    if value is None or bound is None:
        return _verdict("not run", f"{name}: not measured")
    ok = value < bound if below else value > bound
    op = "<" if below else ">"
    return _verdict("held" if ok else "not held", f"{name}: {value:.4g}{unit} {op} {bound:.4g}{unit}",
                    [{"name": name, "value": value, "bound": bound, "holds": ok}])


def evaluate_claims(claims: Sequence[Claim], results: ResultSet) -> list[Verdict]:
    """Every claim's verdict; a check that raises is reported as ``not run`` with the error."""
    verdicts = []
    for claim in claims:
        try:
            verdicts.append(claim.evaluate(results))
        except Exception as error:  # a broken check must not hide the other verdicts
            verdicts.append(Verdict(claim.paper, claim.id, claim.statement, "not run",
                                    f"check raised {type(error).__name__}: {error}"))
    return verdicts
