"""Stable-SAM (Fan et al., "Stable Segment Anything Model", ICLR 2025; the supplement is the seed text): its tables,
stand-ins, prompt protocols and claims.

Tables and our row keys (``paper_tables/stablesam.yaml``):

* ``table3`` (HQ sets, generated noisy boxes vs user boxes): ``"<method> | <prompt>"`` with method ``SAM``,
  ``HQ-SAM``, ``Stable-SAM`` (and the PEFT baselines ``PT-SAM``, ``LoRA``, ``Adapter`` where trained) and prompt
  ``noisy box`` (DN-DETR noise 0.4, no IoU filter: the filter is a training rule, l.11 vs l.50), ``user box`` (our
  proxy for the five annotators' boxes: noise scale 0.22, whose boxes have about their mean IoU 0.753 with the
  ground truth) and ``oracle box`` (tight; not in the paper's Table 3, measured for claim 3); metrics ``mIoU``,
  ``mBIoU`` and ``ST`` (**our reconstruction** of the undefined stability score: mean pairwise IoU of an object's
  K masks, :func:`~sam_repro.metrics.stability.stable_sam_st_reconstruction`).
* ``table5`` (1-20 random positive points, K prompt draws per object): ``"<method> | <n> point(s)"``; metrics
  ``mIoU`` and ``mIoU_std`` (the paper's ± : std over the K draws of the dataset mIoU), plus ``object_std`` (the
  std of an object's IoU over its K draws, averaged over objects: what the stability claim bootstraps over).
* ``table6``: ``"Stable-SAM | <n> point(s)"``, metric ``alpha_1`` (the routing weight of the deformed keys).
* ``table7`` (no numbers transcribed): ``"Stable-SAM | <n> point(s) | alpha_1=<a>"``, metric ``mIoU``.
* ``table8`` (variants; caption only in the extraction): ``"<variant label> | <prompt>"`` with the labels of
  :data:`VARIANT_LABELS`, on ``MS COCO`` (its stand-in ``synthetic/generic:test``, tight boxes: HQ-SAM's COCO
  evaluation prompts with detector boxes, which this suite does not have) and on the HQ sets (pooled as above).
* ``table1`` (MESS, zero-shot semantic maps): ``"<method> | <prompt>"`` with the paper's prompt names (``Oracle
  Point``, ``Random Point``, ``Oracle Box``, ``Noisy Box``), dataset ``MESS (22 datasets)``, one metric per domain
  and ``Mean`` (dataset-count-weighted, as printed). A cell is the mean over the domain's stand-ins of their
  dataset-accumulated class mIoU; its per-unit values are per-image class mIoUs (units ``<dataset>/<sample>``), so
  the MESS claims pair images, a per-image proxy of the accumulated figure.

Datasets: each HQ stand-in by its paper name, plus the pooled row under the paper's own dataset string (the
paper averages its four HQ sets), so SUMMARY.md pairs it with the printed number. All point and box prompts are
decoded with ``multimask=False`` (Stable-SAM's setting; :func:`~sam_repro.eval.protocols.points_protocol` makes one
point multimask by default, which would hide SAM's failure on it).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from sam_repro.eval.protocols import PromptProtocol, RepeatedPromptProtocol, TIGHT_BOX, noisy_box_protocol
from sam_repro.reproduce.claims import Case, Claim, compare_cases, compare_mean, not_run
from sam_repro.reproduce.results import ResultRow, ResultSet, Verdict

PAPER = "stablesam"
TITLE = "Stable-SAM (Fan et al., Stable Segment Anything Model, ICLR 2025; supplement)"

HQ_STAND_INS = {"DIS5K-VD": "synthetic/thin:val", "ThinObject5K-TE": "synthetic/thin:test",
                "COIFT/HRSOD": "synthetic/salient:test"}
"""The HQ-SAM baseline's stand-ins for the four HQ sets (COIFT and HR-SOD share the salient family)."""
POOLED = {"table3": "four HQ datasets (assumed; not stated near the table)",
          "table5": "four HQ datasets (DIS, ThinObject-5K, COIFT, HR-SOD)",
          "table6": "four HQ datasets", "table7": "four HQ datasets", "table8": "four HQ datasets"}
