"""The backbone quality report and the plain-text tables it prints."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

import sam_repro
from sam_repro.eval.backbone_report import run_backbone_report, tiny_sam_targets
from sam_repro.reproduce.tables import format_value, markdown_table


def test_markdown_table() -> None:
    table = markdown_table([{"a": 1, "b": 0.12345}, {"a": 2, "b": math.nan}], headers={"a": "A"})
    assert table.splitlines() == ["| A | b |", "|---|---|", "| 1 | 0.123 |", "| 2 | – |"]
    assert format_value(True) == "yes" and format_value(None) == "–"
    assert markdown_table([]) == "(no rows)"


def test_targets_hold_and_fail_on_hand_rows() -> None:
    generic = {"family": "synthetic/generic", "box_miou": 0.9, "point_miou": 0.55, "noc@85": 4.0, "noc@90": 6.0}
    harder = {"family": "synthetic/thin", "box_miou": 0.6, "point_miou": 0.3, "noc@85": 15.0, "noc@90": 18.0}
    easier = {"family": "synthetic/salient", "box_miou": 0.95, "point_miou": 0.9, "noc@85": 2.0, "noc@90": 3.0}
    verdicts = {c["check"]: c["held"] for c in tiny_sam_targets([generic, harder, easier])}
    assert verdicts == {
        "generic tight-box mIoU >= 0.85": True,
        "generic single-point mIoU >= 0.60": False,
        "generic NoC@85 <= 5 (20 clicks)": True,
        "synthetic/thin: NoC@90 higher than generic": True,
        "synthetic/salient: NoC@90 higher than generic": False,
    }


def test_report_rows_on_a_random_micro_model(tmp_path: Path) -> None:
    segmenter = sam_repro.load_segmenter("micro", random_init=True, device="cpu")
    rows = run_backbone_report(segmenter, ["synthetic/salient"], tmp_path, samples=1, max_clicks=3)
    row = rows[0]
    assert row["family"] == "synthetic/salient" and row["objects"] == 1
    for key in ("box_miou", "box_mbiou", "noisy_box_miou", "point_miou"):
        assert 0.0 <= row[key] <= 1.0
    assert 1 <= row["noc@85"] <= 3 and row["fr@85"] in (0.0, 100.0)
    assert (tmp_path / "synthetic_salient" / "tight_box" / "summary.json").is_file()
