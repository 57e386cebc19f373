"""Pi-SAM (Liu et al., "Segment Anything with Precise Interaction", ACM MM 2024): its tables, stand-ins, metrics and
claims.

Protocol (Sec. 4.1.2): SAM, HQ-SAM (``hq_token_only=True``) and Pi-SAM all take the tight ground-truth box; Pi-SAM's
official runner saves **binary masks** (logit > 0) at the original size, so every metric here scores the binary
mask at full size (the DIS metrics then have flat curves: maxF is the larger of the mask's F-measure and, at the curve's
threshold 0, the F-measure of predicting every pixel, as the DIS toolbox scores a binary PNG).

Tables and our row keys (``paper_tables/pisam.yaml``):

* ``table1`` (DIS5K), ``table3`` (HRSOD / UHRSD), ``table4`` (BIG): rows ``SAM``, ``HQ-SAM``, ``Pi-SAM``, compared
  with the paper's ViT-h rows (its default backbone for comparisons); metrics as the paper names them (``maxF_beta``,
  ``F_beta_w``, ``MAE``, ``S_m``, ``E_phi_m``, ``HCE_gamma``; ``IoU``, ``mBA``), fractions. The DIS-specific
  baselines (PGNet, IS-Net, FP-DIS, BiRefNet, UDUN) are not run.
* ``table2`` (interactive correction of the hardest DIS-TE images): ``"<method> | Ori"`` (the box prediction) and
  ``"<method> | <n> click(s)"`` (after n clicks given at once; :mod:`sam_repro.eval.corrections`).
* ``table7`` (click types, Pi-SAM): ``"Pi-SAM | Ori"``, ``"Pi-SAM | All clicks"``, ``"Pi-SAM | BG clicks"``,
  ``"Pi-SAM | FG clicks"``. **Our choices** (the paper states neither): :data:`TYPE_CLICKS` = 5 clicks (the paper's
  All column is closest to Table 2's 5-click Pi-SAM), drawn from Pi-SAM's own errors by default (the notebook's
  ``type_errors``; Table 7 tests Pi-SAM alone and the paper ties its preference to the clicks simulated from the
  model's own errors in training), on the hardest objects (Table 2's rule and count) among those whose errors include
  both an FG and a BG region, so that every object can take either kind (objects with only one kind would keep their
  box prediction in the other row and bias the comparison toward the frequent kind).
* ``table5`` (decoder ablation): the rows of :data:`ABLATIONS` (``"RGB-E + HR-Conv"``...), metrics ``IoU`` and
  ``boundary_IoU`` in percent, under the paper's dataset string ``not stated`` (evaluated on the DIS-VD stand-in).
* ``resolution`` (ours, no paper table): per set ``mIoU`` / ``mBIoU`` of each method, Pi-SAM's HR output
  (:data:`HR_ROW`) beside its low-res HQ-token mask (:data:`LOW_RES_ROW`), and the round trip of the ground truth
  through the model's low-res grid (:data:`GRID_ROW`) and through a 256 grid (:data:`GRID_256_ROW`,
  :func:`~sam_repro.eval.backbone_report.low_res_round_trip_iou`): how much of a thin object a low-res mask can hold.

Per-object values (what the claims bootstrap over; :func:`object_values`): per-image S, wF, MAE, HCE, IoU, boundary
IoU, mBA; the mean E-measure's per-image curve mean (their mean over objects is the dataset's ``E_phi_m``); for maxF
each object's F at the threshold where the image-averaged F curve peaks (their mean is the dataset's maxF).

Claims (CLAIMS.md, Pi-SAM) are decided per object, paired, with seeded bootstrap intervals
(:mod:`sam_repro.reproduce.claims`). A claim over several metrics is decided per metric (each metric's cases pooled
in its own unit; MAE and HCE oriented so that a positive effect is the claimed direction) and holds only when every
metric holds; its effect is the first metric's. Claims 2 and 7 and the backbone trend are not checked at embedded
scale (see :data:`CLAIMS`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sam_repro.eval.scoring import MetricSpec
from sam_repro.methods.pisam.decoder import VARIANTS
from sam_repro.reproduce.claims import Case, Claim, combine, compare_cases, not_run, unchecked
from sam_repro.reproduce.experiment import StandIns
from sam_repro.reproduce.results import ResultRow, ResultSet, Verdict

PAPER = "pisam"
TITLE = "Pi-SAM (Liu et al., Segment Anything with Precise Interaction, ACM MM 2024)"

METHODS = ("SAM", "HQ-SAM", "Pi-SAM")
DIS_SETS = ("DIS-VD", "DIS-TE1", "DIS-TE2", "DIS-TE3", "DIS-TE4", "DIS-TE(1-4)")
SOD_SETS = ("HRSOD", "UHRSD")
BIG_SETS = ("BIG test (100 images)", "BIG val (50 images)")
HARD_SET = "DIS5K test subset (200 hardest images)"
TYPE_SET = "DIS5K"
ABLATION_SET = "not stated"
"""The paper's dataset strings (Tables 1-5, 7): our rows carry them so SUMMARY.md pairs them with its numbers."""