"""The dataset string each table prints for its average over the HQ sets: our pooled rows use it."""

NOISY_BOX_SCALE = 0.4
USER_BOX_SCALE = 0.22
"""Noise scale whose boxes have mean IoU ~0.75 with the ground truth away from the image border, the user study's
0.753 (supplement Sec. 2.2; :func:`interior_box_iou` measures it, and gives ~0.60 at 0.4)."""


def interior_box_iou(scale: float, draws: int = 20_000, seed: int = 0) -> float:
    """Mean IoU between a box far from the image border and its noisy versions at ``scale`` (no clamping at play):
    what a noise scale means independently of any dataset."""
    from sam_repro.prompts import box_iou, noisy_box

    rng = np.random.default_rng(seed)
    box = np.array([300.0, 300.0, 500.0, 600.0])
    return float(np.mean([box_iou(noisy_box(box, (1000, 1000), rng, scale=scale), box) for _ in range(draws)]))
BOX_PROMPTS = {"noisy box": noisy_box_protocol(NOISY_BOX_SCALE), "user box": noisy_box_protocol(USER_BOX_SCALE),
               "oracle box": TIGHT_BOX}
POINT_COUNTS = (1, 2, 3, 4, 5, 10, 20)

_METHODS = {"SAM": "SAM", "SAM (baseline)": "SAM", "HQ-SAM": "HQ-SAM", "Stable-SAM": "Stable-SAM",
            "Stable-SAM (Ours)": "Stable-SAM", "PT-SAM": "PT-SAM"}


def point_label(n: int) -> str:
    return f"{n} point" + ("" if n == 1 else "s")


def box_row(method: str, prompt: str) -> str:
    return f"{method} | {prompt}"


def point_row(method: str, n: int, alpha: float | None = None) -> str:
    return f"{method} | {point_label(n)}" + ("" if alpha is None else f" | alpha_1={alpha:g}")


COCO = "MS COCO"
VARIANT_LABELS = {"full": "Stable-SAM", "no_amplitude": "Stable-SAM (no amplitude)",
                  "spatial_attn": "Stable-SAM (spatial attention)", "fixed_alpha": "Stable-SAM (fixed alpha)",
                  "no_rts": "Stable-SAM (no robust training)", "decoder_ft": "Stable-SAM (finetuning decoder)"}
"""Table 8's rows: our variants (:data:`~sam_repro.methods.stablesam.VARIANTS`) by the label the tables print."""
MESS = "MESS (22 datasets)"
MESS_PROMPTS = {"Oracle Point": "oracle_point", "Random Point": "random_point", "Oracle Box": "box",
                "Noisy Box": "noisy_box"}
"""The paper's prompt names (Table 1) -> :class:`~sam_repro.eval.mess.MessProtocol`'s prompt kinds."""
MESS_DOMAINS = ("General", "Earth_Monitoring", "Medical_Sciences", "Engineering", "Agriculture_Biology")


def row_key(entry: dict[str, Any]) -> str | None:
    """Our row key of a transcribed row."""
    method = _METHODS.get(entry.get("method", ""))
    config = entry.get("config") or {}
    if method is None:
        return None
    if entry.get("dataset") == MESS:
        return box_row(method, str(config.get("prompt")))
    if "num_points" in config:
        return point_row(method, int(config["num_points"]))
    prompt = str(config.get("prompt", ""))
    if prompt.startswith("noisy box"):
        return box_row(method, "noisy box")
    if prompt.startswith("user-annotated box"):
        return box_row(method, "user box")
    return None


def repeated_points(n: int, draws: int) -> RepeatedPromptProtocol:
    """K draws of ``n`` random positive points, single-mask output (Stable-SAM's Tables 5-7)."""
    base = PromptProtocol(f"{n}_points_single", "points", n_points=n, multimask=False)
    return RepeatedPromptProtocol(f"{n}_points_x{draws}", base, draws)


def repeated_boxes(prompt: str, draws: int) -> RepeatedPromptProtocol:
    """K draws of one of :data:`BOX_PROMPTS` (a tight box gives K identical prompts: drawn once)."""
    base = BOX_PROMPTS[prompt]
    return RepeatedPromptProtocol(f"{base.name}_x{draws}", base, draws if base.prompt == "noisy_box" else 1)


