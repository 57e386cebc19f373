"""COCO segmentation formats decoded without pycocotools: polygons and run-length encodings (RLE).

Formats (COCO "instances" JSON, ``annotation["segmentation"]``):

* **polygons**: a list of flat lists ``[x1, y1, x2, y2, ...]`` in pixel coordinates of the image; the
  object is the union of the polygons. Rasterised with Pillow's ``ImageDraw.polygon`` (fill + outline),
  which agrees with pycocotools' rasteriser except along the boundary (sub-pixel differences of at
  most one pixel row/column); area-based statistics can differ slightly.
* **uncompressed RLE**: ``{"size": [H, W], "counts": [n0, n1, n2, ...]}``: run lengths over the mask
  flattened in *column-major* (Fortran) order, alternating background/foreground and starting with
  background (``n0`` may be 0). Used by COCO for ``iscrowd`` annotations.
* **compressed RLE**: the same runs with ``counts`` as a string (or bytes): each run is written as a
  little-endian sequence of 5-bit groups stored in characters ``chr(48 + group)``, bit 0x20 of a
  group marking that more groups follow and bit 0x10 of the last group carrying the sign; from the
  fourth run on, the value stored is the difference to the run two places earlier.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw


def rle_counts_from_string(text: str | bytes) -> list[int]:
    """Decode the ``counts`` string of a compressed RLE into run lengths.

    Raises:
        ValueError: a character outside the encoding alphabet, or a string that ends mid-value.
    """
    if isinstance(text, bytes):
        text = text.decode("ascii")
    counts: list[int] = []
    position = 0
    while position < len(text):
        value = 0
        shift = 0
        while True:
            if position >= len(text):
                raise ValueError("compressed RLE string ends in the middle of a run length")
            group = ord(text[position]) - 48
            if not 0 <= group < 64:
                raise ValueError(f"invalid character {text[position]!r} in compressed RLE string")
            position += 1
            value |= (group & 0x1F) << shift
            shift += 5
            if not group & 0x20:
                if group & 0x10:
                    value |= -1 << shift
                break
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def rle_counts_to_string(counts: Sequence[int]) -> str:
    """Encode run lengths as a compressed-RLE ``counts`` string (inverse of :func:`rle_counts_from_string`)."""
    characters: list[str] = []
    for index, run in enumerate(counts):
        value = int(run) - (int(counts[index - 2]) if index > 2 else 0)
        while True:
            group = value & 0x1F
            value >>= 5
            more = value != -1 if group & 0x10 else value != 0
            if more:
                group |= 0x20
            characters.append(chr(group + 48))
            if not more:
                break
    return "".join(characters)


def rle_decode(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode an RLE dict (compressed or uncompressed) into an (H, W) bool mask.

    Raises:
        ValueError: malformed ``size``/``counts``, negative runs, or runs that do not sum to H*W.
    """
    try:
        height, width = (int(v) for v in rle["size"])
        raw = rle["counts"]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"RLE must be a dict with 'size': [H, W] and 'counts', got {rle!r:.120}") from error
    counts = rle_counts_from_string(raw) if isinstance(raw, (str, bytes)) else [int(c) for c in raw]
    if any(c < 0 for c in counts):
        raise ValueError("RLE has a negative run length")
    if sum(counts) != height * width:
        raise ValueError(f"RLE runs sum to {sum(counts)}, expected H*W = {height}*{width} = {height * width}")
    values = np.repeat((np.arange(len(counts)) % 2).astype(bool), counts)
    return values.reshape(width, height).T.copy()


def rle_encode(mask: np.ndarray, compressed: bool = True) -> dict[str, Any]:
    """Encode an (H, W) mask as a COCO RLE dict (``counts`` as a string when ``compressed``)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"rle_encode needs an (H, W) mask, got shape {mask.shape}")
    flat = mask.T.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    counts: Any = rle_counts_to_string(runs) if compressed else runs
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Rasterise COCO polygons (flat ``[x1, y1, x2, y2, ...]`` lists) into one (H, W) bool mask (their union).

    Raises:
        ValueError: a polygon with an odd number of coordinates or fewer than 3 points.
    """
    canvas = Image.new("L", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in polygons:
        coords = np.asarray(polygon, dtype=np.float64).ravel()
        if coords.size % 2 or coords.size < 6:
            raise ValueError(f"a polygon needs an even number (>= 6) of coordinates, got {coords.size}")
        points = [(float(x), float(y)) for x, y in coords.reshape(-1, 2)]
        draw.polygon(points, fill=1, outline=1)
    return np.asarray(canvas, dtype=np.uint8).astype(bool)


def segmentation_to_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """Decode a COCO ``segmentation`` field (polygons, uncompressed or compressed RLE) for an image of
    size (height, width) into an (H, W) bool mask.

    Raises:
        ValueError: an unknown format, or an RLE whose size differs from (height, width).
    """
    if isinstance(segmentation, Mapping):
        mask = rle_decode(segmentation)
        if mask.shape != (height, width):
            raise ValueError(f"RLE size {list(mask.shape)} differs from the image size {[height, width]}")
        return mask
    if isinstance(segmentation, Sequence) and not isinstance(segmentation, (str, bytes)):
        if len(segmentation) == 0:
            raise ValueError("empty polygon list")
        return polygons_to_mask(segmentation, height, width)
    raise ValueError(f"unknown segmentation format {type(segmentation).__name__}; expected polygons or an RLE dict")
