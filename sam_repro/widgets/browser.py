"""Drive a demo notebook in a real browser: Voila on localhost, headless Chromium through Playwright.

Used by the browser test (``tests/test_browser_demo.py``) and the latency benchmark
(``benchmarks/bench_widget_latency.py``). Playwright's own browser download cannot work offline, so the
system Chromium (Debian's ``chromium`` package, which ``scripts/setup.sh`` installs) is launched by path.
Everything here serves and connects to 127.0.0.1 only.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: Where to look for a Chromium binary, in order (``SAM_REPRO_CHROMIUM`` first when set).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary, or None."""
    override = os.environ.get("SAM_REPRO_CHROMIUM")
    if override:
        return override if Path(override).is_file() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """Why a browser test cannot run here (None when it can): no Chromium, no Playwright or no Voila."""
    if find_chromium() is None:
        return ("no Chromium binary on PATH (install Debian's `chromium` package, as scripts/setup.sh does, or set "
                "SAM_REPRO_CHROMIUM)")
    for module in ("playwright", "voila"):
        try:
            __import__(module)
        except ImportError:
            return f"python package {module!r} is not installed (pip install -c constraints.txt -e '.[all]')"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parameterized_copy(notebook: Path, parameters: dict[str, Any], folder: Path) -> Path:
    """Copy ``notebook`` into ``folder`` with ``parameters`` injected after its ``parameters`` cell
    (papermill's injection, without executing it)."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    copy = folder / notebook.name
    nb = parameterize_notebook(load_notebook_node(str(notebook)), parameters)  # papermill's loader adds its metadata
    nbformat.write(nb, copy)
    return copy


@contextlib.contextmanager
def serve_voila(notebook: Path, parameters: dict[str, Any] | None = None, *, startup_timeout: float = 60.0,
                env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve a temporary, parameterized copy of ``notebook`` with Voila on 127.0.0.1; yields its URL.

    The kernel runs with one thread per library (``OMP_NUM_THREADS=1`` unless ``env`` says otherwise). The
    server, and the kernel it started, are stopped on exit (their process group, which this function made).
    """
    with tempfile.TemporaryDirectory(prefix="sam_repro_voila_") as tmp:
        copy = parameterized_copy(Path(notebook), parameters or {}, Path(tmp))
        port = _free_port()
        child_env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
        command = [sys.executable, "-m", "voila", str(copy), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
                   "--VoilaConfiguration.show_tracebacks=True"]
        log = open(Path(tmp) / "voila.log", "wb")
        process = subprocess.Popen(command, cwd=tmp, env=child_env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # its own group: the kernel goes down with it
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"voila exited with {process.returncode}: "
                                       f"{(Path(tmp) / 'voila.log').read_text(errors='replace')[-2000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2):
                        break  # listening; the page itself waits for the notebook to run
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"voila did not answer on {url} within {startup_timeout:.0f} s")
                    time.sleep(0.3)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            log.close()


class DemoPage:
    """The demo widget on a Playwright page: its geometry, its gestures and what its layers show.

    Coordinates given to the gestures are image pixels (x column, y row), mapped to the page through the
    prompt layer's box on screen.
    """

    ROOT = ".sam-demo-canvas"

    def __init__(self, page: Any, timeout_ms: float = 120_000):
        self.page = page
        self.timeout_ms = timeout_ms
        page.wait_for_selector(f"{self.ROOT}[data-ready='1']", timeout=timeout_ms)
        self.root = page.locator(self.ROOT).first
        self.layer = page.locator(f"{self.ROOT} .sam-prompts-layer").first

    @property
    def handled(self) -> int:
        return int(self.root.get_attribute("data-handled") or 0)

    @property
    def drawn(self) -> int:
        return int(self.root.get_attribute("data-drawn") or 0)

    def _to_page(self, x: float, y: float) -> tuple[float, float]:
        self.root.scroll_into_view_if_needed()  # mouse events hit only what is in the viewport
        box = self.layer.bounding_box()
        size = self.page.evaluate("(c) => [c.width, c.height]", self.layer.element_handle())
        return box["x"] + (x + 0.5) * box["width"] / size[0], box["y"] + (y + 0.5) * box["height"] / size[1]

    def _wait_drawn(self, before: int) -> float:
        """Wait until the kernel has answered one more event and its overlay is drawn; the round trip in ms
        (measured in the page, from the event sent to the mask drawn)."""
        self.page.wait_for_function(f"() => Number(document.querySelector('{self.ROOT}').dataset.drawn) > {before}",
                                    timeout=self.timeout_ms)
        return float(self.root.get_attribute("data-roundtrip") or "nan")

    def click(self, x: float, y: float, positive: bool = True) -> float:
        """A left (positive) or right (negative) click; the round trip in ms."""
        before = self.drawn
        px, py = self._to_page(x, y)
        self.page.mouse.click(px, py, button="left" if positive else "right")
        return self._wait_drawn(before)

    def drag_box(self, box: tuple[float, float, float, float], steps: int = 8) -> float:
        """A box gesture in box mode (switches the toggle first); the round trip in ms."""
        self.set_mode("box")
        before = self.drawn
        x0, y0 = self._to_page(box[0], box[1])
        x1, y1 = self._to_page(box[2], box[3])
        self.page.mouse.move(x0, y0)
        self.page.mouse.down()
        self.page.mouse.move(x1, y1, steps=steps)
        self.page.mouse.up()
        return self._wait_drawn(before)

    def set_mode(self, mode: str) -> None:
        """Press the ``point`` or ``box`` button of the mode toggle (linked to the canvas in the browser)."""
        button = self.page.locator(".widget-toggle-button", has_text=mode).first
        button.click()
        # the link is in the browser: once the toggle shows the mode, the canvas model has it too
        self.page.wait_for_selector(f".widget-toggle-button.mod-active:has-text('{mode}')", timeout=self.timeout_ms)

    def mask_alpha(self) -> np.ndarray:
        """(H, W) uint8 alpha of the mask layer as drawn in the page."""
        width, height, data = self.page.evaluate(
            """(sel) => { const c = document.querySelector(sel);
                          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                          const a = new Array(c.width * c.height);
                          for (let i = 0; i < a.length; i++) a[i] = d[4 * i + 3];
                          return [c.width, c.height, a]; }""", f"{self.ROOT} .sam-mask-layer")
        return np.asarray(data, dtype=np.uint8).reshape(height, width)

    def status_text(self) -> str:
        return self.page.locator(".sam-status").first.inner_text()


@contextlib.contextmanager
def open_page(url: str, chromium: str | None = None, viewport: tuple[int, int] = (1100, 1000)) -> Iterator[Any]:
    """A headless Chromium page at ``url`` (the system binary, launched by path)."""
    from playwright.sync_api import sync_playwright

    executable = chromium or find_chromium()
    if executable is None:
        raise RuntimeError(browser_missing() or "no chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.goto(url, timeout=120_000)
            yield page
        finally:
            browser.close()
