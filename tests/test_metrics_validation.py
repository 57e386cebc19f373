"""Input checking shared by every metric: clear errors naming the argument, accepted input types."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import sam_repro.metrics as M

GT = np.zeros((6, 8), bool)
GT[1:4, 2:6] = True
PRED = np.where(GT, 0.75, 0.125)  # exactly representable in float16

PAIR_FUNCS = {
    "s_measure": M.s_measure,
    "e_measure": M.e_measure,
    "f_measure": M.f_measure,
    "weighted_f_measure": M.weighted_f_measure,
    "mae": M.mae,
    "hce": M.hce,
    "iou": M.iou,
    "ber": M.ber,
    "boundary_iou": M.boundary_iou,
    "mba": M.mba,
}


@pytest.fixture(params=sorted(PAIR_FUNCS))
def fn(request):
    return PAIR_FUNCS[request.param]


def test_wrong_ndim_names_argument(fn):
    with pytest.raises(ValueError, match=r"pred: expected a 2-D \(H, W\) array, got shape \(1, 6, 8\) \(squeeze"):
        fn(PRED[None], GT)
    with pytest.raises(ValueError, match=r"gt: expected a 2-D"):
        fn(PRED, GT[None, :, :, None])


def test_shape_mismatch(fn):
    with pytest.raises(ValueError, match=r"pred and gt must have the same shape, got \(6, 8\) and \(6, 7\)"):
        fn(PRED, GT[:, :7])


def test_integer_prediction_refused_with_hint(fn):
    with pytest.raises(TypeError, match=r"pred: .*dtype uint8.*prob_from_uint8"):
        fn((PRED * 255).astype(np.uint8), GT)
    with pytest.raises(TypeError, match=r"pred: .*int64"):
        fn(GT.astype(np.int64), GT)


def test_out_of_range_and_nan_prediction(fn):
    with pytest.raises(ValueError, match=r"pred: expected probabilities in \[0, 1\], got values in \[-3, 2\].*logits"):
        fn(np.where(GT, 2.0, -3.0), GT)
    bad = PRED.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="pred: probability map contains NaN"):
        fn(bad, GT)


def test_non_bool_gt_refused_with_hint(fn):
    with pytest.raises(TypeError, match=r"gt: expected a bool \(H, W\) mask, got dtype uint8.*mask_from_uint8"):
        fn(PRED, GT.astype(np.uint8) * 255)
    with pytest.raises(TypeError, match="gt: expected a bool"):
        fn(PRED, GT.astype(np.float64))


def test_non_array_and_empty_inputs(fn):
    with pytest.raises(TypeError, match="pred"):
        fn(None, GT)
    with pytest.raises(ValueError, match=r"pred: expected a non-empty"):
        fn(np.zeros((0, 8)), np.zeros((0, 8), bool))


def test_accepted_types_give_the_same_value(fn):
    torch = pytest.importorskip("torch")
    ref = fn(PRED, GT)
    same = [
        fn(PRED.astype(np.float32), GT),
        fn(PRED.astype(np.float16), GT),
        fn(torch.from_numpy(PRED), torch.from_numpy(GT)),
        fn(PRED.tolist(), GT.tolist()),  # nested lists
    ]
    for v in same:
        if isinstance(ref, dict):
            assert v["adp"] == pytest.approx(ref["adp"], abs=1e-6)
        else:
            assert v == pytest.approx(ref, abs=1e-6, nan_ok=True)
    fn(GT, GT)  # bool predictions are accepted everywhere


def test_threshold_validation():
    for f in (M.iou, M.ber, M.boundary_iou, M.mba, M.hce):
        with pytest.raises(ValueError, match="threshold"):
            f(PRED, GT, threshold=1.5)


def test_uint8_converters():
    u8 = np.array([[0, 128, 129, 255]], np.uint8)
    np.testing.assert_array_equal(M.mask_from_uint8(u8), [[False, False, True, True]])
    np.testing.assert_allclose(M.prob_from_uint8(u8), u8 / 255)
    two = np.array([[0, 100]], np.uint8)
    np.testing.assert_allclose(M.prob_from_uint8(two, minmax=True), [[0.0, 1.0]])
    np.testing.assert_allclose(M.prob_from_uint8(np.full((2, 2), 77, np.uint8), minmax=True), 77 / 255)
    with pytest.raises(TypeError, match="pred: expected a uint8"):
        M.prob_from_uint8(u8.astype(np.float32))
    with pytest.raises(TypeError, match="gt: expected a uint8"):
        M.mask_from_uint8(u8.astype(bool))
    with pytest.raises(ValueError, match="gt: expected a 2-D"):
        M.mask_from_uint8(np.zeros((2, 2, 3), np.uint8))


def test_accumulator_protocol():
    for acc in (M.IoU(), M.BER(), M.BoundaryIoU(), M.MBA(), M.SMeasure(), M.MAE(), M.HCE()):
        v1 = acc.update(PRED, GT)
        r1 = acc.compute()
        assert acc.compute() == r1  # compute does not consume
        assert r1["n"] == 1
        assert isinstance(v1, (float, int))
        acc.reset()
        assert acc.compute()["n"] == 0
        assert type(acc).__name__ in repr(acc)


def test_metrics_import_is_light():
    code = (
        "import sys, sam_repro.metrics as m; "
        "print(int('py_sod_metrics' in sys.modules), int('sklearn' in sys.modules), len(m.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ["0", "0"]
    assert int(out[2]) > 40


def test_public_api_is_exported():
    for name in M.__all__:
        assert hasattr(M, name), name
