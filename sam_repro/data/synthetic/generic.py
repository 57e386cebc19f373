"""``synthetic/generic``: the multi-object pool the tiny SAM is pre-trained on (a small SA-1B).

Each image is a textured background with 3-8 occluding objects of varied shape (ellipses, blobs,
polygons, rings, stars, bands...), each with its own texture (flat, noise, stripes, checker, spots,
marble) and shading; about half of the objects carry nested parts and some parts carry sub-parts.
Masks are the *visible* regions: a whole includes its parts, an occluded object loses the occluded
pixels. A point on a part is therefore ambiguous (part or whole), as in SAM's multimask training.

Deliberately absent, so that the evaluation families stay unseen: thin/branching structures, shadows,
defocus, transparency, class semantics and the appearance of the novel domains.
"""
from __future__ import annotations

import cv2
import numpy as np

from sam_repro.data.synthetic import shapes, textures
from sam_repro.data.synthetic.base import FamilySpec, Generated, finish_masks

SPEC = FamilySpec(
    name="synthetic/generic",
    group="pretrain",
    papers=("all",),
    stands_in_for=("SA-1B",),
    keeps="many objects per image with occlusion and nested part/whole masks (ambiguous points)",
    target="every visible object and part; K >= 2 masks per image, meta['parents'] links parts to wholes",
    default_size=(256, 256),
    min_size=64,
    splits={"train": 100_000, "val": 200, "test": 200},
    multi_object=True,
    counterparts=(),
)

_PART_KINDS = ("ellipse", "blob", "polygon", "rectangle", "star", "ring", "cross", "capsule")


def _add_object(canvas: shapes.Canvas, rng: np.random.Generator, side: int) -> None:
    """Paint one object (and maybe nested parts) at a random place."""
    height, width = canvas.height, canvas.width
    kind = textures.pick(rng, shapes.SHAPE_KINDS)
    radius = side * float(np.exp(rng.uniform(np.log(0.07), np.log(0.3))))
    cx, cy = rng.uniform(-0.05, 1.05) * width, rng.uniform(-0.05, 1.05) * height
    mask = shapes.shape_mask(rng, height, width, kind, cx, cy, radius)
    obj = canvas.paint(mask, textures.object_texture(rng), kind=kind, level=0)
    if obj is None or rng.random() > 0.6:
        return
    for _ in range(int(rng.integers(1, 3))):
        _add_part(canvas, rng, obj, radius, level=1)


def _add_part(canvas: shapes.Canvas, rng: np.random.Generator, parent: int, radius: float, level: int) -> None:
    """Paint a part inside ``parent`` (clipped to it); recurse once more with some probability."""
    bx, by, _, _ = canvas.bbox[parent]
    region = canvas.visible_crop(parent)  # a part lies inside its parent's original bounding box
    x0, y0, w, h = cv2.boundingRect(region)
    if w == 0 or h == 0:
        return
    margin = max(1, int(radius * 0.15))
    center = None
    for _ in range(12):  # rejection-sample a point well inside the parent
        x, y = int(x0 + rng.integers(0, w)), int(y0 + rng.integers(0, h))
        if region[y, x] and all(
            0 <= yy < region.shape[0] and 0 <= xx < region.shape[1] and region[yy, xx]
            for yy, xx in ((y - margin, x), (y + margin, x), (y, x - margin), (y, x + margin))
        ):
            center = (bx + x, by + y)
            break
    if center is None:
        return
    kind = textures.pick(rng, _PART_KINDS)
    part_radius = radius * rng.uniform(0.25, 0.55)
    mask = shapes.shape_mask(rng, canvas.height, canvas.width, kind, center[0], center[1], part_radius)
    part = canvas.paint(mask, textures.object_texture(rng), parent=parent, kind=kind, level=level)
    if part is not None and level < 2 and rng.random() < 0.35:
        _add_part(canvas, rng, part, part_radius, level + 1)


def generate(rng: np.random.Generator, height: int, width: int) -> Generated:
    """One generic sample: (H, W, 3) image and (K, H, W) visible object/part masks, K >= 2."""
    side = min(height, width)
    background = textures.random_texture(rng, height, width, scale=side * rng.uniform(0.05, 0.4))
    if rng.random() < 0.5:  # a second background region (floor / wall)
        other = textures.random_texture(rng, height, width)
        ramp = textures.gradient_pattern(rng, height, width)
        ramp = np.where(ramp > rng.integers(60, 200), 255, 0).astype(np.uint8)
        background = textures.blend_map(background, other, ramp)
    canvas = shapes.Canvas(background)
    min_area = max(16, int(0.0015 * height * width))
    for _ in range(int(rng.integers(3, 9))):
        _add_object(canvas, rng, side)

    for _attempt in range(20):
        masks, ids, areas = [], [], []
        for obj in sorted(canvas.parent):
            vis = canvas.visible(obj)
            size = shapes.area(vis)
            if size < min_area:
                continue
            # a whole occluded down to its part would duplicate the part's mask
            if any(a == size and np.array_equal(vis, m) for a, m in zip(areas, masks)):
                continue
            masks.append(vis)
            ids.append(obj)
            areas.append(size)
        if len(masks) >= 2:
            break
        _add_object(canvas, rng, side)

    image = canvas.image
    if rng.random() < 0.5:  # global illumination gradient
        image = textures.shade(image, textures.gradient_pattern(rng, height, width), rng.uniform(0.1, 0.4))
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 0.8))
    image = textures.add_noise(image, rng, rng.uniform(0.0, 6.0))

    index_of = {obj: i for i, obj in enumerate(ids)}
    parents = tuple(index_of.get(canvas.parent[obj], -1) for obj in ids)
    levels = tuple(int(canvas.info[obj]["level"]) for obj in ids)
    names = []
    for obj in ids:
        chain, node = [], obj
        while node:
            chain.append(str(canvas.info[node]["kind"]))
            node = canvas.parent[node]
        names.append("/".join(reversed(chain)))
    return Generated(
        image=image,
        masks=finish_masks(masks, height, width),
        class_names=tuple(names),
        meta={"parents": parents, "levels": levels},
    )
