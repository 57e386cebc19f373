"""AlignSAM (Huang et al., "AlignSAM: Aligning Segment Anything Model to Open Context via Reinforcement Learning",
CVPR 2024): its tables, stand-ins, metrics and claims.

Protocol: no user prompt. AlignSAM prompts itself (:class:`~sam_repro.eval.self_prompting.SelfPromptProtocol`): P_0
from the SRM's extreme cells, then T agent steps, each point labelled by the SRM, SAM decoding after each. Binary tasks
score the image's foreground (:class:`~sam_repro.data.views.ForegroundMask`); PASCAL VOC runs once per class present
with the class name as text (:class:`~sam_repro.data.views.ClassUnionMasks`) and composes a class map.

Metrics (scored on SAM's probability map; percent where the paper prints percent):

* ``mIoU`` (Tables 2, 4): the mean over images of the **foreground IoU** of the binary mask (the paper does not say
  whether its binary mIoU averages foreground and background; we show the foreground IoU and say so);
* ``F_beta``: max F-measure (beta^2 = 0.3) of the dataset-averaged curve; ``E_phi``: mean E-measure; ``MAE``;
* ``BER``: balanced error rate with the counts accumulated over the dataset (``ComputeBERonSet.m``). Its per-image
  BER values (images with both classes) are what a claim bootstraps over, so a BER claim's effect is a per-image mean
  difference while the table shows the dataset value;
* Table 3 ``mIoU``: VOC's per-class intersections and unions accumulated over the dataset, mean over the classes
  (background excluded, as the paper's 20-class mean); ``IoU_<class>`` per class. Claims bootstrap over the
  per-(image, class) foreground IoUs.

Tables and our row keys (``paper_tables/alignsam.yaml``):

* ``table2`` (CUHK, SBU, MSD, DUTS) and ``table3`` (VOC): :data:`OURS`, :data:`WITHOUT_RL` (uniformly random unmasked
  patches), :data:`WITHOUT_SRM` (every agent point positive; P_0 still from the SRM), :data:`WITHOUT_MSI` (T = 1, Table
  2 only). SEEM, Painter, MSA are paper-only; PerSAM and SAMed are not run (no implementation here yet).
* ``table4``: :func:`branch_row` ``implicit`` / ``explicit`` on the five tasks (mIoU, E_phi).
* ``table5``: :func:`steps_row` (T in :data:`STEP_COUNTS`) per VOC category, the stand-in classes of
  :data:`STAND_IN_CLASSES` fixed before any run (the family has no car, sheep or cat).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sam_repro.eval.scoring import MetricSpec
from sam_repro.reproduce.claims import Case, Claim, combine, compare_cases, mean_interval, not_run, unchecked
from sam_repro.reproduce.experiment import StandIns
from sam_repro.reproduce.papers.pisam import object_values as _sod_object_values
from sam_repro.reproduce.results import ResultRow, ResultSet, Verdict

PAPER = "alignsam"
TITLE = "AlignSAM (Huang et al., Aligning Segment Anything Model to Open Context via Reinforcement Learning, CVPR 2024)"

VOC = "PASCAL VOC 2012"
TASK_OF = {"CUHK": "blur", "SBU": "shadow", "MSD": "glass", "DUTS": "salient", VOC: "multiclass"}
"""The paper's dataset -> the AlignSAM task (our stand-in family's name)."""
BINARY_SETS = ("CUHK", "SBU", "MSD", "DUTS")

STAND_INS = StandIns(
    synthetic={"CUHK": "synthetic/blur:test", "SBU": "synthetic/shadow:test", "MSD": "synthetic/glass:test",
               "DUTS": "synthetic/salient:test", VOC: "synthetic/multiclass:voc_test"},
    real={"CUHK": "cuhk_blur:all", "SBU": "sbu:test", "MSD": "msd:test", "DUTS": "duts:test", VOC: "voc2012:val"},
)

OURS, WITHOUT_RL, WITHOUT_SRM, WITHOUT_MSI = "Ours (AlignSAM)", "Ours-w/o RL", "Ours-w/o SRM", "Ours-w/o MSI"
ABLATIONS: dict[str, dict[str, Any]] = {OURS: {}, WITHOUT_RL: {"policy": "random"},
                                        WITHOUT_SRM: {"labels": "positive"}, WITHOUT_MSI: {"steps": 1}}
"""Table 2's rows -> the segmenter options that make them (Table 3 has no w/o MSI)."""

