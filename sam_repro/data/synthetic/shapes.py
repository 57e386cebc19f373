"""Shape outlines, curves and a layered canvas that tracks which object owns every pixel.

Masks here are (H, W) uint8 with 1 inside (OpenCV's drawing format); convert with ``mask > 0``.
Coordinates are (x, y) pixels. The :class:`Canvas` paints objects in order (later ones occlude
earlier ones) and answers the *visible* region of any object together with its nested parts, so a
mask is exactly the drawn region of its object in the final image.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

#: Closed shape kinds :func:`shape_mask` can draw.
SHAPE_KINDS = ("ellipse", "blob", "polygon", "rectangle", "star", "ring", "crescent", "band", "cross", "capsule")


def blob_points(
    rng: np.random.Generator, cx: float, cy: float, radius: float, roughness: float = 0.25, n: int = 48,
    aspect: float = 1.0, angle: float = 0.0,
) -> np.ndarray:
    """A star-shaped smooth random outline (low-order Fourier radius); (n, 2) int32 xy."""
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(1, 6):
        r += (roughness / k) * rng.uniform(-1, 1) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r = np.clip(r, 0.25, None) * radius
    x, y = r * np.cos(theta) * aspect, r * np.sin(theta)
    ca, sa = np.cos(angle), np.sin(angle)
    pts = np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], axis=1)
    return np.round(pts).astype(np.int32)


def polygon_points(
    rng: np.random.Generator, cx: float, cy: float, radius: float, n_vertices: int, jitter: float = 0.25
) -> np.ndarray:
    """A jittered convex-ish polygon with ``n_vertices`` corners; (n, 2) int32 xy."""
    theta = np.sort(rng.uniform(0, 2 * np.pi, n_vertices)) if jitter > 0.3 else (
        np.linspace(0, 2 * np.pi, n_vertices, endpoint=False) + rng.uniform(0, 2 * np.pi)
    )
    r = radius * (1.0 + jitter * rng.uniform(-1, 1, n_vertices))
    return np.round(np.stack([cx + r * np.cos(theta), cy + r * np.sin(theta)], axis=1)).astype(np.int32)


def star_points(cx: float, cy: float, r_out: float, r_in: float, n_tips: int, angle: float) -> np.ndarray:
    """A regular star with ``n_tips`` tips; (2 n_tips, 2) int32 xy."""
    theta = angle + np.arange(2 * n_tips) * np.pi / n_tips
    r = np.where(np.arange(2 * n_tips) % 2 == 0, r_out, r_in)
    return np.round(np.stack([cx + r * np.cos(theta), cy + r * np.sin(theta)], axis=1)).astype(np.int32)


def rect_points(cx: float, cy: float, half_w: float, half_h: float, angle: float) -> np.ndarray:
    """Corners of a rotated rectangle; (4, 2) int32 xy."""
    ca, sa = np.cos(angle), np.sin(angle)
    corners = np.array([[-half_w, -half_h], [half_w, -half_h], [half_w, half_h], [-half_w, half_h]])
    rot = corners @ np.array([[ca, sa], [-sa, ca]])
    return np.round(rot + [cx, cy]).astype(np.int32)


def bezier(points: np.ndarray, n: int = 32) -> np.ndarray:
    """Points of the Bezier curve with control points ``points`` (m, 2); (n, 2) float xy."""
    pts = np.asarray(points, dtype=np.float64)
    degree = len(pts) - 1
    t = np.linspace(0.0, 1.0, n)[:, None]
    i = np.arange(degree + 1)[None, :]
    coeff = np.array([math.comb(degree, k) for k in range(degree + 1)], dtype=np.float64)[None, :]
    basis = coeff * t**i * (1.0 - t) ** (degree - i)
    return basis @ pts


def random_curve(
    rng: np.random.Generator, start: np.ndarray, length: float, bend: float = 0.6, n: int = 40
) -> np.ndarray:
    """A smooth random cubic curve of roughly ``length`` px starting at ``start``; (n, 2) float xy."""
    angle = rng.uniform(0, 2 * np.pi)
    pts = [np.asarray(start, dtype=np.float64)]
    for _ in range(3):
        angle += rng.uniform(-bend, bend) * np.pi / 2
        pts.append(pts[-1] + length / 3 * np.array([np.cos(angle), np.sin(angle)]))
    return bezier(np.stack(pts), n)


def draw_polyline(mask: np.ndarray, pts: np.ndarray, thickness: float, value: int = 1, closed: bool = False) -> None:
    """Draw a polyline of (at least 1 px) ``thickness`` into ``mask`` in place."""
    cv2.polylines(mask, [np.round(pts).astype(np.int32)], closed, value, max(1, int(round(thickness))), cv2.LINE_8)


def shape_mask(
    rng: np.random.Generator, height: int, width: int, kind: str, cx: float, cy: float, radius: float,
    angle: float | None = None,
) -> np.ndarray:
    """Draw one closed shape of about ``radius`` px centred at (cx, cy); (H, W) uint8 0/1.

    Raises:
        ValueError: unknown ``kind`` (see :data:`SHAPE_KINDS`).
    """
    mask = np.zeros((height, width), dtype=np.uint8)
    if angle is None:
        angle = float(rng.uniform(0, 2 * np.pi))
    center = (int(round(cx)), int(round(cy)))
    radius = max(radius, 2.0)
    if kind == "ellipse":
        axes = (max(1, int(radius)), max(1, int(radius * rng.uniform(0.4, 1.0))))
        cv2.ellipse(mask, center, axes, np.rad2deg(angle), 0, 360, 1, -1)
    elif kind == "blob":
        pts = blob_points(rng, cx, cy, radius, rng.uniform(0.15, 0.5), aspect=rng.uniform(0.6, 1.4), angle=angle)
        cv2.fillPoly(mask, [pts], 1)
    elif kind == "polygon":
        cv2.fillPoly(mask, [polygon_points(rng, cx, cy, radius, int(rng.integers(3, 8)), rng.uniform(0.0, 0.35))], 1)
    elif kind == "rectangle":
        cv2.fillPoly(mask, [rect_points(cx, cy, radius, radius * rng.uniform(0.3, 1.0), angle)], 1)
    elif kind == "star":
        inner = radius * rng.uniform(0.35, 0.6)
        cv2.fillPoly(mask, [star_points(cx, cy, radius, inner, int(rng.integers(4, 8)), angle)], 1)
    elif kind == "ring":
        outer = (max(2, int(radius)), max(2, int(radius * rng.uniform(0.6, 1.0))))
        cv2.ellipse(mask, center, outer, np.rad2deg(angle), 0, 360, 1, -1)
        frac = rng.uniform(0.35, 0.65)
        inner = (max(1, int(outer[0] * frac)), max(1, int(outer[1] * frac)))
        cv2.ellipse(mask, center, inner, np.rad2deg(angle), 0, 360, 0, -1)
    elif kind == "crescent":
        cv2.circle(mask, center, int(radius), 1, -1)
        shift = radius * rng.uniform(0.35, 0.7)
        cv2.circle(mask, (int(cx + shift * np.cos(angle)), int(cy + shift * np.sin(angle))), int(radius * 0.9), 0, -1)
    elif kind == "band":
        start = np.array([cx, cy]) - radius * np.array([np.cos(angle), np.sin(angle)])
        curve = random_curve(rng, start, 2 * radius, bend=0.5)
        draw_polyline(mask, curve, max(3.0, radius * rng.uniform(0.25, 0.5)))
    elif kind == "cross":
        arm = radius * rng.uniform(0.25, 0.45)
        cv2.fillPoly(mask, [rect_points(cx, cy, radius, arm, angle)], 1)
        cv2.fillPoly(mask, [rect_points(cx, cy, arm, radius, angle)], 1)
    elif kind == "capsule":
        d = radius * 0.6 * np.array([np.cos(angle), np.sin(angle)])
        p0, p1 = np.round([cx, cy] - d).astype(int), np.round([cx, cy] + d).astype(int)
        cv2.line(mask, tuple(p0.tolist()), tuple(p1.tolist()), 1, max(2, int(radius * rng.uniform(0.5, 0.9))))
    else:
        raise ValueError(f"unknown shape kind {kind!r}; known: {', '.join(SHAPE_KINDS)}")
    return mask


def area(mask: np.ndarray) -> int:
    """Number of non-zero pixels of an (H, W) uint8 or bool mask."""
    return int(cv2.countNonZero(mask.view(np.uint8) if mask.dtype == bool else mask))


TextureFn = Callable[[int, int], np.ndarray]


class Canvas:
    """A layered painting: an (H, W, 3) uint8 image plus an (H, W) uint8 owner map.

    Object ids start at 1 (0 is the background); at most 254 objects. A part is painted with
    ``parent=`` and is clipped to the parent's currently visible region, so parts nest in wholes.
    """

    def __init__(self, background: np.ndarray) -> None:
        if background.dtype != np.uint8 or background.ndim != 3:
            raise ValueError("background must be an (H, W, 3) uint8 image")
        self.image = np.ascontiguousarray(background.copy())
        self.height, self.width = background.shape[:2]
        self.labels = np.zeros((self.height, self.width), dtype=np.uint8)
        self.parent: dict[int, int] = {}
        self.children: dict[int, list[int]] = {}
        self.info: dict[int, dict] = {}
        self.bbox: dict[int, tuple[int, int, int, int]] = {}

    def paint(
        self, mask: np.ndarray, texture: np.ndarray | TextureFn, parent: int | None = None, **info: object
    ) -> int | None:
        """Paint ``texture`` where ``mask`` is set; return the new object id (None if nothing was drawn).

        Args:
            mask: (H, W) uint8 0/1 or bool.
            texture: a full (H, W, 3) uint8 image, or ``fn(h, w)`` making one the size of the mask's bounding box.
            parent: id of the object this is a part of (the part is clipped to its visible region).
            info: stored in :attr:`info` for the generator (kind, level...).
        """
        mask = mask.view(np.uint8) if mask.dtype == bool else mask
        x, y, w, h = cv2.boundingRect(mask)
        if w == 0 or h == 0:
            return None
        sub = mask[y : y + h, x : x + w]
        if parent is not None:  # clip to the parent's visible region, inside the bounding box only
            sub = cv2.bitwise_and(sub, self.visible_crop(parent, (x, y, w, h)))
            x2, y2, w, h = cv2.boundingRect(sub)
            if w == 0 or h == 0:
                return None
            sub = sub[y2 : y2 + h, x2 : x2 + w]
            x, y = x + x2, y + y2
        new_id = len(self.parent) + 1
        if new_id > 254:
            raise RuntimeError("Canvas holds at most 254 objects")
        tex = texture(h, w) if callable(texture) else texture[y : y + h, x : x + w]
        cv2.copyTo(np.ascontiguousarray(tex), sub, self.image[y : y + h, x : x + w])
        self.labels[y : y + h, x : x + w][sub > 0] = new_id
        self.parent[new_id] = parent if parent is not None else 0
        self.children[new_id] = []
        if parent is not None:
            self.children[parent].append(new_id)
        self.info[new_id] = dict(info)
        self.bbox[new_id] = (x, y, w, h)
        return new_id

    def descendants(self, obj: int) -> list[int]:
        """``obj`` and all its (nested) parts."""
        out, stack = [], [obj]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(self.children.get(node, []))
        return out

    def visible(self, obj: int) -> np.ndarray:
        """(H, W) uint8 0/1: pixels of the final image drawn by ``obj`` or its parts."""
        lut = np.zeros((256, 1), dtype=np.uint8)
        lut[self.descendants(obj)] = 1
        return cv2.LUT(self.labels, lut)

    def visible_crop(self, obj: int, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """:meth:`visible` restricted to ``box`` = (x, y, w, h) (default: the object's bounding box)."""
        x, y, w, h = self.bbox[obj] if box is None else box
        lut = np.zeros((256, 1), dtype=np.uint8)
        lut[self.descendants(obj)] = 1
        return cv2.LUT(self.labels[y : y + h, x : x + w], lut)

    def occupied(self) -> np.ndarray:
        """(H, W) uint8 0/1: pixels drawn by any object."""
        return (self.labels > 0).view(np.uint8)


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Erode an (H, W) uint8 mask with a disc of ``radius`` px."""
    if radius <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.erode(mask, kernel)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilate an (H, W) uint8 mask with a disc of ``radius`` px."""
    if radius <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask, kernel)
