"""Make ``torchvision`` importable next to a CPU-only torch build.

On the CPU machines this project targets, the only torchvision wheel matching torch 2.13 is a CUDA
build whose compiled extension does not load, so ``import torchvision`` dies with
``RuntimeError: operator torchvision::nms does not exist`` (torchvision's fake-kernel registrations
refer to an operator that the extension should have defined). ``segment_anything`` and
``open_clip`` both import torchvision, so nothing of SAM would import.

:func:`ensure_torchvision` tries the normal import first. Only when it fails with exactly that error
does it register ``torchvision::nms`` with a pure-torch CPU kernel and import again. Where
torchvision's compiled ops load, the first import succeeds and nothing is changed. Ops other than
``nms`` either have Python fallbacks in torchvision (``roi_align``) or stay unavailable
(``deform_conv2d``: methods that need it carry their own implementation); ``torchvision.io`` decoding
stays unavailable, so images are read with Pillow.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType

import torch

_MISSING_OP_MESSAGE = "torchvision::nms does not exist"

# The Library object must stay alive for the operator to stay registered.
_fallback_library: torch.library.Library | None = None
#: True when the pure-torch ``nms`` fallback was registered in this process.
fallback_active: bool = False


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression in plain torch (torchvision's ``nms`` semantics).

    Args:
        boxes: (N, 4) float boxes in xyxy.
        scores: (N,) scores.
        iou_threshold: boxes whose IoU with a kept, higher-scoring box is > this are dropped.

    Returns:
        int64 tensor of kept indices, sorted by decreasing score.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    order = torch.argsort(scores, descending=True, stable=True)
    boxes = boxes[order].float()
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    ix1 = torch.maximum(x1[:, None], x1[None, :])
    iy1 = torch.maximum(y1[:, None], y1[None, :])
    ix2 = torch.minimum(x2[:, None], x2[None, :])
    iy2 = torch.minimum(y2[:, None], y2[None, :])
    inter = (ix2 - ix1).clamp(min=0) * (iy2 - iy1).clamp(min=0)
    iou = inter / (areas[:, None] + areas[None, :] - inter).clamp(min=torch.finfo(torch.float32).tiny)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep: list[int] = []
    iou_cpu = iou.cpu()
    for i in range(len(boxes)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou_cpu[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.int64, device=order.device)]


def _qnms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    return nms_reference(boxes.dequantize(), scores.dequantize(), iou_threshold)


def _nms_via_operator(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    return torch.ops.torchvision.nms(boxes, scores, iou_threshold)


def _register_nms_fallback() -> None:
    global _fallback_library, fallback_active
    if _fallback_library is not None:
        return
    library = torch.library.Library("torchvision", "DEF")
    # torchvision registers fake kernels for exactly these two operators at import time.
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.impl("nms", nms_reference, "CPU")
    library.impl("qnms", _qnms_reference, "QuantizedCPU")
    _fallback_library = library
    fallback_active = True


def _purge(prefix: str) -> None:
    for name in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
        del sys.modules[name]


def ensure_torchvision(import_module: Callable[[str], ModuleType] = importlib.import_module) -> ModuleType:
    """Import torchvision, registering the ``nms`` fallback only if its compiled ops are missing.

    Args:
        import_module: the importer (a parameter so tests can exercise both branches).

    Returns:
        the imported ``torchvision`` module.

    Raises:
        RuntimeError: any import failure other than the missing-operator one, unchanged.
    """
    if "torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "ops"):
        return sys.modules["torchvision"]
    try:
        return import_module("torchvision")
    except RuntimeError as error:
        if _MISSING_OP_MESSAGE not in str(error):
            raise
    _purge("torchvision")  # the failed import left half-initialised modules behind
    _register_nms_fallback()
    torchvision = import_module("torchvision")
    # torchvision.ops.nms refuses to run when its extension is missing (_assert_has_ops), even
    # though the operator now exists; route it (and batched_nms, which calls it) to the operator.
    boxes_module = import_module("torchvision.ops.boxes")
    boxes_module.nms = _nms_via_operator
    torchvision.ops.nms = _nms_via_operator
    return torchvision
