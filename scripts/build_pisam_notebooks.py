"""Write Pi-SAM's notebooks (``notebooks/pisam/``): hr_sets (Tables 1, 3, 4 and Fig. 1), corrections (Tables 2, 7 and
Fig. 2) and ablation (Table 5). The notebooks are thin: a tagged ``parameters`` cell (the embedded default: tiny SAM,
synthetic stand-ins, a few images; ``ci`` runs them as they are), calls into ``sam_repro``, tables and figures. No
outputs; cell ids are derived from the notebook name and the cell's position, so rebuilding gives the same files.

    .venv/bin/python scripts/build_pisam_notebooks.py [--out notebooks/pisam]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
from notebook_builder import CLAIMS_TABLE, build, sets_literal

from sam_repro.reproduce.papers import pisam as paper

ROOT = Path(__file__).resolve().parents[1]

MODELS_PARAMETERS = '''backbone = "tiny"  # SAM registry name; vit_h under the full profile
checkpoint = None  # SAM weights file; None: the registry's
hqsam_checkpoint = None  # HQ-SAM file; None: the registry's
pisam_checkpoint = None  # Pi-only file of `sam-repro train pisam`; None: the registry's (pi_sam_tiny.pt)
hq_token_only = True  # HQ-SAM's HQ logits alone (its setting for single-object HQ sets)
device = "cpu"
seed = 0'''

LOAD_MODELS = '''out = resolve_output_dir(output_dir)
models = {
    "SAM": sam_repro.load_segmenter(backbone, checkpoint=checkpoint, device=device),
    "HQ-SAM": sam_repro.load_segmenter(f"hqsam:{backbone}", checkpoint=hqsam_checkpoint, device=device,
                                       base_checkpoint=checkpoint, hq_token_only=hq_token_only),
    "Pi-SAM": sam_repro.load_segmenter(f"pisam:{backbone}", checkpoint=pisam_checkpoint, device=device,
                                       base_checkpoint=checkpoint),
}
for name, model in models.items():
    print(name, "->", model.info().get("checkpoint"))'''

def _sets(*names: str) -> str:
    return sets_literal(paper.STAND_INS, *names)


HR_SETS = [
    ("markdown", '''# Pi-SAM, Tables 1, 3 and 4 (and Fig. 1): high-resolution sets with tight boxes

Pi-SAM (Liu et al., ACM MM 2024) keeps SAM frozen and extends HQ-SAM's decoder with a **high-resolution mask decoder**:
an Object Embedder (deformable convolutions over the mask feature and the low-res mask) and an HR-Conv head that
upsamples to the input resolution and adds an RGB embedding of the image; an optional Precise Interactor takes
corrective clicks (`corrections.ipynb`). Our build and the official code's defects it fixes: `sam_repro/methods/pisam/`.

**Protocol (Sec. 4.1.2).** SAM, HQ-SAM (HQ logits only) and Pi-SAM each take the tight ground-truth box of every object.
Pi-SAM's official runner saves binary masks (logit > 0) at the original size, so every metric here scores the binary
mask at full size: the DIS metrics (max F-measure, weighted F, MAE, S-measure, mean E-measure, HCE on the DIS sets),
IoU, boundary IoU and CascadePSP's mBA (`sam_repro.reproduce.papers.pisam.evaluation_metrics`). On a binary mask the
F and E curves are flat: maxF is the larger of the mask's F-measure and, at the curve's threshold 0, that of predicting
every pixel (as the DIS toolbox scores a binary PNG).

**Stand-ins** (embedded world): DIS-VD -> `synthetic/thin:val`, DIS-TE(1-4) -> `synthetic/thin:test` (both 1024 px; the
real DIS-TE1..4 run under the full profile), HRSOD -> `synthetic/salient:test` generated at 1024 px (no stand-in for
UHRSD), BIG -> `synthetic/multiclass:test` at 1024 px with **one mask per class**, the union of its instances (BIG is
a semantic dataset whose masks often hold several discrete objects; no model here was trained on this family, as no
model in the paper saw BIG). Pi-SAM's and HQ-SAM's parts were trained on the train splits of `thin` and `salient`.
The DIS-specific and SOD baselines (PGNet, IS-Net, FP-DIS, BiRefNet, UDUN, LDF, DHQ...) are **not run**; our rows are
set beside the paper's ViT-h rows (its default for comparisons).

**What bounds a low-res mask.** The tiny SAM's low-res grid is 64 x 64 (full SAM: 256). Beside each method's mIoU the
resolution table shows the round trip of the ground truth through the model's grid and through a 256 grid
(`low_res_round_trip_iou`: area-averaged onto the grid, upsampled back, thresholded), and Pi-SAM's own low-res (HQ
token) mask beside its HR output: what the HR decoder adds over what a low-res grid can hold.'''),
    ("parameters", f'''{MODELS_PARAMETERS}
dis_sets = {_sets("DIS-VD", "DIS-TE(1-4)")}  # Table 1
sod_sets = {_sets("HRSOD")}  # Table 3 (UHRSD: no stand-in)
big_sets = {_sets("BIG test (100 images)")}  # Table 4, one mask per class
samples = 2  # images per set; None for all
min_object_area = 64
with_hce = True  # HCE_gamma on the DIS sets
figure_objects = 2  # thin objects with the largest boundary gain of Pi-SAM over HQ-SAM (plus the largest loss)
output_dir = "results/ci/pisam/hr_sets"'''),
    ("code", f'''import matplotlib.pyplot as plt
from IPython.display import Markdown, display

import sam_repro
from sam_repro.data.views import ClassUnionMasks
from sam_repro.eval.corrections import LowResProtocol
from sam_repro.eval.figures import paired_objects, plot_panels, prediction_panels
from sam_repro.eval.harness import evaluate, load_records
from sam_repro.eval.protocols import TIGHT_BOX
from sam_repro.reproduce.claims import evaluate_claims
from sam_repro.reproduce.notebook_io import resolve_output_dir
from sam_repro.reproduce.papers import pisam as paper
from sam_repro.reproduce.results import ResultSet, write_results
from sam_repro.reproduce.tables import markdown_table

{LOAD_MODELS}
grid = models["SAM"].low_res_size'''),
    ("markdown", '''## Every set through the harness
Each (set, method) runs through the evaluation harness (records, provenance and resumption under `output_dir`), then
Pi-SAM again scored on its low-res mask (`LowResProtocol`), and the round trips of the same objects. Per-object values
are kept in `results.json` for the claims.'''),
    ("code", '''tables = {**{d: "table1" for d in dis_sets}, **{d: "table3" for d in sod_sets}, **{d: "table4" for d in big_sets}}
specs = {**dis_sets, **sod_sets, **big_sets}
rows, datasets, runs = [], {}, {}
for label, spec in specs.items():
    table = tables[label]
    dataset = paper.open_stand_in(spec, seed=seed)
    if label in big_sets:
        dataset = ClassUnionMasks(dataset)
    datasets[label] = dataset
    metrics = paper.evaluation_metrics(table, hce=with_hce)
    folder = out / label.replace("/", "_").replace(" ", "_")
    for name, segmenter in models.items():
        runs[label, name] = folder / name
        evaluate(segmenter, dataset, TIGHT_BOX, runs[label, name], metrics=metrics, seed=seed, limit=samples,
                 progress=False, min_object_area=min_object_area)
        records = load_records(runs[label, name])
        rows += paper.metric_rows(table, label, name, spec, records)
        rows += paper.metric_rows(paper.RESOLUTION, label, paper.HR_ROW if name == "Pi-SAM" else name, spec, records,
                                  ["mIoU", "mBIoU"])
    evaluate(models["Pi-SAM"], dataset, LowResProtocol("tight_box_low_res", TIGHT_BOX), folder / "Pi-SAM_low_res",
             seed=seed, limit=samples, progress=False, min_object_area=min_object_area)
    rows += paper.metric_rows(paper.RESOLUTION, label, paper.LOW_RES_ROW, spec, load_records(folder / "Pi-SAM_low_res"),
                              ["mIoU", "mBIoU"])
    for key, size in ((paper.GRID_ROW, grid), (paper.GRID_256_ROW, 256)):
        trip = paper.round_trip_row(label, key, spec, records, dataset, size)
        rows += [trip] if trip is not None else []
results = ResultSet(rows)'''),
    ("markdown", '''## Tables 1, 3 and 4
Ours (the paper's ViT-h number in brackets; fractions; MAE and HCE lower is better). Absolute values cannot match
across worlds (another model, other data); the claims below compare the methods measured here.'''),
    ("code", '''for table, caption in (("table1", "Table 1: DIS5K"), ("table3", "Table 3: HRSOD / UHRSD"), ("table4", "Table 4: BIG")):
    lines = paper.side_by_side(rows, table)
    display(Markdown(f"**{caption}**"))
    display(Markdown(markdown_table(lines, ["dataset", "row", *paper.TABLE_METRICS[table], "objects"])))'''),
    ("markdown", '''## Resolution: Pi-SAM's HR output against the low-res grid
mIoU per set: each method, Pi-SAM's low-res (HQ token) mask, and the round trip of the ground truth through the model's
low-res grid (64 x 64 for the tiny SAM) and through a 256 grid (full SAM's). mBIoU in brackets.'''),
    ("code", '''resolution = []
for label in specs:
    line = {"set": label}
    for key in ("SAM", "HQ-SAM", paper.LOW_RES_ROW, paper.HR_ROW, paper.GRID_ROW, paper.GRID_256_ROW):
        found, boundary = results.row(paper.RESOLUTION, label, key, "mIoU"), results.row(paper.RESOLUTION, label, key, "mBIoU")
        line[key] = None if found is None else f"{found.value:.3f}" + ("" if boundary is None else f" ({boundary.value:.3f})")
    resolution.append(line)
display(Markdown(markdown_table(resolution, ["set", "SAM", "HQ-SAM", paper.LOW_RES_ROW, paper.HR_ROW, paper.GRID_ROW,
                                             paper.GRID_256_ROW])))
print(f"model grid: {grid} x {grid}")'''),
    ("markdown", '''## Claims
Claims 1, 4, 5 and the grid claim, each decided per object by a seeded paired bootstrap
(`sam_repro/reproduce/papers/pisam.py`); a claim over several metrics holds only when every metric's every case holds.
Claims 1b (the backbone trend), 2 (DIS-specific baselines) and 7 (speed) are not checked at embedded scale; their
verdicts say why. SUMMARY.md evaluates every claim over the rows of all of Pi-SAM's notebooks.'''),
    ("code", f'''verdicts = [v for v in evaluate_claims(paper.CLAIMS, results) if v.claim in {{"1", "1b", "2", "4", "5", "7", "grid"}}]
write_results(out, paper.PAPER, rows, verdicts,
              extra={{"resolution": resolution, "low_res_size": grid, "protocol": TIGHT_BOX.name,
                      "segmenters": {{name: m.info() for name, m in models.items()}}}})
{CLAIMS_TABLE}'''),
    ("markdown", '''## Fig. 1: boundary detail on a thin set
The objects of the first DIS set with the largest boundary-IoU gain of Pi-SAM over HQ-SAM, and the one with the largest
loss, cropped to the object, for the three methods. Green: true positive, blue: missed foreground, red: false positive;
yellow: the box.'''),
    ("code", '''label = next(iter(dis_sets))
pairs = sorted(paired_objects(runs[label, "HQ-SAM"] / "records.jsonl", runs[label, "Pi-SAM"] / "records.jsonl", "biou"),
               key=lambda p: p[3] - p[2])
best = pairs[::-1][:figure_objects]
picks = best + [p for p in pairs[:1] if p[3] < p[2] and p not in best]
panels = []
for index, obj, _, _ in picks:
    for name, segmenter in models.items():
        panels += prediction_panels(segmenter, datasets[label], [(index, obj, None)], TIGHT_BOX, seed=seed,
                                    crop_margin=16, label=name)
if panels:
    figure = plot_panels(panels, columns=3, size=4.0)
    figure.savefig(out / "fig1_boundary_detail.png", dpi=80)
    plt.show()'''),
]

CORRECTIONS = [
    ("markdown", f'''# Pi-SAM, Tables 2 and 7 (and Fig. 2): correcting the hardest images with clicks

Pi-SAM Sec. 4.2.2: on the DIS test images where SAM, HQ-SAM and Pi-SAM share wrongly predicted areas, the 200 with the
poorest initial predictions; clicks are simulated in the shared errors as in training (Sec. 3.3) and given to every
model; SAM and HQ-SAM take the previous mask and the new clicks as their prompt, Pi-SAM its Precise Interactor. Table 7
gives Pi-SAM foreground-only or background-only clicks. The supplement with the exact selection is not available;
our choices (`sam_repro/eval/corrections.py`):

* **Common errors** on the models' low-res grid (64 x 64 for the tiny SAM, 256 for full SAM), by the official rule
  (boundary strip, 8-connected regions of at least 2 cells; ground truth put on the grid as Pi-SAM builds its labels,
  only exact 1 / 0 count as sure foreground / background). A model's prediction is its full-size binary mask (what is
  scored) put on the same grid.
* **Hardest**: the objects with at least one common error region and the lowest mean IoU of the three box predictions
  (DIS and its stand-in hold one object per image).
* **Clicks**: n = 1, 2 or 5 at once, the same for every model, one random cell in each of the n largest common regions
  (round robin when fewer), seeded per object, so the 2-click set extends the 1-click one; mapped to image pixels at the
  cells' centres. SAM and HQ-SAM get box + clicks + their previous low-res logits; Pi-SAM gets box + `corrections`.
* **Table 7**: {paper.TYPE_CLICKS} clicks (the paper does not say how many; its All column is closest to Table 2's 5-click
  Pi-SAM), All / BG-only / FG-only, drawn from **Pi-SAM's own errors** (`type_errors = "own"`, our choice: Table 7 tests
  Pi-SAM alone, and the paper explains its preference by the clicks its training simulates from the model's own
  errors; `"common"` uses Table 2's common errors), on the hardest objects (same rule and count) whose errors include
  both an FG and a BG region, so that either kind can be given (an object with one kind only would keep its box
  prediction in the other row and bias the comparison toward the frequent kind). On the tiny SAM's 64 grid few thin
  objects have both kinds, so Table 7's set is small; its size is printed and the claim's interval says what it
  allows.

Metrics as Table 2: maxF, weighted F, MAE, S-measure, mean E-measure of the binary mask at full size.'''),
    ("parameters", f'''{MODELS_PARAMETERS}
evaluation_set = "{paper.STAND_INS.synthetic[paper.HARD_SET]}"  # the DIS-TE stand-in, scanned for common errors
candidates = 6  # images scanned (None: all; a synthetic split grows to it); the paper scans DIS-TE's 2,000
hard_images = 3  # the hardest objects kept; the paper keeps 200
clicks = {list(paper.CLICK_COUNTS)}
type_clicks = {paper.TYPE_CLICKS}  # Table 7's clicks per object (not stated in the paper)
type_errors = "own"  # Table 7's clicks come from Pi-SAM's own errors (own) or from the common ones (common)
min_object_area = 64
output_dir = "results/ci/pisam/corrections"'''),
    ("code", f'''import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

import sam_repro
from sam_repro.data.views import SampleSubset
from sam_repro.eval.corrections import CorrectionProtocol, correction_panels, hardest, scan_common_errors
from sam_repro.eval.figures import plot_panels
from sam_repro.eval.harness import evaluate, load_records
from sam_repro.eval.protocols import TIGHT_BOX
from sam_repro.reproduce.claims import evaluate_claims
from sam_repro.reproduce.notebook_io import resolve_output_dir
from sam_repro.reproduce.papers import pisam as paper
from sam_repro.reproduce.results import ResultSet, write_results
from sam_repro.reproduce.tables import markdown_table

{LOAD_MODELS}'''),
    ("markdown", '''## The hardest objects and their common errors'''),
    ("code", '''dataset = paper.open_stand_in(evaluation_set, seed=seed, at_least=candidates)  # a synthetic split grows to candidates
scanned = range(len(dataset) if candidates is None else min(candidates, len(dataset)))
if type_errors not in ("own", "common"):
    raise ValueError(f"type_errors must be 'own' or 'common', got {type_errors!r}")
own = type_errors == "own"
scans = scan_common_errors(models, dataset, scanned, clicks=clicks, type_clicks=type_clicks, seed=seed,
                           min_object_area=min_object_area, own="Pi-SAM" if own else None)
hard = hardest(scans, hard_images)
type_regions = (lambda s: s.own_regions) if own else (lambda s: s.regions)
type_clicks_of = (lambda s: s.own_clicks) if own else (lambda s: s.clicks)
both = hardest([s for s in scans if type_regions(s)["FG"] and type_regions(s)["BG"]], hard_images, own=own)  # Table 7
overview = [{"objects scanned": len(scans), "with common errors": sum(s.regions["all"] > 0 for s in scans),
             "kept (hardest)": len(hard), f"kept with FG and BG errors (Table 7, {type_errors})": len(both),
             **{f"{name} IoU (kept)": float(np.mean([h.ious[name] for h in hard])) if hard else None for name in models}}]
display(Markdown(markdown_table(overview)))
display(Markdown(markdown_table([{"sample": h.sample_id, "object": h.object, "mean IoU": h.mean_iou, **h.regions,
                                  f"positive of {max(clicks)}": sum(h.clicks[max(clicks), "all"].labels)} for h in hard[:10]])))'''),
    ("markdown", '''## Table 2: box prediction, then 1, 2 and 5 clicks
Every run goes through the harness (`CorrectionProtocol`: the box prediction, then the object's clicks; with no clicks
it is the box prediction, the Ori row).'''),
    ("code", '''metrics = paper.evaluation_metrics("table2")
stand_in = f"{evaluation_set} (hardest {len(hard)})"


def run(subset, protocol, folder, table, dataset_name, key, name):
    evaluate(models[name], subset, protocol, out / folder, metrics=metrics, seed=seed, progress=False,
             min_object_area=min_object_area)
    return paper.metric_rows(table, dataset_name, key, stand_in, load_records(out / folder))


rows = []
if hard:
    subset = SampleSubset(dataset, sorted({h.index for h in hard}), label="hardest")
    for name in models:
        rows += run(subset, TIGHT_BOX, f"table2/{name}/ori", "table2", paper.HARD_SET, paper.ori_row(name), name)
        for n in clicks:
            protocol = CorrectionProtocol(f"clicks_{n}", tuple(h.clicks[n, "all"] for h in hard))
            rows += run(subset, protocol, f"table2/{name}/clicks_{n}", "table2", paper.HARD_SET,
                        paper.clicks_row(name, n), name)
display(Markdown(markdown_table(paper.side_by_side(rows, "table2"), ["row", *paper.TABLE_METRICS["table2"], "objects"])))'''),
    ("markdown", f'''## Table 7: Pi-SAM with All, BG-only and FG-only clicks
{paper.TYPE_CLICKS} clicks of one kind, on the hardest objects with both kinds of error (Pi-SAM's own by default).'''),
    ("code", '''if both:
    subset = SampleSubset(dataset, sorted({h.index for h in both}), label="hardest_fg_bg")
    rows += run(subset, TIGHT_BOX, "table7/ori", "table7", paper.TYPE_SET, paper.type_row("Ori"), "Pi-SAM")
    for kind, polarity in (("All", "all"), ("BG", "BG"), ("FG", "FG")):
        protocol = CorrectionProtocol(f"clicks_{type_clicks}_{polarity}", tuple(type_clicks_of(h)[type_clicks, polarity] for h in both))
        rows += run(subset, protocol, f"table7/{kind}", "table7", paper.TYPE_SET, paper.type_row(kind), "Pi-SAM")
    display(Markdown(markdown_table(paper.side_by_side(rows, "table7"), ["row", *paper.TABLE_METRICS["table7"], "objects"])))
else:
    print(f"Table 7: no scanned object has both a foreground and a background error region ({type_errors}); rows left out")
results = ResultSet(rows)'''),
    ("markdown", '''## Claims
Claim 3 (only Pi-SAM improves with clicks; SAM and HQ-SAM get worse) and claim 8 (background clicks help Pi-SAM more
than foreground clicks), paired over the hard objects.'''),
    ("code", f'''verdicts = [v for v in evaluate_claims(paper.CLAIMS, results) if v.claim in {{"3", "8"}}]
write_results(out, paper.PAPER, rows, verdicts,
              extra={{"overview": overview, "hard": [{{"sample_id": h.sample_id, "object": h.object, "ious": h.ious,
                                                    "regions": h.regions}} for h in hard],
                      "segmenters": {{name: m.info() for name, m in models.items()}}}})
{CLAIMS_TABLE}'''),
    ("markdown", '''## Fig. 2: the hardest object before and after its clicks
Each method's box prediction and its prediction after the largest click count (stars), cropped to the object. Green:
true positive, blue: missed foreground, red: false positive; yellow: the box.'''),
    ("code", '''if hard:
    first = hard[0]
    panels = correction_panels(models, dataset[first.index], first.object, first.clicks[max(clicks), "all"],
                               crop_margin=16)
    figure = plot_panels(panels, columns=2, size=4.0)
    figure.savefig(out / "fig2_corrections.png", dpi=80)
    plt.show()'''),
]

ABLATION = [
    ("markdown", '''# Pi-SAM, Table 5: which decoder component adds what

Table 5 adds, in turn, the RGB embedding, the HR-Conv head (convolutional output layers instead of SAM's dot product)
and the Object Embedder, and reports IoU and boundary IoU in percent. The paper does not say on which data; we use the
DIS-VD stand-in (`synthetic/thin:val`), tight boxes, the binary mask at full size, and keep the paper's dataset string
(`not stated`) on our rows so that SUMMARY.md sets them beside its numbers.

Each variant has its own file, all four (the full decoder included) trained on the same data at one equal budget:
600 HR-stage steps of 4 images with the HQ parts started from HQ-SAM's, no interactor (`scripts/train_pisam_ablations.sh`;
the shipped Pi-SAM, trained 5,000 + 2,000 steps, is not a Table 5 row). Where the paper is silent we chose: without the
HR-Conv head its two transposed convolutions become a bilinear x4 upsampling and a 1x1 convolution to the head's width;
without the RGB embedding nothing is added; without the Object Embedder the mask feature goes on unchanged
(`sam_repro.methods.pisam.PiComponents`). A variant that cannot be loaded here is left out and named, with the reason
(`sam_repro.reproduce.papers.pisam.load_ablation_variant`); claim 6 needs at least two variants.'''),
    ("parameters", '''backbone = "tiny"
checkpoint = None  # SAM weights file; None: the registry's
device = "cpu"
seed = 0
variants = ["none", "rgb", "rgb_hr", "full"]  # Table 5's rows, in its order
variant_checkpoints = {}  # {variant: Pi file}; None: the shipped ablation files (tiny), the registry's Pi-SAM (full)
evaluation_set = "synthetic/thin:val"  # the DIS-VD stand-in
samples = 3  # images; None for all
min_object_area = 64
output_dir = "results/ci/pisam/ablation"'''),
    ("code", '''from IPython.display import Markdown, display

from sam_repro.backbones.checkpoints import CheckpointError, WeightsNotFoundError
from sam_repro.eval.harness import evaluate, load_records
from sam_repro.eval.protocols import TIGHT_BOX
from sam_repro.reproduce.claims import evaluate_claims
from sam_repro.reproduce.notebook_io import resolve_output_dir
from sam_repro.reproduce.papers import pisam as paper
from sam_repro.reproduce.results import ResultSet, write_results
from sam_repro.reproduce.tables import markdown_table

out = resolve_output_dir(output_dir)
unknown = (set(variants) | set(variant_checkpoints)) - set(paper.ABLATIONS)
if unknown:
    raise ValueError(f"variants: unknown {sorted(unknown)}; expected some of {list(paper.ABLATIONS)}")
models, left_out = {}, {}
for variant in variants:
    try:
        models[variant] = paper.load_ablation_variant(variant, backbone, checkpoint=variant_checkpoints.get(variant),
                                                      device=device, base_checkpoint=checkpoint)
    except (WeightsNotFoundError, CheckpointError) as error:
        left_out[variant] = str(error)
        print(f"{variant}: left out ({error})")
for variant, model in models.items():
    print(variant, "->", model.info().get("checkpoint"))'''),
    ("code", '''rows = []
dataset = paper.open_stand_in(evaluation_set, seed=seed)
for variant, segmenter in models.items():
    evaluate(segmenter, dataset, TIGHT_BOX, out / variant, seed=seed, limit=samples, progress=False,
             min_object_area=min_object_area)
    rows += paper.metric_rows("table5", paper.ABLATION_SET, paper.ablation_row(variant), evaluation_set,
                              load_records(out / variant), scale=100.0)
results = ResultSet(rows)
display(Markdown(markdown_table(paper.side_by_side(rows, "table5", digits=2),
                                ["row", *paper.TABLE_METRICS["table5"], "objects"])))'''),
    ("markdown", '''## Claims
Claim 6 (each component adds IoU and boundary IoU), paired over objects between consecutive variants measured.'''),
    ("code", f'''verdicts = [v for v in evaluate_claims(paper.CLAIMS, results) if v.claim == "6"]
write_results(out, paper.PAPER, rows, verdicts,
              extra={{"left_out": left_out, "segmenters": {{v: m.info() for v, m in models.items()}}}})
{CLAIMS_TABLE}'''),
]


NOTEBOOKS = {"hr_sets": HR_SETS, "corrections": CORRECTIONS, "ablation": ABLATION}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "notebooks" / "pisam")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for stem, cells in NOTEBOOKS.items():
        path = args.out / f"{stem}.ipynb"
        nbformat.write(build(cells, "pisam", stem), path)
        print("wrote", path)


if __name__ == "__main__":
    main()