STAND_INS = StandIns(
    synthetic={"DIS-VD": "synthetic/thin:val", "DIS-TE(1-4)": "synthetic/thin:test",
               "HRSOD": "synthetic/salient:test@1024", "BIG test (100 images)": "synthetic/multiclass:test@1024",
               HARD_SET: "synthetic/thin:test", ABLATION_SET: "synthetic/thin:val"},
    real={"DIS-VD": "dis5k:vd", "DIS-TE1": "dis5k:te1", "DIS-TE2": "dis5k:te2", "DIS-TE3": "dis5k:te3",
          "DIS-TE4": "dis5k:te4", "DIS-TE(1-4)": "dis5k:te_all", "HRSOD": "hrsod:test", "UHRSD": "uhrsd:test",
          "BIG test (100 images)": "big:test", "BIG val (50 images)": "big:val", HARD_SET: "dis5k:te_all",
          ABLATION_SET: "dis5k:vd"},
)
"""What runs in place of each dataset. Embedded: DIS -> the thin family (1024 px), HRSOD -> salient at 1024 px (no
stand-in for UHRSD), BIG -> multiclass at 1024 px with one mask per class (the union of its instances:
:class:`~sam_repro.data.views.ClassUnionMasks`; a family no model was trained on). ``@SIZE`` opens a synthetic family
at that side (:func:`open_stand_in`)."""

TABLE_NOTEBOOKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pisam/hr_sets.ipynb": (("table1", "table3", "table4"), ("dis_sets", "sod_sets", "big_sets")),
}
"""Notebook -> (its paper tables, the parameters naming their datasets): the full profile must name every dataset."""

TABLE_METRICS = {
    "table1": ("maxF_beta", "F_beta_w", "MAE", "S_m", "E_phi_m", "HCE_gamma"),
    "table2": ("maxF_beta", "F_beta_w", "MAE", "S_m", "E_phi_m"),
    "table3": ("S_m", "maxF_beta", "E_phi_m", "MAE"),
    "table4": ("IoU", "mBA"),
    "table5": ("IoU", "boundary_IoU"),
    "table7": ("maxF_beta", "F_beta_w", "MAE", "S_m", "E_phi_m"),
}
LOWER_IS_BETTER = frozenset({"MAE", "HCE_gamma"})

RESOLUTION = "resolution"
HR_ROW, LOW_RES_ROW = "Pi-SAM (HR)", "Pi-SAM (low-res)"
GRID_ROW, GRID_256_ROW = "grid round trip (model grid)", "grid round trip (256 grid)"

CLICK_COUNTS = (1, 2, 5)
TYPE_CLICKS = 5
CLICK_TYPES = ("All", "BG", "FG")
_ABLATION_LABELS = {"none": "no RGB-E, no HR-Conv, no Object Embedder", "rgb": "RGB-E", "rgb_hr": "RGB-E + HR-Conv",
                    "full": "RGB-E + HR-Conv + Object Embedder"}
