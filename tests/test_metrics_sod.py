"""SOD/DIS metrics against PySODMetrics itself (per image and per dataset) and metrics.md's edge cases."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import sam_repro.metrics as M
from sam_repro.metrics._testing import structured_gt, uint8_pair, varied_pairs

pysod = pytest.importorskip("py_sod_metrics")

TOL = 1e-6
PAIRS = list(varied_pairs(seed=7, n=40)) + [
    (f"large_{name}", p, g) for name, p, g in list(varied_pairs(seed=8, n=5, min_size=150, max_size=320))[:5]
]


def _float(pred: np.ndarray) -> np.ndarray:
    return pred.astype(np.float64) if pred.dtype == bool else pred


def _ref_step(metric, pred, gt, normalize=False):
    metric.step(_float(pred) if not normalize else pred, gt, normalize=normalize)
    return metric


def _old_fmeasure():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pysod.Fmeasure(beta=0.3)


@pytest.mark.parametrize("name,pred,gt", PAIRS, ids=[p[0] for p in PAIRS])
def test_per_image_equals_pysodmetrics(name, pred, gt):
    assert M.s_measure(pred, gt) == pytest.approx(_ref_step(pysod.Smeasure(), pred, gt).sms[-1], abs=TOL)
    assert M.mae(pred, gt) == pytest.approx(_ref_step(pysod.MAE(), pred, gt).maes[-1], abs=TOL)
    assert M.weighted_f_measure(pred, gt) == pytest.approx(
        _ref_step(pysod.WeightedFmeasure(), pred, gt).weighted_fms[-1], abs=TOL
    )

    em = M.e_measure(pred, gt)
    ref_em = _ref_step(pysod.Emeasure(), pred, gt)
    np.testing.assert_allclose(em["curve"], ref_em.changeable_ems[-1], atol=TOL, rtol=0)
    assert em["adp"] == pytest.approx(ref_em.adaptive_ems[-1], abs=TOL)
    assert em["max"] == pytest.approx(np.max(ref_em.changeable_ems[-1]), abs=TOL)
    assert em["mean"] == pytest.approx(np.mean(ref_em.changeable_ems[-1]), abs=TOL)

    # F-measure goes through FmeasureV2; check it against the other PySOD implementation (Fmeasure)
    fm = M.f_measure(pred, gt)
    ref_fm = _ref_step(_old_fmeasure(), pred, gt)
    np.testing.assert_allclose(fm["curve"], ref_fm.changeable_fms[-1], atol=TOL, rtol=0)
    np.testing.assert_allclose(fm["precision"], ref_fm.precisions[-1], atol=TOL, rtol=0)
    np.testing.assert_allclose(fm["recall"], ref_fm.recalls[-1], atol=TOL, rtol=0)
    assert fm["adp"] == pytest.approx(ref_fm.adaptive_fms[-1], abs=TOL)
    assert fm["max"] == pytest.approx(np.max(ref_fm.changeable_fms[-1]), abs=TOL)


@pytest.mark.parametrize("name,pred,gt", PAIRS, ids=[p[0] for p in PAIRS])
def test_hce_equals_pysodmetrics_and_dis_threshold(name, pred, gt):
    # PySOD with normalize=False binarises pred > 0.5; our default is DIS's u8 > 128 (= > 128/255)
    ref_05 = _ref_step(pysod.HumanCorrectionEffortMeasure(), pred, gt).hces[-1]
    assert M.hce(pred, gt, threshold=0.5) == ref_05
    dis_bin = (_float(pred) > 128 / 255).astype(np.float64)
    ref_dis = _ref_step(pysod.HumanCorrectionEffortMeasure(), dis_bin, gt).hces[-1]
    assert M.hce(pred, gt) == ref_dis
    assert M.hce(pred, gt, skeleton=M.gt_skeleton(gt)) == ref_dis


def test_hce_threshold_128_is_background_like_dis():
    gt = np.zeros((40, 40), bool)
    gt[22:38, 22:38] = True
    u8 = np.where(gt, 255, 0).astype(np.uint8)
    u8[1:16, 1:16] = 128  # a blob of exactly 128: DIS (u8 > 128) ignores it, PySOD (> 0.5) counts it
    p = u8 / 255
    assert M.hce(p, gt) == 0
    assert M.hce(p, gt, threshold=0.5) > 0
    assert M.hce(p.astype(np.float32), gt) == 0  # threshold cast to the map's dtype


def test_hce_relax_and_epsilon_forwarded():
    rng = np.random.default_rng(3)
    gt = structured_gt(rng, 80, 90)
    pred = np.roll(gt, 3, axis=1)
    for relax, eps in [(1, 1.0), (3, 2.0), (5, 4.0)]:
        ref = pysod.HumanCorrectionEffortMeasure(relax=relax, epsilon=eps)
        ref.step(pred.astype(np.float64), gt, normalize=False)
        assert M.hce(pred, gt, relax=relax, epsilon=eps) == ref.hces[-1]


def test_gt_skeleton_equals_full_image_skeletonize():
    from skimage.morphology import skeletonize

    rng = np.random.default_rng(11)
    for _ in range(15):
        gt = structured_gt(rng, int(rng.integers(10, 120)), int(rng.integers(10, 120)))
        np.testing.assert_array_equal(M.gt_skeleton(gt), skeletonize(gt).astype(bool))
    assert not M.gt_skeleton(np.zeros((5, 5), bool)).any()


def test_hce_and_skeleton_take_read_only_masks():
    """Dataset masks are read-only arrays, and skimage's skeletonize refuses a read-only contiguous buffer (a box that
    spans whole rows of the image); both functions used to raise 'buffer source array is read-only' there."""
    gt = np.zeros((40, 40), bool)
    gt[10:30, :] = True  # full rows: the box is a contiguous (read-only) view of the mask
    pred = np.roll(gt, 2, axis=0)
    expected = M.hce(pred, gt.copy())
    gt.flags.writeable = False
    assert M.hce(pred, gt) == expected
    np.testing.assert_array_equal(M.gt_skeleton(gt), M.gt_skeleton(gt.copy()))


def test_hce_skeleton_shape_checked():
    gt = np.zeros((10, 10), bool)
    with pytest.raises(ValueError, match="skeleton"):
        M.hce(gt, gt, skeleton=np.zeros((9, 10), bool))


def test_dataset_aggregation_equals_pysodmetrics():
    ours = M.SODMetrics()
    ref = {
        "sm": pysod.Smeasure(),
        "em": pysod.Emeasure(),
        "wfm": pysod.WeightedFmeasure(),
        "mae": pysod.MAE(),
        "fm": _old_fmeasure(),
        "hce": pysod.HumanCorrectionEffortMeasure(),
    }
    for _, pred, gt in PAIRS:
        per = ours.update(pred, gt)
        assert set(per) == {"sm", "em_adp", "em_mean", "em_max", "fm_adp", "fm_mean", "fm_max", "wfm", "mae", "hce"}
        for key, m in ref.items():
            if key == "hce":
                m.step((_float(pred) > 128 / 255).astype(np.float64), gt, normalize=False)
            else:
                m.step(_float(pred), gt, normalize=False)
    res = ours.compute()
    r = {k: m.get_results() for k, m in ref.items()}
    assert res["n"] == len(PAIRS)
    assert res["sm"] == pytest.approx(r["sm"]["sm"], abs=TOL)
    assert res["mae"] == pytest.approx(r["mae"]["mae"], abs=TOL)
    assert res["wfm"] == pytest.approx(r["wfm"]["wfm"], abs=TOL)
    assert res["hce"] == pytest.approx(r["hce"]["hce"], abs=TOL)
    assert res["em_adp"] == pytest.approx(r["em"]["em"]["adp"], abs=TOL)
    assert res["em_max"] == pytest.approx(r["em"]["em"]["curve"].max(), abs=TOL)
    assert res["em_mean"] == pytest.approx(r["em"]["em"]["curve"].mean(), abs=TOL)
    assert res["fm_adp"] == pytest.approx(r["fm"]["fm"]["adp"], abs=TOL)
    assert res["fm_max"] == pytest.approx(r["fm"]["fm"]["curve"].max(), abs=TOL)
    assert res["fm_mean"] == pytest.approx(r["fm"]["fm"]["curve"].mean(), abs=TOL)
    np.testing.assert_allclose(res["precision_curve"], r["fm"]["pr"]["p"], atol=TOL, rtol=0)
    np.testing.assert_allclose(res["recall_curve"], r["fm"]["pr"]["r"], atol=TOL, rtol=0)
    # maxF of the averaged curve is not the mean of per-image maxima
    per_image_max = np.mean([M.f_measure(p, g)["max"] for _, p, g in PAIRS])
    assert res["fm_max"] <= per_image_max + 1e-12


def test_uint8_minmax_convention_equals_pysod_normalize_true():
    """prob_from_uint8(minmax=True) + mask_from_uint8 reproduces PySOD's default normalize=True path."""
    rng = np.random.default_rng(5)
    ours = {k: cls() for k, cls in [("sm", M.SMeasure), ("em", M.EMeasure), ("fm", M.FMeasure), ("wfm", M.WeightedFMeasure), ("mae", M.MAE)]}
    ref = {"sm": pysod.Smeasure(), "em": pysod.Emeasure(), "fm": _old_fmeasure(), "wfm": pysod.WeightedFmeasure(), "mae": pysod.MAE()}
    pairs = [uint8_pair(rng, int(rng.integers(16, 90)), int(rng.integers(16, 90))) for _ in range(12)]
    pairs.append((np.where(pairs[0][1] > 0, 127, 0).astype(np.uint8), pairs[0][1]))  # {0,127} map
    pairs.append((np.full((20, 30), 77, np.uint8), np.zeros((20, 30), np.uint8)))  # constant map: no rescale
    for pred_u8, gt_u8 in pairs:
        p, g = M.prob_from_uint8(pred_u8, minmax=True), M.mask_from_uint8(gt_u8)
        for k in ours:
            ours[k].update(p, g)
            ref[k].step(pred_u8, gt_u8)  # normalize=True (default)
    assert ours["sm"].compute()["sm"] == pytest.approx(ref["sm"].get_results()["sm"], abs=TOL)
    assert ours["mae"].compute()["mae"] == pytest.approx(ref["mae"].get_results()["mae"], abs=TOL)
    assert ours["wfm"].compute()["wfm"] == pytest.approx(ref["wfm"].get_results()["wfm"], abs=TOL)
    em, ref_em = ours["em"].compute(), ref["em"].get_results()["em"]
    np.testing.assert_allclose(em["em_curve"], ref_em["curve"], atol=TOL, rtol=0)
    assert em["em_adp"] == pytest.approx(ref_em["adp"], abs=TOL)
    fm, ref_fm = ours["fm"].compute(), ref["fm"].get_results()["fm"]
    np.testing.assert_allclose(fm["fm_curve"], ref_fm["curve"], atol=TOL, rtol=0)
    assert fm["fm_adp"] == pytest.approx(ref_fm["adp"], abs=TOL)


