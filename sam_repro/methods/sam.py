"""Plain SAM under the common interface: the baseline every paper compares against.

Masks are identical to ``segment_anything.SamPredictor``'s for the same weights, image and prompts:
the same preprocessing, coordinate transforms, prompt encoder, decoder and postprocessing run in the
same order; only the embedding comes from the engine's cache.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sam_repro.backbones.checkpoints import load_strict, read_state_dict, sha256_file
from sam_repro.backbones.engine import ImageEmbedding, SamEngine
from sam_repro.backbones.build import build_sam
from sam_repro.backbones.registry import get_backbone
from sam_repro.backbones.specs import BackboneSpec
from sam_repro.backbones.weights import resolve_sam_weights
from sam_repro.device import resolve_device
from sam_repro.methods.base import Prediction, SamBacked
from sam_repro.validation import as_rgb_image, check_box, check_mask_input, check_points


def load_sam_model(backbone: str | BackboneSpec, checkpoint: str | os.PathLike | None = None,
                   device: str | torch.device = "auto", random_init: bool = False,
                   seed: int = 0) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build a backbone's ``Sam`` and load its weights (strict, safe, verified).

    Args:
        backbone: registry name or spec.
        checkpoint: explicit weights file; None for the registry's.
        random_init: skip loading (seeded random weights: tests, timing of full-size models).

    Returns:
        (model in eval mode on the device, provenance dict with backbone, checkpoint, sha256, device).
    """
    spec = get_backbone(backbone) if isinstance(backbone, str) else backbone
    target = resolve_device(device)
    provenance: dict[str, Any] = {"backbone": spec.name, "device": str(target)}
    state = None
    if random_init:
        provenance.update(checkpoint=None, checkpoint_sha256=None, weights=f"random(seed={seed})")
    else:
        # Verify and read the file before building the model: a bad file fails fast and cheaply.
        path, expected = resolve_sam_weights(spec.name, checkpoint)
        state = read_state_dict(path, expected_sha256=expected)
        provenance.update(checkpoint=str(path), checkpoint_sha256=expected or sha256_file(path), weights="checkpoint")
    model = build_sam(spec.config, seed=seed)
    if state is not None:
        load_strict(model, state, provenance["checkpoint"])
    return model.to(target).eval(), provenance