# -- records -> rows -------------------------------------------------------------------------------------------
def per_object_draws(records: Iterable[dict[str, Any]], key: str) -> dict[str, list[float]]:
    """``sample_id#object`` -> the values of record field ``key`` over the object's draws (draw order), from a
    :class:`RepeatedPromptProtocol` run's records (successful samples; draws missing the field are skipped)."""
    out: dict[str, list[float]] = defaultdict(list)
    for record in records:
        if record.get("status") != "ok":
            continue
        for obj in sorted(record["objects"], key=lambda o: (o["object"], o.get("draw", 0))):
            value = obj.get(key)
            if value is not None:
                out[f"{record['sample_id']}#{obj['object']}"].append(float(value))
    return dict(out)


def draw_rows(table: str, dataset: str, row: str, stand_in: str, records: Sequence[dict[str, Any]], *,
              scale: float = 100.0, metrics: Sequence[str] = ("mIoU",), unit_prefix: str = "") -> list[ResultRow]:
    """Result rows of one repeated-prompt run: per-object means over draws (units ``<prefix>sample#object``).

    Metrics: ``mIoU``, ``mBIoU`` (x ``scale``), ``ST`` (draw 0's reconstruction, x ``scale``), ``mIoU_std`` (std over
    draws of the dataset mIoU, x ``scale``; no per-unit values), ``object_std`` (per-object std of IoU over draws, x
    ``scale``), ``alpha_1`` (per-object mean).
    """
    fields = {"mIoU": "iou", "mBIoU": "biou", "ST": "st_reconstruction", "alpha_1": "alpha_1"}
    rows = []
    iou = per_object_draws(records, "iou")
    for metric in metrics:
        if metric in ("mIoU_std", "object_std"):
            if not iou:
                continue
            if metric == "object_std":
                units = list(iou)
                values = [scale * float(np.std(iou[u])) for u in units]
                rows.append(ResultRow("stablesam", table, dataset, row, metric, float(np.mean(values)), stand_in,
                                      len(values), values, [unit_prefix + u for u in units]))
            else:
                draws = min(len(v) for v in iou.values())
                per_draw = [scale * float(np.mean([v[d] for v in iou.values()])) for d in range(draws)]
                rows.append(ResultRow("stablesam", table, dataset, row, metric, float(np.std(per_draw)), stand_in,
                                      len(iou)))
            continue
        found = per_object_draws(records, fields[metric])
        if not found:
            continue
        factor = 1.0 if metric == "alpha_1" else scale
        units = list(found)
        values = [factor * float(np.mean(found[u])) for u in units]
        rows.append(ResultRow("stablesam", table, dataset, row, metric, float(np.mean(values)), stand_in, len(values),
                              values, [unit_prefix + u for u in units]))
    return rows


def pooled_rows(rows: Sequence[ResultRow]) -> list[ResultRow]:
    """Per (table, row, metric), the rows of every HQ set pooled into the table's :data:`POOLED` dataset
    (objects of all sets; ``mIoU_std``, which has no per-object values, is the mean of the sets' stds). Units must
    name their set (``draw_rows(unit_prefix=...)``) where two sets share sample ids."""
    groups: dict[tuple[str, str, str], list[ResultRow]] = defaultdict(list)
    for r in rows:
        if r.table in POOLED and r.dataset not in (POOLED[r.table], COCO):
            groups[r.table, r.row, r.metric].append(r)
    out = []
    for (table, row, metric), members in groups.items():
        values = [v for m in members for v in m.values]
        units = [u for m in members for u in m.units]
        value = float(np.mean(values)) if values else float(np.mean([m.value for m in members]))
        out.append(ResultRow("stablesam", table, POOLED[table], row, metric, value,
                             " + ".join(m.stand_in for m in members), sum(m.n or 0 for m in members), values, units))
    return out