ABLATIONS = {name: (_ABLATION_LABELS[name], (parts.rgb_embedding, parts.hr_conv_head, parts.object_embedder))
             for name, parts in VARIANTS.items()}
"""Table 5's rows in the paper's order: variant -> (our row key, (RGB embedding, HR-Conv head, Object Embedder))."""


def ori_row(method: str) -> str:
    return f"{method} | Ori"


def clicks_row(method: str, n: int) -> str:
    return f"{method} | {n} click" + ("" if n == 1 else "s")


def type_row(kind: str) -> str:
    """Table 7's rows: ``Ori`` or one of :data:`CLICK_TYPES`."""
    return ori_row("Pi-SAM") if kind == "Ori" else f"Pi-SAM | {kind} clicks"


def ablation_row(variant: str) -> str:
    return ABLATIONS[variant][0]


_METHOD_NAMES = {"SAM": "SAM", "HQ-SAM": "HQ-SAM", "Pi-SAM": "Pi-SAM", "Pi-SAM (Ours)": "Pi-SAM"}


def row_key(entry: dict[str, Any]) -> str | None:
    """Our row key of a transcribed row (None: a row we do not run: DIS-specific and SOD baselines, ViT-b / ViT-l,
    Table 6)."""
    config = entry.get("config") or {}
    if entry.get("dataset") is None:  # Table 6 (efficiency): no dataset
        return None
    if "RGB_embedding" in config:
        flags = (config["RGB_embedding"], config["HR_conv_head"], config["object_embedder"])
        return next((label for label, f in ABLATIONS.values() if f == tuple(bool(x) for x in flags)), None)
    method = _METHOD_NAMES.get(entry.get("method", ""))
    if method is None:
        return None
    if "click_type" in config:
        return type_row(str(config["click_type"]))
    if "stage" in config:
        if str(config["stage"]).startswith("original"):
            return ori_row(method)
        return clicks_row(method, int(config["clicks"]))
    if "backbone" in config:
        return method if config["backbone"] == "ViT-h" else None
    return method


# -- data and metrics ------------------------------------------------------------------------------------------
def open_stand_in(spec: str, seed: int = 0, at_least: int | None = None):
    """Open ``"NAME[:SPLIT]"`` like :func:`~sam_repro.data.open_evaluation_set`, or ``"NAME[:SPLIT]@SIZE"``: a
    synthetic family generated at ``SIZE`` x ``SIZE`` pixels (Pi-SAM's high-resolution stand-ins).

    Args:
        at_least: for a synthetic family, at least this many samples: a split shorter than that is extended with
            further samples drawn the same way (the family's samples are virtual; Table 2 scans more images than the
            nominal test split holds, as the paper scans DIS-TE's 2,000). Ignored for a real dataset.

    Raises:
        ValueError: ``@SIZE`` on a real dataset (its images have their own size) or a size that is not an int.
    """
    from sam_repro.data import open_dataset, open_evaluation_set
    from sam_repro.data.catalog import get_entry

    base, at, size = spec.partition("@")
    name, _, split = base.partition(":")
    entry = get_entry(name)
    if entry.kind != "synthetic":
        if at:
            raise ValueError(f"{spec!r}: '@SIZE' sets the side of a synthetic family; {name!r} is a real dataset")
        return open_evaluation_set(spec, seed)
    if at and not size.isdigit():
        raise ValueError(f"{spec!r}: the size after '@' must be a number of pixels")
    split = split or ("test" if "test" in entry.splits else "all" if "all" in entry.splits else entry.splits[0])
    params: dict[str, Any] = {"seed": seed, **({"size": int(size)} if at else {})}
    dataset = open_dataset(name, split, **params)
    if at_least is not None and len(dataset) < at_least:
        dataset = open_dataset(name, split, length=int(at_least), **params)
    return dataset


