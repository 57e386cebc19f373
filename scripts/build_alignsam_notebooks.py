"""Write AlignSAM's notebooks (``notebooks/alignsam/``): tasks (Tables 2 and 3) and ablations (Tables 4 and 5, Fig. 5).
Thin notebooks: a tagged ``parameters`` cell (the embedded default: tiny SAM and tiny CLIP, synthetic stand-ins, a few
images; ``ci`` runs them as they are), calls into ``sam_repro``, tables and a figure. No outputs; stable cell ids.

    .venv/bin/python scripts/build_alignsam_notebooks.py [--out notebooks/alignsam]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
from notebook_builder import CLAIMS_TABLE, build, sets_literal

from sam_repro.reproduce.papers import alignsam as paper

ROOT = Path(__file__).resolve().parents[1]

MODEL_PARAMETERS = '''backbone = "tiny"  # SAM registry name
checkpoint = None  # SAM weights file; None: the registry's
alignsam_checkpoint = None  # AlignSAM parts file of `sam-repro train alignsam`; None: the registry's
clip_checkpoint = None  # CLIP file of the explicit branch; None: the registry's (tiny_clip.pt)
device = "cpu"
seed = 0'''


def _sets(*names: str) -> str:
    return sets_literal(paper.STAND_INS, *names)


COMMON_IMPORTS = '''from IPython.display import Markdown, display

from sam_repro.data.views import ClassUnionMasks, ForegroundMask
from sam_repro.eval.harness import evaluate, load_records
from sam_repro.eval.self_prompting import SelfPromptProtocol
from sam_repro.reproduce.claims import evaluate_claims
from sam_repro.data import open_evaluation_set
from sam_repro.reproduce.notebook_io import resolve_output_dir
from sam_repro.reproduce.papers import alignsam as paper
from sam_repro.reproduce.results import ResultSet, write_results
from sam_repro.reproduce.tables import markdown_table

out = resolve_output_dir(output_dir)


def load(task, row=paper.OURS, **options):
    return paper.load_alignsam(task, row, backbone, checkpoint=alignsam_checkpoint, device=device,
                               base_checkpoint=checkpoint, clip_checkpoint=clip_checkpoint, **options)


def open_task_set(spec, semantic):
    dataset = open_evaluation_set(spec, seed)
    return ClassUnionMasks(dataset) if semantic else ForegroundMask(dataset)


def folder_of(*parts):
    return out.joinpath(*[str(p).replace("/", "_").replace(" ", "_") for p in parts])'''

TASKS = [
    ("markdown", '''# AlignSAM, Tables 2 and 3: self-prompted SAM on five tasks, and its ablations

AlignSAM (Huang et al., CVPR 2024) keeps SAM frozen and learns to prompt it: a PPO agent picks, step by step, the patch
of a 10 x 10 grid whose centre becomes the next point; a semantic recalibration module (SRM: implicit on SAM's features,
or explicit with a CLIP Surgery map of a text) labels each point positive or negative. No user prompt: P_0 comes from
the SRM's most and least confident cells. Our build: `sam_repro/methods/alignsam/`; training: `sam-repro train alignsam`
(PPO: `sam_repro/train/ppo.py`), CLIP: `sam-repro train tiny-clip`.

**Stand-ins** (embedded world; research/methods.md section 1): CUHK -> `synthetic/blur`, SBU -> `synthetic/shadow`,
MSD -> `synthetic/glass`, DUTS -> `synthetic/salient`, PASCAL VOC -> `synthetic/multiclass` (13 classes), test splits
(VOC: `voc_test`, 1-3 objects drawn 1.8x larger, as VOC's objects are to the 10 x 10 grid; blur: version 2, the
defocused far layer object-sized; why: `sam_repro/data/synthetic/multiclass.py::VOC_SCALE`, `semantic.generate_blur`);
each task uses its paper branch (implicit: blur, glass, salient; explicit: shadow, VOC with the class name).

**Rows.** Ours; w/o RL (random unmasked patches); w/o SRM (every agent point positive); w/o MSI (T = 1). SEEM, Painter
and MSA are shown from the paper only; PerSAM and SAMed are not run here.

**Metrics** on SAM's probability map (`sam_repro/reproduce/papers/alignsam.py`): mIoU = the mean over images of the
**foreground IoU** (the paper does not say whether it averages foreground and background), max F (beta^2 = 0.3), BER
with counts accumulated over the set, mean E-measure, MAE; VOC: per-class intersections and unions accumulated over
the set, mean over the 13 classes (VOC's 20-class mean without background), and per class. Each class of a VOC image
is one self-prompted run with the class name as the text (image-level labels are known; the agent never sees a mask);
the class map takes, per pixel, the most probable class above 0.5.'''),
    ("parameters", f'''{MODEL_PARAMETERS}
binary_sets = {_sets(*paper.BINARY_SETS)}  # Table 2
voc_sets = {_sets(paper.VOC)}  # Table 3
table_rows = {list(paper.ABLATIONS)!r}
samples = 2  # images per set; None for all
output_dir = "results/ci/alignsam/tasks"'''),
    ("code", COMMON_IMPORTS),
    ("markdown", '''## Every (set, row) through the harness
The self-prompting protocol runs each row on each set (records, provenance and resumption under `output_dir`).'''),
    ("code", '''rows = []
for label, spec in {**binary_sets, **voc_sets}.items():
    semantic = label in voc_sets
    task = paper.TASK_OF[label]
    dataset = open_task_set(spec, semantic)
    protocol = SelfPromptProtocol(texts="class" if semantic else "task")
    class_names = dataset[0].class_names if semantic else None
    for row in table_rows:
        if semantic and row == paper.WITHOUT_MSI:
            continue  # Table 3 has no w/o MSI row
        folder = folder_of(label, row)
        metrics = paper.evaluation_metrics(semantic, len(class_names) if semantic else 14)
        evaluate(load(task, row), dataset, protocol, folder, metrics=metrics, seed=seed, limit=samples, progress=False)
        records = load_records(folder)
        if semantic:
            rows += paper.voc_rows("table3", row, spec, records, class_names)
        else:
            rows += paper.metric_rows("table2", label, row, spec, records)
results = ResultSet(rows)'''),
    ("markdown", '''## Tables 2 and 3
Ours (the paper's number in brackets; percent except MAE; BER and MAE lower is better). Absolute values cannot match
across worlds; the claims compare the rows measured here. Table 3's per-class columns are our family's classes (the
paper's VOC classes have no stand-in of the same name; they appear under their own names).'''),
    ("code", '''display(Markdown("**Table 2**"))
display(Markdown(markdown_table(paper.side_by_side(rows, "table2"), ["dataset", "row", *paper.BINARY_METRICS, "n"])))
display(Markdown("**Table 3**"))
per_class = sorted({r.metric for r in rows if r.table == "table3" and r.metric.startswith("IoU_")})
voc = [{"row": r.row, "mIoU": f"{r.value:.2f}", "n": r.n,
        **{m.removeprefix("IoU_"): f"{results.value('table3', r.dataset, r.row, m):.1f}"
           for m in per_class if results.value("table3", r.dataset, r.row, m) is not None}}
       for r in rows if r.table == "table3" and r.metric == "mIoU"]
display(Markdown(markdown_table(voc, ["row", "mIoU", *[m.removeprefix("IoU_") for m in per_class], "n"])))'''),
    ("markdown", '''## Claims
Claims 2-4 (each ablation loses on every metric of every set, paired over images; VOC over (image, class) objects) and
4b (the w/o MSI drop largest on blur). Claims 1 and 5 compare with baselines this suite does not run.'''),
    ("code", f'''verdicts = [v for v in evaluate_claims(paper.CLAIMS, results) if v.claim in {{"1", "2", "3", "4", "4b", "5"}}]
write_results(out, paper.PAPER, rows, verdicts, extra={{"table_rows": table_rows}})
{CLAIMS_TABLE}'''),
]

ABLATIONS = [
    ("markdown", '''# AlignSAM, Tables 4 and 5 and Fig. 5: which branch, how many steps, what the agent does

**Table 4** runs each task with the implicit SRM (SAM's features only) and with the explicit SRM (plus a CLIP Surgery map
of the task's text: "defocus background", "shadow", "glass", "salient objects", or the VOC class name). Both branches of
every task were trained on the same rollouts (`sam-repro train alignsam`).

**Table 5** varies the number of steps T on the VOC stand-in for four categories. The family has a bottle but no car,
sheep or cat: their stand-in classes were fixed before any run (`paper.STAND_IN_CLASSES`: tyre, cloud, fish). The
agent was trained at T = 15.

**Fig. 5**: the points and masks of one run, step by step. **Fig. 2**: CLIP Surgery's map of a class name beside
that of "salient objects".'''),
    ("parameters", f'''{MODEL_PARAMETERS}
task_sets = {_sets(*paper.TASK_OF)}  # Table 4
steps = {list(paper.STEP_COUNTS)!r}  # Table 5
samples = 2  # images per set; None for all
figure_task = "salient"
output_dir = "results/ci/alignsam/ablations"'''),
    ("code", "import cv2\nimport matplotlib.pyplot as plt\nimport numpy as np\n\n" + COMMON_IMPORTS),
    ("code", '''rows = []
for label, spec in task_sets.items():
    semantic = label == paper.VOC
    dataset = open_task_set(spec, semantic)
    protocol = SelfPromptProtocol(texts="class" if semantic else "task")
    classes = len(dataset[0].class_names) if semantic else 14
    for branch in ("implicit", "explicit"):
        folder = folder_of("table4", label, branch)
        evaluate(load(paper.TASK_OF[label], branch=branch), dataset, protocol, folder,
                 metrics=paper.evaluation_metrics(semantic, classes), seed=seed, limit=samples, progress=False)
        records = load_records(folder)
        if semantic:
            found = paper.voc_rows("table4", paper.branch_row(branch), spec, records, dataset[0].class_names)
            rows += [r for r in found if r.metric == "mIoU"]
        rows += [r for r in paper.metric_rows("table4", label, paper.branch_row(branch), spec, records, ("E_phi",)
                                             if semantic else ("mIoU", "E_phi"))]
display(Markdown(markdown_table(paper.side_by_side(rows, "table4"), ["dataset", "row", "mIoU", "E_phi", "n"])))'''),
    ("code", '''voc_spec = task_sets[paper.VOC]
voc = open_task_set(voc_spec, True)
for t in steps:
    folder = folder_of("table5", f"T{t}")
    evaluate(load("multiclass", steps=t), voc, SelfPromptProtocol(f"self_prompted_T{t}", texts="class"), folder,
             metrics=paper.evaluation_metrics(True, len(voc[0].class_names)), seed=seed, limit=samples, progress=False)
    rows += paper.class_rows("table5", lambda c, t=t: paper.steps_row(c, t), voc_spec, load_records(folder), voc,
                             voc[0].class_names)
results = ResultSet(rows)
table5 = [{"category": c, **{f"T={t}": (lambda r: None if r is None else f"{r.value:.1f} (n={r.n})")(
              results.row("table5", paper.VOC, paper.steps_row(c, t), "IoU")) for t in steps}}
          for c in paper.STAND_IN_CLASSES]
display(Markdown(markdown_table(table5, ["category", *[f"T={t}" for t in steps]])))'''),
    ("markdown", '''## Fig. 5: one run step by step
The first test image of `figure_task`: the points so far (green positive, red negative) over SAM's mask after P_0 and
after some of the agent's steps.'''),
    ("code", '''spec = task_sets[{v: k for k, v in paper.TASK_OF.items()}[figure_task]]
sample = open_task_set(spec, figure_task == "multiclass")[0]
segmenter = load(figure_task)
segmenter.set_image(sample.image)
run = segmenter.run(text=sample.class_names[sample.meta["mask_classes"][0]] if figure_task == "multiclass" else None)
shown = sorted({0, 1, len(run.step_low_res) // 2, len(run.step_low_res) - 1})
figure, axes = plt.subplots(1, len(shown) + 1, figsize=(3.2 * (len(shown) + 1), 3.2), squeeze=False)
axes[0, 0].imshow(sample.image)
axes[0, 0].contour(sample.masks[0], levels=[0.5], colors="yellow", linewidths=0.8)
axes[0, 0].set_title("image, ground truth (yellow)", fontsize=8)
height, width = sample.image.shape[:2]
for axis, step in zip(axes[0, 1:], shown):
    low = run.step_low_res[step][0]
    axis.imshow(sample.image)
    side = max(height, width)  # the low-res grid covers the longest side; the rest is padding
    grid = (cv2.resize(low, (side, side), interpolation=cv2.INTER_LINEAR) > 0)[:height, :width]
    axis.imshow(np.ma.masked_where(~grid, grid), alpha=0.45, cmap="autumn")
    known = 2 + step  # P_0 holds two points, then one per step
    pts, lab = run.points[:known], run.labels[:known]
    axis.scatter(pts[lab == 1, 0], pts[lab == 1, 1], c="lime", s=20)
    axis.scatter(pts[lab == 0, 0], pts[lab == 0, 1], c="red", s=20)
    axis.set_title("P_0" if step == 0 else f"after step {step}", fontsize=8)
for axis in axes.flat:
    axis.axis("off")
figure.tight_layout()
figure.savefig(out / "fig5_steps.png", dpi=80)
plt.show()'''),
    ("markdown", '''## Fig. 2: a class name against a vague text
CLIP Surgery's map M_c on the first VOC stand-in image for the name of a class present and for "salient objects"
(each text alone: the empty text's features subtracted). The tiny CLIP never saw the word "salient" (its captions
never use it), as the paper's point is that a vague text aligns poorly: the class name's map should be the sharper.'''),
    ("code", '''from sam_repro.nn.clip_surgery import ClipSurgery

voc_sample = open_task_set(task_sets[paper.VOC], True)[0]
class_name = voc_sample.class_names[voc_sample.meta["mask_classes"][0]]
surgery = ClipSurgery(load("multiclass", branch="explicit").clip)
texts = [class_name, "salient objects"]
figure, axes = plt.subplots(1, 3, figsize=(9.6, 3.2))
axes[0].imshow(voc_sample.image)
axes[0].contour(voc_sample.masks[0], levels=[0.5], colors="yellow", linewidths=0.8)
axes[0].set_title(f"image, {class_name} (yellow)", fontsize=8)
height, width = voc_sample.image.shape[:2]
for axis, text in zip(axes[1:], texts):
    grid = surgery.maps([voc_sample.image], [text])[0, 0].cpu().numpy()
    axis.imshow(cv2.resize(grid, (width, height), interpolation=cv2.INTER_LINEAR), cmap="jet", vmin=0, vmax=1)
    axis.set_title(f'M_c of "{text}"', fontsize=8)
for axis in axes:
    axis.axis("off")
figure.tight_layout()
figure.savefig(out / "fig2_clip_maps.png", dpi=80)
plt.show()'''),
    ("markdown", '''## Claims
Claim 7 (the task's own branch wins mIoU, paired over images) and claims 6 / 6b (IoU rises with T; the last gain is
below the first), paired over each category's objects.'''),
    ("code", f'''verdicts = [v for v in evaluate_claims(paper.CLAIMS, results) if v.claim in {{"6", "6b", "7"}}]
write_results(out, paper.PAPER, rows, verdicts, extra={{"steps": steps, "stand_in_classes": paper.STAND_IN_CLASSES}})
{CLAIMS_TABLE}'''),
]

NOTEBOOKS = {"tasks": TASKS, "ablations": ABLATIONS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "notebooks" / "alignsam")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for stem, cells in NOTEBOOKS.items():
        path = args.out / f"{stem}.ipynb"
        nbformat.write(build(cells, "alignsam", stem), path)
        print("wrote", path)


if __name__ == "__main__":
    main()
