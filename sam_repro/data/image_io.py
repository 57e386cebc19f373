"""Reading images and masks of real datasets with Pillow.

Conventions (chosen to match the reference loaders of DIS / HQ-SAM / PySODMetrics, see
research/metrics.md):

* Images become (H, W, 3) uint8 RGB: grayscale, palette, RGBA (alpha dropped, not composited), CMYK and
  1-bit images are converted by Pillow; 16-bit grayscale is scaled by ``>> 8``; 32-bit integer / float
  grayscale is kept if its maximum is <= 255, otherwise scaled to 0..255 by its maximum. EXIF
  orientation is *not* applied (the reference loaders read raw pixels; masks carry no EXIF).
* Binary masks are read as one gray value per pixel (:func:`read_mask_values`) and thresholded with
  ``value > threshold`` (:func:`binarize`); for RGB masks the first channel is used, as DIS and HQ-SAM
  do (``gt[:, :, 0]``). A mask stored as 0/1 instead of 0/255 (maximum exactly 1) would read as empty
  under a threshold >= 1: :func:`binarize_mask` detects it and reads it as binary (``value >= 1``), and the
  loaders warn (:class:`MaskEncodingWarning`) naming the file. We read rather than raise because a 0/1
  PNG carries the same information as a 0/255 one, and a few dataset mirrors re-save masks that way.
* Label maps (instance ids, class indices) keep raw values: palette PNGs give their palette indices.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
from PIL import Image

from sam_repro.data.errors import SampleReadError

_READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def _open(path: str | os.PathLike, what: str) -> Image.Image:
    image = None
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise SampleReadError(f"{what} file {path} does not exist", path=str(path)) from None
    except _READ_ERRORS as error:
        if image is not None:
            image.close()  # a truncated file fails in load(), after the file was opened
        raise SampleReadError(f"cannot read {what} file {path}: {type(error).__name__}: {error}",
                              path=str(path)) from error
    return image


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(H, W) read from the file header only (cheap; does not decode pixels).

    Raises:
        SampleReadError: the file is missing or is not an image Pillow can identify.
    """
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except FileNotFoundError:
        raise SampleReadError(f"file {path} does not exist", path=str(path)) from None
    except _READ_ERRORS as error:
        raise SampleReadError(f"cannot identify image file {path}: {type(error).__name__}: {error}",
                              path=str(path)) from error


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as an (H, W, 3) uint8 RGB array (see the module docstring for mode conversions).

    Raises:
        SampleReadError: missing, truncated or undecodable file (the message names it).
    """
    image = _open(path, "image")
    with image:
        return pil_to_rgb(image)


def pil_to_rgb(image: Any) -> np.ndarray:
    """A decoded PIL image as an (H, W, 3) uint8 RGB array, with the conversions of the module docstring
    (16-bit gray ``>> 8``, 32-bit/float gray kept up to 255 else scaled by its maximum, other modes through
    Pillow). Shared by :func:`read_image` and the segmenters' input check, so that an image passed in
    memory reads exactly as the same image read from a file."""
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        gray = (np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("I", "F"):
        values = np.asarray(image).astype(np.float64)
        peak = float(values.max()) if values.size else 0.0
        if peak > 255:
            values = values * (255.0 / peak)
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    rgb = image if mode == "RGB" else image.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def read_mask_values(path: str | os.PathLike) -> np.ndarray:
    """Read a mask as one gray value per pixel, (H, W), for thresholding.

    Modes: ``L`` as is; ``1`` as 0/255; ``P``/``PA``/``LA`` through their luminance; RGB/RGBA/CMYK:
    the first (red) channel; 16/32-bit integer and float: raw values.

    Raises:
        SampleReadError: missing, truncated or undecodable file.
    """
    image = _open(path, "mask")
    with image:
        mode = image.mode
        if mode == "L" or mode in _SIXTEEN_BIT or mode in ("I", "F"):
            return np.asarray(image).copy()
        if mode in ("1", "P", "PA", "LA"):
            return np.asarray(image.convert("L")).copy()
        return np.asarray(image.convert("RGB"))[:, :, 0].copy()


def read_label_map(path: str | os.PathLike) -> np.ndarray:
    """Read a label map (instance ids or class indices) as an (H, W) int64 array of raw values.

    Palette PNGs give their palette indices; ``L``/16-bit/32-bit give their values; ``1`` gives 0/1;
    RGB(A) maps give one integer per colour, ``(r << 16) | (g << 8) | b`` (alpha dropped), so that
    colour-coded instance maps work (black = 0 = background).

    Raises:
        SampleReadError: missing, truncated or undecodable file.
    """
    image = _open(path, "label map")
    with image:
        mode = image.mode
        if mode in ("P", "L", "I", "F") or mode in _SIXTEEN_BIT:
            return np.asarray(image).astype(np.int64)
        if mode == "1":
            return np.asarray(image).astype(np.int64)
        if mode in ("PA", "LA"):
            return np.asarray(image)[:, :, 0].astype(np.int64)
        rgb = np.asarray(image.convert("RGB")).astype(np.int64)
    return (rgb[:, :, 0] << 16) | (rgb[:, :, 1] << 8) | rgb[:, :, 2]


def read_palette_indices(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """Read a class-index PNG: ``(values, mode)`` with palette indices for mode ``P``, raw values for ``L``
    and an (H, W, 3) uint8 colour array for RGB/RGBA (the caller maps colours to classes)."""
    image = _open(path, "class map")
    with image:
        mode = image.mode
        if mode in ("P", "L"):
            return np.asarray(image).copy(), mode
        if mode in ("RGB", "RGBA"):
            return np.asarray(image.convert("RGB")).copy(), "RGB"
        raise SampleReadError(
            f"class map {path} has image mode {mode!r}; expected a palette (P) PNG, 8-bit gray (L) indices "
            "or an RGB colour-coded map", path=str(path)
        )


def binarize(values: np.ndarray, threshold: float) -> np.ndarray:
    """Foreground where ``values > threshold`` (the DIS / HQ-SAM / PySOD convention with threshold 128)."""
    return np.asarray(values) > threshold


class MaskEncodingWarning(UserWarning):
    """A mask file is not stored as the dataset says (e.g. 0/1 instead of 0/255); the message names it."""


def is_zero_one(values: np.ndarray, threshold: float) -> bool:
    """True when ``values`` look like a binary mask stored as 0/1 that ``value > threshold`` would read as
    empty: the threshold is >= 1, the minimum >= 0 and the maximum exactly 1 (a 0/255 mask has maximum
    255, and an 8-bit soft mask whose brightest pixel is 1 is indistinguishable from 0/1 and equally
    meant as foreground there)."""
    values = np.asarray(values)
    if threshold < 1 or values.size == 0:
        return False
    return float(values.max()) == 1.0 and float(values.min()) >= 0.0


def binarize_mask(values: np.ndarray, threshold: float) -> tuple[np.ndarray, bool]:
    """``(foreground, zero_one)``: ``values > threshold``, except that a mask stored as 0/1 (:func:`is_zero_one`)
    is read as ``values >= 1`` with ``zero_one`` True (the caller warns, naming the file)."""
    if is_zero_one(values, threshold):
        return np.asarray(values) >= 1, True
    return binarize(values, threshold), False