def image_class_miou(records: Iterable[dict[str, Any]], metric: str = "voc_miou",
                     scale: float = 100.0) -> tuple[list[str], list[float]]:
    """Per image, the mean over classes present in its ground truth or prediction (union > 0) of I/U, from the
    per-image counts a :class:`~sam_repro.metrics.VOCMeanIoU` run records (``image_stats[metric]``): sample ids and
    values (x ``scale``)."""
    units, values = [], []
    for record in records:
        if record.get("status") != "ok" or metric not in (record.get("image_stats") or {}):
            continue
        stats = record["image_stats"][metric]
        intersect, union = np.asarray(stats["intersect"], float), np.asarray(stats["union"], float)
        present = union > 0
        if present.any():
            units.append(str(record["sample_id"]))
            values.append(scale * float(np.mean(intersect[present] / union[present])))
    return units, values


def mess_rows(row: str, cells: dict[str, dict[str, tuple[float, list[str], list[float]]]]) -> list[ResultRow]:
    """Table 1 rows of one (method, prompt): ``cells`` maps domain -> stand-in -> (dataset class mIoU x100, image
    units, per-image class mIoUs). A domain's value is the mean over its stand-ins; ``Mean`` weighs every stand-in
    alike (the paper's Mean weighs its 22 datasets alike)."""
    rows, all_values, all_units, all_cells = [], [], [], []
    for domain, sets in cells.items():
        values = [v for _, (_, _, vs) in sets.items() for v in vs]
        units = [f"{name}/{u}" for name, (_, us, _) in sets.items() for u in us]
        rows.append(ResultRow("stablesam", "table1", MESS, row, domain, float(np.mean([c for c, _, _ in sets.values()])),
                              " + ".join(sets), len(values), values, units))
        all_values += values
        all_units += units
        all_cells += [c for c, _, _ in sets.values()]
    if all_cells:
        rows.append(ResultRow("stablesam", "table1", MESS, row, "Mean", float(np.mean(all_cells)),
                              f"{len(all_cells)} stand-ins", len(all_values), all_values, all_units))
    return rows


# -- claims ----------------------------------------------------------------------------------------------------
def difference_row(a: ResultRow, b: ResultRow, label: str) -> ResultRow:
    """Per unit ``a - b`` on the units both rows share (for claims about a gain: 'the gain at 1 point exceeds the
    gain at 10')."""
    other = dict(zip(b.units, b.values))
    shared = [(u, v - other[u]) for u, v in zip(a.units, a.values) if u in other]
    values = [v for _, v in shared]
    return ResultRow(a.paper, a.table, a.dataset, label, a.metric, float(np.mean(values)) if values else float("nan"),
                     a.stand_in, len(values), values, [u for u, _ in shared])


def _sets(results: ResultSet, table: str) -> list[str]:
    """The HQ sets measured in ``table`` (every dataset but the pooled one and the COCO stand-in)."""
    return [d for d in results.datasets(table) if d not in (POOLED.get(table), COCO)]


def beats_on_every_set(table: str, metric: str, better: str, worse: str):
    """``better`` above ``worse`` on ``metric`` on every HQ stand-in of ``table``."""
    def check(results: ResultSet) -> Verdict:
        cases = [Case(d, a, b) for d in _sets(results, table)
                 if (a := results.row(table, d, better, metric)) is not None
                 and (b := results.row(table, d, worse, metric)) is not None]
        return compare_cases(cases, lower_is_claimed=False, description=f"{metric} {better} > {worse}")
    return check


def within_margin(table: str, metric: str, row: str, reference: str, margin: float, dataset: str | None = None):
    """``row`` at most ``margin`` below ``reference`` on ``dataset`` (default: the table's pooled HQ row): held when
    the lower end of the paired difference's interval is at least ``-margin``, not held when its upper end is below."""
    def check(results: ResultSet) -> Verdict:
        where = dataset or POOLED[table]
        a, b = results.row(table, where, row, metric), results.row(table, where, reference, metric)
        if a is None or b is None:
            return not_run(f"{row!r} or {reference!r} not measured in {table} / {where}")
        return compare_mean(f"{metric} {row} - {reference}", difference_row(a, b, f"{row} - {reference}"), -margin,
                            above=True)
    return check


