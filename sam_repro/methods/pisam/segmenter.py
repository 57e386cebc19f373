"""Pi-SAM under the common :class:`~sam_repro.methods.base.Segmenter` interface (``pisam:BACKBONE``)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sam_repro.backbones.engine import ImageEmbedding, SamEngine
from sam_repro.methods.base import Prediction
from sam_repro.methods.pisam.corrections import check_corrections, corrections_to_grid
from sam_repro.methods.pisam.decoder import PiDecoderOutput
from sam_repro.methods.pisam.interactor import Corrections
from sam_repro.methods.pisam.model import SamPi
from sam_repro.methods.pisam.weights import load_pi_sam_model
from sam_repro.methods.sam import SamSegmenter
from sam_repro.validation import check_box, check_mask_input, check_points

Clicks = tuple[np.ndarray, np.ndarray]


class PiSamSegmenter(SamSegmenter):
    """Pi-SAM as a :class:`Segmenter` (``load_segmenter("pisam:tiny")``), capability ``"corrects"``.

    Predictions: ``logits`` / ``masks`` come from the **HR head** (input resolution, cropped and resized to the
    image like SAM's postprocessing); ``low_res_logits`` are the HQ token's low-res logits (feed them back as
    ``mask_input``); ``iou_predictions`` are SAM's IoU head. One mask per prompt, also with ``multimask=True``
    (only the HQ token's mask exists; the IoU is then SAM's best multimask IoU, as HQ-SAM reports it).

    Corrective clicks reach the interactor only through the explicit ``corrections`` / ``correction_labels``
    arguments of :meth:`predict` (see :mod:`.corrections` for the format); ``points`` / ``box`` /
    ``mask_input`` stay SAM's prompts. Corrections need the box (Pi-SAM corrects a box prediction) and a
    trained interactor; no corrections gives the box prediction bit for bit.

    The declared :meth:`decode` / :meth:`upscale` members (what wrapping methods use) keep SAM's contract:
    low-res logits and their upscaling; :meth:`decode_pi` gives the HR logits too.
    """

    capabilities = frozenset({"corrects"})

    def __init__(self, model: SamPi, provenance: dict[str, Any] | None = None, *, name: str | None = None,
                 engine: SamEngine | None = None):
        if not isinstance(model, SamPi):
            raise TypeError(f"PiSamSegmenter needs a SamPi model (build_pi_sam), got {type(model).__name__}")
        provenance = dict(provenance or {})
        if engine is None:
            # the embedding cache is keyed by the encoder's weights: the base SAM file's, under a Pi-only file
            engine = SamEngine(model, weights_id=provenance.get("base_checkpoint_sha256")
                               or provenance.get("checkpoint_sha256"))
        super().__init__(model, provenance, name=name or f"pisam:{provenance.get('backbone', 'custom')}", engine=engine)

    @classmethod
    def from_backbone(cls, backbone: str, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                      random_init: bool = False, random_init_pi: bool = False, seed: int = 0,
                      base_checkpoint: str | os.PathLike | None = None, ablation: str | None = None,
                      **engine_options: Any) -> "PiSamSegmenter":
        """``load_segmenter("pisam:BACKBONE", ...)``; arguments as :func:`load_pi_sam_model` (``ablation``: a shipped
        Table 5 variant instead of Pi-SAM)."""
        model, provenance = load_pi_sam_model(backbone, checkpoint, device, random_init, random_init_pi, seed,
                                              base_checkpoint=base_checkpoint, ablation=ablation)
        weights_id = provenance.get("base_checkpoint_sha256") or provenance.get("checkpoint_sha256")
        return cls(model, provenance, engine=SamEngine(model, weights_id=weights_id, **engine_options))

    @property
    def max_corrections(self) -> int:
        return int(self.model.mask_decoder.interact_2.max_points)

    # -- prediction ----------------------------------------------------------------------------------
    def predict(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                box: np.ndarray | None = None, mask_input: np.ndarray | None = None, multimask: bool = False, *,
                corrections: np.ndarray | None = None, correction_labels: np.ndarray | None = None) -> Prediction:
        """SAM's prompts plus corrective clicks.

        Args:
            points, labels, box, mask_input, multimask: SAM's prompts (see :class:`Segmenter`).
            corrections: (K, 2) xy pixel indices of corrective clicks, K <= 10 (an empty array: none).
            correction_labels: (K,) 1 = missed foreground, 0 = false foreground.

        Raises:
            ValueError: bad prompts, or corrections that are malformed, off the image, more than 10, or given
                without a box (messages name the argument).
            RuntimeError: corrections on a model whose interactor is not trained.
        """
        embedding = self.embedding
        pts, lab = check_points(points, labels, embedding.original_size)
        box_arr = check_box(box, embedding.original_size)
        mask_arr = check_mask_input(mask_input, self.low_res_size)
        if pts is None and box_arr is None and mask_arr is None:
            raise ValueError(f"{self.name}: predict() needs at least one prompt (points+labels, box or mask_input)")
        clicks = check_corrections(corrections, correction_labels, embedding.original_size, self.max_corrections)
        if clicks is not None:
            self._check_can_correct(box_arr is not None)
        output = self.decode_pi(
            points=None if pts is None else pts[None], labels=None if lab is None else lab[None],
            boxes=None if box_arr is None else box_arr[None], mask_input=None if mask_arr is None else mask_arr[None],
            multimask=multimask, corrections=None if clicks is None else [clicks],
        )
        return self._pi_predictions(embedding, output)[0]

    def predict_batch(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                      boxes: np.ndarray | None = None, multimask: bool = False, *,
                      corrections: Sequence[np.ndarray] | None = None,
                      correction_labels: Sequence[np.ndarray] | None = None) -> list[Prediction]:
        """B prompts of the current image in one decoder call (shapes as ``SamSegmenter.predict_batch``), with
        optional per-prompt corrections: ``corrections[i]`` (K_i, 2) and ``correction_labels[i]`` (K_i,), all
        K_i >= 1 (padded to one batch with a key-padding mask)."""
        embedding = self.embedding
        size = embedding.original_size
        if points is None and boxes is None:
            raise ValueError(f"{self.name}: predict_batch() needs points+labels or boxes")
        batch = None
        if points is not None:
            pts = np.asarray(points, dtype=np.float64)
            if pts.ndim != 3 or pts.shape[0] == 0:
                raise ValueError(f"points must be (B, N, 2) with B >= 1 for predict_batch, got shape {pts.shape}")
            lab = np.asarray(labels) if labels is not None else None
            if lab is None or lab.shape != pts.shape[:2]:
                raise ValueError(f"labels must have shape {pts.shape[:2]} to match points")
            for p, l in zip(pts, lab):
                check_points(p, l, size)
            batch = pts.shape[0]
        if boxes is not None:
            boxes = np.asarray(boxes, dtype=np.float64)
            if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] == 0:
                raise ValueError(f"boxes must be (B, 4) xyxy with B >= 1 for predict_batch, got shape {boxes.shape}")
            for b in boxes:
                check_box(b, size)
            if batch is not None and boxes.shape[0] != batch:
                raise ValueError(f"points ({batch}) and boxes ({boxes.shape[0]}) must have the same batch size")
            batch = boxes.shape[0]
        clicks = None
        if corrections is not None or correction_labels is not None:
            if corrections is None or correction_labels is None or len(corrections) != batch or \
                    len(correction_labels) != batch:
                raise ValueError(f"corrections and correction_labels must be given together, one list per prompt "
                                 f"({batch})")
            clicks = [check_corrections(c, l, size, self.max_corrections) for c, l in zip(corrections, correction_labels)]
            if any(c is None for c in clicks):
                raise ValueError("corrections: every prompt of a batch needs at least one click (or pass none)")
            self._check_can_correct(boxes is not None)
        output = self.decode_pi(points=points, labels=labels, boxes=boxes, multimask=multimask, corrections=clicks)
        return self._pi_predictions(embedding, output)

    def _check_can_correct(self, has_box: bool) -> None:
        if not has_box:
            raise ValueError(f"{self.name}: corrections need the box prompt (Pi-SAM's interactor corrects the box "
                             "prediction): pass box= with corrections")
        if not self.model.mask_decoder.interactor_trained:
            raise RuntimeError(f"{self.name}: corrections need a trained interactor, but this model's interactor is "
                               "untrained (random or stage-1 weights; untrained it is the identity and the clicks "
                               "would change nothing). Load a Pi file trained through stage 2 (`sam-repro train "
                               "pisam`)")

    def decode_pi(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                  boxes: np.ndarray | None = None, mask_input: Any = None, multimask: bool = False,
                  corrections: Sequence[Clicks] | None = None, grad: bool = False) -> PiDecoderOutput:
        """Decode B prompts against the current embedding (prompt transforms exactly as ``SamEngine.decode``),
        with validated per-prompt corrections ((K_i, 2) xy pixels, (K_i,) labels) or None."""
        embedding = self.embedding
        engine, model = self.engine, self.model
        device, size = engine.device, embedding.original_size
        coords_t = labels_t = boxes_t = masks_t = None
        if points is not None:
            coords_t = torch.as_tensor(engine.transform.apply_coords(np.asarray(points, dtype=np.float64), size),
                                       dtype=torch.float, device=device)
            labels_t = torch.as_tensor(labels, dtype=torch.int, device=device)
        if boxes is not None:
            boxes_t = torch.as_tensor(engine.transform.apply_boxes(np.asarray(boxes, dtype=np.float64), size),
                                      dtype=torch.float, device=device)
        if mask_input is not None:
            masks_t = torch.as_tensor(mask_input, dtype=torch.float, device=device)
        clicks = None
        if corrections is not None:
            img_size = model.image_encoder.img_size
            clicks = Corrections.pad(
                [torch.as_tensor(corrections_to_grid(p, size, img_size), dtype=torch.float, device=device)
                 for p, _ in corrections],
                [torch.as_tensor(l, dtype=torch.long, device=device) for _, l in corrections])
        with torch.set_grad_enabled(grad):
            sparse, dense = model.prompt_encoder(points=(coords_t, labels_t) if coords_t is not None else None,
                                                 boxes=boxes_t, masks=masks_t)
            output = model.mask_decoder.predict_pi(
                embedding.features, model.prompt_encoder.get_dense_pe(), sparse, dense,
                corrections=clicks, multimask_output=multimask, **embedding.decoder_inputs)
        engine.stats.decoder_calls += 1
        engine.stats.decoded_prompts += int(output.hr.shape[0])
        return output

    def _pi_predictions(self, embedding: ImageEmbedding, output: PiDecoderOutput) -> list[Prediction]:
        with torch.no_grad():
            logits = self.engine.upscale(embedding, output.hr)  # (B, 1, S, S) -> crop -> (B, 1, H, W)
        logits_np = logits.float().cpu().numpy()
        low_np = output.low_res.detach().float().cpu().numpy()
        iou_np = output.iou.detach().float().cpu().numpy()
        return [Prediction(masks=logits_np[i] > self.mask_threshold, logits=logits_np[i], low_res_logits=low_np[i],
                           iou_predictions=iou_np[i]) for i in range(low_np.shape[0])]

    def info(self) -> dict[str, Any]:
        return {"method": "pisam", "name": self.name,
                "interactor_trained": bool(self.model.mask_decoder.interactor_trained), **self.provenance}
