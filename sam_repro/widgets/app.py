"""The click-and-box demo: the canvas view plus standard ipywidgets controls around a prompt session.

    from sam_repro.widgets import SegmentationDemo
    demo = SegmentationDemo(image, methods=["sam:tiny", "hqsam:tiny", "tta:tiny"])
    demo   # the last expression of a cell shows it

Controls: a method picker (each method is loaded once, on first use), the point / box mode toggle (linked to
the canvas in the browser with ``jslink``, so the canvas reads a drag in box mode as a box without asking
the kernel), undo, reset, done (the object is finished: test-time adaptation takes its image-level step)
and a status line with the predicted IoU and the latency of the last event.
"""
from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np

from sam_repro.eval.session import FeedbackSettings
from sam_repro.methods.base import Segmenter
from sam_repro.widgets.canvas import PromptCanvas
from sam_repro.widgets.overlay import image_png, mask_overlay_png
from sam_repro.widgets.session import PromptSession, Update
from sam_repro.validation import as_rgb_image

#: The methods a demo offers by default: every registered method that runs on the tiny backbone today.
DEFAULT_METHODS = ("sam:tiny", "hqsam:tiny", "tta:tiny")


class SegmentationDemo:
    """A prompt session on one image, shown as a canvas with controls.

    Args:
        image: (H, W, 3) uint8 RGB.
        methods: ``load_segmenter`` names offered by the picker.
        method: the one selected first (default: the first of ``methods``).
        device: passed to ``load_segmenter``.
        settings: click decoding and feedback (:class:`~sam_repro.eval.session.FeedbackSettings`).
        display_width: the canvas's width on screen in CSS pixels (the image keeps its own resolution).
        load: ``name -> Segmenter`` (default: ``sam_repro.load_segmenter(name, device=device)``); tests pass
            preloaded segmenters through it.

    Attributes:
        widget: the ipywidgets box to display; ``canvas``, ``picker``, ``mode``, ``undo_button``,
            ``reset_button``, ``done_button``, ``status``: its parts.
        session: the current :class:`PromptSession`; ``last_update``: the last action's :class:`Update`;
        errors: messages of refused prompts (also shown in the status line).
    """

    def __init__(self, image: np.ndarray, methods: Sequence[str] = DEFAULT_METHODS, method: str | None = None, *,
                 device: str = "cpu", settings: FeedbackSettings = FeedbackSettings(), display_width: int = 512,
                 load: Callable[[str], Segmenter] | None = None):
        if not methods:
            raise ValueError("methods must name at least one segmenter")
        self.image = as_rgb_image(image)
        self.settings = settings
        self._load = load or (lambda name: _load_segmenter(name, device))
        self._segmenters: dict[str, Segmenter] = {}
        self.errors: list[str] = []
        self.last_update: Update | None = None
        height, width = self.image.shape[:2]
        self.canvas = PromptCanvas(image=image_png(self.image), width=width, height=height,
                                   display_width=int(display_width))
        self.picker = widgets.Dropdown(options=list(methods), value=method or methods[0], description="method")
        self.mode = widgets.ToggleButtons(options=[("point", "point"), ("box", "box")], value="point",
                                          tooltips=["left click: object, right or shift click: background",
                                                    "drag a box around the object"])
        # linked in the browser: the canvas knows the mode before the pointer goes down, with no kernel round trip
        # (ToggleButtons syncs its index, not its value)
        self.mode_link = widgets.jslink((self.mode, "index"), (self.canvas, "mode"))
        self.undo_button = widgets.Button(description="undo", icon="undo")
        self.reset_button = widgets.Button(description="reset", icon="trash")
        self.done_button = widgets.Button(description="done", icon="check",
                                          tooltip="the object is finished (adapting methods learn from it)")
        self.status = widgets.HTML()
        self.widget = widgets.VBox([
            widgets.HBox([self.picker, self.mode]),
            self.canvas,
            widgets.HBox([self.undo_button, self.reset_button, self.done_button]),
            self.status,
        ])
        self.canvas.on_prompt(self.handle)
        self.undo_button.on_click(lambda _: self._act(lambda: self.session.undo()))
        self.reset_button.on_click(lambda _: self._act(lambda: self.session.reset()))
        self.done_button.on_click(lambda _: self._act(lambda: self.session.finish()))
        self.picker.observe(lambda change: self.select(change["new"]), names="value")
        self.session = self._open(self.picker.value)
        self._show(None, 0.0)

    # -- what the browser and the buttons call ---------------------------------------------------------
    def handle(self, message: dict[str, Any]) -> Update | None:
        """Apply one prompt message from the canvas (``{"event": "click", "x", "y", "positive"}`` or
        ``{"event": "box", "box": [x0, y0, x1, y1]}``) and send the new overlay back."""
        if message.get("event") == "click":
            return self._act(lambda: self.session.click(float(message["x"]), float(message["y"]),
                                                        bool(message.get("positive", True))))
        if message.get("event") == "box":
            return self._act(lambda: self.session.set_box([float(v) for v in message["box"]]))
        self.errors.append(f"unknown canvas event {message!r}")
        self._show(None, 0.0, error=self.errors[-1])
        return None

    def select(self, name: str) -> None:
        """Switch to the method ``name`` (loaded on first use); the prompts start over on the same image."""
        if self.session.clicks:
            self.session.reset()  # the old method's attempt ends (its hooks see a failed sample)
        self.session = self._open(name)
        self.last_update = None
        self._show(None, 0.0)

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)

    # -- internals ---------------------------------------------------------------------------------------
    def _open(self, name: str) -> PromptSession:
        if name not in self._segmenters:
            self._segmenters[name] = self._load(name)
        return PromptSession(self._segmenters[name], self.image, self.settings)

    def _act(self, action: Callable[[], Update]) -> Update | None:
        start = time.perf_counter()
        try:
            update = action()
        except (ValueError, RuntimeError) as error:  # a refused prompt is reported, the demo goes on
            self.errors.append(str(error))
            self._show(None, 0.0, error=str(error))
            return None
        self.last_update = update
        self._show(update, (time.perf_counter() - start) * 1e3)
        return update

    def _show(self, update: Update | None, kernel_ms: float, error: str | None = None) -> None:
        session = self.session
        overlay_start = time.perf_counter()
        overlay = mask_overlay_png(session.mask)
        overlay_ms = (time.perf_counter() - overlay_start) * 1e3
        extra = [[float(x), float(y), str(label)] for ext in session.extensions for x, y, label in ext.points(session)]
        with self.canvas.hold_sync():  # one message: the overlay, the prompts and the counter arrive together
            self.canvas.overlay = overlay
            self.canvas.points = [[float(c.x), float(c.y), bool(c.positive)] for c in session.clicks]
            self.canvas.box = [] if session.box is None else [float(v) for v in session.box]
            self.canvas.extra_points = extra
            self.canvas.handled = self.canvas.handled + 1
        self.undo_button.disabled = not session.can_undo
        self.status.value = status_html(session, update, kernel_ms + overlay_ms, overlay_ms, error)


