"""HQ-SAM under the common :class:`~sam_repro.methods.base.Segmenter` interface."""
from __future__ import annotations

import os
from typing import Any

from sam_repro.backbones.engine import SamEngine
from sam_repro.methods.hqsam.model import SamHQ
from sam_repro.methods.hqsam.weights import load_hq_sam_model
from sam_repro.methods.sam import SamSegmenter


class HqSamSegmenter(SamSegmenter):
    """HQ-SAM as a :class:`Segmenter` (``load_segmenter("hqsam:vit_b")``).

    Everything is plain SAM's segmenter (preprocessing, prompt transforms, postprocessing) except the
    decoder: predictions hold **one** mask per prompt (K = 1) also with ``multimask=True`` (the
    official selection of SAM's best multimask output), and ``hq_token_only`` chooses the HQ logits
    alone or SAM + HQ (see the module docstring).

    Args:
        model: a :class:`SamHQ` in eval mode on its device.
        engine: an existing engine of this model to share; by default a new one.
        hq_token_only: output mode (official default: False, SAM + HQ logits); settable later through the
            attribute.
    """

    def __init__(self, model: SamHQ, provenance: dict[str, Any] | None = None, *, name: str | None = None,
                 engine: SamEngine | None = None, hq_token_only: bool = False):
        if not isinstance(model, SamHQ):
            raise TypeError(f"HqSamSegmenter needs a SamHQ model (build_hq_sam), got {type(model).__name__}")
        provenance = dict(provenance or {})
        if engine is None:
            # the embedding cache is keyed by the encoder's weights: under an HQ-only file, the base SAM file's
            engine = SamEngine(model, weights_id=provenance.get("base_checkpoint_sha256")
                               or provenance.get("checkpoint_sha256"))
        super().__init__(model, provenance, name=name or f"hqsam:{provenance.get('backbone', 'custom')}", engine=engine)
        self.hq_token_only = bool(hq_token_only)

    @property
    def decoder_options(self) -> dict[str, Any]:
        return {"hq_token_only": self.hq_token_only}

    @classmethod
    def from_backbone(cls, backbone: str, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                      hq_token_only: bool = False, random_init: bool = False, random_init_hq: bool = False,
                      seed: int = 0, base_checkpoint: str | os.PathLike | None = None,
                      **engine_options: Any) -> "HqSamSegmenter":
        """``load_segmenter("hqsam:BACKBONE", ...)``; arguments as :func:`load_hq_sam_model`."""
        model, provenance = load_hq_sam_model(backbone, checkpoint, device, random_init, random_init_hq, seed,
                                              base_checkpoint=base_checkpoint)
        weights_id = provenance.get("base_checkpoint_sha256") or provenance.get("checkpoint_sha256")
        engine = SamEngine(model, weights_id=weights_id, **engine_options)
        return cls(model, provenance, engine=engine, hq_token_only=hq_token_only)

    def info(self) -> dict[str, Any]:
        return {"method": "hqsam", "name": self.name, "hq_token_only": self.hq_token_only, **self.provenance}