def evaluation_metrics(table: str, hce: bool = True) -> list[MetricSpec]:
    """What the harness scores for one of the paper's tables (and the resolution rows), all on the **binary** mask:
    IoU (``iou``), boundary IoU (``biou``) and CascadePSP's mBA (``mba``) always; the DIS metrics (``sod``: S, E,
    F curves, wF, MAE) for the tables that print them (1, 2, 3, 7), with HCE for Table 1 unless ``hce`` is False (the
    BIG table needs none of them: they cost most of the time at 1024 px)."""
    from sam_repro.eval.scoring import boundary_iou_metric, iou_metric
    from sam_repro.metrics import MBA, SODMetrics

    specs = [iou_metric(), boundary_iou_metric(),
             MetricSpec("mba", lambda: MBA(nan_policy="omit"), "mask", "mba", "value",
                        "CascadePSP mean boundary accuracy of the binary mask; mean over objects")]
    if "S_m" in TABLE_METRICS.get(table, ()):
        chosen = ("sm", "em", "fm", "wfm", "mae") + (("hce",) if hce and "HCE_gamma" in TABLE_METRICS[table] else ())
        specs.insert(0, MetricSpec("sod", lambda: SODMetrics(chosen), "mask", "fm_max", None,
                                   f"DIS/SOD metrics (PySODMetrics conventions) of the binary mask: {chosen}"))
    return specs


_SOD_KEYS = {"F_beta_w": ("wfm", "wfm"), "MAE": ("mae", "mae"), "S_m": ("sm", "sm"), "HCE_gamma": ("hce", "hce")}
_PLAIN_KEYS = {"IoU": ("iou", "iou"), "mIoU": ("iou", "iou"), "boundary_IoU": ("biou", "value"),
               "mBIoU": ("biou", "value"), "mBA": ("mba", "value")}


def object_values(records: Sequence[dict[str, Any]], metric: str) -> tuple[list[str], list[float]]:
    """Unit ids (``sample_id#object``) and per-object values of one paper metric from a harness run's records
    (successful samples, objects that have the metric; NaN values left out). See the module docstring for maxF and
    the mean E-measure."""
    objects = [(f"{r['sample_id']}#{o['object']}", o["stats"]) for r in records if r.get("status") == "ok"
               for o in r["objects"]]
    if metric in ("maxF_beta", "E_phi_m"):
        member = "fm" if metric == "maxF_beta" else "em"
        found = [(u, np.asarray(s["sod"][member]["curve"], dtype=np.float64)) for u, s in objects
                 if member in s.get("sod", {})]
        if not found:
            return [], []
        curves = np.stack([c for _, c in found])
        values = curves[:, int(np.argmax(curves.mean(axis=0)))] if metric == "maxF_beta" else curves.mean(axis=1)
        pairs = [(u, float(v)) for (u, _), v in zip(found, values)]
    elif metric in _SOD_KEYS:
        member, key = _SOD_KEYS[metric]
        pairs = [(u, float(s["sod"][member][key])) for u, s in objects if member in s.get("sod", {})]
    elif metric in _PLAIN_KEYS:
        name, key = _PLAIN_KEYS[metric]
        pairs = [(u, float(s[name][key])) for u, s in objects if name in s]
    else:
        raise KeyError(f"unknown metric {metric!r}; known: maxF_beta, E_phi_m, {', '.join([*_SOD_KEYS, *_PLAIN_KEYS])}")
    pairs = [(u, v) for u, v in pairs if not math.isnan(v)]
    return [u for u, _ in pairs], [v for _, v in pairs]


def metric_rows(table: str, dataset: str, row: str, stand_in: str, records: Sequence[dict[str, Any]],
                metrics: Sequence[str] | None = None, *, scale: float = 1.0) -> list[ResultRow]:
    """One :class:`ResultRow` per metric (default: the table's :data:`TABLE_METRICS`) of one harness run: the mean
    of the per-object values (x ``scale``), which are kept for the claims; metrics the records lack are skipped."""
    rows = []
    for metric in metrics or TABLE_METRICS[table]:
        units, values = object_values(records, metric)
        if values:
            scaled = [scale * v for v in values]
            rows.append(ResultRow(PAPER, table, dataset, row, metric, float(np.mean(scaled)), stand_in, len(scaled),
                                  scaled, units))
    return rows


