"""Pure-torch deformable convolution: torchvision's semantics, checked by hand and against F.conv2d (and against
torchvision's own kernels where they load, on a GPU machine)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sam_repro.nn import deform_conv2d


@pytest.mark.parametrize("stride, padding, dilation, groups, offset_groups", [
    (1, 1, 1, 1, 1), (2, 0, 1, 1, 1), (1, 2, 2, 2, 1), (1, 1, 1, 1, 2), (2, 3, 1, 4, 4)])
def test_zero_offsets_are_a_plain_convolution(stride, padding, dilation, groups, offset_groups) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 8, 11, 9)
    weight = torch.randn(4, 8 // groups, 3, 3)
    bias = torch.randn(4)
    reference = F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)
    offset = torch.zeros(2, 2 * offset_groups * 9, *reference.shape[2:])
    out = deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation)
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-5)
    ones = torch.ones(2, offset_groups * 9, *reference.shape[2:])
    torch.testing.assert_close(deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding,
                                             dilation=dilation, mask=ones), reference, atol=1e-5, rtol=1e-5)


def test_a_fractional_offset_by_hand_and_the_dy_dx_order() -> None:
    x = torch.tensor([[[[0.0, 10.0, 20.0], [30.0, 40.0, 50.0], [60.0, 70.0, 80.0]]]])
    weight = torch.ones(1, 1, 1, 1)
    offset = torch.zeros(1, 2, 3, 3)
    offset[0, 1] = 0.25  # dx: a quarter pixel to the right
    out = deform_conv2d(x, offset, weight)
    assert out[0, 0, 1, 1] == pytest.approx(0.75 * 40 + 0.25 * 50)
    offset = torch.zeros(1, 2, 3, 3)
    offset[0, 0] = 0.5  # dy: half a pixel down (channel 0 is dy)
    out = deform_conv2d(x, offset, weight)
    assert out[0, 0, 0, 2] == pytest.approx((20 + 50) / 2)
    mask = torch.full((1, 1, 3, 3), 0.5)
    assert deform_conv2d(x, offset, weight, mask=mask)[0, 0, 0, 2] == pytest.approx((20 + 50) / 4)


def test_samples_outside_the_image_read_zero() -> None:
    x = torch.ones(1, 1, 4, 4)
    weight = torch.ones(1, 1, 1, 1)
    offset = torch.zeros(1, 2, 4, 4)
    offset[0, 1] = 0.5  # half a pixel right: the last column mixes with a zero outside
    out = deform_conv2d(x, offset, weight)
    torch.testing.assert_close(out[0, 0, :, :3], torch.ones(4, 3))
    torch.testing.assert_close(out[0, 0, :, 3], torch.full((4,), 0.5))
    offset[0, 1] = 5.0  # far outside: 0
    assert torch.all(deform_conv2d(x, offset, weight)[0, 0, :, :] == 0)


def test_gradients_match_finite_differences() -> None:
    torch.manual_seed(1)
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    # offsets away from integer positions, where bilinear interpolation is differentiable
    offset = (torch.rand(1, 18, 5, 5, dtype=torch.float64) * 0.6 + 0.2).requires_grad_(True)
    mask = torch.rand(1, 9, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: deform_conv2d(a[0], a[1], a[2], a[3], padding=1, mask=a[4]),
                                    (x, offset, weight, bias, mask), eps=1e-6, atol=1e-5)


def test_shape_errors_name_the_argument() -> None:
    x, weight = torch.zeros(1, 4, 6, 6), torch.zeros(2, 4, 3, 3)
    with pytest.raises(ValueError, match="offset must be"):
        deform_conv2d(x, torch.zeros(1, 17, 4, 4), weight)
    with pytest.raises(ValueError, match="mask must be"):
        deform_conv2d(x, torch.zeros(1, 18, 4, 4), weight, mask=torch.zeros(1, 8, 4, 4))


def _torchvision_kernels_load() -> bool:
    try:
        from torchvision.ops import deform_conv2d as reference

        reference(torch.zeros(1, 1, 3, 3), torch.zeros(1, 2, 3, 3), torch.zeros(1, 1, 1, 1))
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _torchvision_kernels_load(), reason="torchvision's compiled deform_conv2d kernels do not load "
                                                            "here (CPU stack: CUDA-only torchvision wheel)")
def test_agrees_with_torchvision_values_and_gradients() -> None:
    from torchvision.ops import deform_conv2d as reference

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(2)
    x = torch.randn(2, 4, 9, 7, device=device, requires_grad=True)
    weight = torch.randn(6, 2, 3, 3, device=device, requires_grad=True)
    offset = (torch.randn(2, 2 * 2 * 9, 9, 7, device=device) * 1.5).requires_grad_(True)
    mask = torch.rand(2, 2 * 9, 9, 7, device=device, requires_grad=True)
    ours = deform_conv2d(x, offset, weight, padding=1, mask=mask)
    theirs = reference(x, offset, weight, padding=1, mask=mask)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
    grads_ours = torch.autograd.grad(ours.sum(), (x, offset, weight, mask))
    grads_theirs = torch.autograd.grad(theirs.sum(), (x, offset, weight, mask))
    for a, b in zip(grads_ours, grads_theirs):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


def test_grid_sample_path_equals_the_gather_reference() -> None:
    """The fast path (grid_sample) and the four-gather reference agree in values and gradients, offsets reaching
    outside the image included."""
    from sam_repro.nn.deform_conv import _sample_gather, _sample_grid

    generator = torch.Generator().manual_seed(0)
    image = torch.randn(2, 6, 7, 9, generator=generator, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(2, 3, 4, 5, 6, generator=generator, dtype=torch.float64) * 10 - 2).requires_grad_(True)
    x = (torch.rand(2, 3, 4, 5, 6, generator=generator, dtype=torch.float64) * 12 - 2).requires_grad_(True)
    fast, slow = _sample_grid(image, y, x, 3), _sample_gather(image, y, x, 3)
    assert torch.allclose(fast, slow, atol=1e-10)
    weights = torch.randn_like(fast)
    grads_fast = torch.autograd.grad((fast * weights).sum(), (image, y, x))
    grads_slow = torch.autograd.grad((slow * weights).sum(), (image, y, x))
    for a, b in zip(grads_fast, grads_slow):
        assert torch.allclose(a, b, atol=1e-8)
