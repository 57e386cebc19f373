"""Claim checks (true and false cases), paper-vs-ours tables, SUMMARY sections, and the full
profile's fail-fast."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sam_repro.reproduce.claims import (
    Claim, combine, compare_ratio, compare_rows, evaluate_claims, paired_mean_difference, unchecked,
)
from sam_repro.reproduce.papers import paper_module
from sam_repro.reproduce.papers import sam_tta
from sam_repro.reproduce.profiles import Profile
from sam_repro.reproduce.results import (
    ResultRow, ResultSet, Verdict, comparison, paper_rows, read_results, write_results,
)
from sam_repro.reproduce.runner import missing_requirements, write_summary


def _rows(fr: dict[tuple[str, str, str], float], metric: str = "FR") -> list[ResultRow]:
    return [ResultRow("sam_tta", table, dataset, row, metric, value) for (table, dataset, row), value in fr.items()]


def _objects(table: str, dataset: str, row: str, values, metric: str = "FR") -> ResultRow:
    values = [float(v) for v in values]
    return ResultRow("sam_tta", table, dataset, row, metric, float(np.mean(values)), values=tuple(values),
                     units=tuple(f"img{i}#0" for i in range(len(values))))


def _failures(rng, n: int, rate: float) -> np.ndarray:
    return 100.0 * (rng.random(n) < rate)


def test_clear_support_is_held_clear_opposition_not_held_and_noise_inconclusive() -> None:
    rng = np.random.default_rng(1)
    low, high = _failures(rng, 80, 0.1), _failures(rng, 80, 0.6)
    supported = ResultSet([_objects("table1", "CAMO", "complete", low), _objects("table1", "CAMO", "baseline", high)])
    verdict = compare_rows(supported, ["table1"], "FR", "complete", "baseline")
    assert verdict.status == "held" and verdict.high < 0 and verdict.n == 80
    assert verdict.effect == pytest.approx(low.mean() - high.mean())
    opposed = ResultSet([_objects("table1", "CAMO", "complete", high), _objects("table1", "CAMO", "baseline", low)])
    assert compare_rows(opposed, ["table1"], "FR", "complete", "baseline").status == "not held"
    noise = ResultSet([_objects("table1", "CAMO", "complete", _failures(rng, 80, 0.4)),
                       _objects("table1", "CAMO", "baseline", _failures(rng, 80, 0.4))])
    verdict = compare_rows(noise, ["table1"], "FR", "complete", "baseline")
    assert verdict.status == "inconclusive" and verdict.low < 0 < verdict.high


def test_ties_never_decide_a_strict_claim() -> None:
    same = np.full(50, 100.0)
    ties = ResultSet([_objects("table1", "CAMO", "complete", same), _objects("table1", "CAMO", "baseline", same)])
    verdict = compare_rows(ties, ["table1"], "FR", "complete", "baseline")
    assert verdict.status == "inconclusive" and (verdict.effect, verdict.low, verdict.high) == (0.0, 0.0, 0.0)


def test_one_unit_decides_nothing_however_large_its_effect() -> None:
    import math

    from sam_repro.reproduce.claims import ratio_of_means

    one = ResultSet([_objects("table1", "CAMO", "complete", [0.0]), _objects("table1", "CAMO", "baseline", [100.0])])
    verdict = compare_rows(one, ["table1"], "FR", "complete", "baseline")
    assert verdict.status == "inconclusive" and verdict.effect == -100.0 and verdict.n == 1
    assert (verdict.low, verdict.high) == (-math.inf, math.inf)
    two = ResultSet([_objects("table1", "CAMO", "complete", [0.0, 0.0]),
                     _objects("table1", "CAMO", "baseline", [100.0, 100.0])])
    assert compare_rows(two, ["table1"], "FR", "complete", "baseline").status == "held"  # two agreeing units do
    assert ratio_of_means([2.0], [1.0, 1.1])[1:] == (-math.inf, math.inf)


def test_the_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 40), rng.normal(0.3, 1, 40)
    assert paired_mean_difference(a, b) == paired_mean_difference(a, b)
    assert paired_mean_difference(a, b, seed=1) != paired_mean_difference(a, b, seed=2)
    effect, low, high = paired_mean_difference(a, b)
    assert low < effect < high and effect == pytest.approx(np.mean(a - b))


def test_rows_are_paired_by_unit() -> None:
    a = ResultRow("p", "t", "d", "a", "FR", 50.0, values=(0.0, 100.0, 100.0), units=("x#0", "y#0", "z#0"))
    b = ResultRow("p", "t", "d", "b", "FR", 50.0, values=(100.0, 0.0), units=("z#0", "x#0"))
    verdict = compare_rows(ResultSet([a, b]), ["t"], "FR", "a", "b")
    assert verdict.n == 2 and verdict.effect == pytest.approx(((0 - 0) + (100 - 100)) / 2)


def test_many_case_claims_count_cases_decided_by_their_own_interval() -> None:
    assert combine(["held", "held", "held"]) == "held"
    assert combine(["held", "inconclusive", "held"]) == "inconclusive"
    assert combine(["held", "not held", "inconclusive"]) == "not held"
    assert combine(["held", "held", "inconclusive"], "majority") == "held"
    assert combine(["held", "inconclusive", "inconclusive"], "majority") == "inconclusive"
    assert combine(["held", "not held", "not held"], "majority") == "not held"
    assert combine(["held", "held", "not held", "held"], "majority") == "held"  # 3 of 4 is a strict majority
    assert combine(["held", "held", "not held", "not held"], "majority") == "not held"  # 2 of 4 is not
    assert combine(["held"] * 3 + ["inconclusive"], "fraction", 0.75) == "held"
    assert combine(["held"] * 2 + ["not held"] * 2, "fraction", 0.75) == "not held"
    with pytest.raises(ValueError, match="required"):
        combine(["held"], "some")


def test_rows_without_per_object_values_are_inconclusive_and_missing_rows_not_run() -> None:
    rows = ResultSet(_rows({("table1", "CAMO", "complete"): 10.0, ("table1", "CAMO", "baseline"): 20.0}))
    verdict = compare_rows(rows, ["table1"], "FR", "complete", "baseline")
    assert verdict.status == "inconclusive" and "no per-object values" in str(verdict.evidence)
    assert compare_rows(rows, ["table3"], "FR", "complete", "baseline").status == "not run"
    assert compare_rows(rows, ["table1"], "FR", "complete", "HQ-SAM").status == "not run"


def test_ratio_claims_bootstrap_over_repeats() -> None:
    rng = np.random.default_rng(3)
    step = ResultRow("p", "timing", "cpu", "tiny", "step", 9.0, values=tuple(rng.normal(9, 0.3, 20)))
    forward = ResultRow("p", "timing", "cpu", "tiny", "forward", 3.0, values=tuple(rng.normal(3, 0.1, 20)))
    assert compare_ratio("step / forward", step, forward, 4.0).status == "held"  # ~3x
    assert compare_ratio("step / forward", step, forward, 2.0).status == "not held"
    assert compare_ratio("step / forward", step, forward, 3.0).status == "inconclusive"
    assert compare_ratio("step / forward", None, forward, 4.0).status == "not run"


def test_a_raising_check_is_reported_not_run() -> None:
    def broken(results):
        raise ZeroDivisionError("no data")

    verdicts = evaluate_claims([Claim("p", "9", "a broken check", broken)], ResultSet([]))
    assert verdicts[0].status == "not run" and "ZeroDivisionError" in verdicts[0].detail


def test_verdict_status_is_validated() -> None:
    with pytest.raises(ValueError, match="status"):
        Verdict("p", "1", "s", "maybe")


def test_tta_claims_on_constructed_results() -> None:
    rng = np.random.default_rng(4)
    rows = [
        _objects("table1", "CAMO", "baseline", _failures(rng, 60, 0.6)),
        _objects("table1", "CAMO", "complete", _failures(rng, 60, 0.05)),
        _objects("table1", "CAMO", "R/U/CM", _failures(rng, 60, 0.7)),
        _objects("table2", "CAMO", "baseline", np.full(60, 100.0)),
        _objects("table2", "CAMO", "complete", np.full(60, 100.0)),  # a tie: decides nothing
        _objects("table2", "CAMO", "R/U/CM", np.full(60, 100.0)),
    ]
    rows.append(ResultRow("sam_tta", "timing", "cpu", "tiny", "decoder_forward_ms", 2.0,
                          values=tuple(rng.normal(2.0, 0.05, 20))))
    rows.append(ResultRow("sam_tta", "timing", "cpu", "tiny", "adaptation_step_ms", 9.0,
                          values=tuple(rng.normal(9.0, 0.2, 20))))
    verdicts = {v.claim: v for v in evaluate_claims(sam_tta.CLAIMS, ResultSet(rows))}
    assert verdicts["1"].status == "inconclusive"  # held on table1, a tie on table2
    assert verdicts["3"].status == "inconclusive"  # 1 of 2 cases decided: not 3/4, not yet impossible
    assert verdicts["4"].status == "not run"  # no HQ-SAM row
    assert verdicts["5"].status == "held"  # 60% -> 100% on the same objects
    assert verdicts["6"].status == "not held" and verdicts["6"].effect > 4
    assert verdicts["1"].paper_figure == "24 of 24 cases" and verdicts["5"].n == 60


def test_results_round_trip_and_comparison(tmp_path: Path) -> None:
    rows = _rows({("table1", "CAMO", "baseline"): 12.5, ("table1", "CAMO", "R"): 11.0,
                  ("table1", "Nowhere", "baseline"): 1.0})
    path = write_results(tmp_path, "sam_tta", rows, [Verdict("sam_tta", "1", "s", "held", "d")])
    paper, back, verdicts = read_results(path)
    assert paper == "sam_tta" and back == rows and verdicts[0].status == "held"
    lines = {(line["dataset"], line["row"]): line for line in comparison("sam_tta", back, sam_tta.row_key)}
    published = {e["dataset"]: e for e in paper_rows("sam_tta", "table1") if sam_tta.row_key(e) == "baseline"}
    assert lines[("CAMO", "baseline")]["paper"] == f"{published['CAMO']['values']['FR']:.2f}"
    assert lines[("CAMO", "R")]["paper"].endswith("?")  # row position 3 is an uncertain transcription
    assert lines[("Nowhere", "baseline")]["paper"] == "–"
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        read_results(tmp_path / "bad.json")


def test_summary_shows_verdicts_tables_and_not_run_papers(tmp_path: Path) -> None:
    results = tmp_path / "results"
    rows = _rows({("table1", "CAMO", "baseline"): 30.0, ("table1", "CAMO", "complete"): 20.0})
    write_results(results / "t" / "tta" / "tables", "sam_tta", rows, [])
    text = write_summary(Profile("t", "test"), [], results).read_text()
    assert "## sam_tta" in text and "| 1 |" in text and "held" in text
    cells = (results / "t" / "sam_tta" / "paper_vs_ours.csv").read_text().splitlines()
    assert cells[0].startswith("table,dataset,stand_in,row,metric,paper_value")
    assert any(line.startswith("table1,CAMO,,baseline,FR,") for line in cells)  # every cell in the CSV
    assert "| table1 | FR | 2 |" in text  # the summary keeps one row per table and metric
    assert "(sam_tta/paper_vs_ours.png)" in text and (results / "t" / "sam_tta" / "paper_vs_ours.png").is_file()
    assert "## pisam" in text and "Not run" in text.split("## pisam")[1].split("##")[0]


def test_paper_module_lookup() -> None:
    assert paper_module("sam_tta") is sam_tta
    assert paper_module("no_such_paper") is None


def test_missing_requirements_lists_what_and_how(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SAM_REPRO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path / "weights"))
    profile = Profile("full", "x", requires={"backbones": ["vit_b", "tiny", "nope"], "datasets": ["camo"],
                                              "checkpoints": ["sam_hq_vit_b"],
                                              "weights": ["stablesam:vit_l", "hqsam:tiny", "nope:tiny"]})
    missing = missing_requirements(profile)
    assert any(m.startswith("backbone vit_b") and "sam-repro weights fetch vit_b" in m for m in missing)
    assert not any(m.startswith("backbone tiny") for m in missing)  # shipped
    assert any(m.startswith("backbone nope") for m in missing)
    assert any(m.startswith("dataset camo") and "sam-repro data fetch camo" in m for m in missing)
    assert any(m.startswith("checkpoint sam_hq_vit_b") for m in missing)
    assert any(m.startswith("weights stablesam:vit_l") and "sam-repro train stablesam --backbone vit_l" in m
               for m in missing)  # user-trained plug-ins: how to make them
    assert not any(m.startswith("weights hqsam:tiny") for m in missing)  # shipped
    assert any(m.startswith("weights nope:tiny") and "not in the weights registry" in m for m in missing)
    assert missing_requirements(Profile("ci", "x")) == []


def test_full_profile_fails_fast_from_the_command_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from sam_repro.cli import main

    monkeypatch.setenv("SAM_REPRO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path / "weights"))
    assert main(["reproduce", "--profile", "full"]) != 0
    error = capsys.readouterr().err
    assert "not on this machine" in error and "vit_b" in error and "trashcan" in error


def test_comparison_keeps_rows_of_a_table_the_extraction_lost() -> None:
    """Stable-SAM's Table 8 survives as a caption only: our rows of it are listed with no paper number."""
    from sam_repro.reproduce.papers import stablesam

    row = ResultRow("stablesam", "table8", stablesam.COCO, "SAM | oracle box", "mIoU", 77.0, "synthetic/generic:test", 5)
    (line,) = comparison("stablesam", [row], stablesam.row_key)
    assert line["paper"] == "–" and line["paper_value"] is None and line["ours"] == 77.0


def test_an_unchecked_claim_is_not_run_with_its_reason() -> None:
    claim = Claim("p", "9", "something we do not run", unchecked("no baseline is run"), "paper: 1.0")
    (verdict,) = evaluate_claims([claim], ResultSet([]))
    assert (verdict.claim, verdict.status, verdict.detail, verdict.n) == ("9", "not run", "no baseline is run", None)
