"""Cheap procedural textures, colours and image effects (all uint8, all driven by a numpy Generator).

Patterns are (H, W) uint8 grey maps (value noise from upsampled random grids, stripes, checkers,
gradients, spots); :func:`colorize` maps them through a colour palette into (H, W, 3) uint8 RGB.
Everything goes through OpenCV kernels because per-pixel numpy arithmetic is several times slower
and the generic pool must stay under a few milliseconds per 256x256 sample.
"""
from __future__ import annotations

import colorsys
from collections.abc import Sequence
from functools import lru_cache
from typing import TypeVar

import cv2
import numpy as np

Color = tuple[int, int, int]
T = TypeVar("T")

#: Side of the cached fine-noise tile; crops are taken at random offsets.
_NOISE_TILE = 1280


def pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One element of ``options`` drawn uniformly (cheaper than ``Generator.choice`` for small lists)."""
    return options[int(rng.integers(len(options)))]


def random_color(
    rng: np.random.Generator,
    hue: tuple[float, float] = (0.0, 1.0),
    sat: tuple[float, float] = (0.3, 1.0),
    val: tuple[float, float] = (0.25, 1.0),
) -> Color:
    """An RGB uint8 colour drawn uniformly in the given HSV box (hue wraps around 1)."""
    h = rng.uniform(*hue) % 1.0
    s = rng.uniform(*sat)
    v = rng.uniform(*val)
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def jitter_color(rng: np.random.Generator, color: Color, amount: float = 20.0) -> Color:
    """``color`` with independent uniform noise of +-``amount`` per channel."""
    c = np.clip(np.asarray(color, dtype=np.float64) + rng.uniform(-amount, amount, 3), 0, 255)
    return int(c[0]), int(c[1]), int(c[2])


def mix_color(a: Color, b: Color, t: float) -> Color:
    """Linear interpolation ``(1 - t) * a + t * b``."""
    return tuple(int(round((1 - t) * x + t * y)) for x, y in zip(a, b))  # type: ignore[return-value]


def luminance(color: Color) -> float:
    """Rec. 601 luma of an RGB colour, in [0, 255]."""
    return 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]


def palette_lut(colors: list[Color] | tuple[Color, ...]) -> np.ndarray:
    """A (256, 1, 3) uint8 lookup table that ramps linearly through ``colors`` (>= 1 colours)."""
    stops = np.clip(np.asarray(colors, dtype=np.float32), 0, 255).astype(np.uint8).reshape(-1, 1, 3)
    if len(stops) == 1:
        return np.ascontiguousarray(np.broadcast_to(stops, (256, 1, 3)))
    # cv2.resize samples pixel centres; pad with the end colours so the ramp reaches them exactly
    n = len(stops)
    ramp = cv2.resize(stops, (1, 256 * n // (n - 1)), interpolation=cv2.INTER_LINEAR)
    start = (len(ramp) - 256) // 2
    return np.ascontiguousarray(ramp[start : start + 256].reshape(256, 1, 3))


def colorize(pattern: np.ndarray, colors: list[Color] | tuple[Color, ...]) -> np.ndarray:
    """Map an (H, W) uint8 pattern through a palette into an (H, W, 3) uint8 RGB image."""
    return cv2.applyColorMap(np.ascontiguousarray(pattern), palette_lut(colors))


def _to_u8(field: np.ndarray) -> np.ndarray:
    """Stretch a float field to the full uint8 range."""
    return cv2.normalize(field, None, 0, 255, cv2.NORM_MINMAX, cv2.CV_8U)


def noise_pattern(
    rng: np.random.Generator, height: int, width: int, cell: float, octaves: int = 3, persistence: float = 0.5
) -> np.ndarray:
    """Value noise: a sum of ``octaves`` random grids upsampled bicubically; (H, W) uint8.

    ``cell`` is the feature size of the coarsest octave in pixels; each further octave halves it.
    Grids are uint8 (OpenCV's bicubic resize is ~5x faster on uint8 than on float32).
    """
    octaves = max(1, octaves)
    weights = np.array([persistence**k for k in range(octaves)])
    weights /= weights.sum()
    acc: np.ndarray | None = None
    for octave in range(octaves):
        c = max(1.5, cell / (2**octave))
        gh, gw = int(np.ceil(height / c)) + 2, int(np.ceil(width / c)) + 2
        grid = rng.integers(0, 256, (gh, gw), dtype=np.uint8)
        up = cv2.resize(grid, (int(round(gw * c)), int(round(gh * c))), interpolation=cv2.INTER_CUBIC)
        oy = int(rng.integers(0, max(1, up.shape[0] - height + 1)))
        ox = int(rng.integers(0, max(1, up.shape[1] - width + 1)))
        crop = up[oy : oy + height, ox : ox + width]
        if crop.shape != (height, width):  # rounding left it a pixel short
            crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
        w = float(weights[octave])
        if acc is None:
            acc = cv2.convertScaleAbs(crop, alpha=w)
        else:  # running weighted mean, stays within uint8
            acc = cv2.addWeighted(acc, 1.0, crop, w, 0.0)
    assert acc is not None
    return cv2.normalize(acc, None, 0, 255, cv2.NORM_MINMAX)


def ridge_pattern(rng: np.random.Generator, height: int, width: int, cell: float, octaves: int = 2) -> np.ndarray:
    """Ridged value noise (bright creases where the noise crosses its mid level); (H, W) uint8."""
    noise = noise_pattern(rng, height, width, cell, octaves)
    distance = cv2.absdiff(noise, np.full_like(noise, 128))
    return cv2.convertScaleAbs(distance, alpha=-2.0, beta=255.0)


def _rotated(base: np.ndarray, height: int, width: int, angle_deg: float) -> np.ndarray:
    """Rotate an axis-aligned pattern (larger than the target) about its centre and crop (H, W)."""
    bh, bw = base.shape[:2]
    matrix = cv2.getRotationMatrix2D((bw / 2.0, bh / 2.0), angle_deg, 1.0)
    matrix[0, 2] -= (bw - width) / 2.0
    matrix[1, 2] -= (bh - height) / 2.0
    return cv2.warpAffine(base, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def stripe_pattern(
    rng: np.random.Generator,
    height: int,
    width: int,
    period: float,
    angle_deg: float | None = None,
    sharp: bool = False,
) -> np.ndarray:
    """Parallel stripes of the given period (pixels) at an angle; sine profile or square if ``sharp``."""
    if angle_deg is None:
        angle_deg = float(rng.uniform(0, 180))
    side = int(np.ceil(np.hypot(height, width))) + 2
    phase = rng.uniform(0, 2 * np.pi)
    row = np.sin(np.arange(side, dtype=np.float32) * np.float32(2 * np.pi / max(period, 2.0)) + np.float32(phase))
    if sharp:
        row = np.where(row > 0, 1.0, -1.0).astype(np.float32)
    row = ((row + 1.0) * 127.5).astype(np.uint8)
    base = np.ascontiguousarray(np.broadcast_to(row[None, :], (side, side)))
    return _rotated(base, height, width, angle_deg)


def checker_pattern(
    rng: np.random.Generator, height: int, width: int, cell: float, angle_deg: float | None = None
) -> np.ndarray:
    """A checkerboard with square cells of ``cell`` pixels, rotated by ``angle_deg``."""
    if angle_deg is None:
        angle_deg = float(rng.uniform(0, 90))
    side = int(np.ceil(np.hypot(height, width))) + 2
    cell = max(cell, 2.0)
    offset = rng.uniform(0, 2 * cell, 2)
    idx = ((np.arange(side) + offset[0]) // cell).astype(np.int64) % 2
    idy = ((np.arange(side) + offset[1]) // cell).astype(np.int64) % 2
    base = ((idy[:, None] ^ idx[None, :]) * 255).astype(np.uint8)
    return _rotated(base, height, width, angle_deg)


def gradient_pattern(rng: np.random.Generator, height: int, width: int, angle_deg: float | None = None) -> np.ndarray:
    """A linear ramp 0..255 across the image in a random (or given) direction."""
    if angle_deg is None:
        angle_deg = float(rng.uniform(0, 360))
    a = np.deg2rad(angle_deg)
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None] * np.float32(np.sin(a) * height)
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :] * np.float32(np.cos(a) * width)
    return _to_u8(ys + xs)


def radial_pattern(height: int, width: int, cy: float, cx: float, radius: float) -> np.ndarray:
    """255 at (cx, cy) falling linearly to 0 at ``radius``; (H, W) uint8 (for domes and vignettes)."""
    ys = (np.arange(height, dtype=np.float32) - np.float32(cy))[:, None]
    xs = (np.arange(width, dtype=np.float32) - np.float32(cx))[None, :]
    dist = cv2.magnitude(np.broadcast_to(xs, (height, width)).copy(), np.broadcast_to(ys, (height, width)).copy())
    out = 255.0 - dist * np.float32(255.0 / max(radius, 1.0))
    return np.clip(out, 0, 255).astype(np.uint8)


def spots_pattern(
    rng: np.random.Generator, height: int, width: int, radius: float, density: float = 0.5, blur: float = 0.0
) -> np.ndarray:
    """Random discs of about ``radius`` px covering roughly ``density`` of the area; (H, W) uint8."""
    out = np.zeros((height, width), dtype=np.uint8)
    radius = max(radius, 1.0)
    count = int(density * height * width / (np.pi * radius**2)) + 1
    count = min(count, 4000)
    xs = rng.integers(0, width, count)
    ys = rng.integers(0, height, count)
    rs = np.maximum(1, (radius * rng.uniform(0.5, 1.5, count)).astype(np.int32))
    vs = rng.integers(128, 256, count)
    for x, y, r, v in zip(xs.tolist(), ys.tolist(), rs.tolist(), vs.tolist()):
        cv2.circle(out, (x, y), r, v, -1)
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    return out


TEXTURE_KINDS = ("flat", "noise", "stripes", "checker", "gradient", "spots", "marble")


def random_texture(
    rng: np.random.Generator,
    height: int,
    width: int,
    kind: str | None = None,
    colors: list[Color] | None = None,
    scale: float | None = None,
) -> np.ndarray:
    """A random (H, W, 3) uint8 RGB texture.

    Args:
        kind: one of :data:`TEXTURE_KINDS` (random when None).
        colors: palette stops (two random contrasting colours when None).
        scale: characteristic feature size in pixels (random fraction of the size when None).
    """
    if kind is None:
        kind = pick(rng, TEXTURE_KINDS)
    side = min(height, width)
    if scale is None:
        scale = float(side * rng.uniform(0.03, 0.25))
    if colors is None:
        base = random_color(rng)
        other = random_color(rng) if rng.random() < 0.5 else jitter_color(rng, base, 70)
        colors = [base, other]
    if kind == "flat":
        pattern = noise_pattern(rng, height, width, cell=max(scale, 4.0), octaves=2)
        pattern = cv2.convertScaleAbs(pattern, alpha=0.15, beta=110)  # nearly constant
    elif kind == "noise":
        pattern = noise_pattern(rng, height, width, cell=max(scale, 3.0), octaves=int(rng.integers(2, 5)))
    elif kind == "stripes":
        pattern = stripe_pattern(rng, height, width, period=max(scale * 0.5, 3.0), sharp=bool(rng.random() < 0.4))
    elif kind == "checker":
        pattern = checker_pattern(rng, height, width, cell=max(scale * 0.4, 3.0))
    elif kind == "gradient":
        pattern = gradient_pattern(rng, height, width)
    elif kind == "spots":
        pattern = spots_pattern(rng, height, width, radius=max(scale * 0.25, 1.5), density=rng.uniform(0.2, 0.6))
    elif kind == "marble":
        stripes = stripe_pattern(rng, height, width, period=max(scale * 0.6, 4.0))
        noise = noise_pattern(rng, height, width, cell=max(scale, 4.0), octaves=3)
        pattern = cv2.addWeighted(stripes, 0.55, noise, 0.45, 0.0)
    else:
        raise ValueError(f"unknown texture kind {kind!r}; known: {', '.join(TEXTURE_KINDS)}")
    return colorize(pattern, colors)


def object_texture(
    rng: np.random.Generator, colors: list[Color] | None = None, kind: str | None = None, dome: float | None = None
):
    """A factory ``fn(h, w) -> (h, w, 3) uint8`` for one object's texture, sometimes dome-shaded.

    The random draws happen when the factory is called (inside :meth:`Canvas.paint`), which keeps
    the generator's draw order fixed.
    """

    def make(h: int, w: int) -> np.ndarray:
        tex = random_texture(rng, h, w, kind=kind, colors=colors, scale=float(max(h, w) * rng.uniform(0.1, 0.6)))
        strength = dome if dome is not None else (rng.uniform(0.2, 0.6) if rng.random() < 0.5 else 0.0)
        if strength > 0:
            center_y, center_x = h * rng.uniform(0.2, 0.8), w * rng.uniform(0.2, 0.8)
            tex = shade(tex, radial_pattern(h, w, center_y, center_x, max(h, w) * 0.9), strength)
        return tex

    return make


@lru_cache(maxsize=1)
def _noise_tiles() -> tuple[np.ndarray, np.ndarray]:
    """Fixed (tile, tile, 3) uint8 positive and negative parts of unit Gaussian noise x 16."""
    rng = np.random.Generator(np.random.PCG64(20240601))
    noise = rng.standard_normal((_NOISE_TILE, _NOISE_TILE, 3), dtype=np.float32) * np.float32(16.0)
    positive = np.clip(noise, 0, 255).astype(np.uint8)
    negative = np.clip(-noise, 0, 255).astype(np.uint8)
    return positive, negative


def add_noise(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Add Gaussian-like pixel noise of std ``sigma`` (grey levels) to an (H, W, 3) uint8 image.

    Uses random crops of a fixed, lazily built noise tile (deterministic given ``rng``).
    """
    if sigma <= 0:
        return image
    positive, negative = _noise_tiles()
    height, width = image.shape[:2]
    if height > _NOISE_TILE or width > _NOISE_TILE:
        reps = (int(np.ceil(height / _NOISE_TILE)), int(np.ceil(width / _NOISE_TILE)), 1)
        positive, negative = np.tile(positive, reps), np.tile(negative, reps)
    oy = int(rng.integers(0, positive.shape[0] - height + 1))
    ox = int(rng.integers(0, positive.shape[1] - width + 1))
    scale = float(sigma) / 16.0
    pos = positive[oy : oy + height, ox : ox + width]
    neg = negative[oy : oy + height, ox : ox + width]
    if abs(scale - 1.0) > 1e-3:
        pos = cv2.convertScaleAbs(pos, alpha=scale)
        neg = cv2.convertScaleAbs(neg, alpha=scale)
    out = cv2.add(image, np.ascontiguousarray(pos))
    return cv2.subtract(out, np.ascontiguousarray(neg))


def shade(texture: np.ndarray, shading: np.ndarray, strength: float) -> np.ndarray:
    """Darken ``texture`` (H, W, 3) uint8 by an (H, W) uint8 shading map: 255 keeps, 0 darkens by ``strength``."""
    gain = cv2.convertScaleAbs(shading, alpha=strength, beta=255.0 * (1.0 - strength))
    return cv2.multiply(texture, cv2.merge([gain, gain, gain]), scale=1.0 / 255.0)


def blend(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """``(1 - alpha) * a + alpha * b`` for two uint8 images of the same shape."""
    return cv2.addWeighted(a, 1.0 - alpha, b, alpha, 0.0)


def blend_map(a: np.ndarray, b: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Per-pixel blend of two (H, W, 3) uint8 images with an (H, W) uint8 alpha (255 -> ``b``)."""
    alpha3 = cv2.merge([alpha, alpha, alpha])
    inverse = cv2.bitwise_not(alpha3)
    return cv2.add(cv2.multiply(a, inverse, scale=1.0 / 255.0), cv2.multiply(b, alpha3, scale=1.0 / 255.0))
