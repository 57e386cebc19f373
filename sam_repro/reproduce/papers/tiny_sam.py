"""The embedded world's tiny SAM: the targets it must meet to stand in for SAM (embedded world v3), checked on
the backbone report's rows (``notebooks/backbones/tiny_sam_report.ipynb``) like a paper's claims.

Targets, on the held-out ``synthetic/generic`` test split, every object of at least 1% of the image, seeded:
tight-box mIoU >= 0.85; one positive point (the centre-most pixel, SAM's best-predicted-IoU mask of the multimask
output) mIoU >= 0.60; RITM clicks with the previous logits fed back: NoC@85 (20 clicks) <= 5 and FR@85 <= 10%.
A target is ``held`` when the 95% bootstrap interval of the mean over objects lies on its side of the bound,
``not held`` when it lies on the other side, ``inconclusive`` when it straddles the bound.
"""
from __future__ import annotations

from typing import Any

from sam_repro.reproduce.claims import Claim, compare_mean
from sam_repro.reproduce.results import ResultSet, Verdict

PAPER = "tiny_sam"
TITLE = "The embedded world's tiny SAM: targets (held-out generic objects of at least 1% of the image)"
REFERENCE = "synthetic/generic"


def row_key(entry: dict[str, Any]) -> str | None:
    """No transcribed table: nothing to compare with."""
    return None


def _target(metric: str, bound: float, above: bool):
    def check(results: ResultSet) -> Verdict:
        rows = [r for r in results.rows if r.table == "report" and r.dataset == REFERENCE and r.metric == metric]
        if not rows:
            return Verdict("", "", "", "not run", f"no {metric} row for {REFERENCE}")
        return compare_mean(f"{REFERENCE} {metric}", rows[0], bound, above=above)

    return check


CLAIMS: list[Claim] = [
    Claim(PAPER, "1", "Tight-box mIoU >= 0.85.", _target("box_miou", 0.85, True), "SAM ViT-H: ~0.85-0.9 on COCO-like objects"),
    Claim(PAPER, "2", "One centre point (best predicted of 3 masks) mIoU >= 0.60.", _target("point_miou", 0.60, True)),
    Claim(PAPER, "3", "NoC@85 with 20 RITM clicks (previous logits fed back) <= 5.", _target("noc@85", 5.0, False)),
    Claim(PAPER, "4", "FR@85 with 20 RITM clicks <= 10%.", _target("fr@85", 10.0, False)),
]