def beats_in(table: str, dataset: str, metric: str, better: str, worse: str):
    """``better`` above ``worse`` on one dataset (paired over its units)."""
    def check(results: ResultSet) -> Verdict:
        a, b = results.row(table, dataset, better, metric), results.row(table, dataset, worse, metric)
        if a is None or b is None:
            return not_run(f"{better!r} or {worse!r} not measured in {table} / {dataset}")
        return compare_cases([Case(dataset, a, b)], lower_is_claimed=False, description=f"{metric} {better} > {worse}")
    return check


def user_beats_noisy(methods: Sequence[str]):
    """For every method measured (pooled HQ sets): mIoU with user boxes above mIoU with noisy boxes."""
    def check(results: ResultSet) -> Verdict:
        table, dataset = "table3", POOLED["table3"]
        cases = [Case(m, a, b) for m in methods
                 if (a := results.row(table, dataset, box_row(m, "user box"), "mIoU")) is not None
                 and (b := results.row(table, dataset, box_row(m, "noisy box"), "mIoU")) is not None]
        return compare_cases(cases, lower_is_claimed=False, description="mIoU user box > noisy box")
    return check


def best_with(prompt: str, rivals: Sequence[str]):
    """Stable-SAM above every rival measured with ``prompt`` (pooled HQ sets, mIoU)."""
    def check(results: ResultSet) -> Verdict:
        table, dataset = "table3", POOLED["table3"]
        ours = results.row(table, dataset, box_row("Stable-SAM", prompt), "mIoU")
        cases = [Case(f"vs {m}", ours, b) for m in rivals
                 if ours is not None and (b := results.row(table, dataset, box_row(m, prompt), "mIoU")) is not None]
        return compare_cases(cases, lower_is_claimed=False, description=f"mIoU Stable-SAM > rivals ({prompt})")
    return check


def _counts(results: ResultSet, table: str, method: str, metric: str) -> list[int]:
    return sorted(n for n in POINT_COUNTS if results.row(table, POOLED[table], point_row(method, n), metric))


def gain_largest_at_one_point(results: ResultSet) -> Verdict:
    """The per-object gain of Stable-SAM over SAM at 1 point exceeds its gain at every larger count (pooled)."""
    table, dataset = "table5", POOLED["table5"]
    gains = {}
    for n in _counts(results, table, "Stable-SAM", "mIoU"):
        a, b = results.row(table, dataset, point_row("Stable-SAM", n), "mIoU"), \
            results.row(table, dataset, point_row("SAM", n), "mIoU")
        if a is not None and b is not None:
            gains[n] = difference_row(a, b, f"gain at {point_label(n)}")
    if 1 not in gains or len(gains) < 2:
        return not_run("needs Stable-SAM and SAM at 1 point and at a larger count")
    cases = [Case(f"1 vs {n}", gains[1], gains[n]) for n in sorted(gains) if n > 1]
    return compare_cases(cases, lower_is_claimed=False, description="gain over SAM at 1 point > at n points")


def steadier_than(rival: str):
    """Stable-SAM's per-object std of IoU over prompt draws below ``rival``'s at every point count (pooled)."""
    def check(results: ResultSet) -> Verdict:
        table, dataset = "table5", POOLED["table5"]
        cases = [Case(point_label(n), a, b) for n in POINT_COUNTS
                 if (a := results.row(table, dataset, point_row("Stable-SAM", n), "object_std")) is not None
                 and (b := results.row(table, dataset, point_row(rival, n), "object_std")) is not None]
        return compare_cases(cases, lower_is_claimed=True, description=f"object std Stable-SAM < {rival}")
    return check


def alpha_falls_with_points(results: ResultSet) -> Verdict:
    """alpha_1 at 1 point above alpha_1 at every larger count (per object, pooled)."""
    table, dataset = "table6", POOLED["table6"]
    rows = {n: r for n in POINT_COUNTS if (r := results.row(table, dataset, point_row("Stable-SAM", n), "alpha_1"))}
    if 1 not in rows or len(rows) < 2:
        return not_run("needs alpha_1 at 1 point and at a larger count")
    cases = [Case(f"1 vs {n}", rows[1], rows[n]) for n in sorted(rows) if n > 1]
    return compare_cases(cases, lower_is_claimed=False, description="alpha_1 at 1 point > at n points")


