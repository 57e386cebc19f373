"""Write DIS-SAM's notebooks (``notebooks/dissam/``): dis_sets (Tables 1 and 3, the resolution table, a figure) and
ablation (Table 2 and the moved-box experiment of Fig. 4). Thin notebooks: a tagged ``parameters`` cell (the embedded
default: tiny SAM, synthetic stand-ins, a few images; ``ci`` runs them as they are), calls into ``sam_repro``, tables
and figures. No outputs; stable cell ids.

    .venv/bin/python scripts/build_dissam_notebooks.py [--out notebooks/dissam]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
from notebook_builder import CLAIMS_TABLE, build, sets_literal

from sam_repro.reproduce.papers import dissam as paper

ROOT = Path(__file__).resolve().parents[1]

def _sets(*names: str) -> str:
    return sets_literal(paper.STAND_INS, *names)


DIS_SETS = [
    ("markdown", '''# DIS-SAM, Tables 1 and 3: DIS5K and zero-shot sets with tight boxes

DIS-SAM (Liu, Fu and Zhao) keeps SAM frozen: SAM turns the box into a coarse mask, then a 5-channel IS-Net refines
[image, SAM mask, filled box] into a high-resolution map. Our build and the official code's choices:
`sam_repro/methods/dissam/`, `sam_repro/methods/isnet.py`; training: `sam-repro train dissam`.

**Protocol.** SAM, HQ-SAM (HQ logits only) and DIS-SAM take the tight ground-truth box; IS-Net is prompt-free. Each is
scored as its official code saves it (`soft_maps`): SAM and HQ-SAM binary masks, IS-Net and DIS-SAM soft maps, at the
image's full size, with the DIS metrics (max F over the dataset-averaged curve, weighted F, MAE, S-measure, mean
E-measure, HCE) and IoU (Table 3's mIoU).

**Stand-ins** (embedded world): DIS-VD -> `synthetic/thin_multi:val`, DIS-TE(all) -> `synthetic/thin_multi:test`, and
DIS-TE1..4 -> the test images of each complexity tier (the family's `meta["tier"]`: DIS's isoperimetric quotient x
boundary points, fixed cut points): one run over the test split gives all five rows. Table 3: COIFT ->
`synthetic/salient:test`, HRSOD -> the same family at 1024 px, ThinObject -> `synthetic/thin:test` (one structure per
image; the IS-Nets never saw this family); DIS-VD is Table 1's run. `Total` pools every image of the four sets (our
reading: the paper does not define it).

**Scale.** The IS-Nets are DIS-SAM's second stage at width 1/4 and input 512 (the official: width 1, 1024 px), trained
by `sam-repro train dissam` on `synthetic/thin_multi:train` with the tiny SAM's box masks (row 5 = DIS-SAM; row 1 = our
3-channel IS-Net, the same recipe). The resolution table sets each method's mIoU beside the round trip of the ground
truth through the tiny SAM's 64 x 64 mask grid and through IS-Net's side-1 grid (half its input): part of any gap
between a SAM-family mask and a refined map is resolution.'''),
    ("parameters", f'''backbone = "tiny"  # SAM registry name; vit_l under the full profile (the official code uses it)
checkpoint = None  # SAM weights file; None: the registry's
hqsam_checkpoint = None  # HQ-SAM file; None: the registry's
isnet_checkpoint = None  # 3-channel IS-Net; None: the Table 2 row 1 file (tiny); official: isnet.pth at full scale
dissam_checkpoint = None  # DIS-SAM file; None: the registry's (dis_sam_tiny.pt)
hq_token_only = True  # the HQ logits of HQ-SAM alone
soft_maps = True  # IS-Net and DIS-SAM scored as soft maps (their codes save them); False: binary masks for all
device = "cpu"
seed = 0
dis_sets = {_sets("DIS-VD", "DIS-TE(all)")}  # Table 1
tiers_from = "DIS-TE(all)"  # the set whose sample tiers give DIS-TE1..4; None when dis_sets names them (real data)
zero_shot_sets = {_sets("COIFT", "HRSOD", "ThinObject")}  # Table 3 (DIS-VD comes from Table 1's run)
samples = 2  # images per set; None for all
min_object_area = 64
with_hce = True
figure_objects = 2  # DIS-VD objects with the largest maxF-curve gain of DIS-SAM over HQ-SAM, cropped
output_dir = "results/ci/dissam/dis_sets"'''),
    ("code", '''import matplotlib.pyplot as plt
from IPython.display import Markdown, display

import sam_repro
from sam_repro.backbones.checkpoints import CheckpointError, WeightsNotFoundError
from sam_repro.eval.figures import plot_panels, prediction_panels
from sam_repro.eval.harness import evaluate, load_records
from sam_repro.eval.protocols import TIGHT_BOX
from sam_repro.reproduce.claims import evaluate_claims
from sam_repro.reproduce.notebook_io import resolve_output_dir
from sam_repro.reproduce.papers import dissam as paper
from sam_repro.reproduce.results import ResultSet, write_results
from sam_repro.reproduce.tables import markdown_table

out = resolve_output_dir(output_dir)
models, left_out = {}, {}
try:
    models["IS-Net"] = paper.load_isnet(backbone, isnet_checkpoint, device=device, base_checkpoint=checkpoint)
except (WeightsNotFoundError, CheckpointError) as error:
    left_out["IS-Net"] = str(error)
    print(f"IS-Net: left out ({error})")
models["SAM"] = sam_repro.load_segmenter(backbone, checkpoint=checkpoint, device=device)
models["HQ-SAM"] = sam_repro.load_segmenter(f"hqsam:{backbone}", checkpoint=hqsam_checkpoint, device=device,
                                            base_checkpoint=checkpoint, hq_token_only=hq_token_only)
models["DIS-SAM"] = sam_repro.load_segmenter(f"dissam:{backbone}", checkpoint=dissam_checkpoint, device=device,
                                             base_checkpoint=checkpoint)
for name, model in models.items():
    print(name, "->", model.info().get("isnet_checkpoint") or model.info().get("checkpoint"))
sam_grid = models["SAM"].low_res_size
isnet_grid = models["DIS-SAM"].settings.input_size // 2'''),
    ("markdown", '''## Every set through the harness
Each (set, method) runs through the evaluation harness (records, provenance and resumption under `output_dir`); the
rows keep per-object values for the claims. Table 1 runs IS-Net, SAM, HQ-SAM and DIS-SAM; Table 3 SAM, HQ-SAM and
DIS-SAM.'''),
    ("code", '''def run(label, spec, names, table):
    dataset = paper.open_stand_in(spec, seed=seed)
    found = {}
    for name in names:
        folder = out / label.replace("/", "_").replace(" ", "_").replace("(", "").replace(")", "") / name
        soft = soft_maps and name in paper.SOFT_METHODS
        evaluate(models[name], dataset, TIGHT_BOX, folder, metrics=paper.evaluation_metrics(soft, hce=with_hce),
                 seed=seed, limit=samples, progress=False, min_object_area=min_object_area)
        found[name] = load_records(folder)
    return dataset, found


rows, datasets, records = [], {}, {}
for label, spec in dis_sets.items():
    datasets[label], records[label] = run(label, spec, list(models), "table1")
    for name, found in records[label].items():
        rows += paper.metric_rows("table1", label, name, spec, found)
        rows += paper.metric_rows(paper.RESOLUTION, label, name, spec, found, ["mIoU"])
        if label == tiers_from:
            tiers = paper.sample_tiers(datasets[label], [r["index"] for r in found if r.get("status") == "ok"])
            rows += paper.tier_rows("table1", name, spec, found, tiers)
    for key, size in ((paper.GRID_ROW, sam_grid), (paper.ISNET_GRID_ROW, isnet_grid)):
        trip = paper.round_trip_row(label, key, spec, records[label]["SAM"], datasets[label], size)
        rows += [trip] if trip is not None else []
zero_shot = {"DIS-VD": records["DIS-VD"]} if "DIS-VD" in records else {}
for label, spec in zero_shot_sets.items():
    datasets[label], zero_shot[label] = run(label, spec, ["SAM", "HQ-SAM", "DIS-SAM"], "table3")
for label, found in zero_shot.items():
    spec = {**dis_sets, **zero_shot_sets}[label]
    for name in ("SAM", "HQ-SAM", "DIS-SAM"):
        rows += paper.metric_rows("table3", label, name, spec, found[name])
for name in ("SAM", "HQ-SAM", "DIS-SAM"):
    pooled = paper.pooled_records({label: found[name] for label, found in zero_shot.items()})
    rows += paper.metric_rows("table3", paper.TOTAL, name, "the sets above, pooled", pooled)
results = ResultSet(rows)'''),
    ("markdown", '''## Tables 1 and 3
Ours (the paper's number in brackets; fractions, HCE a count; MAE and HCE lower is better). Absolute values cannot
match across worlds (another model, other data, another scale); the claims compare the methods measured here.'''),
    ("code", '''for table, caption in (("table1", "Table 1: DIS5K"), ("table3", "Table 3: zero-shot")):
    display(Markdown(f"**{caption}**"))
    display(Markdown(markdown_table(paper.side_by_side(rows, table), ["dataset", "row", *paper.TABLE_METRICS[table],
                                                                       "objects"])))'''),
    ("markdown", '''## Resolution: what the output grids can hold
mIoU of each method's binary output per DIS set, beside the round trip of the ground truth through the tiny SAM's
low-res grid and through IS-Net's side-1 grid.'''),
    ("code", '''resolution = []
keys = [*models, paper.GRID_ROW, paper.ISNET_GRID_ROW]
for label in dis_sets:
    line = {"set": label}
    for key in keys:
        found = results.row(paper.RESOLUTION, label, key, "mIoU")
        line[key] = None if found is None else f"{found.value:.3f}"
    resolution.append(line)
display(Markdown(markdown_table(resolution, ["set", *keys])))
print(f"SAM grid {sam_grid} x {sam_grid}; IS-Net side-1 grid {isnet_grid} x {isnet_grid}")'''),
    ("markdown", '''## Claims
Claims 1, 2 and 7 and the tier check, each decided per object by a seeded paired bootstrap (the tier check: ratios of
means over each tier's objects); a claim over several metrics holds only when every metric's every case holds
(`sam_repro/reproduce/papers/dissam.py`). SUMMARY.md evaluates every claim over the rows of both DIS-SAM notebooks.'''),
    ("code", f'''verdicts = [v for v in evaluate_claims(paper.CLAIMS, results) if v.claim in {{"1", "2", "7", "tiers"}}]
write_results(out, paper.PAPER, rows, verdicts,
              extra={{"resolution": resolution, "left_out": left_out, "soft_maps": soft_maps,
                      "segmenters": {{name: m.info() for name, m in models.items()}}}})
{CLAIMS_TABLE}'''),
    ("markdown", '''## Figure: detail on DIS-VD
The DIS-VD objects where DIS-SAM's IoU gains most over HQ-SAM's, cropped to the object, for every method (the soft maps
thresholded at 0.5). Green: true positive, blue: missed foreground, red: false positive; yellow: the box.'''),
    ("code", '''from sam_repro.eval.figures import paired_objects

label = next(iter(dis_sets))
folder = out / label.replace("/", "_").replace(" ", "_").replace("(", "").replace(")", "")
pairs = sorted(paired_objects(folder / "HQ-SAM" / "records.jsonl", folder / "DIS-SAM" / "records.jsonl", "iou"),
               key=lambda p: p[3] - p[2])[::-1][:figure_objects]
panels = []
for index, obj, _, _ in pairs:
    for name, segmenter in models.items():
        panels += prediction_panels(segmenter, datasets[label], [(index, obj, None)], TIGHT_BOX, seed=seed,
                                    crop_margin=16, label=name)
if panels:
    figure = plot_panels(panels, columns=len(models), size=3.5)
    figure.savefig(out / "fig_detail.png", dpi=80)
    plt.show()'''),
]

ABLATION = [
    ("markdown", '''# DIS-SAM, Table 2 and the moved box (Fig. 4)

**Table 2** feeds the second stage the prompt box, SAM's coarse mask, both, and both with data enrichment (App. A: each
ground truth's 8-connected parts of at least 0.4% of the image, each with its own box and SAM mask, beside the whole);
row 1 is IS-Net on RGB alone with the same recipe. Absent inputs are zero channels. Every row has its own file, all
trained by `sam-repro train dissam --row K` on `synthetic/thin_multi:train` at one budget with the same frozen GT
encoder; evaluated on DIS-TE(all) (`synthetic/thin_multi:test`), soft maps, tight boxes, full size.

**Moved box** (Fig. 4's point made numeric, our construction): on test scenes with a sharp non-target outside the
target's box, the box is drawn around the non-target instead. `follow` is the share of the output's mass inside that
box: a promptable refiner should move there; prompt-free IS-Net cannot. We also compare rows 5 and 4: enrichment
trains on per-part boxes, so it should follow a box more. A row that cannot be loaded is left out and named.'''),
    ("parameters", '''backbone = "tiny"
checkpoint = None  # SAM weights file; None: the registry's
device = "cpu"
seed = 0
table_rows = [1, 2, 3, 4, 5]  # the rows of Table 2 (1: IS-Net ... 5: DIS-SAM)
row_checkpoints = {}  # {row: file}; None: the shipped files (tiny)
evaluation_set = "synthetic/thin_multi:test"  # the DIS-TE(all) stand-in
samples = 2  # images; None for all
moved_scenes = 2  # test scenes with a sharp non-target (the moved-box experiment)
soft_maps = True
min_object_area = 64
with_hce = True
output_dir = "results/ci/dissam/ablation"'''),
    ("code", '''import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from sam_repro.backbones.checkpoints import CheckpointError, WeightsNotFoundError
from sam_repro.eval.harness import evaluate, load_records
from sam_repro.eval.protocols import TIGHT_BOX
from sam_repro.reproduce.claims import evaluate_claims
from sam_repro.reproduce.notebook_io import resolve_output_dir
from sam_repro.reproduce.papers import dissam as paper
from sam_repro.reproduce.results import ResultSet, write_results
from sam_repro.reproduce.tables import markdown_table

out = resolve_output_dir(output_dir)
unknown = (set(table_rows) | set(row_checkpoints)) - set(paper.ABLATION_ROWS)
if unknown:
    raise ValueError(f"table_rows: unknown {sorted(unknown)}; expected some of {sorted(paper.ABLATION_ROWS)}")
models, left_out = {}, {}
for row in table_rows:
    try:
        models[row] = paper.load_ablation_row(row, backbone, checkpoint=row_checkpoints.get(row), device=device,
                                              base_checkpoint=checkpoint)
    except (WeightsNotFoundError, CheckpointError) as error:
        left_out[row] = str(error)
        print(f"row {row}: left out ({error})")
for row, model in models.items():
    print(row, paper.ABLATION_ROWS[row], "->", model.info().get("isnet_checkpoint"))'''),
    ("code", '''rows = []
dataset = paper.open_stand_in(evaluation_set, seed=seed)
for row, segmenter in models.items():
    evaluate(segmenter, dataset, TIGHT_BOX, out / f"row{row}", metrics=paper.evaluation_metrics(soft_maps, hce=with_hce),
             seed=seed, limit=samples, progress=False, min_object_area=min_object_area)
    rows += paper.metric_rows("table2", paper.ALL_TEST, paper.ABLATION_ROWS[row], evaluation_set,
                              load_records(out / f"row{row}"))
display(Markdown(markdown_table(paper.side_by_side(rows, "table2"), ["row", *paper.TABLE_METRICS["table2"], "objects"])))'''),
    ("markdown", '''## Moved box
Share of each output inside the box drawn around the sharp non-target (1: all of it there; the target lies outside).'''),
    ("code", '''scenes = paper.moved_box_scenes(dataset, moved_scenes)
for row, segmenter in models.items():
    found = paper.moved_box_row(paper.ABLATION_ROWS[row], segmenter, dataset, scenes, soft=soft_maps)
    if found is not None:
        rows.append(found)
moved = [{"row": r.row, "follow": f"{r.value:.3f}", "scenes": r.n} for r in rows if r.table == paper.MOVED_BOX]
display(Markdown(markdown_table(moved, ["row", "follow", "scenes"])))
results = ResultSet(rows)'''),
    ("code", '''if scenes and 5 in models:
    shown = [row for row in (1, 4, 5) if row in models]
    figure, axes = plt.subplots(1, len(shown) + 1, figsize=(3.5 * (len(shown) + 1), 3.5), squeeze=False)
    sample = dataset[scenes[0]]
    x0, y0, x1, y1 = sample.meta["distractor_box"]
    axes[0, 0].imshow(sample.image)
    axes[0, 0].set_title("image, moved box (yellow)", fontsize=8)
    for axis, row in zip(axes[0, 1:], shown):
        models[row].set_image(sample.image)
        axis.imshow(models[row].predict(box=np.array([x0, y0, x1, y1], float)).probability, cmap="gray", vmin=0, vmax=1)
        axis.set_title(paper.ABLATION_ROWS[row], fontsize=8)
    for axis in axes.flat:
        axis.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="yellow", lw=1.2))
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(out / "fig4_moved_box.png", dpi=80)
    plt.show()'''),
    ("markdown", '''## Claims
Claims 3-6 (Table 2, paired over the test objects; a claim over several metrics needs every metric), 8 and 8e (the
moved box, paired over scenes).'''),
    ("code", f'''verdicts = [v for v in evaluate_claims(paper.CLAIMS, results) if v.claim in {{"3", "4", "5", "6", "8", "8e"}}]
write_results(out, paper.PAPER, rows, verdicts,
              extra={{"left_out": left_out, "moved_scenes": len(scenes), "soft_maps": soft_maps,
                      "segmenters": {{str(row): m.info() for row, m in models.items()}}}})
{CLAIMS_TABLE}'''),
]

NOTEBOOKS = {"dis_sets": DIS_SETS, "ablation": ABLATION}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "notebooks" / "dissam")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for stem, cells in NOTEBOOKS.items():
        path = args.out / f"{stem}.ipynb"
        nbformat.write(build(cells, "dissam", stem), path)
        print("wrote", path)


if __name__ == "__main__":
    main()
