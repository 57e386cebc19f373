"""``synthetic/thin_multi``: DIS-like scenes for DIS-SAM, where the box says which structure is meant.

``synthetic/thin`` holds one structure per image, so DIS-SAM's data enrichment (Appendix A: the ground truth's
8-connected parts of at least 0.4% of the image, each with its own box) finds a second part in only ~2% of its
images (DIS5K-TR: +880 on 3,000), and nothing in it is a sharp structure that the box must exclude. This family
keeps thin's structures, widths and calibration (:data:`~sam_repro.data.synthetic.thin.DETAIL_ZOOM`) and adds:

* ~30% scenes of 2-3 structures in separate cells, the ground truth being all of them (one mask, as DIS5K's);
* ~30% of the rest a **sharp non-target** structure in a cell outside the target's (not in the ground truth), so a
  box around the target excludes it, while a prompt-free model sees two equally sharp candidates;
* ~35% of the target structures **solid**: a filled body (blob, polygon, ellipse...) large enough for the tiny
  SAM's grid to render well, most with thin attachments (legs, antennae, a handle, a stand). DIS5K is not only
  wires and meshes: many of its objects (DIS-TE1 most) have a solid body that SAM segments well and thin parts it
  misses, and DIS-SAM relies on that: its second stage must keep a right coarse mask and add the detail. A
  thin-only training set teaches the refiner to erase every filled region (version 1's did, on salient objects that
  SAM had right; issue #19's closing note has the measurement);
* a complexity per sample (DIS's tiers): the isoperimetric quotient P^2 / (4 pi A) of the ground truth times its
  number of boundary points (``cv2.approxPolyDP`` at 1 px per 1024 px), and a tier 1-4 by fixed cut points
  (:data:`TIER_CUTS`, the quartiles of the val split, seed 0, at 1024 px), as DIS-TE1..4 are ordered by structural
  complexity. The tiers are in each sample's ``meta``; TE(all) is the whole test split.

Splits: train (DIS-SAM's TR), val (VD), test (TE).
"""
from __future__ import annotations

import cv2
import numpy as np

from sam_repro.data.synthetic import shapes, thin
from sam_repro.data.synthetic.base import FamilySpec, Generated, finish_masks

SPEC = FamilySpec(
    name="synthetic/thin_multi",
    group="dis",
    papers=("dissam",),
    stands_in_for=("DIS5K (TR, VD, TE1-4)",),
    keeps="thin structures as thin to the tiny SAM as DIS's are to SAM, several parts per ground truth, sharp "
          "non-targets outside the box, tiers by structural complexity",
    target="one foreground mask per image (every target structure), at full resolution",
    default_size=(1024, 1024),
    min_size=256,
    splits={"train": 300, "val": 50, "test": 200},
    text_prompt="object",
    version="2",
    counterparts=("dis5k",),
)

MULTI_PROBABILITY = 0.3
DISTRACTOR_PROBABILITY = 0.3
SOLID_PROBABILITY = 0.35
"""Share of target (and non-target) structures drawn by :func:`solid` instead of one of thin's structure kinds."""
SOLID_BODIES = ("blob", "polygon", "ellipse", "rectangle", "star", "capsule", "crescent")
TIER_CUTS: tuple[float, float, float] = (0.02987, 1.207, 7.284)
"""Complexity cut points between tiers 1|2|3|4: the quartiles of the val split (50 samples, seed 0, 1024 px)."""


