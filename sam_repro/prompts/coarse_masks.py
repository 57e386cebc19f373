"""Coarse (noisy) mask prompts, HQ-SAM style (``train/utils/misc.py::masks_noise``, from Mask Transfiner).

HQ-SAM resizes the label bilinearly to 256x256, finds the "incoherent" band where the mask differs
from its x8-downsampled-and-upsampled copy by at least 0.01, adds Gaussian noise (std 1) there
only, and thresholds at 0.5. Outside the band the result is simply ``resized > 0.5``.

Bilinear resizing follows ``torch.nn.functional.interpolate(mode="bilinear",
align_corners=False)`` without antialiasing; ``cv2.resize(INTER_LINEAR)`` on float32 computes the
same thing (agreement to ~1e-7 is checked in the tests).
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ._validate import as_array, check_2d, check_mask, check_positive_int, check_rng, check_size

#: Resolution of SAM's dense (mask) prompt and of HQ-SAM's noisy masks.
HQ_SAM_MASK_SIZE = (256, 256)
#: Downsampling factor that defines HQ-SAM's incoherent band.
HQ_SAM_BAND_FACTOR = 8
#: Minimum |mask - recovered| for a pixel to be in the band.
HQ_SAM_BAND_THRESHOLD = 0.01

__all__ = [
    "HQ_SAM_MASK_SIZE",
    "HQ_SAM_BAND_FACTOR",
    "HQ_SAM_BAND_THRESHOLD",
    "resize_bilinear",
    "incoherent_band",
    "coarse_mask",
    "hq_sam_mask_input",
    "binary_mask_prompt",
]


def resize_bilinear(mask: Any, size: Any) -> np.ndarray:
    """Bilinear resize of a bool mask or float map to ``size`` = (H, W) (torch ``align_corners=False``).

    Returns:
        (H, W) float32; values in [0, 1] for a bool input.
    """
    arr = as_array(mask, "mask")
    check_2d(arr, "mask")
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"mask: expected a bool mask or a float map, got dtype {arr.dtype}")
    height, width = check_size(size, "size")
    src = arr.astype(np.float32)
    if src.shape == (height, width):
        return src
    return cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR)


def incoherent_band(
    soft: Any,
    factor: int = HQ_SAM_BAND_FACTOR,
    threshold: float = HQ_SAM_BAND_THRESHOLD,
) -> np.ndarray:
    """Pixels that a ``factor``-times coarser mask cannot represent: ``|m - up(down(m))| >= threshold``.

    ``down`` resizes bilinearly to ``(H // factor, W // factor)`` and ``up`` back to (H, W).

    Args:
        soft: (H, W) bool mask or float map in [0, 1].
        factor: downsampling factor (HQ-SAM: 8).
        threshold: HQ-SAM: 0.01.

    Returns:
        (H, W) bool band.
    """
    arr = as_array(soft, "soft")
    check_2d(arr, "soft")
    factor = check_positive_int(factor, "factor")
    height, width = arr.shape
    if height < factor or width < factor:
        raise ValueError(f"soft: shape {arr.shape} is smaller than the downsampling factor {factor}")
    m = resize_bilinear(arr, arr.shape)
    small = resize_bilinear(m, (height // factor, width // factor))
    recovered = resize_bilinear(small, (height, width))
    return np.abs(m - recovered) >= threshold


def coarse_mask(
    mask: Any,
    rng: np.random.Generator,
    *,
    size: Any = HQ_SAM_MASK_SIZE,
    factor: int = HQ_SAM_BAND_FACTOR,
    noise_std: float = 1.0,
    band_threshold: float = HQ_SAM_BAND_THRESHOLD,
) -> np.ndarray:
    """HQ-SAM's noisy mask prompt: boundary-band Gaussian noise on the bilinearly resized mask.

    Steps: ``m = resize_bilinear(mask, size)``; ``band = incoherent_band(m, factor)``;
    ``out = (m + N(0, noise_std^2) * band) > 0.5``. The noise is drawn for every pixel (then masked),
    so the generator advances by H*W normals regardless of the mask.

    Args:
        mask: (H0, W0) bool GT at any resolution (HQ-SAM: the 1024x1024 training label).
        rng: the only source of randomness.
        size: output (H, W) (default 256x256, SAM's mask-prompt size); None keeps (H0, W0).
        factor, band_threshold: see :func:`incoherent_band`.
        noise_std: HQ-SAM: 1.0.

    Returns:
        (H, W) bool coarse mask. HQ-SAM feeds it to SAM as 0/255 values, see :func:`hq_sam_mask_input`.
    """
    m = check_mask(mask, "mask")
    rng = check_rng(rng)
    if not np.isfinite(noise_std) or noise_std < 0:
        raise ValueError(f"noise_std: expected a finite value >= 0, got {noise_std!r}")
    target = m.shape if size is None else check_size(size, "size")
    soft = resize_bilinear(m, target)
    band = incoherent_band(soft, factor, band_threshold)
    noise = rng.standard_normal(soft.shape).astype(np.float32) * np.float32(noise_std)
    return (soft + noise * band) > 0.5


def hq_sam_mask_input(mask: Any) -> np.ndarray:
    """A bool mask prompt in HQ-SAM's training encoding: float32 (1, H, W) with values 0 and 255.

    HQ-SAM passes its noisy masks as ``mask_inputs`` with values 0/255 (not logits, which is what
    ``SamPredictor.predict(mask_input=...)`` normally receives from a previous call).
    """
    m = check_mask(mask, "mask")
    return (m.astype(np.float32) * 255.0)[None]


def binary_mask_prompt(mask: Any, input_size: Any, img_size: int, low_res_size: int) -> np.ndarray:
    """A binary mask at image resolution as a SAM mask prompt on the model's low-res grid, (1, g, g) float32
    with values 0 and 1: the previous *binary* result fed back with the next click, as the adaptation paper
    writes f(x, p_1:t, m_t-1) and its follow-up code does (there, m_0 is all background).

    The grid covers SAM's padded input: the mask is resized as the image is (longest side to ``img_size``:
    ``input_size`` = (h, w) after resizing), padded bottom-right with background to ``img_size`` square, then
    area-averaged to ``low_res_size`` and thresholded at 0.5. (The follow-up code resizes the mask straight to
    256 x 256, which stretches non-square images; the grid of the logits it replaces is the padded one.)

    Args:
        mask: (H, W) bool at image resolution.
        input_size: (h, w) of the image after ``ResizeLongestSide`` (``ImageEmbedding.input_size``).
        img_size: the model's square input side; low_res_size: its low-res mask side (img_size / 4).
    """
    m = check_mask(mask, "mask")
    height, width = check_size(input_size, "input_size")
    side = check_positive_int(img_size, "img_size")
    grid = check_positive_int(low_res_size, "low_res_size")
    if height > side or width > side:
        raise ValueError(f"input_size {(height, width)} exceeds the model's input side {side}")
    padded = np.zeros((side, side), np.float32)
    padded[:height, :width] = cv2.resize(m.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    coarse = cv2.resize(padded, (grid, grid), interpolation=cv2.INTER_AREA)
    return (coarse > 0.5).astype(np.float32)[None]