class SamSegmenter(SamBacked):
    """SAM as a :class:`Segmenter`.

    Args:
        model: a ``Sam`` in eval mode on its device.
        provenance: as returned by :func:`load_sam_model`.
        engine: an existing engine to share (e.g. between a method and its SAM baseline, so each
            image is embedded once for both); by default a new one.
    """

    capabilities = frozenset()

    def __init__(self, model: torch.nn.Module, provenance: dict[str, Any] | None = None, *,
                 name: str | None = None, engine: SamEngine | None = None):
        self.model = model
        self.provenance = dict(provenance or {})
        self.name = name or f"sam:{self.provenance.get('backbone', 'custom')}"
        self.engine = engine or SamEngine(model, weights_id=self.provenance.get("checkpoint_sha256"))
        self.mask_threshold = float(model.mask_threshold)
        self._embedding: ImageEmbedding | None = None

    @classmethod
    def from_backbone(cls, backbone: str, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                      random_init: bool = False, seed: int = 0, **engine_options: Any) -> "SamSegmenter":
        model, provenance = load_sam_model(backbone, checkpoint, device, random_init, seed)
        engine = SamEngine(model, weights_id=provenance.get("checkpoint_sha256"), **engine_options)
        return cls(model, provenance, engine=engine)

    # -- image ---------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        self._embedding = self.engine.embed(as_rgb_image(image))

    def reset_image(self) -> None:
        self._embedding = None

    @property
    def embedding(self) -> ImageEmbedding:
        if self._embedding is None:
            raise RuntimeError(f"{self.name}: call set_image(image) before predict()")
        return self._embedding

    # -- prediction ----------------------------------------------------------------------------
    def predict(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                box: np.ndarray | None = None, mask_input: np.ndarray | None = None,
                multimask: bool = False) -> Prediction:
        embedding = self.embedding
        pts, lab = check_points(points, labels, embedding.original_size)
        box_arr = check_box(box, embedding.original_size)
        mask_arr = check_mask_input(mask_input, self.low_res_size)
        if pts is None and box_arr is None and mask_arr is None:
            raise ValueError(f"{self.name}: predict() needs at least one prompt (points+labels, box or mask_input)")
        low_res, iou = self.decode(
            points=None if pts is None else pts[None],
            labels=None if lab is None else lab[None],
            boxes=None if box_arr is None else box_arr[None],
            mask_input=None if mask_arr is None else mask_arr[None],
            multimask=multimask,
        )
        return self._to_prediction(embedding, low_res, iou)[0]

    def predict_batch(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                      boxes: np.ndarray | None = None, multimask: bool = False) -> list[Prediction]:
        """Decode B prompts of the current image in one decoder call.

        Args:
            points: (B, N, 2) xy pixels with ``labels`` (B, N); boxes: (B, 4) xyxy pixels; B >= 1 and N >= 1.

        Raises:
            ValueError: a missing prompt, an empty batch (B = 0: the decoder cannot shape an empty
                batch), or a prompt that :func:`~sam_repro.validation.check_points` /
                :func:`~sam_repro.validation.check_box` refuse; each message names the argument.
        """
        embedding = self.embedding
        if points is None and boxes is None:
            raise ValueError(f"{self.name}: predict_batch() needs points+labels or boxes")
        batch = None
        if points is not None:
            pts = np.asarray(points, dtype=np.float64)
            if pts.ndim != 3:
                raise ValueError(f"points must be (B, N, 2) for predict_batch, got shape {pts.shape}")
            if pts.shape[0] == 0:
                raise ValueError(f"points: predict_batch() needs at least one prompt (B >= 1), got shape {pts.shape}")
            lab = np.asarray(labels) if labels is not None else None
            if lab is None or lab.shape != pts.shape[:2]:
                raise ValueError(f"labels must have shape {pts.shape[:2]} to match points")
            for p, l in zip(pts, lab):
                check_points(p, l, embedding.original_size)
            batch = pts.shape[0]
        if boxes is not None:
            box_arr = np.asarray(boxes, dtype=np.float64)
            if box_arr.ndim != 2 or box_arr.shape[1] != 4:
                raise ValueError(f"boxes must be (B, 4) xyxy for predict_batch, got shape {box_arr.shape}")
            if box_arr.shape[0] == 0:
                raise ValueError(f"boxes: predict_batch() needs at least one box (B >= 1), got shape {box_arr.shape}")
            for b in box_arr:
                check_box(b, embedding.original_size)
            if batch is not None and box_arr.shape[0] != batch:
                raise ValueError(f"points ({batch}) and boxes ({box_arr.shape[0]}) must have the same batch size")
            boxes = box_arr
        low_res, iou = self.decode(points=points, labels=labels, boxes=boxes, multimask=multimask)
        return self._to_prediction(embedding, low_res, iou)

    def _to_prediction(self, embedding: ImageEmbedding, low_res: torch.Tensor, iou: torch.Tensor) -> list[Prediction]:
        with torch.no_grad():
            logits = self.engine.upscale(embedding, low_res)  # the embedding the logits were decoded against
        logits_np = logits.float().cpu().numpy()
        low_np = low_res.detach().float().cpu().numpy()
        iou_np = iou.detach().float().cpu().numpy()
        return [
            Prediction(masks=logits_np[i] > self.mask_threshold, logits=logits_np[i],
                       low_res_logits=low_np[i], iou_predictions=iou_np[i])
            for i in range(low_np.shape[0])
        ]

    def info(self) -> dict[str, Any]:
        return {"method": "sam", "name": self.name, **self.provenance}