def round_trip_row(dataset: str, label: str, stand_in: str, records: Sequence[dict[str, Any]], samples,
                   grid: int, paper: str = PAPER) -> ResultRow | None:
    """The ``resolution`` row ``label`` / ``mIoU``: per object evaluated in ``records`` (of ``samples``), the IoU of
    its ground truth after a round trip through a ``grid`` x ``grid`` mask grid; None without objects."""
    from sam_repro.eval.backbone_report import low_res_round_trip_iou

    units, values = [], []
    for record in records:
        if record.get("status") != "ok":
            continue
        masks = samples[record["index"]].masks
        for obj in record["objects"]:
            value = low_res_round_trip_iou(masks[obj["object"]], grid)
            if not math.isnan(value):
                units.append(f"{record['sample_id']}#{obj['object']}")
                values.append(value)
    if not values:
        return None
    return ResultRow(paper, RESOLUTION, dataset, label, "mIoU", float(np.mean(values)), f"{stand_in} ({grid} grid)",
                     len(values), values, units)


def side_by_side(rows: Sequence[ResultRow], table: str, digits: int = 3) -> list[dict[str, Any]]:
    """One line per (dataset, row) of ``table``: each metric as ``"ours (paper)"`` and the objects behind ours (see
    :func:`sam_repro.reproduce.results.side_by_side`)."""
    from sam_repro.reproduce.results import side_by_side as lines

    return lines(PAPER, rows, table, row_key, digits, count="objects")


def load_ablation_variant(variant: str, backbone: str = "tiny", checkpoint=None, device: str = "cpu",
                          base_checkpoint=None):
    """The segmenter of one Table 5 variant (:data:`ABLATIONS`).

    With ``checkpoint`` None: on the tiny SAM, the shipped ablation file of the variant (all four, ``full`` included,
    trained at one equal budget by ``scripts/train_pisam_ablations.sh``; the shipped Pi-SAM, trained longer, is not a
    Table 5 row); on another backbone ``full`` is the registry's Pi-SAM and the other variants need a file. A given
    ``checkpoint`` must hold the variant's decoder components.

    Raises:
        KeyError: an unknown variant.
        WeightsNotFoundError: no file for the variant (the message says how to train it).
        CheckpointError: a file of another variant, or on other SAM weights.
    """
    import sam_repro

    if variant not in ABLATIONS:
        raise KeyError(f"unknown Table 5 variant {variant!r}; expected one of {list(ABLATIONS)}")
    if checkpoint is None and backbone != "tiny" and variant == "full":
        return sam_repro.load_segmenter(f"pisam:{backbone}", device=device, base_checkpoint=base_checkpoint)
    return sam_repro.load_segmenter(f"pisam:{backbone}", checkpoint=checkpoint, device=device,
                                    base_checkpoint=base_checkpoint, ablation=variant)


# -- claims ----------------------------------------------------------------------------------------------------
def oriented(where: str, better_name: str, better: ResultRow, worse_name: str, worse: ResultRow) -> Case:
    """The case 'better beats worse' as :func:`compare_cases` decides it with ``lower_is_claimed=False``: for a
    lower-is-better metric (MAE, HCE) the rows swap, so a positive effect always means the claimed direction. The
    label names the rows in the order the verdict prints them (``where: a vs b``)."""
    if better.metric in LOWER_IS_BETTER:
        return Case(f"{where}: {worse_name} vs {better_name} (lower is better)", worse, better)
    return Case(f"{where}: {better_name} vs {worse_name}", better, worse)


