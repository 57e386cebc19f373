"""Stable-SAM under the common :class:`~sam_repro.methods.base.Segmenter` interface (``stablesam:BACKBONE``)."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from sam_repro.backbones.engine import SamEngine
from sam_repro.methods.sam import SamSegmenter
from sam_repro.methods.stablesam.plugins import StableTwoWayAttentionBlock, PLUGIN_LAYER
from sam_repro.methods.stablesam.weights import load_stable_sam_model


class StableSamSegmenter(SamSegmenter):
    """Stable-SAM as a :class:`Segmenter` (``load_segmenter("stablesam:tiny")``).

    Everything is plain SAM's segmenter except the decoder's layer-2 plug-ins. Options:

    * ``force_alpha``: None, or α1 in [0, 1] for every prompt (the paper's Table 7; α1 = 0 is plain SAM's decoder
      exactly, under the default softmax routing);
    * ``fuse_sam``: add plain SAM's logits to Stable-SAM's (the supplement, l.41: "follows HQ-SAM to fuse the SAM's
      original prediction map" on MESS only); plain SAM's logits are the same decoder with α1 forced to 0, so the
      fusion costs a second decoder pass and no second model.

    Diagnostics of the last decode: :attr:`last_alpha` ((B, 2) α per prompt) and :attr:`last_offsets` ((B, 2, g, g)
    offsets in grid cells), for the α-per-click tables and the sampling figures.

    The ablations load through the same class (``decoder_ft``: the plug-ins with a fine-tuned decoder); a model
    without the plug-in block (a custom build) makes the options that need plug-ins raise.

    Capability ``"deformable_sampling"``: the demos draw where layer 2 samples (:attr:`last_offsets`).
    """

    capabilities = frozenset({"deformable_sampling"})

    def __init__(self, model: torch.nn.Module, provenance: dict[str, Any] | None = None, *, name: str | None = None,
                 engine: SamEngine | None = None, force_alpha: float | None = None, fuse_sam: bool = False):
        provenance = dict(provenance or {})
        if engine is None:
            # embeddings are keyed by the encoder's weights: the base SAM file's, which the plug-ins do not change
            engine = SamEngine(model, weights_id=provenance.get("base_checkpoint_sha256"))
        super().__init__(model, provenance, name=name or f"stablesam:{provenance.get('backbone', 'custom')}",
                         engine=engine)
        self.force_alpha = force_alpha
        self.fuse_sam = bool(fuse_sam)

    @property
    def plugin_block(self) -> StableTwoWayAttentionBlock | None:
        """The decoder block carrying the plug-ins (None for a model built without them)."""
        block = self.model.mask_decoder.transformer.layers[PLUGIN_LAYER]
        return block if isinstance(block, StableTwoWayAttentionBlock) else None

    @property
    def force_alpha(self) -> float | None:
        return self._force_alpha

    @force_alpha.setter
    def force_alpha(self, value: float | None) -> None:
        if value is not None:
            value = float(value)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"force_alpha must be None or in [0, 1], got {value}")
            if self.plugin_block is None:
                raise ValueError(f"{self.name}: force_alpha needs the plug-ins (this model has none)")
        self._force_alpha = value

    @property
    def last_alpha(self) -> np.ndarray | None:
        block = self.plugin_block
        return None if block is None or block.last_alpha is None else block.last_alpha.cpu().numpy()

    @property
    def last_offsets(self) -> np.ndarray | None:
        block = self.plugin_block
        return None if block is None or block.last_offsets is None else block.last_offsets.cpu().numpy()

    def decode(self, points=None, labels=None, boxes=None, mask_input=None, multimask: bool = False,
               grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        block = self.plugin_block
        if block is None:
            if self.fuse_sam:
                raise ValueError(f"{self.name}: fuse_sam needs the plug-ins (this model has none)")
            return super().decode(points, labels, boxes, mask_input, multimask, grad)
        block.force_alpha = self._force_alpha
        try:
            low_res, iou = super().decode(points, labels, boxes, mask_input, multimask, grad)
            if self.fuse_sam:
                alpha, offsets = block.last_alpha, block.last_offsets
                block.force_alpha = 0.0  # α1 = 0: the keys are x_p, i.e. plain SAM's decoder
                sam_low_res, _ = super().decode(points, labels, boxes, mask_input, multimask, grad)
                block.last_alpha, block.last_offsets = alpha, offsets
                low_res = low_res + sam_low_res
        finally:
            block.force_alpha = None
        return low_res, iou

    @classmethod
    def from_backbone(cls, backbone: str, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                      random_init: bool = False, random_init_plugins: bool = False, variant: str = "full",
                      seed: int = 0, base_checkpoint: str | os.PathLike | None = None,
                      force_alpha: float | None = None, fuse_sam: bool = False,
                      **engine_options: Any) -> "StableSamSegmenter":
        """``load_segmenter("stablesam:BACKBONE", ...)``; arguments as
        :func:`~sam_repro.methods.stablesam.weights.load_stable_sam_model`."""
        model, provenance = load_stable_sam_model(backbone, checkpoint, device, random_init=random_init,
                                                  random_init_plugins=random_init_plugins, variant=variant,
                                                  seed=seed, base_checkpoint=base_checkpoint)
        engine = SamEngine(model, weights_id=provenance.get("base_checkpoint_sha256"), **engine_options)
        return cls(model, provenance, engine=engine, force_alpha=force_alpha, fuse_sam=fuse_sam)

    def diagnostics(self) -> dict[str, float]:
        """``alpha_1``: the routing weight of the deformed keys for the last prompt (the paper's Table 6 averages it;
        forced values are reported as forced). Absent for a model without plug-ins and before a prediction."""
        alpha = self.last_alpha
        return {} if alpha is None else {"alpha_1": float(alpha[0, 0])}

    def info(self) -> dict[str, Any]:
        return {"method": "stablesam", "name": self.name, "force_alpha": self.force_alpha, "fuse_sam": self.fuse_sam,
                **self.provenance}