BINARY_METRICS = ("mIoU", "F_beta", "BER", "E_phi", "MAE")
PERCENT = frozenset({"mIoU", "F_beta", "BER", "E_phi", "IoU"})
LOWER_IS_BETTER = frozenset({"BER", "MAE"})
STEP_COUNTS = (1, 5, 10, 15, 20)
STAND_IN_CLASSES = {"Bottle": "bottle", "Car": "tyre", "Sheep": "cloud", "Cat": "fish"}
"""Table 5's VOC categories -> the ``synthetic/multiclass`` classes that stand in for them (bottle is in the family;
the other three were fixed before any run: a round class for the car's wheels, a fluffy one for sheep, an animal)."""

TABLE_NOTEBOOKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "alignsam/tasks.ipynb": (("table2", "table3"), ("binary_sets", "voc_sets")),
}


def branch_row(branch: str) -> str:
    return f"Ours (AlignSAM) - {branch.capitalize()} Branch"


def steps_row(category: str, steps: int) -> str:
    return f"{category} | T={steps}"


def row_key(entry: dict[str, Any]) -> str | None:
    """Our row key of a transcribed row (None: a baseline we do not run)."""
    config = entry.get("config") or {}
    method = entry.get("method", "")
    if "branch" in config:
        return branch_row(str(config["branch"]))
    if "T" in config:
        return steps_row(str(config["category"]), int(config["T"]))
    return method if method in ABLATIONS else None


# -- metrics ---------------------------------------------------------------------------------------------------
def evaluation_metrics(semantic: bool = False, classes: int = 14) -> list[MetricSpec]:
    """What the harness scores: IoU of the mask, the SOD metrics (F, E curves, MAE) and BER of the probability map;
    with ``semantic`` also VOC's mIoU of the composed class map (``classes`` including the background)."""
    from sam_repro.eval.scoring import ber_metric, iou_metric, sod_metric, voc_miou_metric

    specs = [iou_metric(), sod_metric(metrics=("em", "fm", "mae")), ber_metric()]
    if semantic:
        specs.append(voc_miou_metric(classes, mean_over=range(1, classes)))
    return specs


def object_values(records: Sequence[dict[str, Any]], metric: str) -> tuple[list[str], list[float]]:
    """Unit ids and per-image (per-object) values of one metric, in the paper's scale: mIoU / IoU (foreground IoU),
    F_beta (each object's F at the dataset curve's best threshold), E_phi, MAE, BER (per image; NaN dropped)."""
    names = {"mIoU": "IoU", "IoU": "IoU", "F_beta": "maxF_beta", "E_phi": "E_phi_m", "MAE": "MAE"}
    if metric == "BER":
        pairs = [(f"{r['sample_id']}#{o['object']}", float(o["stats"]["ber"]["ber"])) for r in records
                 if r.get("status") == "ok" for o in r["objects"] if "ber" in o["stats"]]
        pairs = [(u, v) for u, v in pairs if not math.isnan(v)]
        units, values = [u for u, _ in pairs], [v for _, v in pairs]
    else:
        units, values = _sod_object_values(records, names[metric])
    scale = 100.0 if metric in PERCENT and metric != "BER" else 1.0
    return units, [scale * v for v in values]


def dataset_ber(records: Sequence[dict[str, Any]]) -> float:
    """BER in percent with TP, TN, Npos, Nneg summed over every object of ``records`` (NaN without any)."""
    totals = {"tp": 0, "tn": 0, "npos": 0, "nneg": 0}
    for r in records:
        if r.get("status") != "ok":
            continue
        for o in r["objects"]:
            stats = o["stats"].get("ber")
            if stats:
                for key in totals:
                    totals[key] += int(stats[key])
    if not totals["npos"] or not totals["nneg"]:
        return math.nan
    return 100.0 * (1.0 - 0.5 * (totals["tp"] / totals["npos"] + totals["tn"] / totals["nneg"]))