def every_metric(cases: dict[str, list[Case]], description: str) -> Verdict:
    """Decide each metric's cases (:func:`compare_cases`, oriented by :func:`oriented`) and the claim from every
    case of every metric (:func:`combine`, ``all``); the effect, interval and n are the first decided metric's."""
    verdicts = {metric: compare_cases(found, lower_is_claimed=False, description=f"{description}, {metric}")
                for metric, found in cases.items() if found}
    if not verdicts:
        return not_run(f"{description}: no case has both numbers")
    statuses = [e["status"] for v in verdicts.values() for e in v.evidence]
    status = combine(statuses, "all")
    first = next(iter(verdicts.values()))
    counts = ", ".join(f"{m} {v.status}" for m, v in verdicts.items())
    detail = (f"{description}, every case of every metric needed (effects: the claimed-better row minus the other; "
              f"for {' and '.join(sorted(LOWER_IS_BETTER))} the other minus it): {counts}. "
              + " ".join(v.detail for v in verdicts.values()))
    evidence = [{**e, "metric": m} for m, v in verdicts.items() for e in v.evidence]
    return Verdict("", "", "", status, detail, evidence, first.effect, first.low, first.high, first.n)


def beats_rivals(table: str, rivals: Sequence[str] = ("SAM", "HQ-SAM"), metrics: Sequence[str] | None = None,
                 ours: str = "Pi-SAM"):
    """``ours`` better than every rival on every metric of ``table`` on every dataset measured."""
    def check(results: ResultSet) -> Verdict:
        cases = {}
        for metric in metrics or TABLE_METRICS[table]:
            cases[metric] = [oriented(d, ours, a, rival, b) for d in results.datasets(table)
                             for rival in rivals
                             if (a := results.row(table, d, ours, metric)) is not None
                             and (b := results.row(table, d, rival, metric)) is not None]
        return every_metric(cases, f"{table}: {ours} better than {', '.join(rivals)}")
    return check


def corrections_help_only_pi(results: ResultSet) -> Verdict:
    """Table 2: after n clicks (every n measured) Pi-SAM is better than its box prediction, SAM and HQ-SAM worse than
    theirs, on every metric (paired over the hard objects)."""
    table, dataset = "table2", HARD_SET
    cases = {}
    for metric in TABLE_METRICS[table]:
        cases[metric] = []
        for n in range(1, 11):
            for method in METHODS:
                before = results.row(table, dataset, ori_row(method), metric)
                after = results.row(table, dataset, clicks_row(method, n), metric)
                if before is None or after is None:
                    continue
                after_name, before_name = clicks_row(method, n), ori_row(method)
                if method == "Pi-SAM":
                    cases[metric].append(oriented(method, after_name, after, before_name, before))
                else:
                    cases[metric].append(oriented(method, before_name, before, after_name, after))
    return every_metric(cases, "corrective clicks: Pi-SAM improves, SAM and HQ-SAM degrade")


def background_preferred(results: ResultSet) -> Verdict:
    """Table 7: Pi-SAM with BG clicks only better than with FG clicks only, on every metric (paired over objects)."""
    cases = {metric: [oriented("Pi-SAM", type_row("BG"), a, type_row("FG"), b)]
             for metric in TABLE_METRICS["table7"]
             if (a := results.row("table7", TYPE_SET, type_row("BG"), metric)) is not None
             and (b := results.row("table7", TYPE_SET, type_row("FG"), metric)) is not None}
    return every_metric(cases, "Pi-SAM with background clicks better than with foreground clicks")


def components_add(results: ResultSet) -> Verdict:
    """Table 5: each variant measured better than the previous one measured (in :data:`ABLATIONS`' order) on IoU and
    boundary IoU."""
    present = [v for v in ABLATIONS if results.row("table5", ABLATION_SET, ablation_row(v), "IoU") is not None]
    if len(present) < 2:
        return not_run(f"needs at least two Table 5 variants; measured: {present or 'none'}")
    cases = {metric: [oriented("Table 5", ablation_row(b), nb, ablation_row(a), na)
                      for a, b in zip(present, present[1:])
                      if (na := results.row("table5", ABLATION_SET, ablation_row(a), metric)) is not None
                      and (nb := results.row("table5", ABLATION_SET, ablation_row(b), metric)) is not None]
             for metric in TABLE_METRICS["table5"]}
    return every_metric(cases, "each decoder component adds accuracy")


