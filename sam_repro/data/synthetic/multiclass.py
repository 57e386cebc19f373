"""``synthetic/multiclass``: PASCAL-VOC-like scenes of named object classes with a class map.

Thirteen object classes, each with its own shape *and* appearance (a ball is a shaded disc, a fish
has a tail, scales and an eye, a house a roof and windows...), so a class is recognisable from the
image alone and nameable in text (AlignSAM's explicit branch prompts with class names). Each scene
holds 2-6 instances that may occlude each other, on a random background with, sometimes, unnamed
clutter that belongs to the background class.

Ground truth, following VOC: ``class_map`` (H, W) uint8 with 0 = background, 1..13 the classes
(names in ``class_names``, indexed by id) and 255 on a band of about ``size/128`` px each side of
every object border; ``masks`` are the visible instance masks, ``meta['instance_classes']`` their ids.
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from sam_repro.data.sample import IGNORE_INDEX
from sam_repro.data.synthetic import shapes, textures
from sam_repro.data.synthetic.base import FamilySpec, Generated, finish_masks

CLASS_NAMES: tuple[str, ...] = (
    "background", "ball", "box", "tyre", "leaf", "star", "fish", "house", "mushroom", "bottle", "cloud",
    "sign", "moon", "flower",
)

VOC_SCALE = {"object_scale": 1.8, "instances": (1, 4)}
"""Generator options of the ``voc_train`` / ``voc_test`` splits, AlignSAM's PASCAL VOC stand-in (issue #20): 1-3
objects, 1.8x larger. The ``train`` / ``test`` scenes (2-6 objects; a class's pixels median 1.9% of the image) suit
BIG's many small parts (Pi-SAM); at AlignSAM's 10 x 10 patch grid most of their classes cover one or two patches, and
an oracle clicking every error at the patch centres reaches 0.59 per-class IoU (0.81 on ``voc_test``;
``scripts/alignsam_probes.py oracle``, 255 border left out). VOC's classes are larger (the paper's 80 px patches on
800 px images); these splits keep that ratio to the grid."""

SPEC = FamilySpec(
    name="synthetic/multiclass",
    group="semantic",
    papers=("alignsam",),
    stands_in_for=("PASCAL VOC 2012",),
    keeps="named classes recognisable by shape and appearance; class map with a 255 ignore band on borders",
    target="class_map (0 background, 1..13 classes, 255 ignore) + visible instance masks",
    default_size=(256, 256),
    min_size=64,
    splits={"train": 200, "test": 100, "voc_train": 200, "voc_test": 100},
    text_prompt="class names",
    multi_object=True,
    counterparts=("voc2012",),
    split_options={"voc_train": VOC_SCALE, "voc_test": VOC_SCALE},
)

#: (mask, layer) drawer: ``draw(rng, layer, mask, cx, cy, r, angle)`` paints into both in place.
Drawer = Callable[[np.random.Generator, np.ndarray, np.ndarray, float, float, float, float], None]


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))


def _fill(layer: np.ndarray, mask: np.ndarray, pts: np.ndarray, color) -> None:
    cv2.fillPoly(mask, [pts], 1)
    cv2.fillPoly(layer, [pts], tuple(int(c) for c in color))


def _ball(rng, layer, mask, cx, cy, r, angle):
    color = textures.random_color(rng, sat=(0.7, 1.0), val=(0.7, 1.0))
    cv2.circle(mask, _pt(cx, cy), int(r), 1, -1)
    cv2.circle(layer, _pt(cx, cy), int(r), color, -1)
    if rng.random() < 0.5:  # a band like a beach ball
        band = textures.random_color(rng, sat=(0.0, 0.3), val=(0.9, 1.0))
        cv2.ellipse(layer, _pt(cx, cy), (int(r), max(1, int(r * 0.3))), np.rad2deg(angle), 0, 360, band, -1)
        cv2.circle(layer, _pt(cx, cy), int(r), color, max(1, int(r * 0.15)))


def _box(rng, layer, mask, cx, cy, r, angle):
    color = textures.random_color(rng, hue=(0.06, 0.11), sat=(0.45, 0.75), val=(0.55, 0.85))
    pts = shapes.rect_points(cx, cy, r, r * rng.uniform(0.7, 1.0), angle)
    _fill(layer, mask, pts, color)
    tape = textures.jitter_color(rng, (225, 205, 160), 15)
    mid0, mid1 = (pts[0] + pts[1]) / 2, (pts[3] + pts[2]) / 2
    cv2.line(layer, _pt(*mid0), _pt(*mid1), tape, max(1, int(r * 0.25)))
    cv2.polylines(layer, [pts], True, tuple(int(c * 0.6) for c in color), max(1, int(r * 0.06)))


def _tyre(rng, layer, mask, cx, cy, r, angle):
    cv2.circle(mask, _pt(cx, cy), int(r), 1, -1)
    cv2.circle(mask, _pt(cx, cy), int(r * 0.45), 0, -1)
    cv2.circle(layer, _pt(cx, cy), int(r), textures.jitter_color(rng, (35, 35, 38), 10), -1)
    cv2.circle(layer, _pt(cx, cy), int(r * 0.6), textures.jitter_color(rng, (170, 170, 175), 20), -1)
    for a in np.linspace(0, 2 * np.pi, 16, endpoint=False):  # tread
        cv2.line(layer, _pt(cx + 0.8 * r * np.cos(a), cy + 0.8 * r * np.sin(a)),
                 _pt(cx + r * np.cos(a), cy + r * np.sin(a)), (70, 70, 72), max(1, int(r * 0.06)))


def _leaf(rng, layer, mask, cx, cy, r, angle):
    color = textures.random_color(rng, hue=(0.22, 0.38), sat=(0.5, 0.9), val=(0.35, 0.75))
    t = np.linspace(0, np.pi, 24)
    half = np.stack([r * np.cos(t), r * 0.42 * np.sin(t)], 1)
    outline = np.concatenate([half, half[::-1] * [1, -1]])
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    pts = np.round(outline @ rot + [cx, cy]).astype(np.int32)
    _fill(layer, mask, pts, color)
    vein = tuple(int(c * 0.65) for c in color)
    d = np.array([np.cos(angle), np.sin(angle)])
    cv2.line(layer, _pt(*(np.array([cx, cy]) - d * r)), _pt(*(np.array([cx, cy]) + d * r)), vein, max(1, int(r * 0.05)))
    for s in np.linspace(-0.6, 0.6, 5):
        base = np.array([cx, cy]) + d * r * s
        for sign in (-1, 1):
            side = np.array([-d[1], d[0]]) * sign
            cv2.line(layer, _pt(*base), _pt(*(base + (side * 0.3 + d * 0.25) * r)), vein, max(1, int(r * 0.03)))


def _star(rng, layer, mask, cx, cy, r, angle):
    color = textures.random_color(rng, hue=(0.11, 0.16), sat=(0.7, 1.0), val=(0.85, 1.0))
    _fill(layer, mask, shapes.star_points(cx, cy, r, r * 0.45, 5, angle), color)


def _fish(rng, layer, mask, cx, cy, r, angle):
    color = textures.random_color(rng, hue=(0.0, 0.12) if rng.random() < 0.5 else (0.5, 0.65), sat=(0.6, 1.0),
                                  val=(0.6, 1.0))
    d = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-d[1], d[0]])
    c = np.array([cx, cy])
    cv2.ellipse(mask, _pt(cx, cy), (int(r * 0.7), int(r * 0.38)), np.rad2deg(angle), 0, 360, 1, -1)
    cv2.ellipse(layer, _pt(cx, cy), (int(r * 0.7), int(r * 0.38)), np.rad2deg(angle), 0, 360, color, -1)
    tail = np.round([c - d * r * 0.6, c - d * r + n * r * 0.4, c - d * r - n * r * 0.4]).astype(np.int32)
    _fill(layer, mask, tail, textures.jitter_color(rng, color, 30))
    scale_color = tuple(int(v * 0.75) for v in color)
    for k in range(-2, 3):
        for j in (-1, 0, 1):
            p = c + d * r * 0.15 * k + n * r * 0.15 * j
            cv2.circle(layer, _pt(*p), max(1, int(r * 0.07)), scale_color, 1)
    eye = c + d * r * 0.45 + n * r * 0.1
    cv2.circle(layer, _pt(*eye), max(1, int(r * 0.08)), (15, 15, 15), -1)


def _house(rng, layer, mask, cx, cy, r, angle):
    wall = textures.random_color(rng, hue=(0.08, 0.15), sat=(0.1, 0.35), val=(0.75, 0.95))
    roof = textures.random_color(rng, hue=(-0.03, 0.05), sat=(0.6, 0.9), val=(0.45, 0.75))
    x0, x1, y_mid, y1 = cx - r * 0.7, cx + r * 0.7, cy - r * 0.1, cy + r * 0.8
    _fill(layer, mask, np.round([[x0, y_mid], [x1, y_mid], [x1, y1], [x0, y1]]).astype(np.int32), wall)
    gable = np.round([[x0 - r * 0.15, y_mid], [cx, cy - r * 0.85], [x1 + r * 0.15, y_mid]]).astype(np.int32)
    _fill(layer, mask, gable, roof)
    for wx in (cx - r * 0.38, cx + r * 0.18):
        cv2.rectangle(layer, _pt(wx, y_mid + r * 0.2), _pt(wx + r * 0.2, y_mid + r * 0.4), (60, 80, 110), -1)
    cv2.rectangle(layer, _pt(cx - r * 0.1, y1 - r * 0.4), _pt(cx + r * 0.12, y1), (90, 55, 35), -1)


def _mushroom(rng, layer, mask, cx, cy, r, angle):
    cap = textures.random_color(rng, hue=(-0.02, 0.06), sat=(0.7, 1.0), val=(0.6, 0.9))
    stem = textures.jitter_color(rng, (235, 225, 200), 15)
    _fill(layer, mask, np.round([[cx - r * 0.22, cy], [cx + r * 0.22, cy], [cx + r * 0.18, cy + r * 0.85],
                                 [cx - r * 0.18, cy + r * 0.85]]).astype(np.int32), stem)
    cv2.ellipse(mask, _pt(cx, cy), (int(r), int(r * 0.75)), 0, 180, 360, 1, -1)
    cv2.ellipse(layer, _pt(cx, cy), (int(r), int(r * 0.75)), 0, 180, 360, cap, -1)
    for _ in range(int(rng.integers(3, 7))):
        a = rng.uniform(np.pi * 1.1, np.pi * 1.9)
        rr = rng.uniform(0.3, 0.75)
        cv2.circle(layer, _pt(cx + r * rr * np.cos(a), cy + r * 0.75 * rr * np.sin(a)), max(1, int(r * 0.09)),
                   (245, 245, 240), -1)


def _bottle(rng, layer, mask, cx, cy, r, angle):
    color = textures.random_color(rng, hue=(0.25, 0.45) if rng.random() < 0.6 else (0.05, 0.1), sat=(0.5, 0.9),
                                  val=(0.3, 0.6))
    body = shapes.rect_points(cx, cy + r * 0.25, r * 0.3, r * 0.6, 0.0)
    neck = shapes.rect_points(cx, cy - r * 0.55, r * 0.1, r * 0.3, 0.0)
    layer_b, mask_b = np.zeros_like(layer), np.zeros_like(mask)
    _fill(layer_b, mask_b, body, color)
    _fill(layer_b, mask_b, neck, color)
    cv2.ellipse(mask_b, _pt(cx, cy - r * 0.35), (int(r * 0.3), int(r * 0.15)), 0, 180, 360, 1, -1)
    cv2.ellipse(layer_b, _pt(cx, cy - r * 0.35), (int(r * 0.3), int(r * 0.15)), 0, 180, 360, color, -1)
    cv2.line(layer_b, _pt(cx - r * 0.15, cy - r * 0.2), _pt(cx - r * 0.15, cy + r * 0.7),
             textures.mix_color(color, (255, 255, 255), 0.6), max(1, int(r * 0.07)))
    cv2.rectangle(layer_b, _pt(cx - r * 0.3, cy + r * 0.05), _pt(cx + r * 0.3, cy + r * 0.35),
                  textures.random_color(rng, sat=(0.0, 0.3), val=(0.85, 1.0)), -1)
    matrix = cv2.getRotationMatrix2D((cx, cy), np.rad2deg(angle) * 0.3, 1.0)
    size = (mask.shape[1], mask.shape[0])
    mask_b = cv2.warpAffine(mask_b, matrix, size, flags=cv2.INTER_NEAREST)
    layer_b = cv2.warpAffine(layer_b, matrix, size, flags=cv2.INTER_NEAREST)
    cv2.copyTo(layer_b, mask_b, layer)
    mask |= mask_b


def _cloud(rng, layer, mask, cx, cy, r, angle):
    color = textures.random_color(rng, sat=(0.0, 0.08), val=(0.88, 1.0))
    for _ in range(int(rng.integers(4, 7))):
        px, py = cx + rng.uniform(-0.6, 0.6) * r, cy + rng.uniform(-0.25, 0.25) * r
        rr = int(r * rng.uniform(0.3, 0.45))
        cv2.circle(mask, _pt(px, py), rr, 1, -1)
        cv2.circle(layer, _pt(px, py), rr, color, -1)
    cv2.ellipse(mask, _pt(cx, cy + r * 0.15), (int(r * 0.85), int(r * 0.22)), 0, 0, 360, 1, -1)
    cv2.ellipse(layer, _pt(cx, cy + r * 0.15), (int(r * 0.85), int(r * 0.22)), 0, 0, 360,
                tuple(int(c * 0.9) for c in color), -1)


def _sign(rng, layer, mask, cx, cy, r, angle):
    red = textures.random_color(rng, hue=(-0.02, 0.02), sat=(0.8, 1.0), val=(0.7, 0.95))
    corners = np.pi / 8 + np.arange(8) * np.pi / 4
    octagon = np.round([[cx + r * np.cos(a), cy + r * np.sin(a)] for a in corners])
    _fill(layer, mask, octagon.astype(np.int32), (245, 245, 245))
    inner = np.round([[cx + r * 0.85 * np.cos(a), cy + r * 0.85 * np.sin(a)] for a in corners])
    cv2.fillPoly(layer, [inner.astype(np.int32)], red)
    cv2.line(layer, _pt(cx - r * 0.5, cy), _pt(cx + r * 0.5, cy), (245, 245, 245), max(1, int(r * 0.18)))


def _moon(rng, layer, mask, cx, cy, r, angle):
    color = textures.random_color(rng, hue=(0.12, 0.17), sat=(0.15, 0.45), val=(0.85, 1.0))
    m = np.zeros_like(mask)
    cv2.circle(m, _pt(cx, cy), int(r), 1, -1)
    cv2.circle(m, _pt(cx + r * 0.5 * np.cos(angle), cy + r * 0.5 * np.sin(angle)), int(r * 0.85), 0, -1)
    cv2.copyTo(np.full_like(layer, color), m, layer)
    mask |= m


def _flower(rng, layer, mask, cx, cy, r, angle):
    petal = textures.random_color(rng, hue=(0.75, 1.0), sat=(0.4, 0.9), val=(0.8, 1.0))
    n = int(rng.integers(5, 9))
    for a in angle + np.arange(n) * 2 * np.pi / n:
        p = (cx + r * 0.55 * np.cos(a), cy + r * 0.55 * np.sin(a))
        cv2.ellipse(mask, _pt(*p), (int(r * 0.45), max(1, int(r * 0.2))), np.rad2deg(a), 0, 360, 1, -1)
        cv2.ellipse(layer, _pt(*p), (int(r * 0.45), max(1, int(r * 0.2))), np.rad2deg(a), 0, 360, petal, -1)
    cv2.circle(mask, _pt(cx, cy), int(r * 0.28), 1, -1)
    cv2.circle(layer, _pt(cx, cy), int(r * 0.28), textures.jitter_color(rng, (240, 190, 30), 20), -1)


DRAWERS: dict[str, Drawer] = {
    "ball": _ball, "box": _box, "tyre": _tyre, "leaf": _leaf, "star": _star, "fish": _fish, "house": _house,
    "mushroom": _mushroom, "bottle": _bottle, "cloud": _cloud, "sign": _sign, "moon": _moon, "flower": _flower,
}
assert tuple(DRAWERS) == CLASS_NAMES[1:]


def ignore_band(instance_map: np.ndarray, radius: int) -> np.ndarray:
    """(H, W) bool: pixels within ``radius`` of a border between different labels of ``instance_map``."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(instance_map, kernel) != cv2.erode(instance_map, kernel)