def test_probability_map_is_not_rescaled():
    """The normalisation pitfall: a {0, 127/255} map is not a perfect prediction for us."""
    gt = np.zeros((30, 30), bool)
    gt[5:20, 8:25] = True
    two_level = np.where(gt, 127 / 255, 0.0)
    assert M.mae(two_level, gt) == pytest.approx(np.mean(np.where(gt, 128 / 255, 0.0)))
    assert M.s_measure(two_level, gt) < 0.99
    assert M.mae(M.prob_from_uint8(np.where(gt, 127, 0).astype(np.uint8), minmax=True), gt) == 0.0


class TestEdgeCasesOfMetricsMd:
    """Section 1 and 2 of research/metrics.md: one image each."""

    shape = (24, 32)

    def test_empty_gt_empty_pred(self):
        z = np.zeros(self.shape)
        gt = np.zeros(self.shape, bool)
        assert M.s_measure(z, gt) == 1.0
        assert M.weighted_f_measure(z, gt) == 0.0
        assert M.f_measure(z, gt)["max"] == 0.0
        assert M.hce(z, gt) == 0
        assert M.e_measure(z, gt)["mean"] == pytest.approx(
            (self.shape[0] * self.shape[1] - 1 / 256 * self.shape[0] * self.shape[1]) / (self.shape[0] * self.shape[1] - 1), abs=1e-9
        )  # every threshold but 0 is all-correct; threshold 0 predicts everything as foreground

    def test_empty_gt_full_pred(self):
        o = np.ones(self.shape)
        gt = np.zeros(self.shape, bool)
        assert M.s_measure(o, gt) == 0.0
        assert M.mae(o, gt) == 1.0
        assert M.hce(o, gt) == 1

    def test_full_gt_empty_pred(self):
        z = np.zeros(self.shape)
        gt = np.ones(self.shape, bool)
        fm = M.f_measure(z, gt)
        assert fm["adp"] == 1.0 and fm["max"] == 1.0  # the threshold-0 rule turns 0s into all-ones
        assert fm["mean"] == pytest.approx(1.0 / 256)
        assert M.s_measure(z, gt) == 0.0  # mean(pred)

    def test_perfect_prediction(self):
        gt = np.zeros(self.shape, bool)
        gt[4:15, 6:20] = True
        p = gt.astype(np.float64)
        em = M.e_measure(p, gt)
        assert em["max"] > 1.0  # divides by H*W - 1
        fm = M.f_measure(p, gt)
        assert fm["max"] == pytest.approx(1.0)
        assert fm["mean"] < 1.0  # threshold-0 entry
        assert M.mae(p, gt) == 0.0 and M.s_measure(p, gt) == pytest.approx(1.0)
        assert M.hce(p, gt) == 0


