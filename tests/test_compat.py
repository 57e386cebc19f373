"""The torchvision compatibility step: both branches, and the real import on this machine."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from sam_repro import _compat


def _brute_force_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            x0, y0 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            x1, y1 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            if inter / (area(boxes[i]) + area(boxes[j]) - inter) > threshold:
                ok = False
                break
        if ok:
            keep.append(int(i))
    return keep


def test_nms_reference_matches_hand_case() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10.5]], dtype=torch.float)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    # box 3 (0.95) suppresses 0 (IoU 0.95) and 1 (IoU 0.77); box 2 is disjoint.
    assert _compat.nms_reference(boxes, scores, 0.5).tolist() == [3, 2]
    assert _compat.nms_reference(boxes[:0], scores[:0], 0.5).tolist() == []


def test_nms_reference_matches_brute_force_on_random_boxes() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        xy = rng.uniform(0, 50, (40, 2))
        wh = rng.uniform(1, 30, (40, 2))
        boxes = np.concatenate([xy, xy + wh], axis=1)
        scores = rng.uniform(0, 1, 40)
        got = _compat.nms_reference(torch.tensor(boxes), torch.tensor(scores), 0.4).tolist()
        assert got == _brute_force_nms(boxes, scores, 0.4)


def test_torchvision_segment_anything_and_open_clip_import_here() -> None:
    import open_clip  # noqa: F401
    import segment_anything  # noqa: F401
    import torchvision

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert torchvision.ops.nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert torchvision.ops.batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1, 2]


def test_compiled_ops_present_means_nothing_is_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("torchvision")
    registrations: list[bool] = []
    monkeypatch.delitem(sys.modules, "torchvision")
    monkeypatch.setattr(_compat, "_register_nms_fallback", lambda: registrations.append(True))
    assert _compat.ensure_torchvision(import_module=lambda name: fake) is fake
    assert registrations == []


def test_missing_operator_registers_fallback_and_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    registrations: list[bool] = []
    fake_tv = types.SimpleNamespace(ops=types.SimpleNamespace(nms=None))
    fake_boxes = types.SimpleNamespace(nms=None)

    def importer(name: str):
        calls.append(name)
        if name == "torchvision" and calls.count("torchvision") == 1:
            sys.modules["torchvision.half_imported"] = types.ModuleType("torchvision.half_imported")
            raise RuntimeError("operator torchvision::nms does not exist")
        return fake_tv if name == "torchvision" else fake_boxes

    monkeypatch.delitem(sys.modules, "torchvision")
    saved = {k: v for k, v in sys.modules.items() if k.startswith("torchvision.")}
    monkeypatch.setattr(_compat, "_register_nms_fallback", lambda: registrations.append(True))
    try:
        assert _compat.ensure_torchvision(import_module=importer) is fake_tv
    finally:
        sys.modules.update(saved)
    assert registrations == [True]
    assert calls == ["torchvision", "torchvision", "torchvision.ops.boxes"]
    assert "torchvision.half_imported" not in sys.modules  # half-initialised modules were purged
    assert fake_tv.ops.nms is _compat._nms_via_operator and fake_boxes.nms is _compat._nms_via_operator


def test_other_import_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def importer(name: str):
        raise RuntimeError("something else entirely")

    monkeypatch.delitem(sys.modules, "torchvision")
    with pytest.raises(RuntimeError, match="something else"):
        _compat.ensure_torchvision(import_module=importer)