def complexity(mask: np.ndarray) -> float:
    """DIS-style structural complexity of an (H, W) bool mask: isoperimetric quotient (total perimeter^2 over
    4 pi area) times the number of boundary points of its polygonal outline, scaled per 1024 px (0 for empty)."""
    area = float(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    epsilon = max(1.0, max(mask.shape) / 1024.0)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    points = sum(len(cv2.approxPolyDP(c, epsilon, True)) for c in contours)
    ipq = perimeter**2 / (4 * np.pi * area)
    return float(ipq * points * 1024.0 / max(mask.shape) / 1e4)


def tier(value: float) -> int:
    """The tier (1-4) of a complexity value by :data:`TIER_CUTS`."""
    return 1 + int(np.searchsorted(np.asarray(TIER_CUTS), value, side="right"))


def _cells(rng: np.random.Generator, height: int, width: int, count: int) -> list[tuple[int, int, int, int]]:
    """``count`` separate cells (y0, x0, y1, x1) side by side along the long side, with gaps of 5% between them
    (structures drawn to their cell's edges stay apart)."""
    horizontal = width >= height if rng.random() < 0.8 else width < height
    side = width if horizontal else height
    gap = int(0.05 * side)
    edges = np.linspace(0, side, count + 1).round().astype(int)
    cells = []
    for k in range(count):
        a, b = edges[k] + (gap // 2 if k else 0), edges[k + 1] - (gap // 2 if k < count - 1 else 0)
        cells.append((0, a, height, b) if horizontal else (a, 0, b, width))
    return cells


def solid(rng: np.random.Generator, height: int, width: int, scale: float) -> np.ndarray:
    """A solid object of an (H, W) canvas: a filled body of radius 20-40% of the short side, centred within the
    middle half, and (70% of the time) 2-6 thin attachments leaving its outline outward, each 2-6 px wide at 1024 px
    times ``scale`` (thin's widths), as straight or bent strokes of 0.3-0.8 body radii. (H, W) uint8 0/1."""
    short = min(height, width)
    radius = short * rng.uniform(0.2, 0.4)
    cx = width / 2 + rng.uniform(-0.25, 0.25) * (width - 2 * radius if width > 2 * radius else 0)
    cy = height / 2 + rng.uniform(-0.25, 0.25) * (height - 2 * radius if height > 2 * radius else 0)
    kind = SOLID_BODIES[int(rng.integers(len(SOLID_BODIES)))]
    mask = shapes.shape_mask(rng, height, width, kind, cx, cy, radius)
    if rng.random() < 0.7 and mask.any():
        rows, cols = np.nonzero(mask)
        for _ in range(int(rng.integers(2, 7))):
            pick = int(rng.integers(len(rows)))
            start = np.array([cols[pick], rows[pick]], np.float64)
            direction = start - np.array([cx, cy])
            norm = float(np.hypot(*direction))
            angle = float(np.arctan2(direction[1], direction[0])) if norm > 1 else float(rng.uniform(0, 2 * np.pi))
            length = radius * rng.uniform(0.3, 0.8)
            controls = [start]
            for _ in range(3):  # outward, bending up to ~35 degrees per third
                angle += float(rng.uniform(-0.6, 0.6))
                controls.append(controls[-1] + length / 3 * np.array([np.cos(angle), np.sin(angle)]))
            shapes.draw_polyline(mask, shapes.bezier(np.stack(controls)), thin._w(float(rng.uniform(2, 6)), scale))
    return mask


def _structure(rng: np.random.Generator, height: int, width: int, cell: tuple[int, int, int, int],
               scale: float) -> tuple[np.ndarray, str]:
    """A random structure drawn in ``cell`` of an (H, W) canvas at the full image's detail ``scale``: solid
    (:data:`SOLID_PROBABILITY`) or one of thin's kinds; (mask, kind name)."""
    y0, x0, y1, x1 = cell
    if rng.random() < SOLID_PROBABILITY:
        kind, draw = "solid", solid
    else:
        names = list(thin.STRUCTURES)
        kind = names[int(rng.integers(len(names)))]
        draw = thin.STRUCTURES[kind]
    full = np.zeros((height, width), np.uint8)
    for _ in range(10):
        part = draw(rng, y1 - y0, x1 - x0, scale)
        if np.count_nonzero(part) >= 0.001 * height * width:
            break
    full[y0:y1, x0:x1] = part
    return full, kind


def generate(rng: np.random.Generator, height: int, width: int) -> Generated:
    """One scene: (H, W, 3) image and a (1, H, W) mask of every target structure; ``meta`` holds the structure
    count and kinds (``solid`` or thin's), whether a sharp non-target is present and its box (xyxy, inclusive), the complexity and the tier."""
    scale = thin.DETAIL_ZOOM * min(height, width) / 1024.0
    image = thin._background(rng, height, width)
    multi = rng.random() < MULTI_PROBABILITY
    distractor = not multi and rng.random() < DISTRACTOR_PROBABILITY
    if multi:
        cells = _cells(rng, height, width, int(rng.integers(2, 4)))
        targets, others = cells, []
    elif distractor:
        cells = _cells(rng, height, width, 2)
        order = rng.permutation(2)
        targets, others = [cells[order[0]]], [cells[order[1]]]
    else:
        targets, others = [(0, 0, height, width)], []
    mask = np.zeros((height, width), np.uint8)
    kinds = []
    for cell in targets:
        part, kind = _structure(rng, height, width, cell, scale)
        kinds.append(kind)
        image = thin.paint_structure(rng, image, part)
        mask |= part
    distractor_box = None
    for cell in others:  # as sharp as a target, but not one: only a box can tell
        part, _ = _structure(rng, height, width, cell, scale)
        image = thin.paint_structure(rng, image, part)
        rows, cols = np.nonzero(part)
        distractor_box = [int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())]
    image = thin.finish_image(rng, image)
    value = complexity(mask > 0)
    meta = {"structures": len(targets), "kinds": kinds, "sharp_distractor": bool(others), "distractor_box": distractor_box,
            "complexity": round(value, 4), "tier": tier(value)}
    return Generated(image=image, masks=finish_masks([mask], height, width), class_names=("object",), meta=meta)
