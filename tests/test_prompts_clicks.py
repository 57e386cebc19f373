"""RITM's oracle clicker, the adaptation paper's simple variant, and the stateful Clicker."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sam_repro.prompts import (
    Click,
    Clicker,
    clicks_to_prompts,
    oracle_first_click,
    ritm_click,
    simple_click,
)


def _rect(shape, rows, cols) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1] = True
    return m


# ---- Click and prompt format --------------------------------------------------------------------


def test_clicks_to_prompts_format():
    points, labels = clicks_to_prompts([Click(3, 7, True), Click(10, 2, False)])
    assert points.dtype == np.float64 and points.tolist() == [[3.0, 7.0], [10.0, 2.0]]
    assert labels.dtype == np.int64 and labels.tolist() == [1, 0]
    points, labels = clicks_to_prompts([])
    assert points.shape == (0, 2) and labels.shape == (0,)
    with pytest.raises(TypeError, match=r"clicks\[0\]: expected a Click"):
        clicks_to_prompts([(1, 2, True)])


def test_click_label_and_immutability():
    c = Click(1, 2, False)
    assert c.label == 0 and Click(1, 2, True).label == 1
    with pytest.raises(AttributeError):
        c.x = 5


# ---- RITM: hand-made masks ----------------------------------------------------------------------


def test_first_click_is_the_deepest_interior_pixel():
    # 5 rows x 7 cols: depth 3 is reached at row 4, cols 5..7; the first in row-major order wins.
    gt = _rect((10, 14), rows=(2, 6), cols=(3, 9))
    assert oracle_first_click(gt) == Click(x=5, y=4, positive=True)
    assert ritm_click(gt, np.zeros_like(gt)) == Click(x=5, y=4, positive=True)
    assert Clicker(gt).next_click() == Click(x=5, y=4, positive=True)


def test_first_click_prefers_the_thick_part_of_a_shape():
    gt = _rect((30, 40), rows=(5, 25), cols=(3, 11))  # 21 x 9 block, depth 5 on col 7
    gt |= _rect((30, 40), rows=(14, 16), cols=(12, 38))  # long thin arm, depth <= 2
    click = oracle_first_click(gt)
    assert click.positive and click.x == 7 and 9 <= click.y <= 21


def test_object_touching_the_border_gets_its_first_click_away_from_it():
    # Full height, left edge: with RITM's 1-px padding the border counts as boundary.
    gt = _rect((10, 20), rows=(0, 9), cols=(0, 5))
    click = oracle_first_click(gt)
    assert click == Click(x=2, y=2, positive=True)
    # The unpadded variant of the adaptation paper instead runs to the border (depth 6 at col 0).
    simple = simple_click(gt, np.zeros_like(gt), np.random.default_rng(0))
    assert simple.x == 0 and simple.positive


def test_equal_depths_give_a_negative_click():
    gt = _rect((9, 20), rows=(2, 6), cols=(2, 6))  # FN block, depth 3
    pred = _rect((9, 20), rows=(2, 6), cols=(12, 16))  # FP block, depth 3
    assert ritm_click(gt, pred) == Click(x=14, y=4, positive=False)
    # One more FN depth flips it.
    gt_big = _rect((9, 20), rows=(1, 7), cols=(1, 7))  # depth 4
    assert ritm_click(gt_big, pred) == Click(x=4, y=4, positive=True)


def test_already_clicked_pixels_are_excluded():
    gt = _rect((5, 5), rows=(1, 3), cols=(1, 3))
    pred = np.zeros_like(gt)
    clicker = Clicker(gt)
    assert clicker.next_click(pred) == Click(2, 2, True)
    # The prediction did not change: the centre is taken, so the next deepest pixel is chosen.
    assert clicker.next_click(pred) == Click(1, 1, True)
    assert clicker.next_click(pred) == Click(2, 1, True)
    assert ritm_click(gt, pred, clicks=[Click(2, 2, True)]) == Click(1, 1, True)


def test_ignore_mask_removes_errors_and_acts_as_boundary():
    shape = (30, 25)
    gt = _rect(shape, rows=(2, 12), cols=(2, 22))
    ignore = _rect(shape, rows=(0, 29), cols=(6, 18))
    free = oracle_first_click(gt)
    assert free == Click(x=7, y=7, positive=True) and ignore[free.y, free.x]
    click = oracle_first_click(gt, ignore=ignore)
    # Left piece (cols 2..5) with the ignore region as its right boundary: depth 2 first at (3, 3).
    assert click == Click(x=3, y=3, positive=True) and not ignore[click.y, click.x]
    # A deep FP region inside the ignore area is not an error any more.
    pred = gt.copy()
    pred[7, 20] = False  # one FN pixel outside the ignore region (depth 1)
    pred |= _rect(shape, rows=(15, 27), cols=(7, 17))  # FP block of depth 6, all ignored
    assert ritm_click(gt, pred) == Click(x=12, y=20, positive=False)
    assert ritm_click(gt, pred, ignore=ignore) == Click(x=20, y=7, positive=True)
    assert Clicker(gt, ignore=ignore).next_click(pred) == Click(x=20, y=7, positive=True)


def test_no_error_left_gives_ritms_negative_click_at_the_origin():
    gt = _rect((6, 6), rows=(1, 4), cols=(1, 4))
    assert ritm_click(gt, gt.copy()) == Click(0, 0, False)


def _reference_ritm(gt, pred, clicked):
    """RITM's rule written with scipy's exact EDT instead of OpenCV."""
    fn, fp = gt & ~pred, ~gt & pred
    dts = []
    for region in (fn, fp):
        dt = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
        dt[clicked] = 0
        dts.append(dt)
    positive = dts[0].max() > dts[1].max()
    dt = dts[0] if positive else dts[1]
    y, x = np.unravel_index(np.argmax(dt), dt.shape)
    return Click(int(x), int(y), bool(positive))


def _blobs(rng, shape=(48, 64)):
    import cv2

    noise = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 3)
    return noise > np.quantile(noise, rng.uniform(0.4, 0.7))


def test_ritm_click_matches_an_exact_edt_reference_over_a_click_sequence():
    rng = np.random.default_rng(0)
    for _ in range(15):
        gt, pred = _blobs(rng), _blobs(rng)
        clicker = Clicker(gt)
        clicked = np.zeros_like(gt)
        for _ in range(4):
            expected = _reference_ritm(gt, pred, clicked)
            got = clicker.next_click(pred)
            assert got == expected
            clicked[got.y, got.x] = True
            # move the prediction towards the GT around the click, as a model would
            pred = pred.copy()
            pred[max(0, got.y - 3) : got.y + 4, max(0, got.x - 3) : got.x + 4] = got.positive


# ---- Clicker state ------------------------------------------------------------------------------


def test_clicker_keeps_clicks_and_builds_prompts():
    gt = _rect((20, 20), rows=(5, 14), cols=(5, 14))
    clicker = Clicker(gt)
    first = clicker.next_click(None)
    assert first.positive
    pred = _rect((20, 20), rows=(5, 14), cols=(5, 19))  # right overshoot: FP block cols 15..19
    pred[5:15, 5:15] = True
    second = clicker.next_click(pred)
    assert not second.positive and second.x >= 15
    assert clicker.clicks == (first, second) and len(clicker) == 2
    points, labels = clicker.prompts()
    assert points.tolist() == [[first.x, first.y], [second.x, second.y]]
    assert labels.tolist() == [1, 0]
    clicker.reset()
    assert len(clicker) == 0 and clicker.next_click() == first


def test_clicker_copies_its_ground_truth():
    gt = _rect((8, 8), rows=(2, 5), cols=(2, 5))
    clicker = Clicker(gt)
    gt[:] = False
    assert clicker.next_click().positive


# ---- simple variant (Schön et al.) --------------------------------------------------------------


def test_simple_mode_breaks_ties_at_random_and_is_seeded():
    gt = _rect((9, 30), rows=(2, 6), cols=(3, 26))  # depth 3 on row 4 for cols 5..24
    seen = set()
    for seed in range(20):
        click = Clicker(gt, mode="simple", rng=np.random.default_rng(seed)).next_click()
        assert click.positive and click.y == 4 and 5 <= click.x <= 24
        seen.add(click.x)
    assert len(seen) > 5
    a = Clicker(gt, mode="simple", rng=np.random.default_rng(3)).next_click()
    b = Clicker(gt, mode="simple", rng=np.random.default_rng(3)).next_click()
    assert a == b


def test_simple_mode_does_not_exclude_clicked_pixels_unless_asked():
    gt = _rect((7, 7), rows=(1, 5), cols=(1, 5))  # single deepest pixel (3, 3)
    pred = np.zeros_like(gt)
    ref = Clicker(gt, mode="simple", rng=np.random.default_rng(0))
    assert ref.next_click(pred) == ref.next_click(pred) == Click(3, 3, True)
    excl = Clicker(gt, mode="simple", rng=np.random.default_rng(0), exclude_clicked=True)
    assert excl.next_click(pred) == Click(3, 3, True)
    assert excl.next_click(pred) != Click(3, 3, True)


def test_simple_mode_reference_quirk_draws_row_and_column_independently():
    gt = _rect((10, 15), rows=(1, 3), cols=(1, 3)) | _rect((10, 15), rows=(6, 8), cols=(10, 12))
    pred = np.zeros_like(gt)
    proper, quirky = set(), set()
    for seed in range(40):
        proper.add(simple_click(gt, pred, np.random.default_rng(seed)))
        quirky.add(simple_click(gt, pred, np.random.default_rng(seed), tie_break="random_xy"))
    assert proper == {Click(2, 2, True), Click(11, 7, True)}
    assert Click(2, 7, True) in quirky or Click(11, 2, True) in quirky  # off the maxima


# ---- bad inputs ---------------------------------------------------------------------------------


def test_bad_inputs_name_the_argument():
    gt = _rect((8, 8), rows=(2, 5), cols=(2, 5))
    with pytest.raises(TypeError, match="pred: expected a bool"):
        ritm_click(gt, gt.astype(np.float32))
    with pytest.raises(ValueError, match=r"pred: shape \(8, 9\) differs"):
        ritm_click(gt, np.zeros((8, 9), bool))
    with pytest.raises(TypeError, match="gt: expected a bool .*> 128"):
        Clicker(gt.astype(np.uint8) * 255)
    with pytest.raises(ValueError, match="gt: is empty"):
        Clicker(np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="gt: is empty"):
        oracle_first_click(np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="gt: every foreground pixel is in the ignore region"):
        Clicker(gt, ignore=gt.copy())
    with pytest.raises(ValueError, match="ignore: shape"):
        Clicker(gt, ignore=np.zeros((4, 4), bool))
    with pytest.raises(TypeError, match="rng"):
        Clicker(gt, mode="simple")
    with pytest.raises(TypeError, match="rng"):
        simple_click(gt, np.zeros_like(gt), None)
    with pytest.raises(ValueError, match="mode"):
        Clicker(gt, mode="focsam")
    with pytest.raises(ValueError, match="tie_break"):
        Clicker(gt, tie_break="random")
    with pytest.raises(ValueError, match=r"pred: shape"):
        Clicker(gt).next_click(np.zeros((3, 3), bool))
