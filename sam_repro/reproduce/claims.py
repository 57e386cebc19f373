"""Papers' headline claims as checks over our result rows, with the evidence behind each verdict.

A :class:`Claim` restates one claim of ``paper_tables/CLAIMS.md`` and holds a function from a
:class:`~sam_repro.reproduce.results.ResultSet` to a :class:`~sam_repro.reproduce.results.Verdict`.

Every verdict carries its evidence: the effect the claim is about (a paired difference of means, or a
ratio), its 95% interval from a seeded bootstrap over the unit the claim is about (the objects both rows
were evaluated on, or the timing repeats), and how many units and cases stand behind it. A claim is

* ``held`` only when the interval supports it (lies entirely on the claimed side of zero, or of the bound),
* ``not held`` when the interval supports the opposite,
* ``inconclusive`` otherwise: too few objects, ties (an effect of exactly zero never supports a strict
  claim), or an interval that straddles zero,
* ``not run`` when our records lack the numbers.

Claims over many cases ("on every dataset", "in most cases") count the cases whose own interval decides
them: "every" is held when every case is held and not held as soon as one case supports the opposite;
"most" is held when the held cases alone are a strict majority and not held when even the undecided
ones could not make one. The bootstrap is ``scipy.stats.bootstrap`` (percentile intervals), seeded, so the
same records give the same interval.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sam_repro.reproduce.results import ResultRow, ResultSet, Verdict

CONFIDENCE = 0.95
RESAMPLES = 4000
SEED = 0
MIN_UNITS = 2
"""Fewest units (objects, images, repeats) an interval is drawn from: one unit has no spread to tell noise from an
effect, so its interval is unbounded (-inf, inf) and decides nothing (the claim is ``inconclusive``)."""


@dataclass(frozen=True)
class Claim:
    """One machine-checkable claim of a paper.

    Attributes:
        paper / id / statement: as in ``CLAIMS.md``.
        check: results -> verdict.
        paper_figure: the paper's own number for the claim (e.g. "19 of 24 cases", "3.33x"), shown beside ours.
    """

    paper: str
    id: str
    statement: str
    check: Callable[[ResultSet], Verdict]
    paper_figure: str = ""

    def evaluate(self, results: ResultSet) -> Verdict:
        verdict = self.check(results)
        return Verdict(self.paper, self.id, self.statement, verdict.status, verdict.detail, verdict.evidence,
                       verdict.effect, verdict.low, verdict.high, verdict.n, self.paper_figure)


def _verdict(status: str, detail: str, evidence: list[dict] | None = None, effect: float | None = None,
             low: float | None = None, high: float | None = None, n: int | None = None) -> Verdict:
    return Verdict("", "", "", status, detail, evidence or [], effect, low, high, n)


def not_run(detail: str) -> Verdict:
    """A verdict without numbers: ``not run``, saying why."""
    return _verdict("not run", detail)


def unchecked(reason: str) -> Callable[[ResultSet], Verdict]:
    """A claim's check for a claim this suite does not decide: always :func:`not_run` with ``reason``."""
    def check(results: ResultSet) -> Verdict:
        return not_run(reason)
    return check


