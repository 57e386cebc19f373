"""The backbone quality report and the plain-text tables it prints."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import sam_repro
from sam_repro.eval.backbone_report import low_res_round_trip_iou, run_backbone_report, tiny_sam_targets
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


def test_low_res_round_trip_keeps_large_objects_and_loses_thin_ones() -> None:
    square = np.zeros((1024, 768), bool)
    square[64:320, 128:384] = True  # 16 x 16 cells of the 64-grid (one cell = 16 px)
    assert low_res_round_trip_iou(square, 64) > 0.99
    line = np.zeros((1024, 1024), bool)
    line[:, 500:503] = True  # 3 px: under a fifth of a cell
    assert low_res_round_trip_iou(line, 64) == 0.0
    dot = np.zeros((64, 64), bool)
    dot[3, 4] = True  # grid as fine as the image: exact
    assert low_res_round_trip_iou(dot, 64) == 1.0
    assert math.isnan(low_res_round_trip_iou(np.zeros((64, 64), bool), 64))
    with pytest.raises(ValueError, match="gt must be an"):
        low_res_round_trip_iou(np.zeros((2, 8, 8), bool), 64)
    with pytest.raises(ValueError, match="low_res_size"):
        low_res_round_trip_iou(dot, 0)
