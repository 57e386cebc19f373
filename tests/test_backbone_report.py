"""The backbone quality report and the plain-text tables it prints."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import sam_repro
from sam_repro.eval.backbone_report import low_res_round_trip_iou
from sam_repro.reproduce.backbone_report import run_backbone_report
from sam_repro.reproduce.results import ResultRow, ResultSet
from sam_repro.reproduce.tables import format_value, markdown_table


def test_markdown_table() -> None:
    table = markdown_table([{"a": 1, "b": 0.12345}, {"a": 2, "b": math.nan}], headers={"a": "A"})
    assert table.splitlines() == ["| A | b |", "|---|---|", "| 1 | 0.123 |", "| 2 | – |"]
    assert format_value(True) == "yes" and format_value(None) == "–"
    assert markdown_table([]) == "(no rows)"


def _report_row(metric: str, values) -> ResultRow:
    values = [float(v) for v in values]
    return ResultRow("tiny_sam", "report", "synthetic/generic", "tiny", metric, float(np.mean(values)),
                     values=tuple(values), units=tuple(f"o{i}" for i in range(len(values))))


def test_targets_are_decided_by_intervals_on_hand_rows() -> None:
    from sam_repro.reproduce.claims import evaluate_claims
    from sam_repro.reproduce.papers import tiny_sam

    rng = np.random.default_rng(0)
    rows = [_report_row("box_miou", np.clip(rng.normal(0.93, 0.03, 120), 0, 1)),  # clearly above 0.85
            _report_row("point_miou", np.clip(rng.normal(0.45, 0.1, 120), 0, 1)),  # clearly below 0.60
            _report_row("noc@85", rng.integers(3, 8, 120)),  # mean ~5: straddles the bound
            _report_row("fr@85", np.zeros(120))]  # never fails
    verdicts = {v.claim: v for v in evaluate_claims(tiny_sam.CLAIMS, ResultSet(rows))}
    assert [verdicts[k].status for k in "1234"] == ["held", "not held", "inconclusive", "held"]
    assert verdicts["1"].n == 120 and verdicts["1"].low > 0.85
    assert evaluate_claims(tiny_sam.CLAIMS, ResultSet([]))[0].status == "not run"


def test_report_rows_on_a_random_micro_model(tmp_path: Path) -> None:
    segmenter = sam_repro.load_segmenter("micro", random_init=True, device="cpu")
    rows, result_rows = run_backbone_report(segmenter, ["synthetic/salient"], tmp_path, samples=1, max_clicks=3)
    row = rows[0]
    assert row["family"] == "synthetic/salient" and row["objects"] == 1
    for key in ("box_miou", "box_mbiou", "noisy_box_miou", "point_miou", "1_points_miou", "5_points_miou"):
        assert 0.0 <= row[key] <= 1.0
    assert 1 <= row["noc@85"] <= 3 and row["fr@85"] in (0.0, 100.0)
    assert (tmp_path / "synthetic_salient" / "tight_box" / "summary.json").is_file()
    by_metric = {r.metric: r for r in result_rows}
    assert by_metric["box_miou"].values == (pytest.approx(row["box_miou"]),) and by_metric["fr@85"].n == 1


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
