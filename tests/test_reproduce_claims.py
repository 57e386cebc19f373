"""Claim checks (true and false cases), paper-vs-ours tables, SUMMARY sections, and the full
profile's fail-fast."""
from __future__ import annotations

from pathlib import Path

import pytest

from sam_repro.reproduce.claims import Claim, compare_rows, compare_values, evaluate_claims
from sam_repro.reproduce.papers import paper_module
from sam_repro.reproduce.papers import sam_tta
from sam_repro.reproduce.profiles import Profile
from sam_repro.reproduce.results import (
    ResultRow, ResultSet, Verdict, comparison, paper_rows, read_results, write_results,
)
from sam_repro.reproduce.runner import missing_requirements, write_summary


def _rows(fr: dict[tuple[str, str, str], float], metric: str = "FR") -> list[ResultRow]:
    return [ResultRow("sam_tta", table, dataset, row, metric, value) for (table, dataset, row), value in fr.items()]


def test_compare_rows_true_false_and_not_run() -> None:
    held = ResultSet(_rows({("table1", "CAMO", "complete"): 10.0, ("table1", "CAMO", "baseline"): 20.0,
                            ("table1", "DOORS", "complete"): 5.0, ("table1", "DOORS", "baseline"): 6.0}))
    verdict = compare_rows(held, ["table1"], "FR", "complete", "baseline")
    assert verdict.status == "held" and "2/2" in verdict.detail and len(verdict.evidence) == 2
    broken = ResultSet(_rows({("table1", "CAMO", "complete"): 10.0, ("table1", "CAMO", "baseline"): 20.0,
                              ("table1", "DOORS", "complete"): 7.0, ("table1", "DOORS", "baseline"): 6.0}))
    verdict = compare_rows(broken, ["table1"], "FR", "complete", "baseline")
    assert verdict.status == "not held" and "1/2" in verdict.detail and "(fails)" in verdict.detail
    assert compare_rows(broken, ["table1"], "FR", "complete", "baseline", required="fraction",
                        min_fraction=0.5).status == "held"
    ties = ResultSet(_rows({("table1", "CAMO", "complete"): 20.0, ("table1", "CAMO", "baseline"): 20.0}))
    assert compare_rows(ties, ["table1"], "FR", "complete", "baseline").status == "not held"
    assert compare_rows(ties, ["table1"], "FR", "complete", "baseline", strict=False).status == "held"
    assert compare_rows(held, ["table3"], "FR", "complete", "baseline").status == "not run"
    assert compare_rows(held, ["table1"], "FR", "complete", "HQ-SAM").status == "not run"


def test_compare_values_and_higher_is_better() -> None:
    assert compare_values("ratio", 3.3, 4.0).status == "held"
    assert compare_values("ratio", 4.5, 4.0).status == "not held"
    assert compare_values("ratio", None, 4.0).status == "not run"
    scores = ResultSet([ResultRow("p", "t", "d", "ours", "IoU", 0.9), ResultRow("p", "t", "d", "sam", "IoU", 0.8)])
    assert compare_rows(scores, ["t"], "IoU", "ours", "sam", lower_is_better=False).status == "held"
    assert compare_rows(scores, ["t"], "IoU", "sam", "ours", lower_is_better=False).status == "not held"


def test_a_raising_check_is_reported_not_run() -> None:
    def broken(results):
        raise ZeroDivisionError("no data")

    verdicts = evaluate_claims([Claim("p", "9", "a broken check", broken)], ResultSet([]))
    assert verdicts[0].status == "not run" and "ZeroDivisionError" in verdicts[0].detail


def test_verdict_status_is_validated() -> None:
    with pytest.raises(ValueError, match="status"):
        Verdict("p", "1", "s", "maybe")


def test_tta_claims_on_constructed_results() -> None:
    rows = _rows({("table1", "CAMO", "baseline"): 30.0, ("table1", "CAMO", "complete"): 20.0,
                  ("table1", "CAMO", "R/U/CM"): 25.0, ("table2", "CAMO", "baseline"): 50.0,
                  ("table2", "CAMO", "complete"): 55.0, ("table2", "CAMO", "R/U/CM"): 60.0})
    rows.append(ResultRow("sam_tta", "timing", "cpu", "tiny", "decoder_forward_ms", 2.0))
    rows.append(ResultRow("sam_tta", "timing", "cpu", "tiny", "adaptation_step_ms", 9.0))
    verdicts = {v.claim: v for v in evaluate_claims(sam_tta.CLAIMS, ResultSet(rows))}
    assert verdicts["1"].status == "not held"  # table2: 55 is not below 50
    assert verdicts["3"].status == "held"  # untreated worse in 2/2
    assert verdicts["4"].status == "not run"  # no HQ-SAM row
    assert verdicts["5"].status == "held"  # 30 -> 50
    assert verdicts["6"].status == "not held" and "4.5" in verdicts["6"].detail


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
    assert "| table1 | CAMO | synthetic" not in text  # stand_in is empty in these rows
    assert "| table1 | CAMO |  | baseline | FR |" in text
    assert "## pisam" in text and "Not run" in text.split("## pisam")[1].split("##")[0]


def test_paper_module_lookup() -> None:
    assert paper_module("sam_tta") is sam_tta
    assert paper_module("no_such_paper") is None


def test_missing_requirements_lists_what_and_how(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SAM_REPRO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path / "weights"))
    profile = Profile("full", "x", requires={"backbones": ["vit_b", "tiny", "nope"], "datasets": ["camo"],
                                              "checkpoints": ["sam_hq_vit_b"]})
    missing = missing_requirements(profile)
    assert any(m.startswith("backbone vit_b") and "sam-repro weights fetch vit_b" in m for m in missing)
    assert not any(m.startswith("backbone tiny") for m in missing)  # shipped
    assert any(m.startswith("backbone nope") for m in missing)
    assert any(m.startswith("dataset camo") and "sam-repro data fetch camo" in m for m in missing)
    assert any(m.startswith("checkpoint sam_hq_vit_b") for m in missing)
    assert missing_requirements(Profile("smoke", "x")) == []


def test_full_profile_fails_fast_from_the_command_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from sam_repro.cli import main

    monkeypatch.setenv("SAM_REPRO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path / "weights"))
    assert main(["reproduce", "--profile", "full"]) != 0
    error = capsys.readouterr().err
    assert "not on this machine" in error and "vit_b" in error and "trashcan" in error
