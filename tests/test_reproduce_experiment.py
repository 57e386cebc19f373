"""The shared experiment runner: rows x datasets through the harness, results keyed as the paper's."""
from __future__ import annotations

from pathlib import Path

import pytest

import sam_repro
from sam_repro.eval.protocols import TIGHT_BOX
from sam_repro.reproduce.experiment import StandIns, per_object, run_grid
from sam_repro.reproduce.papers import sam_tta

STAND_INS = StandIns(synthetic={"HRSOD": "synthetic/salient", "DIS-VD": "synthetic/thin"}, real={"HRSOD": "hrsod"})


def test_run_grid_runs_every_cell_once_and_keys_rows_like_the_paper(tmp_path: Path) -> None:
    made = []

    def make(row: str):
        made.append(row)
        return sam_repro.load_segmenter("micro", random_init=True, seed=len(made), device="cpu")

    rows = run_grid("toy", "table1", make, ["SAM", "other/row"], ["HRSOD", "no stand-in"], STAND_INS, TIGHT_BOX,
                    tmp_path, lambda s, records: {"mIoU": (s["metrics"]["iou"]["value"], *per_object(records, "iou", "iou")),
                                                  "mBIoU": s["metrics"]["biou"]["value"]},
                    images=1)
    assert made == ["SAM", "other/row"]  # a fresh segmenter per cell; the dataset without a stand-in is skipped
    assert [(r.table, r.dataset, r.row, r.metric) for r in rows] == [
        ("table1", "HRSOD", "SAM", "mIoU"), ("table1", "HRSOD", "SAM", "mBIoU"),
        ("table1", "HRSOD", "other/row", "mIoU"), ("table1", "HRSOD", "other/row", "mBIoU")]
    assert all(r.paper == "toy" and r.stand_in == "synthetic/salient" and r.n >= 1 for r in rows)
    miou = rows[0]
    assert len(miou.values) == len(miou.units) == miou.n and miou.value == pytest.approx(sum(miou.values) / miou.n)
    assert miou.units[0].endswith("#0") and rows[1].values == ()  # mBIoU was read without per-object values
    assert (tmp_path / "table1" / "HRSOD" / "other_row" / "summary.json").is_file()


def test_stand_ins_choose_the_world() -> None:
    assert STAND_INS.sources("real") == {"HRSOD": "hrsod"}
    with pytest.raises(ValueError, match="data must be one of"):
        STAND_INS.sources("imagined")
    assert set(sam_tta.STAND_INS.real) >= set(sam_tta.STAND_INS.synthetic)  # every stand-in has its real dataset