def forced_alpha_rows(results: ResultSet, n: int) -> dict[float, ResultRow]:
    table, dataset = "table7", POOLED["table7"]
    prefix = point_row("Stable-SAM", n) + " | alpha_1="
    return {float(r.row[len(prefix):]): r for r in results.rows
            if r.table == table and r.dataset == dataset and r.metric == "mIoU" and r.row.startswith(prefix)}


def larger_alpha_helps_one_point(results: ResultSet) -> Verdict:
    """Forcing the largest alpha_1 of the sweep beats forcing the smallest, at 1 point (per object, pooled)."""
    rows = forced_alpha_rows(results, 1)
    if len(rows) < 2:
        return not_run("needs at least two forced alpha_1 values at 1 point")
    low, high = min(rows), max(rows)
    return compare_cases([Case(f"alpha_1 {high:g} vs {low:g}", rows[high], rows[low])], lower_is_claimed=False,
                         description="1-point mIoU, larger forced alpha_1 > smaller")


def one_point_more_sensitive(results: ResultSet, precise: int = 10) -> Verdict:
    """The effect of forcing the largest rather than the smallest alpha_1 is larger at 1 point than at ``precise``."""
    ambiguous, clear = forced_alpha_rows(results, 1), forced_alpha_rows(results, precise)
    common = sorted(set(ambiguous) & set(clear))
    if len(common) < 2:
        return not_run(f"needs two forced alpha_1 values at 1 and {precise} points")
    low, high = common[0], common[-1]
    one = difference_row(ambiguous[high], ambiguous[low], "effect at 1 point")
    many = difference_row(clear[high], clear[low], f"effect at {precise} points")
    # the objects are the same at both counts: pair on them
    return compare_cases([Case(f"1 vs {precise} points", one, many)], lower_is_claimed=False,
                         description=f"effect of alpha_1 {high:g} vs {low:g}: 1 point > {precise} points")


def mess_best_with_poor_prompts(results: ResultSet) -> Verdict:
    """On MESS's Mean, Stable-SAM above SAM and HQ-SAM with each poor prompt (oracle point, random point, noisy box);
    paired over images."""
    cases = [Case(f"{prompt} vs {rival}", a, b) for prompt in ("Oracle Point", "Random Point", "Noisy Box")
             for rival in ("SAM", "HQ-SAM")
             if (a := results.row("table1", MESS, box_row("Stable-SAM", prompt), "Mean")) is not None
             and (b := results.row("table1", MESS, box_row(rival, prompt), "Mean")) is not None]
    return compare_cases(cases, lower_is_claimed=False, description="MESS Mean, Stable-SAM > rival")


def mess_noisy_box_domains(results: ResultSet) -> Verdict:
    """With noisy boxes Stable-SAM above SAM in most MESS domains (paired over images)."""
    cases = [Case(domain, a, b) for domain in MESS_DOMAINS
             if (a := results.row("table1", MESS, box_row("Stable-SAM", "Noisy Box"), domain)) is not None
             and (b := results.row("table1", MESS, box_row("SAM", "Noisy Box"), domain)) is not None]
    return compare_cases(cases, lower_is_claimed=False, required="majority",
                         description="MESS noisy box, Stable-SAM > SAM per domain")


