"""The demo's views without a browser: the canvas widget's messages, the controls wired to the session, what is
synced back (only the overlay PNG and the prompts), the in-browser link of the mode toggle, and the package data
that makes the canvas work offline. The real browser is tests/test_browser_demo.py."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sam_repro
from sam_repro.data import open_evaluation_set
from sam_repro.widgets import decode_rgba

INSIDE, OUTSIDE = (144, 156), (60, 40)


@pytest.fixture(scope="module")
def scene():
    sample = open_evaluation_set("synthetic/salient:test")[0]
    return sample.image, sample.masks[0]


@pytest.fixture
def demo(scene):
    from sam_repro.widgets import SegmentationDemo

    loaded: list[str] = []

    def load(name):
        loaded.append(name)
        return sam_repro.load_segmenter(name, device="cpu")

    app = SegmentationDemo(scene[0], methods=["sam:tiny", "tta:tiny"], load=load)
    app.loaded = loaded
    return app


def test_the_pure_python_part_imports_no_widget_library() -> None:
    code = ("import sys, sam_repro.widgets as w; w.PromptSession; "
            "bad = [m for m in ('ipywidgets', 'anywidget', 'traitlets', 'IPython') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_click_message_comes_back_as_an_overlay_of_the_session_mask(demo, scene) -> None:
    _, truth = scene
    assert demo.loaded == ["sam:tiny"] and demo.canvas.handled == 1  # the first method only, loaded on open
    handled = demo.canvas.handled
    demo.canvas._on_message(demo.canvas, {"event": "click", "x": INSIDE[0], "y": INSIDE[1], "positive": True}, [])
    assert demo.canvas.handled == handled + 1
    alpha = decode_rgba(demo.canvas.overlay)[..., 3]
    np.testing.assert_array_equal(alpha > 0, demo.session.mask)
    assert (alpha[truth] > 0).mean() > 0.9 and (alpha[~truth] > 0).mean() < 0.05
    assert demo.canvas.points == [[144.0, 156.0, True]] and demo.canvas.box == []
    assert "predicted IoU" in demo.status.value and "decode" in demo.status.value
    demo.canvas._on_message(demo.canvas, {"event": "click", "x": OUTSIDE[0], "y": OUTSIDE[1], "positive": False}, [])
    assert demo.canvas.points[-1] == [60.0, 40.0, False] and len(demo.session.clicks) == 2
    demo.canvas._on_message(demo.canvas, {"something": "else"}, [])  # not a prompt: ignored
    assert demo.canvas.handled == handled + 2


def test_box_undo_reset_and_done_buttons(demo, scene) -> None:
    _, truth = scene
    ys, xs = np.nonzero(truth)
    demo.handle({"event": "box", "box": [int(xs.max()), int(ys.max()), int(xs.min()), int(ys.min())]})
    assert demo.canvas.box == [xs.min(), ys.min(), xs.max(), ys.max()]
    assert (decode_rgba(demo.canvas.overlay)[..., 3][truth] > 0).mean() > 0.9
    demo.handle({"event": "click", "x": INSIDE[0], "y": INSIDE[1], "positive": True})
    assert not demo.undo_button.disabled
    demo.undo_button.click()
    assert demo.session.clicks == () and demo.canvas.points == [] and demo.canvas.box != []
    demo.reset_button.click()
    assert demo.canvas.box == [] and not decode_rgba(demo.canvas.overlay)[..., 3].any()
    assert demo.undo_button.disabled
    demo.handle({"event": "click", "x": INSIDE[0], "y": INSIDE[1], "positive": True})
    demo.done_button.click()
    assert demo.session.objects_done == 1 and "1 objects done" in demo.status.value


def test_refused_prompts_are_reported_and_answered(demo) -> None:
    handled = demo.canvas.handled
    assert demo.handle({"event": "box", "box": [5, 5, 5, 80]}) is None
    assert demo.handle({"event": "teleport"}) is None
    assert demo.canvas.handled == handled + 2  # the browser still gets an answer (its pending marker is cleared)
    assert "no area" in demo.errors[0] and "unknown canvas event" in demo.errors[1]
    assert "no area" not in demo.status.value  # the latest error is shown
    demo.reset_button.click()  # nothing to undo: reset on an empty object is fine
    assert demo.undo_button.disabled


def test_the_picker_switches_method_and_shows_adaptation(demo) -> None:
    demo.handle({"event": "click", "x": INSIDE[0], "y": INSIDE[1], "positive": True})
    demo.picker.value = "tta:tiny"
    assert demo.loaded == ["sam:tiny", "tta:tiny"] and demo.session.clicks == () and demo.canvas.points == []
    demo.handle({"event": "click", "x": INSIDE[0], "y": INSIDE[1], "positive": True})
    assert demo.session.segmenter.steps["click"] == 1
    assert "tta: adapt steps 1" in demo.status.value and "hooks" in demo.status.value
    demo.picker.value = "sam:tiny"
    assert demo.loaded == ["sam:tiny", "tta:tiny"]  # loaded once


def test_the_mode_toggle_is_linked_to_the_canvas_in_the_browser(demo) -> None:
    from sam_repro.widgets.canvas import BOX_MODE, POINT_MODE

    link = demo.mode_link
    assert type(link).__name__ == "Link"  # a front-end link (jslink), not a Python observer
    assert link.source == (demo.mode, "index") and link.target == (demo.canvas, "mode")
    assert [value for _, value in demo.mode._options_full] == ["point", "box"]
    assert (POINT_MODE, BOX_MODE) == (0, 1)


def test_the_canvas_code_ships_with_the_package() -> None:
    from sam_repro.widgets.canvas import STATIC, PromptCanvas

    esm = (STATIC / "canvas.js").read_text()
    assert "export default" in esm and "model.send" in esm and "contextmenu" in esm
    assert "import " not in esm.split("export default")[0].split("\n", 1)[0]  # no CDN import: works offline
    assert "http" not in esm.replace("https://html.spec", "")
    canvas = PromptCanvas()
    assert canvas._esm == esm or Path(str(canvas._esm)).name == "canvas.js"
    pyproject = (Path(sam_repro.__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert '"**/*.js"' in pyproject and '"**/*.css"' in pyproject
