"""The canvas view: a thin anywidget whose JavaScript and CSS ship inside this package (``static/``), so
the demo works offline in JupyterLab 4, Notebook 7, Voila and VS Code.

It holds no logic: the browser sends final prompts as custom messages (``{"event": "click", "x", "y",
"positive"}`` or ``{"event": "box", "box": [x0, y0, x1, y1]}``, image pixels) to :attr:`on_prompt`'s
handler; Python answers by setting the overlay PNG, the prompts to draw and ``handled`` in one sync.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

STATIC = Path(__file__).resolve().parent / "static"
POINT_MODE, BOX_MODE = 0, 1  # values of the `mode` trait (the index of the demo's mode toggle)


class PromptCanvas(anywidget.AnyWidget):
    """Image / mask / prompt layers; left click = positive point, right or shift click = negative, drag in box
    mode = a box (the rubber band is drawn in the browser).

    Traits (synced): ``image`` (PNG bytes of the image layer, sent once per image), ``width``/``height`` (image
    pixels), ``overlay`` (PNG bytes of the mask layer), ``points`` ([[x, y, positive], ...]), ``box`` ([] or
    [x0, y0, x1, y1]), ``extra_points`` ([[x, y, label], ...] from a method's extension), ``mode`` (:data:`POINT_MODE`
    or :data:`BOX_MODE`), ``handled`` (events answered), ``display_width`` (CSS pixels).
    """

    _esm = STATIC / "canvas.js"
    _css = STATIC / "canvas.css"

    image = traitlets.Bytes(b"").tag(sync=True)
    width = traitlets.Int(1).tag(sync=True)
    height = traitlets.Int(1).tag(sync=True)
    overlay = traitlets.Bytes(b"").tag(sync=True)
    points = traitlets.List([]).tag(sync=True)
    box = traitlets.List([]).tag(sync=True)
    extra_points = traitlets.List([]).tag(sync=True)
    mode = traitlets.Int(POINT_MODE).tag(sync=True)
    handled = traitlets.Int(0).tag(sync=True)
    display_width = traitlets.Int(512).tag(sync=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._handlers: list[Callable[[dict[str, Any]], None]] = []
        self.on_msg(self._on_message)

    def on_prompt(self, handler: Callable[[dict[str, Any]], None]) -> None:
        """Call ``handler(message)`` for every prompt the browser sends."""
        self._handlers.append(handler)

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") in ("click", "box"):
            for handler in self._handlers:
                handler(content)
