"""The HQ-SAM model: a ``Sam`` with :class:`~sam_repro.methods.hqsam.decoder.MaskDecoderHQ`, and its builder."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from sam_repro.backbones.build import PIXEL_MEAN, PIXEL_STD, build_sam
from sam_repro.backbones.encoders import early_feature_dim, encode_with_early
from sam_repro.backbones.engine import SamWithDecoderInputs, select_decoder_inputs
from sam_repro.backbones.specs import SamConfig
from sam_repro.methods.hqsam.decoder import MaskDecoderHQ


class SamHQ(SamWithDecoderInputs):
    """A ``segment_anything`` ``Sam`` whose mask decoder is :class:`MaskDecoderHQ` (same state-dict keys
    as the official HQ-SAM model: ``image_encoder.*``, ``prompt_encoder.*``, ``mask_decoder.*``).

    Its per-image decoder input is the encoder's early feature (``early_features``), which
    :meth:`encode` returns with the embedding; the engine caches it and passes it on every decode.
    """

    decoder_inputs_tag = "hq-early"

    def __init__(self, image_encoder: nn.Module, prompt_encoder: nn.Module, mask_decoder: MaskDecoderHQ,
                 pixel_mean: Sequence[float] = PIXEL_MEAN, pixel_std: Sequence[float] = PIXEL_STD) -> None:
        if not isinstance(mask_decoder, MaskDecoderHQ):
            raise TypeError(f"SamHQ needs a MaskDecoderHQ, got {type(mask_decoder).__name__}")
        super().__init__(image_encoder, prompt_encoder, mask_decoder, list(pixel_mean), list(pixel_std))
        early_feature_dim(image_encoder)  # an encoder without an early feature fails here, not at first use

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Preprocessed (N, 3, S, S) images -> image embeddings (N, C, g, g) and
        ``{"early_features": (N, g, g, D)}``."""
        features, early = encode_with_early(self.image_encoder, images)
        return features, {"early_features": early}

    def forward(self, batched_input: list[dict[str, Any]], multimask_output: bool,
                hq_token_only: bool = False) -> list[dict[str, torch.Tensor]]:
        """``Sam.forward`` with the HQ decoder (the official HQ-SAM signature); one output mask per prompt.
        Runs with autograd enabled (wrap in ``torch.no_grad()`` for inference)."""
        images = torch.stack([self.preprocess(record["image"]) for record in batched_input], dim=0)
        embeddings, inputs = self.encode(images)
        outputs = []
        for index, record in enumerate(batched_input):
            points = (record["point_coords"], record["point_labels"]) if "point_coords" in record else None
            sparse, dense = self.prompt_encoder(points=points, boxes=record.get("boxes"),
                                                masks=record.get("mask_inputs"))
            low_res, iou = self.mask_decoder(
                image_embeddings=embeddings[index : index + 1], image_pe=self.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask_output,
                hq_token_only=hq_token_only, **select_decoder_inputs(inputs, index),
            )
            masks = self.postprocess_masks(low_res, record["image"].shape[-2:], record["original_size"])
            outputs.append({"masks": masks > self.mask_threshold, "iou_predictions": iou, "low_res_logits": low_res})
        return outputs


def build_hq_sam(config: SamConfig, seed: int | None = None) -> SamHQ:
    """A randomly initialised HQ-SAM in eval mode. Its SAM parameters equal ``build_sam(config, seed)``'s
    exactly; the HQ parts (C = ``config.prompt_embed_dim``, D = the encoder's early-feature channels) are drawn
    after them from the same seed."""

    def make() -> SamHQ:
        sam = build_sam(config)
        decoder = MaskDecoderHQ.from_sam(sam.mask_decoder, vit_dim=early_feature_dim(sam.image_encoder))
        return SamHQ(sam.image_encoder, sam.prompt_encoder, decoder).eval()

    if seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()
