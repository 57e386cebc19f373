"""Interactive click-and-box demos for every registered method (issue #22).

Pure Python, importable without any widget library (tested headless):

* :class:`PromptSession` (:mod:`.session`): points, a box, undo, reset, finish on one image, driving the same
  :class:`~sam_repro.eval.session.InteractiveSession` as the simulated user (so the method's hooks fire for
  a person's clicks as for simulated ones);
* :mod:`.extensions`: what each method family shows beyond its mask, one extension per declared capability
  (test-time adaptation today; how Pi-SAM, DIS-SAM, Stable-SAM and AlignSAM plug in is documented there);
* :class:`SamPredictorAdapter` (:mod:`.predictor`): ``SamPredictor``'s API for every method;
* :func:`session_figure` (:mod:`.figure`) and :mod:`.overlay`: the static figure and the PNG overlay.

The views import ``anywidget`` and ``ipywidgets`` only when asked for: :class:`SegmentationDemo`
(:mod:`.app`: the canvas with the method picker, mode toggle, undo / reset / done and a status line) and
:class:`PromptCanvas` (:mod:`.canvas`).
"""
from __future__ import annotations

from typing import Any

from sam_repro.widgets.extensions import (
    AdaptationExtension,
    SessionExtension,
    extensions_for,
    register_extension,
    registered_extensions,
)
from sam_repro.widgets.figure import overlay_rgb, session_figure
from sam_repro.widgets.overlay import decode_rgba, image_png, mask_overlay_png
from sam_repro.widgets.predictor import SamPredictorAdapter
from sam_repro.widgets.session import PromptSession, Update, hold_box

_VIEWS = {"SegmentationDemo": "sam_repro.widgets.app", "DEFAULT_METHODS": "sam_repro.widgets.app",
          "PromptCanvas": "sam_repro.widgets.canvas"}


def __getattr__(name: str) -> Any:
    # the views need anywidget / ipywidgets (the `notebooks` extra); import them on first use only
    if name in _VIEWS:
        import importlib

        return getattr(importlib.import_module(_VIEWS[name]), name)
    raise AttributeError(f"module 'sam_repro.widgets' has no attribute {name!r}")


__all__ = ["AdaptationExtension", "DEFAULT_METHODS", "PromptCanvas", "PromptSession", "SamPredictorAdapter",
           "SegmentationDemo", "SessionExtension", "Update", "decode_rgba", "extensions_for", "hold_box",
           "image_png", "mask_overlay_png", "overlay_rgb", "register_extension", "registered_extensions",
           "session_figure"]
