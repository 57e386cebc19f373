"""HQ-SAM's coarse (noisy) mask prompts."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sam_repro.prompts import coarse_mask, hq_sam_mask_input, incoherent_band, resize_bilinear


def _object(size: int = 1024) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    mask = (yy - 0.45 * size) ** 2 + (xx - 0.5 * size) ** 2 < (0.3 * size) ** 2
    mask[int(0.8 * size) : int(0.8 * size) + 6, int(0.1 * size) : int(0.9 * size)] = True  # thin bar
    return mask


def test_output_shape_and_dtype():
    mask = _object(512)
    rng = np.random.default_rng(0)
    out = coarse_mask(mask, rng)
    assert out.shape == (256, 256) and out.dtype == np.bool_
    assert coarse_mask(mask, rng, size=None).shape == (512, 512)
    assert coarse_mask(mask, rng, size=(128, 64)).shape == (128, 64)


def test_noise_only_inside_the_boundary_band():
    mask = _object()
    soft = resize_bilinear(mask, (256, 256))
    band = incoherent_band(soft)
    clean = soft > 0.5
    flipped_any = False
    for seed in range(5):
        out = coarse_mask(mask, np.random.default_rng(seed))
        np.testing.assert_array_equal(out[~band], clean[~band])
        flipped_any |= bool((out[band] != clean[band]).any())
    assert flipped_any  # std-1 noise does flip band pixels
    # The band hugs the object boundary: within 2 * factor pixels of it, and it is not empty.
    boundary = clean ^ ndimage.binary_erosion(clean)
    dist = ndimage.distance_transform_edt(~boundary)
    assert band.any() and dist[band].max() <= 16
    # Deep inside and far outside, nothing is ever in the band.
    assert not band[115, 128] and not band[5, 5]


def test_zero_noise_is_the_resized_mask():
    mask = _object(512)
    out = coarse_mask(mask, np.random.default_rng(0), noise_std=0.0)
    np.testing.assert_array_equal(out, resize_bilinear(mask, (256, 256)) > 0.5)


def test_deterministic_for_a_seed():
    mask = _object(512)
    a = coarse_mask(mask, np.random.default_rng(9))
    b = coarse_mask(mask, np.random.default_rng(9))
    c = coarse_mask(mask, np.random.default_rng(10))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_matches_a_torch_rendering_of_hq_sams_recipe():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    mask = _object()
    seed = 4
    ours = coarse_mask(mask, np.random.default_rng(seed))
    noise = np.random.default_rng(seed).standard_normal((256, 256)).astype(np.float32)

    labels = torch.from_numpy(mask.astype(np.float32) * 255)[None, None]  # 0/255 label, 1024^2
    labels_256 = F.interpolate(labels, size=(256, 256), mode="bilinear")
    m = labels_256 / 255
    small = F.interpolate(m, (256 // 8, 256 // 8), mode="bilinear")
    band = ((m - F.interpolate(small, (256, 256), mode="bilinear")).abs() >= 0.01).float()
    ref = ((m + torch.from_numpy(noise)[None, None] * band) > 0.5)[0, 0].numpy()
    # float rounding may move a pixel sitting exactly on a threshold; allow a handful
    assert (ours != ref).sum() <= 3
    np.testing.assert_allclose(resize_bilinear(mask, (256, 256)), m[0, 0].numpy(), atol=1e-5)


def test_hq_sam_mask_input_encoding():
    out = hq_sam_mask_input(np.eye(4, dtype=bool))
    assert out.shape == (1, 4, 4) and out.dtype == np.float32
    assert set(np.unique(out).tolist()) == {0.0, 255.0}


def test_bad_inputs_name_the_argument():
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="mask: expected a bool .*> 128"):
        coarse_mask(np.zeros((64, 64), np.uint8), rng)
    with pytest.raises(ValueError, match="mask: expected a 2-D"):
        coarse_mask(np.zeros((1, 64, 64), bool), rng)
    with pytest.raises(ValueError, match="size"):
        coarse_mask(np.zeros((64, 64), bool), rng, size=(0, 4))
    with pytest.raises(ValueError, match="soft: shape .* smaller than the downsampling factor 8"):
        coarse_mask(np.zeros((64, 64), bool), rng, size=(4, 4))
    with pytest.raises(ValueError, match="noise_std"):
        coarse_mask(np.zeros((64, 64), bool), rng, noise_std=-1.0)
    with pytest.raises(TypeError, match="rng"):
        coarse_mask(np.zeros((64, 64), bool), np.random.RandomState(0))
    with pytest.raises(TypeError, match="mask: expected a bool mask or a float map"):
        resize_bilinear(np.zeros((8, 8), np.int32), (4, 4))


def test_binary_mask_prompt_follows_sams_padded_grid() -> None:
    """A 40x20 (H x W) image at input side 16: resized to 16x8, padded right to 16x16, grid 4."""
    from sam_repro.prompts import binary_mask_prompt

    mask = np.zeros((40, 20), bool)
    mask[:20, :] = True  # the top half of the image
    prompt = binary_mask_prompt(mask, input_size=(16, 8), img_size=16, low_res_size=4)
    expected = np.zeros((4, 4), np.float32)
    expected[:2, :2] = 1.0  # top half, left half of the padded square (the right half is padding)
    np.testing.assert_array_equal(prompt, expected[None])
    assert prompt.dtype == np.float32
    with pytest.raises(ValueError, match="exceeds"):
        binary_mask_prompt(mask, input_size=(32, 8), img_size=16, low_res_size=4)