def test_accumulators_reset_and_empty_compute():
    acc = M.SODMetrics(("sm", "mae"))
    assert acc.metrics == ("sm", "mae")
    assert np.isnan(acc.compute()["sm"])
    gt = np.zeros((8, 8), bool)
    gt[2:5, 2:5] = True
    per = acc.update(gt, gt)
    assert per == {"sm": pytest.approx(1.0), "mae": 0.0}
    acc.reset()
    assert acc.compute()["n"] == 0
    with pytest.raises(ValueError, match="unknown"):
        M.SODMetrics(("sm", "biou"))


def test_hce_accumulator_with_skeleton():
    rng = np.random.default_rng(2)
    gt = structured_gt(rng, 60, 70)
    pred = np.roll(gt, 2, axis=0)
    acc = M.HCE()
    v1 = acc.update(pred, gt)
    v2 = acc.update(pred, gt, skeleton=M.gt_skeleton(gt))
    assert v1 == v2
    assert acc.compute() == {"hce": float(v1), "n": 2}


# -- degenerate images (issue 21) ----------------------------------------------------------------------------
def test_e_measure_refuses_a_single_pixel():
    pred, gt = np.ones((1, 1)), np.ones((1, 1), bool)  # PySODMetrics would score 1 / eps = 4.5e15
    with pytest.raises(ValueError, match=r"pred and gt: the E-measure needs at least 2 pixels"):
        M.e_measure(pred, gt)
    with pytest.raises(ValueError, match="2 pixels"):
        M.EMeasure().update(pred, gt)
    with pytest.raises(ValueError, match="2 pixels"):
        M.SODMetrics(("em",)).update(pred, gt)