def status_html(session: PromptSession, update: Update | None, kernel_ms: float, overlay_ms: float,
                error: str | None = None) -> str:
    """The status line: method, prompts, predicted IoU, latency (decode, the method's hooks, overlay, all of
    the kernel's part) and each extension's figures."""
    parts = [f"<b>{html.escape(session.segmenter.name)}</b>",
             f"{len(session.clicks)} clicks" + (" + box" if session.box is not None else "")]
    if session.prediction is not None:
        parts.append(f"predicted IoU <b>{session.prediction.iou:.2f}</b>")
    if update is not None and update.action in ("click", "box"):
        timing = f"decode {update.decode_ms:.0f} ms"
        if update.hooks_ms >= 0.5:
            timing += f", hooks {update.hooks_ms:.0f} ms"
        parts.append(f"{timing}, overlay {overlay_ms:.0f} ms, kernel {kernel_ms:.0f} ms")
    if update is not None:
        for name, figures in update.extras.items():
            shown = ", ".join(f"{k.replace('_', ' ')} {v:.3g}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
                              for k, v in figures.items() if v is not None)
            if shown:
                parts.append(f"{html.escape(name)}: {html.escape(shown)}")
    if session.objects_done:
        parts.append(f"{session.objects_done} objects done")
    line = " · ".join(parts)
    if error:
        line += f"<br><span style='color:#b00'>{html.escape(error)}</span>"
    return f"<span class='sam-status'>{line}</span>"


def _load_segmenter(name: str, device: str) -> Segmenter:
    from sam_repro.methods import load_segmenter

    return load_segmenter(name, device=device)
