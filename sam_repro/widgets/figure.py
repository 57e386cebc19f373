"""A static figure of a prompt session (what papermill and nbval keep: they hold no widget state)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sam_repro.widgets.overlay import MASK_ALPHA, MASK_COLOR

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sam_repro.widgets.session import PromptSession


def overlay_rgb(image: np.ndarray, mask: np.ndarray, color: tuple[int, int, int] = MASK_COLOR,
                alpha: float = MASK_ALPHA) -> np.ndarray:
    """(H, W, 3) uint8: ``image`` with ``mask`` blended in ``color`` at ``alpha`` (what the canvas shows)."""
    out = image.astype(np.float32).copy()
    out[mask] = (1 - alpha) * out[mask] + alpha * np.asarray(color, np.float32)
    return out.round().astype(np.uint8)


def draw_prompts(ax, session: "PromptSession") -> None:
    """Positive clicks as green stars, negative as red, the held box as a dashed rectangle."""
    from matplotlib.patches import Rectangle

    for click in session.clicks:
        ax.scatter([click.x], [click.y], marker="*", s=160, edgecolors="white", linewidths=1.0,
                   c="limegreen" if click.positive else "red", zorder=3)
    if session.box is not None:
        x0, y0, x1, y1 = session.box
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="yellow", linestyle="--", lw=1.5))


def session_figure(session: "PromptSession", title: str | None = None) -> "Figure":
    """The image with the prompts, the mask shown over it, and every extension's panels, side by side."""
    import matplotlib.pyplot as plt

    panels: list[tuple[str, np.ndarray]] = [("prompts", session.image),
                                            ("mask shown", overlay_rgb(session.image, session.mask))]
    for extension in session.extensions:
        for name, layer in extension.panels(session):
            panels.append((name, overlay_rgb(session.image, layer, (255, 140, 0)) if layer.ndim == 2 else layer))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    for ax, (name, picture) in zip(axes[0], panels):
        ax.imshow(picture)
        draw_prompts(ax, session)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    iou = session.prediction.iou if session.prediction is not None else None
    fig.suptitle(title or f"{session.segmenter.name}: {len(session.clicks)} clicks"
                 + (", a box" if session.box is not None else "") + (f", predicted IoU {iou:.2f}" if iou else ""),
                 fontsize=10)
    fig.tight_layout()
    return fig
