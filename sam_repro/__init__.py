"""sam_repro: a reproducibility suite for five papers that adapt the Segment Anything Model.

Import this package before ``segment_anything`` or ``open_clip``: it makes torchvision importable
next to a CPU-only torch build (see :mod:`sam_repro._compat`).
"""
from __future__ import annotations

from sam_repro._compat import ensure_torchvision

ensure_torchvision()

__version__ = "0.1.0"


def load_segmenter(name: str, checkpoint=None, device="auto", **kwargs):
    """Build a promptable segmenter by name; see :func:`sam_repro.methods.load_segmenter`."""
    from sam_repro.methods import load_segmenter as _load

    return _load(name, checkpoint=checkpoint, device=device, **kwargs)


def list_methods() -> list[str]:
    """Every registered method name (``load_segmenter("METHOD:BACKBONE")``); see :func:`sam_repro.methods.list_methods`."""
    from sam_repro.methods import list_methods as _list

    return _list()


__all__ = ["__version__", "list_methods", "load_segmenter"]