# -- intervals ----------------------------------------------------------------------------------------------
def mean_interval(values: Sequence[float], *, seed: int = SEED, confidence: float = CONFIDENCE,
                  resamples: int = RESAMPLES) -> tuple[float, float, float]:
    """Mean of ``values`` and its bootstrap interval (percentile, seeded); all equal without spread among at least
    :data:`MIN_UNITS` values; unbounded for fewer."""
    from scipy.stats import bootstrap

    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    effect = float(x.mean())
    if x.size < MIN_UNITS:
        return effect, -math.inf, math.inf
    if np.all(x == x[0]):
        return effect, effect, effect
    result = bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=resamples, method="percentile",
                       random_state=np.random.default_rng(seed), vectorized=True)
    return effect, float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_mean_difference(a: Sequence[float], b: Sequence[float], *, seed: int = SEED,
                           confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> tuple[float, float, float]:
    """Mean of ``a - b`` over paired units and its bootstrap interval (:func:`mean_interval` of the differences).

    Returns:
        (effect, low, high); all three equal when every difference is the same (no spread to resample),
        NaN for no units.
    """
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return mean_interval(diff, seed=seed, confidence=confidence, resamples=resamples)


def ratio_of_means(num: Sequence[float], den: Sequence[float], *, seed: int = SEED, confidence: float = CONFIDENCE,
                   resamples: int = RESAMPLES) -> tuple[float, float, float]:
    """mean(num) / mean(den) of two independent samples (e.g. timing repeats) and its bootstrap interval."""
    from scipy.stats import bootstrap

    x, y = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    if x.size == 0 or y.size == 0:
        return math.nan, math.nan, math.nan
    effect = float(x.mean() / y.mean())
    if min(x.size, y.size) < MIN_UNITS:
        return effect, -math.inf, math.inf
    if np.all(x == x[0]) and np.all(y == y[0]):
        return effect, effect, effect

    def statistic(a, b, axis=-1):
        return np.mean(a, axis=axis) / np.mean(b, axis=axis)

    result = bootstrap((x, y), statistic, confidence_level=confidence, n_resamples=resamples, method="percentile",
                       random_state=np.random.default_rng(seed), vectorized=True)
    return effect, float(result.confidence_interval.low), float(result.confidence_interval.high)


def side(low: float, high: float, bound: float = 0.0, lower_is_claimed: bool = True) -> str:
    """Which way an interval decides a claim that the effect lies below ``bound`` (or above it when
    ``lower_is_claimed`` is False): ``held``, ``not held`` or ``inconclusive`` (touching the bound included)."""
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    below, above = high < bound, low > bound
    if lower_is_claimed:
        return "held" if below else "not held" if above else "inconclusive"
    return "held" if above else "not held" if below else "inconclusive"


def _paired(a: ResultRow, b: ResultRow) -> tuple[list[float], list[float]] | None:
    """The per-unit values of two rows on the units they share (in ``a``'s order), or None without them."""
    if not a.values or not b.values:
        return None
    if a.units and b.units:
        other = dict(zip(b.units, b.values))
        shared = [(va, other[u]) for u, va in zip(a.units, a.values) if u in other]
        return [x for x, _ in shared], [y for _, y in shared]
    if len(a.values) != len(b.values):
        return None
    return list(a.values), list(b.values)


def _fmt(effect: float | None, low: float | None, high: float | None) -> str:
    if effect is None or math.isnan(effect):
        return "n/a"
    return f"{effect:+.3g} [{low:+.3g}, {high:+.3g}]"


def combine(statuses: Sequence[str], required: str = "all", min_fraction: float = 1.0) -> str:
    """A many-case claim's status from its cases' statuses (see the module docstring).

    Args:
        required: ``"all"`` (every case), ``"majority"`` (a strict majority) or ``"fraction"`` (at least
            ``min_fraction`` of the cases).
    """
    n = len(statuses)
    held = sum(s == "held" for s in statuses)
    against = sum(s == "not held" for s in statuses)
    open_ = n - held - against
    if required == "all":
        return "held" if held == n else "not held" if against else "inconclusive"
    if required == "majority":
        return "held" if held > n / 2 else "not held" if held + open_ <= n / 2 else "inconclusive"
    if required == "fraction":
        return "held" if held >= min_fraction * n else "not held" if held + open_ < min_fraction * n else \
            "inconclusive"
    raise ValueError(f"required must be 'all', 'majority' or 'fraction', got {required!r}")


@dataclass(frozen=True)
class Case:
    """One case of a many-case claim: row ``a`` against row ``b`` (the claim: ``a`` below ``b`` when lower is
    claimed), labelled for the report."""

    label: str
    a: ResultRow
    b: ResultRow


def compare_cases(cases: Sequence[Case], *, lower_is_claimed: bool = True, required: str = "all",
                  min_fraction: float = 1.0, description: str = "", seed: int = SEED) -> Verdict:
    """Decide each case by the paired bootstrap interval of ``a - b`` over the units both rows were measured
    on, and the claim from its cases (:func:`combine`). The verdict's effect is the pooled paired difference
    over every unit of every case; ``n`` counts those units.

    Returns:
        ``not run`` for no case; cases without per-unit values are inconclusive.
    """
    if not cases:
        return _verdict("not run", f"{description}: no case has both numbers")
    evidence, pooled_a, pooled_b = [], [], []
    for case in cases:
        pairs = _paired(case.a, case.b)
        entry: dict = {"case": case.label, "a": case.a.value, "b": case.b.value}
        if pairs is None or not pairs[0]:
            entry.update(status="inconclusive", n=0, effect=None, low=None, high=None,
                         note="no per-object values: no interval")
        else:
            effect, low, high = paired_mean_difference(*pairs, seed=seed)
            entry.update(status=side(low, high, lower_is_claimed=lower_is_claimed), n=len(pairs[0]), effect=effect,
                         low=low, high=high)
            pooled_a += pairs[0]
            pooled_b += pairs[1]
        evidence.append(entry)
    status = combine([e["status"] for e in evidence], required, min_fraction)
    effect, low, high = paired_mean_difference(pooled_a, pooled_b, seed=seed) if pooled_a else (None, None, None)
    counts = {s: sum(e["status"] == s for e in evidence) for s in ("held", "not held", "inconclusive")}
    need = {"all": "every case", "majority": "a strict majority of cases",
            "fraction": f">= {min_fraction:.0%} of cases"}.get(required, required)
    cases_text = "; ".join(f"{e['case']}: {e['a']:.3g} vs {e['b']:.3g}, {_fmt(e['effect'], e['low'], e['high'])} "
                           f"(n={e['n']}) {e['status']}" for e in evidence)
    detail = (f"{description} needed in {need}: {counts['held']} held, {counts['not held']} against, "
              f"{counts['inconclusive']} inconclusive of {len(evidence)}; pooled difference "
              f"{_fmt(effect, low, high)}. {cases_text}")
    return _verdict(status, detail, evidence, effect, low, high, len(pooled_a))


def compare_rows(results: ResultSet, tables: Sequence[str], metric: str, better: str, worse: str, *,
                 lower_is_better: bool = True, required: str = "all", min_fraction: float = 1.0,
                 seed: int = SEED) -> Verdict:
    """Does row ``better`` beat row ``worse`` on ``metric`` in every (table, dataset) where both exist
    (:func:`compare_cases`; the effect is ``better - worse``, below zero when ``lower_is_better``)?"""
    cases = [Case(f"{table}/{dataset}", a, b) for table in tables for dataset in results.datasets(table)
             if (a := results.row(table, dataset, better, metric)) is not None
             and (b := results.row(table, dataset, worse, metric)) is not None]
    op = "<" if lower_is_better else ">"
    if not cases:
        return _verdict("not run", f"no dataset has both {better!r} and {worse!r} for {metric} in {list(tables)}")
    return compare_cases(cases, lower_is_claimed=lower_is_better, required=required, min_fraction=min_fraction,
                         description=f"{metric} {better} {op} {worse}", seed=seed)


def compare_mean(name: str, row: ResultRow | None, bound: float, *, above: bool = True, seed: int = SEED) -> Verdict:
    """Is the mean of a row's per-unit values at least (``above``) or at most ``bound``? Held when its bootstrap
    interval lies entirely on that side (the bound itself included), not held when entirely on the other."""
    if row is None:
        return _verdict("not run", f"{name}: not measured")
    if not row.values:
        return _verdict("inconclusive", f"{name}: {row.value:.4g} (no per-object values: no interval)", effect=row.value)
    effect, low, high = mean_interval(row.values, seed=seed)
    if above:
        status = "held" if low >= bound else "not held" if high < bound else "inconclusive"
    else:
        status = "held" if high <= bound else "not held" if low > bound else "inconclusive"
    op = ">=" if above else "<="
    return _verdict(status, f"{name}: {effect:.4g} [{low:.4g}, {high:.4g}] {op} {bound:.4g} ({len(row.values)} objects)",
                    [{"name": name, "effect": effect, "low": low, "high": high, "bound": bound}], effect, low, high,
                    len(row.values))


def compare_ratio(name: str, num: ResultRow | None, den: ResultRow | None, bound: float, *, below: bool = True,
                  seed: int = SEED) -> Verdict:
    """Is mean(num) / mean(den) below (or above) ``bound``? Bootstrap over each row's repeats (``values``)."""
    if num is None or den is None:
        return _verdict("not run", f"{name}: not measured")
    if not num.values or not den.values:
        ratio = num.value / den.value if den.value else math.nan
        return _verdict("inconclusive", f"{name}: {ratio:.4g} (no repeats recorded: no interval)", effect=ratio)
    effect, low, high = ratio_of_means(num.values, den.values, seed=seed)
    status = side(low, high, bound, lower_is_claimed=below)
    op = "<" if below else ">"
    return _verdict(status, f"{name}: {effect:.4g} [{low:.4g}, {high:.4g}] {op} {bound:.4g} "
                            f"({len(num.values)} and {len(den.values)} repeats)",
                    [{"name": name, "effect": effect, "low": low, "high": high, "bound": bound}], effect, low, high,
                    min(len(num.values), len(den.values)))


def evaluate_claims(claims: Sequence[Claim], results: ResultSet) -> list[Verdict]:
    """Every claim's verdict; a check that raises is reported as ``not run`` with the error."""
    verdicts = []
    for claim in claims:
        try:
            verdicts.append(claim.evaluate(results))
        except Exception as error:  # a broken check must not hide the other verdicts
            verdicts.append(Verdict(claim.paper, claim.id, claim.statement, "not run",
                                    f"check raised {type(error).__name__}: {error}", paper_figure=claim.paper_figure))
    return verdicts
