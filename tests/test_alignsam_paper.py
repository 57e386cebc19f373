"""AlignSAM's paper layer and the self-prompting protocol: row keys, the composed class map by hand, the protocol
through the harness with a fake self-prompting segmenter (texts per class, refusals), dataset BER by hand, the
foreground view, and every claim decides rows of known effect the right way."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sam_repro.data import Sample, SampleSet
from sam_repro.data.views import ClassUnionMasks, ForegroundMask
from sam_repro.eval.harness import evaluate, load_records
from sam_repro.eval.self_prompting import SelfPromptProtocol, compose_class_map
from sam_repro.methods.base import Prediction
from sam_repro.reproduce.claims import evaluate_claims
from sam_repro.reproduce.papers import alignsam as paper
from sam_repro.reproduce.results import ResultRow, ResultSet, paper_rows


def _keys(table: str) -> set:
    return {paper.row_key(e) for e in paper_rows("alignsam", table)}


def test_transcribed_rows_map_onto_our_keys() -> None:
    assert _keys("table2") == {None, *paper.ABLATIONS}
    assert _keys("table3") == {None, paper.OURS, paper.WITHOUT_RL, paper.WITHOUT_SRM}
    assert _keys("table4") == {paper.branch_row("implicit"), paper.branch_row("explicit")}
    assert _keys("table5") == {paper.steps_row(c, t) for c in paper.STAND_IN_CLASSES for t in paper.STEP_COUNTS}
    datasets = {e["dataset"] for t in ("table2", "table3", "table4") for e in paper_rows("alignsam", t)}
    assert datasets == set(paper.TASK_OF) == set(paper.STAND_INS.synthetic) == set(paper.STAND_INS.real)


def test_stand_in_classes_exist_in_the_family() -> None:
    from sam_repro.data.synthetic.multiclass import CLASS_NAMES

    assert set(paper.STAND_IN_CLASSES.values()) <= set(CLASS_NAMES[1:])


def test_composed_class_map_by_hand() -> None:
    a = np.array([[0.9, 0.6], [0.2, 0.4]])
    b = np.array([[0.7, 0.8], [0.1, 0.6]])
    assert compose_class_map([a, b], [3, 5]).tolist() == [[3, 5], [0, 5]]
    with pytest.raises(ValueError, match="one each"):
        compose_class_map([a], [3, 5])


class _Scenes(SampleSet):
    """Two 16 x 16 images, each with two instances of class 1 and one of class 2 (and a class map)."""

    name, split = "scenes", "test"

    def __len__(self) -> int:
        return 2

    def fingerprint(self) -> str:
        return "scenes-v1"

    def load(self, index: int) -> Sample:
        masks = np.zeros((3, 16, 16), bool)
        masks[0, 1:5, 1:5] = masks[1, 10:14, 1:5] = masks[2, 2:8, 9:15] = True
        class_map = np.zeros((16, 16), np.int64)
        class_map[masks[0] | masks[1]] = 1
        class_map[masks[2]] = 2
        class_map[0, :] = 255
        return Sample(f"s{index}", np.zeros((16, 16, 3), np.uint8), masks, class_map, ("background", "ball", "box"),
                      {"instance_classes": [1, 1, 2]})


class _SelfPrompting:
    """Predicts the GT of the class whose name it is given (what a perfect AlignSAM would do), recording the texts."""

    name, capabilities, prompt_kinds = "fake-align", frozenset({"prompts_itself"}), frozenset({"points"})

    def __init__(self) -> None:
        self.texts: list = []
        self.last_run = SimpleNamespace(labels=np.array([1, 0, 1]), initial_from="srm")

    def set_image(self, image) -> None:
        self.image = image

    def prompt_itself(self, text=None, steps=None) -> Prediction:
        self.texts.append((text, steps))
        sample = _Scenes()[0]
        wanted = sample.class_names.index(text) if text in sample.class_names else 1
        mask = sample.class_map == wanted
        logits = np.where(mask, 8.0, -8.0).astype(np.float32)
        return Prediction(masks=mask[None], logits=logits[None], low_res_logits=np.zeros((1, 4, 4), np.float32),
                          iou_predictions=np.ones(1, np.float32))

    def info(self) -> dict:
        return {"name": self.name}


def test_self_prompting_runs_once_per_class_with_its_name_and_composes_the_map(tmp_path) -> None:
    segmenter = _SelfPrompting()
    evaluate(segmenter, ClassUnionMasks(_Scenes()), SelfPromptProtocol(steps=3, texts="class"), tmp_path,
             metrics=paper.evaluation_metrics(semantic=True, classes=3), progress=False)
    assert segmenter.texts == [("ball", 3), ("box", 3)] * 2
    records = load_records(tmp_path)
    assert [o["object"] for o in records[0]["objects"]] == [0, 1]
    rows = paper.voc_rows("table3", paper.OURS, "scenes", records, ("background", "ball", "box"))
    assert rows[0].metric == "mIoU" and rows[0].value == pytest.approx(100.0)
    assert {r.metric for r in rows[1:]} == {"IoU_ball", "IoU_box"}
    assert records[0]["objects"][0]["points"] == 3 and records[0]["objects"][0]["positive"] == 2


def test_self_prompting_refuses_what_it_cannot_run() -> None:
    plain = SimpleNamespace(name="sam", capabilities=frozenset())
    sample = ClassUnionMasks(_Scenes())[0]
    with pytest.raises(ValueError, match="does not prompt itself"):
        SelfPromptProtocol().run(plain, sample, [0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="ClassUnionMasks"):
        SelfPromptProtocol(texts="class").run(_SelfPrompting(), _Scenes()[0], [0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="texts must be"):
        SelfPromptProtocol(texts="names")


def test_foreground_view_unites_the_instances() -> None:
    sample = ForegroundMask(_Scenes())[1]
    assert sample.masks.shape == (1, 16, 16) and sample.masks.sum() == 16 + 16 + 36
    assert sample.id == "s1"


def test_dataset_ber_accumulates_counts() -> None:
    def record(tp, tn, npos, nneg):
        return {"status": "ok", "sample_id": "x", "objects": [{"object": 0, "stats": {"ber": {
            "tp": tp, "tn": tn, "npos": npos, "nneg": nneg, "ber": 0.0}}}]}
    # pooled: TP 9 / 10, TN 80 / 100 -> 100 (1 - (0.9 + 0.8) / 2) = 15
    assert paper.dataset_ber([record(1, 70, 2, 70), record(8, 10, 8, 30)]) == pytest.approx(15.0)


# -- claims -----------------------------------------------------------------------------------------------------
def _row(table, dataset, row, metric, values, units=None) -> ResultRow:
    values = np.asarray(values, float)
    units = units or [f"{dataset}/u{i}" for i in range(len(values))]
    return ResultRow("alignsam", table, dataset, row, metric, float(values.mean()), "", len(values), values, units)


def _status(results, claim: str) -> str:
    (verdict,) = [v for v in evaluate_claims(paper.CLAIMS, results) if v.claim == claim]
    return verdict.status


def _ablation_rows(drops: dict[str, float], n: int = 20):
    rng = np.random.default_rng(0)
    rows = []
    for dataset in paper.BINARY_SETS:
        for metric in paper.BINARY_METRICS:
            base = rng.uniform(40, 60, n)
            sign = -1 if metric in paper.LOWER_IS_BETTER else 1
            rows.append(_row("table2", dataset, paper.OURS, metric, base))
            for row, drop in drops.items():
                scale = drop * (3 if dataset == "CUHK" and row == paper.WITHOUT_MSI else 1)
                rows.append(_row("table2", dataset, row, metric, base - sign * scale + rng.normal(0, 0.5, n)))
    return rows


def test_each_ablation_must_lose_everywhere() -> None:
    results = ResultSet(_ablation_rows({paper.WITHOUT_RL: 5.0, paper.WITHOUT_SRM: 5.0, paper.WITHOUT_MSI: 5.0}))
    assert {_status(results, c) for c in ("2", "3", "4", "4b")} == {"held"}
    mixed = ResultSet(_ablation_rows({paper.WITHOUT_RL: -5.0, paper.WITHOUT_SRM: 0.0, paper.WITHOUT_MSI: 5.0}))
    assert _status(mixed, "2") == "not held" and _status(mixed, "3") != "held"
    assert _status(ResultSet([]), "2") == "not run" and _status(ResultSet([]), "4b") == "not run"
    assert _status(results, "1") == "not run" and _status(results, "5") == "not run"


def test_branch_claim_wants_each_tasks_own_branch() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for dataset, task in paper.TASK_OF.items():
        base = rng.uniform(30, 50, 15)
        own = "explicit" if task in ("shadow", "multiclass") else "implicit"
        other = "implicit" if own == "explicit" else "explicit"
        rows += [_row("table4", dataset, paper.branch_row(own), "mIoU", base + 5),
                 _row("table4", dataset, paper.branch_row(other), "mIoU", base + rng.normal(0, 0.5, 15))]
    assert _status(ResultSet(rows), "7") == "held"
    swapped = [ResultRow(**{**r.__dict__, "row": paper.branch_row("implicit") if "Explicit" in r.row
                            else paper.branch_row("explicit")}) for r in rows]
    assert _status(ResultSet(swapped), "7") == "not held"


def test_steps_claims() -> None:
    rng = np.random.default_rng(2)
    rows = []
    for category in paper.STAND_IN_CLASSES:
        base = rng.uniform(20, 40, 12)
        for t, gain in zip(paper.STEP_COUNTS, (0, 8, 12, 14, 14.5)):
            rows.append(_row("table5", paper.VOC, paper.steps_row(category, t), "IoU",
                             base + gain + rng.normal(0, 0.05, 12), [f"{category}/{i}" for i in range(12)]))
    results = ResultSet(rows)
    assert _status(results, "6") == "held" and _status(results, "6b") == "held"
    flat = [r if "T=20" not in r.row else _row("table5", paper.VOC, r.row, "IoU", np.array(r.values) - 3, r.units)
            for r in rows]
    assert _status(ResultSet(flat), "6") == "not held"


def test_stand_ins_are_the_tasks_test_splits_and_training_reads_their_train_splits() -> None:
    """Each task evaluates on its own test split (multiclass: ``voc_test``) and trains on its train split."""
    from sam_repro.methods.alignsam.model import TASKS
    from sam_repro.train import alignsam as trainer

    for task in TASKS.values():
        assert paper.STAND_INS.synthetic[task.paper_dataset] == f"{task.dataset}:{task.test_split}"
    assert TASKS["multiclass"].train_split == "voc_train"
    assert trainer.AlignSamTrainConfig().split == ""  # "": each task's own train split