@pytest.mark.parametrize("gt_value", [True, False])
@pytest.mark.parametrize("pred_value", [0.0, 0.7, 1.0])
def test_other_sod_metrics_are_defined_on_a_single_pixel(gt_value, pred_value):
    """Only the E-measure divides by H*W - 1; the others stay finite and in range on one pixel."""
    pred, gt = np.full((1, 1), pred_value), np.full((1, 1), gt_value)
    values = M.SODMetrics(("sm", "fm", "wfm", "mae", "hce")).update(pred, gt)
    assert all(np.isfinite(v) for v in values.values()), values
    assert all(0 <= values[k] <= 1 for k in ("sm", "fm_adp", "fm_mean", "fm_max", "wfm", "mae")), values
    assert values["mae"] == pytest.approx(abs(pred_value - gt_value))


def test_e_measure_of_two_pixels_is_finite():
    result = M.e_measure(np.array([[1.0, 0.0]]), np.array([[True, False]]))
    assert np.isfinite(result["max"]) and result["max"] <= 2.0


def test_a_refused_sample_is_added_to_no_member_of_sod_metrics():
    """The S-measure is updated before the E-measure refuses a 1-pixel image: without care the dataset
    S-measure would average one image more than the E-measure (a caller that skips the failed sample
    would still have it in one mean)."""
    acc, untouched = M.SODMetrics(("sm", "em", "mae")), M.SODMetrics(("sm", "em", "mae"))
    gt = np.zeros((8, 8), bool)
    gt[2:6, 2:6] = True
    for metrics in (acc, untouched):
        metrics.update(gt.astype(float) * 0.6, gt)
    with pytest.raises(ValueError, match="2 pixels"):
        acc.update(np.ones((1, 1)), np.ones((1, 1), bool))
    after, expected = acc.compute(), untouched.compute()
    assert after.keys() == expected.keys()
    for key in expected:  # sm would be the mean over two images, em over one
        np.testing.assert_array_equal(after[key], expected[key], err_msg=key)


def test_sod_metrics_update_returns_what_its_members_return():
    gt = np.zeros((9, 7), bool)
    gt[2:6, 1:5] = True
    pred = np.clip(gt * 0.8 + np.linspace(0, 0.3, 63).reshape(9, 7), 0, 1)
    values = M.SODMetrics().update(pred, gt)
    em, fm = M.e_measure(pred, gt), M.f_measure(pred, gt)
    assert values == {"sm": M.s_measure(pred, gt), "em_adp": em["adp"], "em_mean": em["mean"], "em_max": em["max"],
                      "fm_adp": fm["adp"], "fm_mean": fm["mean"], "fm_max": fm["max"],
                      "wfm": M.weighted_f_measure(pred, gt), "mae": M.mae(pred, gt), "hce": M.hce(pred, gt)}
