"""NoC_n@IoU and FR_n@IoU from per-click IoU sequences: hand-computed cases, RITM counting vs FR."""
from __future__ import annotations

import math

import numpy as np
import pytest

import sam_repro.metrics as M


def _ritm_noc(ious, thr, max_clicks):
    """RITM's ``_get_noc`` written out: first index with IoU >= thr, else max_clicks."""
    for i, v in enumerate(ious[:max_clicks]):
        if v >= thr:
            return i + 1
    return max_clicks


def test_noc_hand_computed():
    ious = [0.5, 0.84, 0.85, 0.91]
    assert M.noc(ious, 0.85) == 3  # >=, not >
    assert M.noc(ious, 0.90) == 4
    assert M.noc(ious, 0.80) == 2
    assert M.noc(ious, 0.95) == 20  # never reached -> max_clicks
    assert M.noc(ious, 0.95, max_clicks=30) == 30
    assert M.noc([0.9], 0.85) == 1


def test_only_first_n_clicks_count():
    ious = [0.1] * 20 + [0.99]
    assert M.noc(ious, 0.9, max_clicks=20) == 20
    assert not M.reaches(ious, 0.9, max_clicks=20)
    assert M.noc(ious, 0.9, max_clicks=21) == 21 and M.reaches(ious, 0.9, max_clicks=21)


def test_ritm_count_vs_failure_rate_at_exactly_click_n():
    """Reaching the threshold exactly on click 20 is counted by RITM's '>=20' column, not by FR."""
    exactly_20 = [0.5] * 19 + [0.86]
    never = [0.5] * 20
    early = [0.9] * 3  # loop stopped early (RITM stops once the target is reached)
    acc = M.NoCFR(iou_thresholds=(0.85,), max_clicks=20)
    ritm = M.NoCFR(iou_thresholds=(0.85,), max_clicks=20, fr_mode="ritm")
    for seq in (exactly_20, never, early):
        per = acc.update(seq)
        ritm.update(seq)
    assert per == {"noc_20@85": 1, "failed_20@85": False}
    r = acc.compute()
    assert r["noc_20@85"] == pytest.approx((20 + 20 + 1) / 3)
    assert r["ritm_ge_20@85"] == 2
    assert r["n_failed_20@85"] == 1
    assert r["fr_20@85"] == pytest.approx(100 / 3)
    assert r["n"] == 3
    rr = ritm.compute()
    assert rr["fr_20@85"] == pytest.approx(200 / 3) and rr["n_failed_20@85"] == 2
    assert M.is_failure(exactly_20, 0.85, 20) is False
    assert M.is_failure(exactly_20, 0.85, 20, fr_mode="ritm") is True
    assert M.is_failure(never, 0.85, 20) is True


def test_schoen_settings_fr20_at_85_and_fr30_at_90():
    rng = np.random.default_rng(0)
    seqs = [np.clip(np.sort(rng.uniform(0.2, 1.0, 30)), 0, 1) for _ in range(50)]
    a = M.NoCFR((0.85,), max_clicks=20)
    b = M.NoCFR((0.90,), max_clicks=30)
    for s in seqs:
        a.update(s)
        b.update(s)
    ra, rb = a.compute(), b.compute()
    assert ra["noc_20@85"] == pytest.approx(np.mean([_ritm_noc(s, 0.85, 20) for s in seqs]))
    assert rb["noc_30@90"] == pytest.approx(np.mean([_ritm_noc(s, 0.90, 30) for s in seqs]))
    assert ra["fr_20@85"] == pytest.approx(100 * np.mean([not (s[:20] >= 0.85).any() for s in seqs]))
    assert rb["fr_30@90"] == pytest.approx(100 * np.mean([not (s[:30] >= 0.90).any() for s in seqs]))
    merged = {**ra, **rb}  # keys carry n and T, so dicts of several settings combine
    assert {"noc_20@85", "fr_20@85", "noc_30@90", "fr_30@90"} <= set(merged)


def test_default_thresholds_and_empty_compute():
    acc = M.NoCFR()
    assert acc.iou_thresholds == (0.8, 0.85, 0.9)
    r = acc.compute()
    assert r["n"] == 0 and math.isnan(r["noc_20@80"]) and math.isnan(r["fr_20@90"])
    acc.update([0.82, 0.88, 0.93])
    assert acc.compute()["noc_20@80"] == 1 and acc.compute()["noc_20@90"] == 3
    acc.reset()
    assert acc.compute()["n"] == 0


@pytest.mark.parametrize(
    "bad,exc,match",
    [
        ([], ValueError, "at least one"),
        ([[0.5, 0.6]], ValueError, "1-D"),
        ([0.5, float("nan")], ValueError, "finite"),
        ([0.5, 1.2], ValueError, r"\[0, 1\]"),
        (np.array([True, False]), TypeError, "float"),
        ("0.5", TypeError, "ious"),
    ],
)
def test_iou_sequence_validation(bad, exc, match):
    with pytest.raises(exc, match=match):
        M.noc(bad, 0.85)


def test_argument_validation():
    with pytest.raises(ValueError, match="max_clicks"):
        M.noc([0.5], 0.85, max_clicks=0)
    with pytest.raises(ValueError, match="iou_threshold"):
        M.noc([0.5], 85)
    with pytest.raises(ValueError, match="fr_mode"):
        M.NoCFR(fr_mode=">=")
    with pytest.raises(ValueError, match="fr_mode"):
        M.is_failure([0.5], 0.85, fr_mode="x")
