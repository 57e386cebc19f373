"""Simulated clicks for interactive evaluation: RITM's oracle clicker and the adaptation paper's variant.

References (behaviour reproduced from their descriptions, not their code):

* RITM ``isegm/inference/clicker.py`` (NoC protocol; also used by FocSAM and most SAM NoC tables).
  FN = gt & ~pred and FP = ~gt & pred, both outside the ignore region; each is zero-padded by one
  pixel so the image border counts as boundary; exact L2 distance transform
  (``cv2.distanceTransform(.., DIST_L2, 0)``); distances at already-clicked pixels are zeroed; the
  click is **positive iff** max FN depth > max FP depth (strictly: a tie gives a negative click) and
  lands on the **first** maximal pixel in row-major order.
* Schön et al., "Adapting SAM During Usage in Novel Situations" (code: ``Schorob/wseseg``
  ``utils/clicker.py``): the same rule **without** the border padding, ties among maximal pixels
  broken at random, and clicked pixels never excluded.

Coordinates are image xy pixel indices (x = column, y = row), what SAM's point prompts expect.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal, Sequence

import cv2
import numpy as np

from ._validate import check_mask, check_rng

__all__ = [
    "Click",
    "clicks_to_prompts",
    "ritm_click",
    "simple_click",
    "oracle_first_click",
    "Clicker",
]

TieBreak = Literal["first", "random", "random_xy"]


@dataclass(frozen=True)
class Click:
    """One click: pixel indices ``x`` (column) and ``y`` (row), and whether it marks foreground."""

    x: int
    y: int
    positive: bool

    @property
    def label(self) -> int:
        """SAM point label: 1 for a positive (foreground) click, 0 for a negative one."""
        return 1 if self.positive else 0


def clicks_to_prompts(clicks: Iterable[Click]) -> tuple[np.ndarray, np.ndarray]:
    """Convert clicks to SAM point prompts.

    Returns:
        points (N, 2) float64 xy pixel indices and labels (N,) int64 (1 positive, 0 negative), in
        click order; N may be 0 (shapes (0, 2) and (0,)).
    """
    clicks = list(clicks)
    for i, c in enumerate(clicks):
        if not isinstance(c, Click):
            raise TypeError(f"clicks[{i}]: expected a Click, got {type(c).__name__}")
    points = np.array([[c.x, c.y] for c in clicks], dtype=np.float64).reshape(-1, 2)
    labels = np.array([c.label for c in clicks], dtype=np.int64)
    return points, labels


def _depth(region: np.ndarray, padding: bool) -> np.ndarray:
    """Exact L2 distance of each region pixel to the nearest non-region pixel (float32, as cv2 gives)."""
    src = region.astype(np.uint8)
    if padding:
        # A one-pixel frame of zeros makes the image border count as boundary (RITM).
        return cv2.distanceTransform(np.pad(src, 1), cv2.DIST_L2, 0)[1:-1, 1:-1]
    # Unpadded, OpenCV treats outside the image as region: depth grows towards the border
    # (a region covering the whole image gets ~1.8e19 everywhere).
    return cv2.distanceTransform(src, cv2.DIST_L2, 0)


def _click_from_errors(
    gt: np.ndarray,
    pred: np.ndarray,
    *,
    ignore: np.ndarray | None,
    not_clicked: np.ndarray | None,
    padding: bool,
    tie_break: TieBreak,
    rng: np.random.Generator | None,
) -> Click:
    fn = gt & ~pred
    fp = ~gt & pred
    if ignore is not None:
        fn &= ~ignore
        fp &= ~ignore
    fn_depth = _depth(fn, padding)
    fp_depth = _depth(fp, padding)
    if not_clicked is not None:
        fn_depth *= not_clicked
        fp_depth *= not_clicked
    fn_max, fp_max = fn_depth.max(), fp_depth.max()
    positive = bool(fn_max > fp_max)  # strict: equal depths give a negative click
    depth, best = (fn_depth, fn_max) if positive else (fp_depth, fp_max)
    # With no error pixel left (or all of them clicked) best is 0 and, like RITM, the click goes
    # to the first pixel (0, 0) as a negative click.
    if tie_break == "first":
        y, x = divmod(int(np.argmax(depth)), depth.shape[1])  # argmax = first maximum, row-major
    else:
        ys, xs = np.nonzero(depth == best)
        if tie_break == "random":
            i = int(rng.integers(ys.size))
            y, x = int(ys[i]), int(xs[i])
        else:
            # "random_xy" reproduces the wseseg clicker, which draws the column and the row with
            # independent indices, so the click need not be a maximal (or even an error) pixel.
            x = int(xs[rng.integers(xs.size)])
            y = int(ys[rng.integers(ys.size)])
    return Click(x=int(x), y=int(y), positive=positive)


def _check_pair(gt: Any, pred: Any, ignore: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    g = check_mask(gt, "gt")
    p = check_mask(pred, "pred", shape=g.shape)
    ign = None if ignore is None else check_mask(ignore, "ignore", shape=g.shape)
    return g, p, ign


def _not_clicked_map(clicks: Sequence[Click], shape: tuple[int, int]) -> np.ndarray | None:
    if not clicks:
        return None
    keep = np.ones(shape, dtype=bool)
    for i, c in enumerate(clicks):
        if not isinstance(c, Click):
            raise TypeError(f"clicks[{i}]: expected a Click, got {type(c).__name__}")
        y, x = int(round(c.y)), int(round(c.x))  # tolerate float coordinates from other sources
        if 0 <= y < shape[0] and 0 <= x < shape[1]:
            keep[y, x] = False
    return keep


def ritm_click(gt: Any, pred: Any, *, clicks: Sequence[Click] = (), ignore: Any = None) -> Click:
    """Next click of RITM's oracle clicker (stateless; see :class:`Clicker` for the stateful one).

    Args:
        gt: (H, W) bool ground truth.
        pred: (H, W) bool current prediction (all False before the first click; RITM's evaluation
            thresholds probabilities at 0.49).
        clicks: clicks made so far; their pixels are excluded (their depth is zeroed).
        ignore: optional (H, W) bool, True where pixels are neither FN nor FP (RITM's label -1).

    Returns:
        The next :class:`Click`.
    """
    g, p, ign = _check_pair(gt, pred, ignore)
    return _click_from_errors(
        g, p, ignore=ign, not_clicked=_not_clicked_map(clicks, g.shape), padding=True,
        tie_break="first", rng=None,
    )


def simple_click(
    gt: Any,
    pred: Any,
    rng: np.random.Generator,
    *,
    ignore: Any = None,
    clicks: Sequence[Click] = (),
    tie_break: Literal["random", "random_xy"] = "random",
) -> Click:
    """Next click of the adaptation paper's clicker (Schön et al.; ``wseseg/utils/clicker.py``).

    Same rule as :func:`ritm_click` but without the border padding (so depth grows towards the
    image border) and with ties among the maximal pixels broken at random. The reference never
    excludes clicked pixels; pass ``clicks`` to exclude them anyway.

    Args:
        gt, pred, ignore: as for :func:`ritm_click`.
        rng: draws the tie-break.
        clicks: pixels to exclude (default: none, like the reference).
        tie_break: ``"random"`` picks a uniformly random maximal pixel; ``"random_xy"`` reproduces
            the reference exactly, drawing the column and the row of the maximal pixels with
            independent indices (so the click can land off the maximum).

    Returns:
        The next :class:`Click`.
    """
    g, p, ign = _check_pair(gt, pred, ignore)
    rng = check_rng(rng)
    if tie_break not in ("random", "random_xy"):
        raise ValueError(f"tie_break: expected 'random' or 'random_xy', got {tie_break!r}")
    return _click_from_errors(
        g, p, ignore=ign, not_clicked=_not_clicked_map(clicks, g.shape), padding=False,
        tie_break=tie_break, rng=rng,
    )


def oracle_first_click(gt: Any, *, ignore: Any = None) -> Click:
    """RITM's first click: the GT pixel deepest inside the object, the image border counting as
    boundary (first such pixel in row-major order). Always positive.

    Raises:
        ValueError: ``gt`` has no foreground pixel outside ``ignore``.
    """
    g = check_mask(gt, "gt", allow_empty=False)
    ign = None if ignore is None else check_mask(ignore, "ignore", shape=g.shape)
    if ign is not None and not (g & ~ign).any():
        raise ValueError("gt: every foreground pixel is in the ignore region")
    return ritm_click(g, np.zeros_like(g), ignore=ign)


class Clicker:
    """Click simulator for one sample: keeps the GT, the clicks so far and the clicked-pixel map.

    The interactive loop calls :meth:`next_click` once per click with the current prediction
    and feeds :meth:`prompts` (all clicks so far) to SAM::

        clicker = Clicker(gt)                      # RITM protocol
        pred = np.zeros_like(gt)
        for _ in range(20):
            clicker.next_click(pred)
            points, labels = clicker.prompts()
            pred = predict(points, labels) > thr   # the loop's business

    Modes:
        ``"ritm"``: :func:`ritm_click` (1-px padding, first maximum, clicked pixels excluded).
        ``"simple"``: :func:`simple_click` (no padding, random tie-break with ``rng``, clicked
        pixels *not* excluded, as in the reference); ``exclude_clicked`` and ``tie_break``
        override the two choices.

    Args:
        gt: (H, W) bool ground truth with at least one foreground pixel outside ``ignore``.
        mode: ``"ritm"`` or ``"simple"``.
        ignore: optional (H, W) bool ignore region.
        rng: required for ``"simple"`` mode.
        exclude_clicked: override the mode's default (ritm: True, simple: False).
        tie_break: simple mode only: ``"random"`` (default) or ``"random_xy"`` (reference quirk).
    """

    def __init__(
        self,
        gt: Any,
        *,
        mode: Literal["ritm", "simple"] = "ritm",
        ignore: Any = None,
        rng: np.random.Generator | None = None,
        exclude_clicked: bool | None = None,
        tie_break: Literal["random", "random_xy"] | None = None,
    ) -> None:
        g = check_mask(gt, "gt", allow_empty=False)
        ign = None if ignore is None else check_mask(ignore, "ignore", shape=g.shape)
        if ign is not None and not (g & ~ign).any():
            raise ValueError("gt: every foreground pixel is in the ignore region")
        if mode == "ritm":
            if tie_break is not None:
                raise ValueError("tie_break: only applies to mode='simple' (RITM takes the first maximum)")
            self._tie_break: TieBreak = "first"
            self._padding = True
            self._exclude = True if exclude_clicked is None else bool(exclude_clicked)
        elif mode == "simple":
            check_rng(rng)
            tb = "random" if tie_break is None else tie_break
            if tb not in ("random", "random_xy"):
                raise ValueError(f"tie_break: expected 'random' or 'random_xy', got {tie_break!r}")
            self._tie_break = tb
            self._padding = False
            self._exclude = False if exclude_clicked is None else bool(exclude_clicked)
        else:
            raise ValueError(f"mode: expected 'ritm' or 'simple', got {mode!r}")
        self._gt = g.copy()
        self._ignore = None if ign is None else ign.copy()
        self._mode = mode
        self._rng = rng
        self._clicks: list[Click] = []
        self._not_clicked = np.ones(g.shape, dtype=bool)

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def gt(self) -> np.ndarray:
        """(H, W) bool ground truth (a private copy; do not modify)."""
        return self._gt

    @property
    def clicks(self) -> tuple[Click, ...]:
        """Clicks made so far, in order."""
        return tuple(self._clicks)

    def __len__(self) -> int:
        return len(self._clicks)

    def next_click(self, pred: Any = None) -> Click:
        """Compute, record and return the next click.

        Args:
            pred: (H, W) bool current prediction; None means all False (before the first click).
        """
        p = np.zeros_like(self._gt) if pred is None else check_mask(pred, "pred", shape=self._gt.shape)
        click = _click_from_errors(
            self._gt, p, ignore=self._ignore,
            not_clicked=self._not_clicked if self._exclude else None,
            padding=self._padding, tie_break=self._tie_break, rng=self._rng,
        )
        self._clicks.append(click)
        self._not_clicked[click.y, click.x] = False
        return click

    def prompts(self) -> tuple[np.ndarray, np.ndarray]:
        """All clicks so far as SAM point prompts: (N, 2) float64 xy and (N,) int64 labels."""
        return clicks_to_prompts(self._clicks)

    def reset(self) -> None:
        """Forget all clicks (same GT, same generator state)."""
        self._clicks.clear()
        self._not_clicked[:] = True