def metric_rows(table: str, dataset: str, row: str, stand_in: str, records: Sequence[dict[str, Any]],
                metrics: Sequence[str] = BINARY_METRICS) -> list[ResultRow]:
    """One row per metric: the per-image values' mean (BER: the dataset value; see the module docstring)."""
    rows = []
    for metric in metrics:
        units, values = object_values(records, metric)
        if not values:
            continue
        value = dataset_ber(records) if metric == "BER" else float(np.mean(values))
        rows.append(ResultRow(PAPER, table, dataset, row, metric, value, stand_in, len(values), values, units))
    return rows


def voc_rows(table: str, row: str, stand_in: str, records: Sequence[dict[str, Any]], class_names: Sequence[str]
             ) -> list[ResultRow]:
    """Table 3: ``mIoU`` (dataset-accumulated, over the classes; per-(image, class) IoUs kept for the claims) and
    ``IoU_<name>`` per class of the family (its IoU accumulated over the dataset)."""
    from sam_repro.metrics import VOCMeanIoU

    accumulator = VOCMeanIoU(len(class_names), mean_over=range(1, len(class_names)))
    for r in records:
        if r.get("status") == "ok" and "voc_miou" in r.get("image_stats", {}):
            accumulator.add(r["image_stats"]["voc_miou"])
    result = accumulator.compute()
    units, values = object_values(records, "IoU")
    rows = [ResultRow(PAPER, table, VOC, row, "mIoU", 100.0 * float(result["miou"]), stand_in, len(values), values,
                      units)]
    for class_id, name in enumerate(class_names):
        iou = float(result["iou_per_class"][class_id])
        if class_id and not math.isnan(iou):
            rows.append(ResultRow(PAPER, table, VOC, row, f"IoU_{name}", 100.0 * iou, stand_in))
    return rows


def class_rows(table: str, row_of_category, stand_in: str, records: Sequence[dict[str, Any]], samples,
               class_names: Sequence[str]) -> list[ResultRow]:
    """Table 5: per category of :data:`STAND_IN_CLASSES`, ``IoU`` = the mean foreground IoU over the test objects
    of its stand-in class (``row_of_category(category)`` names the row); objects are found through each record's
    sample's ``meta["mask_classes"]``."""
    by_class: dict[str, tuple[list[str], list[float]]] = {}
    for r in records:
        if r.get("status") != "ok":
            continue
        classes = samples[r["index"]].meta["mask_classes"]
        for o in r["objects"]:
            name = class_names[classes[o["object"]]]
            units, values = by_class.setdefault(name, ([], []))
            units.append(f"{r['sample_id']}#{o['object']}")
            values.append(100.0 * float(o["stats"]["iou"]["iou"]))
    rows = []
    for category, name in STAND_IN_CLASSES.items():
        if name in by_class:
            units, values = by_class[name]
            rows.append(ResultRow(PAPER, table, VOC, row_of_category(category), "IoU", float(np.mean(values)),
                                  f"{stand_in} (class {name})", len(values), values, units))
    return rows


def load_alignsam(task: str, row: str = OURS, backbone: str = "tiny", checkpoint=None, device: str = "cpu",
                  base_checkpoint=None, clip_checkpoint=None, **options):
    """AlignSAM for one task as Table 2's ``row`` makes it (:data:`ABLATIONS`); ``options`` (branch, steps...)
    override."""
    import sam_repro

    if row not in ABLATIONS:
        raise KeyError(f"unknown row {row!r}; expected one of {list(ABLATIONS)}")
    return sam_repro.load_segmenter(f"alignsam:{backbone}", checkpoint=checkpoint, device=device,
                                    base_checkpoint=base_checkpoint, clip_checkpoint=clip_checkpoint, task=task,
                                    **{**ABLATIONS[row], **options})