def generate(rng: np.random.Generator, height: int, width: int, object_scale: float = 1.0,
             instances: tuple[int, int] = (2, 7)) -> Generated:
    """One scene: (H, W, 3) image, (H, W) uint8 class map (255 ignore), (K, H, W) instance masks.

    Args:
        object_scale: multiplies every named object's radius (drawn log-uniform in 0.08-0.22 of the shorter side).
        instances: the number of named objects is drawn in ``[instances[0], instances[1])``.
    """
    side = min(height, width)
    names = list(DRAWERS)
    for _ in range(10):
        background = textures.random_texture(rng, height, width, scale=side * rng.uniform(0.05, 0.4))
        background = textures.blend(background, np.full_like(background, 128), rng.uniform(0.2, 0.5))
        canvas = shapes.Canvas(background)
        for _ in range(int(rng.random() < 0.5) + int(rng.random() < 0.3)):  # unnamed clutter = background
            m = shapes.shape_mask(rng, height, width, textures.pick(rng, ["polygon", "rectangle", "blob"]),
                                  rng.uniform(0, width), rng.uniform(0, height), side * rng.uniform(0.08, 0.2))
            canvas.paint(m, textures.object_texture(rng, kind=textures.pick(rng, ["noise", "checker", "stripes"])),
                         class_id=0)
        for _ in range(int(rng.integers(*instances))):
            class_id = int(rng.integers(1, len(CLASS_NAMES)))
            layer = np.zeros((height, width, 3), dtype=np.uint8)
            mask = np.zeros((height, width), dtype=np.uint8)
            radius = object_scale * side * float(np.exp(rng.uniform(np.log(0.08), np.log(0.22))))
            cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
            DRAWERS[names[class_id - 1]](rng, layer, mask, cx, cy, radius, float(rng.uniform(0, 2 * np.pi)))
            layer = textures.shade(layer, textures.gradient_pattern(rng, height, width), rng.uniform(0.0, 0.3))
            canvas.paint(mask, layer, class_id=class_id)
        min_area = max(12, int(0.002 * height * width))
        ids = [i for i in sorted(canvas.parent) if canvas.info[i]["class_id"] > 0
               and shapes.area(canvas.visible(i)) >= min_area]
        if ids:
            break

    named = [i for i in sorted(canvas.parent) if canvas.info[i]["class_id"] > 0]
    lut = np.zeros((256, 1), dtype=np.uint8)
    instance_lut = np.zeros((256, 1), dtype=np.uint8)
    for i in named:
        lut[i] = canvas.info[i]["class_id"] if i in ids else IGNORE_INDEX  # slivers are ignored, not background
        instance_lut[i] = i
    instance_map = cv2.LUT(canvas.labels, instance_lut)  # unnamed clutter -> 0
    class_map = cv2.LUT(instance_map, lut)
    class_map[ignore_band(instance_map, max(1, int(round(side / 128))))] = IGNORE_INDEX
    masks = [canvas.visible(i) for i in ids]
    image = textures.add_noise(canvas.image, rng, rng.uniform(0.5, 4.0))
    return Generated(
        image=image,
        masks=finish_masks(masks, height, width),
        class_map=class_map,
        class_names=CLASS_NAMES,
        meta={"instance_classes": tuple(int(canvas.info[i]["class_id"]) for i in ids)},
    )
