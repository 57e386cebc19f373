"""The semantic state's map M_c (eq. 11): CLIP Surgery's map of a text, moved onto SAM's embedding grid."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from sam_repro.methods.alignsam.grid import Geometry


def semantic_grid(surgery, image: np.ndarray, text: str, geometry: Geometry) -> torch.Tensor:
    """M_c on the embedding grid, (g, g) float32 in [0, 1].

    CLIP Surgery's min-max map of ``text`` on the (H, W, 3) ``image`` (:meth:`ClipSurgery.maps
    <sam_repro.nn.clip_surgery.ClipSurgery.maps>`, on the CLIP's squashed square input) is resized bilinearly to
    the original image, then into SAM's input frame and area-averaged per cell (0 in the padding).

    Raises:
        ValueError: an empty text (the explicit branch needs one).
    """
    if not text:
        raise ValueError("the explicit branch needs a text prompt (the task's text, or the class name)")
    maps = surgery.maps([image], [text])[0, 0].cpu().numpy()
    height, width = geometry.original_size
    full = cv2.resize(maps.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return torch.as_tensor(geometry.pool_image_map(full))