def side_by_side(rows: Sequence[ResultRow], table: str, digits: int = 2) -> list[dict[str, Any]]:
    """One line per (dataset, row) of ``table``: each metric as ``"ours (paper)"`` and the images behind ours (see
    :func:`sam_repro.reproduce.results.side_by_side`)."""
    from sam_repro.reproduce.results import side_by_side as lines

    return lines(PAPER, rows, table, row_key, digits, count="n")


# -- claims ----------------------------------------------------------------------------------------------------
def _oriented(where: str, better_name: str, better: ResultRow, worse_name: str, worse: ResultRow) -> Case:
    if better.metric in LOWER_IS_BETTER:
        return Case(f"{where}: {worse_name} vs {better_name} (lower is better)", worse, better)
    return Case(f"{where}: {better_name} vs {worse_name}", better, worse)


def ablation_loses(ablation: str, tables: Sequence[str] = ("table2", "table3")):
    """Ours better than ``ablation`` on every metric of every stand-in measured (Table 2's five metrics, Table 3's
    mIoU), each case paired over images (objects)."""
    def check(results: ResultSet) -> Verdict:
        cases = []
        for table in tables:
            metrics = BINARY_METRICS if table == "table2" else ("mIoU",)
            for dataset in results.datasets(table):
                for metric in metrics:
                    a, b = results.row(table, dataset, OURS, metric), results.row(table, dataset, ablation, metric)
                    if a is not None and b is not None:
                        cases.append(_oriented(f"{dataset} {metric}", OURS, a, ablation, b))
        return compare_cases(cases, lower_is_claimed=False, description=f"{OURS} better than {ablation}")
    return check


def msi_matters_most_on_blur(results: ResultSet) -> Verdict:
    """Table 2: the mIoU drop without MSI (ours minus w/o MSI, per image) larger on CUHK (blur) than on every other
    binary set measured. Different images per set, so each comparison is decided by the two drops' bootstrap
    intervals: held when blur's lies above the other's, not held when below, else inconclusive."""
    drops = {}
    for dataset in BINARY_SETS:
        a, b = results.row("table2", dataset, OURS, "mIoU"), results.row("table2", dataset, WITHOUT_MSI, "mIoU")
        if a is not None and b is not None:
            other = dict(zip(b.units, b.values))
            diff = [va - other[u] for u, va in zip(a.units, a.values) if u in other]
            if diff:
                drops[dataset] = mean_interval(diff)
    if "CUHK" not in drops or len(drops) < 2:
        return not_run(f"needs the w/o MSI drop on CUHK and another set; measured: {sorted(drops) or 'none'}")
    blur = drops.pop("CUHK")
    statuses, parts = [], []
    for dataset, (effect, low, high) in drops.items():
        status = "held" if blur[1] > high else "not held" if blur[2] < low else "inconclusive"
        statuses.append(status)
        parts.append(f"{dataset} {effect:+.2f} [{low:+.2f}, {high:+.2f}] {status}")
    status = combine(statuses, "all")
    return Verdict("", "", "", status, f"mIoU drop without MSI on CUHK {blur[0]:+.2f} [{blur[1]:+.2f}, {blur[2]:+.2f}] "
                                       f"vs " + "; ".join(parts), [], blur[0], blur[1], blur[2])


def steps_help(results: ResultSet) -> Verdict:
    """Table 5: IoU higher at each larger T than at the previous one, for every category measured (paired over the
    category's objects)."""
    cases = [Case(f"{c}: T={t1} vs T={t0}", a, b) for c in STAND_IN_CLASSES
             for t0, t1 in zip(STEP_COUNTS, STEP_COUNTS[1:])
             if (a := results.row("table5", VOC, steps_row(c, t1), "IoU")) is not None
             and (b := results.row("table5", VOC, steps_row(c, t0), "IoU")) is not None]
    return compare_cases(cases, lower_is_claimed=False, description="IoU rises with T")


