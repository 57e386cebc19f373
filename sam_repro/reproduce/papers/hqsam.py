"""HQ-SAM (Ke et al., "Segment Anything in High Quality", NeurIPS 2023) as the baseline the other papers
compare with: SAM vs HQ-SAM with tight boxes on the HQ stand-ins (``notebooks/backbones/hqsam_baseline.ipynb``).

HQ-SAM is not one of the five reproduced papers (no transcribed table), but its headline claim is what the
Pi-SAM, DIS-SAM and Stable-SAM comparisons rest on, so it is checked like theirs. Rows: table ``thin``
(the DIS5K-VD / ThinObject5K-TE stand-ins, where HQ-SAM must beat SAM) and table ``other`` (COIFT/HRSOD and a
zero-shot set, reported only); row keys ``SAM``, ``HQ-SAM (HQ only)``, ``HQ-SAM (SAM+HQ)``; metrics ``mIoU``
and ``mBIoU``.
"""
from __future__ import annotations

from typing import Any

from sam_repro.reproduce.claims import Claim, compare_rows

PAPER = "hqsam"
TITLE = "HQ-SAM baseline (Ke et al., Segment Anything in High Quality, NeurIPS 2023)"
HQ_ONLY = "HQ-SAM (HQ only)"
SAM_PLUS_HQ = "HQ-SAM (SAM+HQ)"
CHECKED_ROW = HQ_ONLY
"""The output mode the claims check: the HQ logits alone, HQ-SAM's setting for its single-object HQ sets."""


def row_key(entry: dict[str, Any]) -> str | None:
    """No transcribed table for HQ-SAM: nothing to compare with."""
    return None


CLAIMS: list[Claim] = [
    Claim(PAPER, "1", "HQ-SAM (HQ output) has a higher mIoU than SAM on every thin-structure set.",
          lambda r: compare_rows(r, ["thin"], "mIoU", CHECKED_ROW, "SAM", lower_is_better=False)),
    Claim(PAPER, "2", "HQ-SAM (HQ output) has a higher boundary mIoU (mBIoU) than SAM on every thin-structure set.",
          lambda r: compare_rows(r, ["thin"], "mBIoU", CHECKED_ROW, "SAM", lower_is_better=False)),
]
