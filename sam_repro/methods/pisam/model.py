"""The Pi-SAM model: a ``SamHQ`` whose decoder is :class:`~sam_repro.methods.pisam.decoder.MaskDecoderPi`, and its builder.

Per-image decoder inputs (the engine's extension point, cached with the embedding): HQ-SAM's early feature
``early_features`` (1, g, g, D) and the **normalised, padded input image** ``image`` (1, 3, S, S) that the HR
head's RGB embedding reads (the official code computes that embedding inside its no-grad encoder; here the
encoder hands the image over and the embedding is a trainable decoder part).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sam_repro.backbones.build import PIXEL_MEAN, PIXEL_STD, build_sam
from sam_repro.backbones.encoders import early_feature_dim, encode_with_early
from sam_repro.backbones.specs import SamConfig
from sam_repro.methods.hqsam.model import SamHQ
from sam_repro.methods.pisam.decoder import MaskDecoderPi, PiComponents


class SamPi(SamHQ):
    """A ``segment_anything`` ``Sam`` with :class:`MaskDecoderPi` (keys ``image_encoder.*``, ``prompt_encoder.*``,
    ``mask_decoder.*``). :meth:`encode` returns the embedding, the early feature and the input image."""

    decoder_inputs_tag = "pi-early-image"

    def __init__(self, image_encoder: nn.Module, prompt_encoder: nn.Module, mask_decoder: MaskDecoderPi,
                 pixel_mean: Sequence[float] = PIXEL_MEAN, pixel_std: Sequence[float] = PIXEL_STD) -> None:
        if not isinstance(mask_decoder, MaskDecoderPi):
            raise TypeError(f"SamPi needs a MaskDecoderPi, got {type(mask_decoder).__name__}")
        super().__init__(image_encoder, prompt_encoder, mask_decoder, pixel_mean, pixel_std)
        if 16 * _grid(image_encoder) != image_encoder.img_size:
            raise ValueError("Pi-SAM's HR head upsamples the 4g low-res grid 4x to the input size: the encoder's "
                             f"stride must be 16 (img_size {image_encoder.img_size}, grid {_grid(image_encoder)})")

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Preprocessed (N, 3, S, S) images -> embeddings (N, C, g, g) and
        ``{"early_features": (N, g, g, D), "image": (N, 3, S, S)}`` (the same preprocessed images)."""
        features, early = encode_with_early(self.image_encoder, images)
        return features, {"early_features": early, "image": images}


def _grid(encoder: nn.Module) -> int:
    from sam_repro.backbones.encoders import embedding_grid

    return embedding_grid(encoder)


def build_pi_sam(config: SamConfig, seed: int | None = None, hr_dims: Sequence[int] | None = None,
                 components: PiComponents = PiComponents()) -> SamPi:
    """A randomly initialised Pi-SAM in eval mode. Its SAM parameters equal ``build_sam(config, seed)``'s
    exactly; the HQ and Pi parts are drawn after them from the same seed. ``hr_dims``: the HR head's widths
    (None: :func:`~sam_repro.methods.pisam.decoder.default_hr_dims`); ``components``: Table 5's switches."""

    def make() -> SamPi:
        sam = build_sam(config)
        decoder = MaskDecoderPi.from_sam(sam.mask_decoder, vit_dim=early_feature_dim(sam.image_encoder),
                                         hr_dims=hr_dims, components=components)
        return SamPi(sam.image_encoder, sam.prompt_encoder, decoder).eval()

    if seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()