def diminishing_returns(results: ResultSet) -> Verdict:
    """Table 5: the gain from T=15 to 20 smaller than from T=1 to 5, per category (paired over objects: the
    difference of the two gains per object)."""
    cases = []
    for c in STAND_IN_CLASSES:
        rows = {t: results.row("table5", VOC, steps_row(c, t), "IoU") for t in (1, 5, 15, 20)}
        if any(r is None for r in rows.values()):
            continue
        late = _gain(rows[20], rows[15])
        early = _gain(rows[5], rows[1])
        cases.append(Case(f"{c}: gain 15->20 vs gain 1->5", late, early))
    return compare_cases(cases, lower_is_claimed=True, description="gain T 15->20 below gain T 1->5")


def _gain(after: ResultRow, before: ResultRow) -> ResultRow:
    other = dict(zip(before.units, before.values))
    pairs = [(u, v - other[u]) for u, v in zip(after.units, after.values) if u in other]
    values = [v for _, v in pairs]
    return ResultRow(PAPER, after.table, after.dataset, f"{after.row} - {before.row}", "IoU gain",
                     float(np.mean(values)) if values else math.nan, after.stand_in, len(values), values,
                     [u for u, _ in pairs])


def branch_wins(results: ResultSet) -> Verdict:
    """Table 4: mIoU of the implicit branch higher on CUHK, MSD and DUTS, of the explicit branch on SBU and VOC
    (each paired over images / objects)."""
    cases = []
    for dataset, task in TASK_OF.items():
        winner = "explicit" if task in ("shadow", "multiclass") else "implicit"
        loser = "implicit" if winner == "explicit" else "explicit"
        a, b = results.row("table4", dataset, branch_row(winner), "mIoU"), results.row("table4", dataset,
                                                                                      branch_row(loser), "mIoU")
        if a is not None and b is not None:
            cases.append(Case(f"{dataset}: {winner} vs {loser}", a, b))
    return compare_cases(cases, lower_is_claimed=False, description="the task's own branch wins mIoU")


CLAIMS: list[Claim] = [
    Claim(PAPER, "1", "AlignSAM beats the other foundation-model baselines on blur, shadow, glass and saliency.",
          unchecked("no baseline of Table 2 (SAMed, SEEM, Painter, PerSAM) is run by this suite"),
          "7 of 8 metrics (Table 2)"),
    Claim(PAPER, "2", "The RL agent beats random patch selection on every metric.", ablation_loses(WITHOUT_RL),
          "8/8 (Table 2), 11/11 (Table 3); VOC mIoU 62.09 vs 54.06"),
    Claim(PAPER, "3", "The SRM is necessary: without it every metric is worse.", ablation_loses(WITHOUT_SRM),
          "8/8 (Table 2), 11/11 (Table 3); VOC mIoU 62.09 vs 27.73"),
    Claim(PAPER, "4", "Single-step prompting (w/o MSI) is worse on every Table 2 metric.",
          ablation_loses(WITHOUT_MSI, ("table2",)), "8/8 (Table 2)"),
    Claim(PAPER, "4b", "Multi-step interaction matters most on blur (the largest mIoU drop without it).",
          msi_matters_most_on_blur, "CUHK mIoU -21.55, the largest drop (Table 2)"),
    Claim(PAPER, "5", "AlignSAM is the best method on PASCAL VOC 2012.",
          unchecked("no baseline of Table 3 (MSA, SAMed, SEEM, Painter, PerSAM) is run by this suite"),
          "mIoU 62.09 vs 59.27 (Table 3)"),
    Claim(PAPER, "6", "More interaction steps T improve IoU at every step (T = 1, 5, 10, 15, 20).", steps_help,
          "strictly rising for Bottle, Car, Sheep, Cat (Table 5)"),
    Claim(PAPER, "6b", "Diminishing returns: the gain from T = 15 to 20 is below the gain from 1 to 5.",
          diminishing_returns, "<= 0.88 IoU from 15 to 20 (Table 5)"),
    Claim(PAPER, "7", "The implicit branch wins on blur, glass and saliency; the explicit branch on shadow and "
          "semantic segmentation.", branch_wins, "SBU 30.78 vs 19.40, VOC 62.09 vs 46.03 (Table 4)"),
]
