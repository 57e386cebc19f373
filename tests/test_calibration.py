"""The stand-in calibration table: one row per (stand-in, property), ours beside the real figure and its source."""
from __future__ import annotations

import math
from pathlib import Path

import sam_repro
from sam_repro.methods.alignsam.model import TASKS
from sam_repro.reproduce.calibration import SAM_GRID_ON_DIS, SURGERY_AUC_FLOOR, calibration_table
from sam_repro.reproduce.papers import sam_tta


def test_calibration_rows_on_a_random_micro_model(tmp_path: Path) -> None:
    segmenter = sam_repro.load_segmenter("micro", random_init=True, device="cpu")
    rows = calibration_table(segmenter, tmp_path, samples=1, tta_images=1, tta_max_objects=1, alignsam_images=1)
    statistics = {}
    for row in rows:
        statistics.setdefault(row["statistic"].split(" at ")[0].split(",")[0], []).append(row)
    grid = statistics["grid round trip"]
    assert len(grid) == 2 and all(r["real"] == SAM_GRID_ON_DIS and 0 <= r["ours"] <= 1 for r in grid)
    fr = statistics["unadapted FR@85"]
    assert {r["paper_dataset"] for r in fr} == set(sam_tta.STAND_INS.synthetic)
    assert all(0 <= r["ours"] <= 100 and r["n"] == 1 for r in fr)
    camo = next(r for r in fr if r["paper_dataset"] == "CAMO")
    assert camo["real"] is not None and camo["real"] > 0  # the paper's baseline FR@85 on CAMO
    assert len(statistics["mIoU points lost to a noisy box (0.4)"]) == 3
    ambiguity = statistics["1 point: mIoU points gained by multimask"][0]
    assert not math.isnan(ambiguity["ours"]) and all(r["source"] for r in rows)
    assert ambiguity["met"] == (ambiguity["ours"] > 0)
    assert all(r["met"] == (5 <= r["ours"] <= 65) for r in fr)
    assert all(r["met"] == (0.7 <= r["ours"] <= 0.9) for r in grid)
    ceiling = statistics["AlignSAM oracle ceiling"]
    assert {r["paper_dataset"] for r in ceiling} == {t.paper_dataset for t in TASKS.values()}
    assert all(0 <= r["ours"] <= 100 and r["n"] >= 1 for r in ceiling)
    references = {r["paper_dataset"]: r["real"] for r in ceiling}
    assert references["CUHK"] == 68.47 and references["PASCAL VOC 2012"] == 62.09 and references["DUTS"] is None
    assert all(r["met"] == (r["ours"] >= (r["real"] if r["real"] is not None else 50.0)) for r in ceiling)
    assert next(r for r in ceiling if r["paper_dataset"] == "PASCAL VOC 2012")["stand_in"] == \
        "synthetic/multiclass:voc_test"
    surgery = statistics["CLIP Surgery ROC AUC of the task's text map (explicit branch)"]
    assert {r["paper_dataset"] for r in surgery} == {t.paper_dataset for t in TASKS.values() if t.branch == "explicit"}
    assert all(0 <= r["ours"] <= 1 and r["met"] == (r["ours"] > SURGERY_AUC_FLOOR) for r in surgery)
