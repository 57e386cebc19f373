"""Every method (baselines included) as a promptable :class:`Segmenter`, by name.

Names are ``METHOD:BACKBONE`` (``sam:vit_b``, later ``hqsam:tiny``...); a bare backbone name means
plain SAM on that backbone (``load_segmenter("tiny")``).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sam_repro.methods.base import Prediction, Segmenter

#: method name -> factory(backbone, checkpoint=, device=, **kwargs) -> Segmenter
_METHODS: dict[str, Callable[..., Segmenter]] = {}


def register_method(name: str, factory: Callable[..., Segmenter]) -> None:
    if name in _METHODS:
        raise ValueError(f"method {name!r} is already registered")
    _METHODS[name] = factory


def list_methods() -> list[str]:
    return sorted(_METHODS)


def load_segmenter(name: str, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                   **kwargs: Any) -> Segmenter:
    """Build the segmenter ``name`` (``METHOD:BACKBONE`` or a bare backbone for plain SAM).

    Args:
        checkpoint: weights file; None for the registry's (shipped or fetched) weights.
        device: ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda[:N]`` or ``mps``.
        kwargs: passed to the method's factory (e.g. ``random_init=True``, engine options).

    Raises:
        KeyError: unknown method or backbone (the message lists the known ones).
    """
    from sam_repro.backbones.registry import list_backbones

    if not isinstance(name, str) or not name:
        raise KeyError(f"segmenter name must be 'METHOD:BACKBONE' or a backbone name, got {name!r}")
    method, _, backbone = name.partition(":") if ":" in name else ("sam", "", name)
    if method not in _METHODS:
        raise KeyError(f"unknown method {method!r} in {name!r}; known methods: {', '.join(list_methods())}")
    if backbone not in list_backbones():
        raise KeyError(f"unknown backbone {backbone!r} in {name!r}; known backbones: {', '.join(list_backbones())}")
    return _METHODS[method](backbone, checkpoint=checkpoint, device=device, **kwargs)


def _register_builtin() -> None:
    from sam_repro.methods.sam import SamSegmenter

    register_method("sam", SamSegmenter.from_backbone)
    from sam_repro.methods import tta

    register_method("tta", tta.from_backbone)
    from sam_repro.methods.hqsam import HqSamSegmenter

    register_method("hqsam", HqSamSegmenter.from_backbone)
    from sam_repro.methods.pisam import PiSamSegmenter

    register_method("pisam", PiSamSegmenter.from_backbone)
    from sam_repro.methods.stablesam import StableSamSegmenter

    register_method("stablesam", StableSamSegmenter.from_backbone)
    from sam_repro.methods.dissam import DisSamSegmenter

    register_method("dissam", DisSamSegmenter.from_backbone)
    from sam_repro.methods.tuning import TunedSamSegmenter

    for kind, method in (("lora", "lora"), ("adapter", "adapter"), ("prompt", "ptsam")):
        register_method(method, TunedSamSegmenter.factory(kind))
    from sam_repro.methods.alignsam import AlignSamSegmenter

    register_method("alignsam", AlignSamSegmenter.from_backbone)


_register_builtin()

__all__ = ["Prediction", "Segmenter", "list_methods", "load_segmenter", "register_method"]