CLAIMS: list[Claim] = [
    Claim(PAPER, "1", "With noisy boxes (scale 0.4), Stable-SAM has a higher mIoU than SAM on every HQ set.",
          beats_on_every_set("table3", "mIoU", box_row("Stable-SAM", "noisy box"), box_row("SAM", "noisy box")),
          "82.3 vs 48.8 (Table 3; MESS mean 62.13 vs 59.24)"),
    Claim(PAPER, "2", "With noisy boxes, Stable-SAM has a higher mIoU than HQ-SAM on every HQ set.",
          beats_on_every_set("table3", "mIoU", box_row("Stable-SAM", "noisy box"), box_row("HQ-SAM", "noisy box")),
          "82.3 vs 72.4 (Table 3)"),
    Claim(PAPER, "3", "With oracle (tight) boxes, Stable-SAM is within 1 mIoU point of SAM.",
          within_margin("table3", "mIoU", box_row("Stable-SAM", "oracle box"), box_row("SAM", "oracle box"), 1.0),
          "MESS oracle box: 74.21 vs 74.74 (Table 1)"),
    Claim(PAPER, "4", "User-drawn boxes give a higher mIoU than generated noisy boxes for every method.",
          user_beats_noisy(("SAM", "HQ-SAM", "Stable-SAM")), "58.3 vs 48.8, 76.1 vs 72.4, 84.2 vs 82.3 (Table 3)"),
    Claim(PAPER, "5", "With user-drawn boxes, Stable-SAM has the highest mIoU.",
          best_with("user box", ("SAM", "HQ-SAM")), "84.2 vs 58.3 and 76.1 (Table 3)"),
    Claim(PAPER, "6", "With one point, Stable-SAM has a higher mIoU than SAM on every HQ set.",
          beats_on_every_set("table5", "mIoU", point_row("Stable-SAM", 1), point_row("SAM", 1)),
          "76.9 vs 43.3 (Table 5, reconstructed rows)"),
    Claim(PAPER, "7", "Stable-SAM's gain over SAM is largest with one point.", gain_largest_at_one_point,
          "+33.6 at 1 point, +5.3 at 2, +2.1-2.5 at 3-20 (Table 5)"),
    Claim(PAPER, "8", "Stable-SAM's answers vary less over prompt draws than SAM's, at every point count.",
          steadier_than("SAM"), "std 0.8 vs 1.8 at 1 point; <= at every count (Table 5)"),
    Claim(PAPER, "9", "Stable-SAM's answers vary less over prompt draws than PT-SAM's, at every point count.",
          steadier_than("PT-SAM"), "std 0.8 vs 1.9 at 1 point (Table 5)"),
    Claim(PAPER, "10", "The routing weight alpha_1 is larger with one point than with more points.",
          alpha_falls_with_points, "0.614 at 1 point down to 0.359 at 20 (Table 6)"),
    Claim(PAPER, "11", "Forcing a larger alpha_1 improves the one-point mIoU.", larger_alpha_helps_one_point,
          "Table 7 (numbers not in the extraction; prose)"),
    Claim(PAPER, "12", "Forcing alpha_1 matters more for one point than for ten.", one_point_more_sensitive,
          "Table 7 (numbers not in the extraction; prose)"),
    Claim(PAPER, "13", "On MESS, Stable-SAM has a higher Mean than SAM and HQ-SAM with every poor prompt (oracle "
          "point, random point, noisy box).", mess_best_with_poor_prompts,
          "51.15 / 45.49 / 62.13 vs SAM 49.67 / 44.34 / 59.24 and HQ-SAM 49.58 / 44.92 / 55.81 (Table 1)"),
    Claim(PAPER, "14", "On MESS with oracle boxes, Stable-SAM's Mean is within 1 point of SAM's.",
          within_margin("table1", "Mean", box_row("Stable-SAM", "Oracle Box"), box_row("SAM", "Oracle Box"), 1.0,
                        dataset=MESS), "74.21 vs 74.74 (Table 1)"),
    Claim(PAPER, "15", "On MESS with noisy boxes, Stable-SAM beats SAM in most domains.", mess_noisy_box_domains,
          "4 of 5 domains (Table 1)"),
    Claim(PAPER, "16", "Finetuning the mask decoder with the plug-ins (conventional deformable attention) lowers the "
          "mIoU on COCO below SAM's.",
          beats_in("table8", COCO, "mIoU", box_row("SAM", "oracle box"), box_row(VARIANT_LABELS["decoder_ft"], "oracle box")),
          "Table 8 and Sec. 3 (numbers not in the extraction)"),
    Claim(PAPER, "17", "Deformable sampling beats a plain spatial attention over the same features, with noisy boxes "
          "on the HQ sets.",
          beats_in("table8", POOLED["table8"], "mIoU", box_row("Stable-SAM", "noisy box"),
                   box_row(VARIANT_LABELS["spatial_attn"], "noisy box")), "Table 8 (numbers not in the extraction)"),
]