def hr_beats_grid(results: ResultSet) -> Verdict:
    """On every DIS set measured, Pi-SAM's HR mIoU above the round trip of the ground truth through the model's
    low-res grid (paired over objects)."""
    cases = [Case(d, a, b) for d in results.datasets(RESOLUTION) if d in DIS_SETS
             if (a := results.row(RESOLUTION, d, HR_ROW, "mIoU")) is not None
             and (b := results.row(RESOLUTION, d, GRID_ROW, "mIoU")) is not None]
    return compare_cases(cases, lower_is_claimed=False, description=f"mIoU {HR_ROW} > {GRID_ROW}")


def not_checked(reason: str):
    """A claim this suite does not check at embedded scale: ``not run`` with the reason."""
    return unchecked(f"not checked at embedded scale: {reason}")


CLAIMS: list[Claim] = [
    Claim(PAPER, "1", "Pi-SAM beats SAM and HQ-SAM on every DIS5K set, on all six metrics (same backbone).",
          beats_rivals("table1"), "108/108 cells: 3 backbones x 6 splits x 6 metrics (Table 1)"),
    Claim(PAPER, "1b", "Pi-SAM's lead over SAM and HQ-SAM holds at every backbone size (ViT-b, ViT-l, ViT-h).",
          not_checked("one backbone per run (the embedded world has one tiny SAM; a full run uses one ViT); the "
                      "trend needs Table 1 at three backbone sizes"), "Table 1"),
    Claim(PAPER, "2", "Pi-SAM (ViT-h) is state of the art against DIS-specific methods on most metrics.",
          not_checked("the DIS-specific baselines (PGNet, IS-Net, FP-DIS, BiRefNet, UDUN) are not run by this suite"),
          "26/36 cells; loses HCE on every split (Table 1)"),
    Claim(PAPER, "3", "With corrective clicks on the hardest DIS images only Pi-SAM improves: SAM and HQ-SAM (previous "
          "mask + clicks) get worse, on all five metrics, after 1, 2 and 5 clicks.", corrections_help_only_pi,
          "maxF SAM .556 -> .465/.413/.358, HQ-SAM .655 -> .636/.621/.573, Pi-SAM .753 -> .805/.809/.818 (Table 2)"),
    Claim(PAPER, "4", "On high-resolution salient object detection Pi-SAM beats SAM and HQ-SAM on every metric of "
          "every set.", beats_rivals("table3"), "4/4 metrics on HRSOD and UHRSD (Table 3)"),
    Claim(PAPER, "5", "Zero-shot on BIG, Pi-SAM has better boundaries (mBA) than SAM and HQ-SAM on every set (its IoU "
          "is not always better: reported, not decided).", beats_rivals("table4", metrics=("mBA",)),
          "mBA .766 / .788 vs HQ-SAM .718 / .747 (Table 4)"),
    Claim(PAPER, "6", "Each high-resolution decoder component (RGB embedding, then HR-Conv head, then Object Embedder) "
          "adds IoU and boundary IoU.", components_add, "IoU 70.2 -> 79.48 -> 80.93 -> 82.52 (Table 5)"),
    Claim(PAPER, "7", "Pi-SAM is cheap: it keeps 93% of SAM's speed.",
          not_checked("speed is timed by the Pi-SAM benchmark, not these notebooks; the tiny encoder is too small for "
                      "the decoder's share of the time to mean what it does beside ViT-H"),
          "4.65 vs 5 FPS; 0.48% learnable (Table 6)"),
    Claim(PAPER, "8", "Pi-SAM corrects better with background clicks only than with foreground clicks only, on all "
          "five metrics.", background_preferred, "maxF .852 (BG) vs .82 (FG) (Table 7)"),
    Claim(PAPER, "grid", "On every thin (DIS) set, Pi-SAM's high-resolution mIoU exceeds what the model's low-res mask "
          "grid can hold (the round trip of the ground truth through it).", hr_beats_grid,
          "Sec. 3.2 (motivation of the HR decoder; no number)"),
]
