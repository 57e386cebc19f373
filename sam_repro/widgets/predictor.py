"""``SamPredictor``'s API for every registered method, so a user's SAM notebook ports unchanged.

    from segment_anything import SamPredictor          # before
    predictor = SamPredictor(sam)

    from sam_repro.widgets import SamPredictorAdapter   # after: any method, e.g. HQ-SAM or TTA
    predictor = SamPredictorAdapter(sam_repro.load_segmenter("hqsam:tiny"))

    predictor.set_image(image)                          # unchanged below
    masks, scores, logits = predictor.predict(point_coords=pts, point_labels=lbl, multimask_output=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sam_repro.methods.base import Segmenter


class SamPredictorAdapter:
    """A :class:`~sam_repro.methods.base.Segmenter` behind ``segment_anything.SamPredictor``'s method names,
    arguments and return values.

    Args:
        segmenter: any registered method (``load_segmenter(...)``).
    """

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter
        self.is_image_set = False
        self.original_size: tuple[int, int] | None = None

    def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
        """Embed an (H, W, 3) uint8 image in ``image_format`` ``"RGB"`` or ``"BGR"`` (OpenCV's order)."""
        if image_format not in ("RGB", "BGR"):
            raise ValueError(f"image_format must be 'RGB' or 'BGR', got {image_format!r}")
        image = np.asarray(image)
        if image_format == "BGR":
            image = image[..., ::-1]
        self.segmenter.set_image(np.ascontiguousarray(image))
        self.original_size = tuple(image.shape[:2])  # type: ignore[assignment]
        self.is_image_set = True

    def predict(self, point_coords: np.ndarray | None = None, point_labels: np.ndarray | None = None,
                box: np.ndarray | None = None, mask_input: np.ndarray | None = None, multimask_output: bool = True,
                return_logits: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """SamPredictor.predict: prompts in image pixels (points (N, 2) xy with labels (N,) 1/0, box (4,)
        xyxy, mask_input (1, h, w) low-res logits of a previous call).

        Returns:
            masks (C, H, W) bool (float32 logits when ``return_logits``), scores (C,) float32 predicted IoUs,
            low-res logits (C, h, w) float32; C = 3 with ``multimask_output`` (1 for HQ-SAM, as its official
            predictor), else 1.
        """
        if not self.is_image_set:
            raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")
        if point_coords is not None and point_labels is None:
            raise ValueError("point_labels must be supplied if point_coords is supplied.")
        prediction = self.segmenter.predict(points=point_coords, labels=point_labels, box=box, mask_input=mask_input,
                                            multimask=multimask_output)
        masks = prediction.logits if return_logits else prediction.masks
        return masks, prediction.iou_predictions, prediction.low_res_logits

    def reset_image(self) -> None:
        self.segmenter.reset_image()
        self.is_image_set, self.original_size = False, None

    @property
    def model(self) -> Any:
        """The wrapped method's SAM model (SAM-backed methods only), as ``SamPredictor.model``."""
        from sam_repro.methods.base import SamBacked

        if not isinstance(self.segmenter, SamBacked):
            raise AttributeError(f"{self.segmenter.name} is not SAM-backed: it has no SAM model")
        return self.segmenter.model

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device
