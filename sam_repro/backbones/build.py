"""Build a ``segment_anything.modeling.Sam`` from a :class:`SamConfig` with SAM's own classes."""
from __future__ import annotations

from functools import partial

import torch

from sam_repro.backbones.specs import SamConfig

# Pixel statistics SAM normalises with (ImageNet mean/std in 0..255).
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


def build_image_encoder(config: SamConfig) -> torch.nn.Module:
    """The image encoder of ``config`` (``encoder``: SAM's ViT or the package's convolutional encoder)."""
    from segment_anything.modeling import ImageEncoderViT

    from sam_repro.backbones.encoders import ConvImageEncoder

    if config.encoder == "vit":
        return ImageEncoderViT(
            depth=config.encoder_depth,
            embed_dim=config.encoder_embed_dim,
            img_size=config.img_size,
            mlp_ratio=config.mlp_ratio,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=config.encoder_num_heads,
            patch_size=config.patch_size,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=tuple(config.encoder_global_attn_indexes),
            window_size=config.window_size,
            out_chans=config.prompt_embed_dim,
        )
    if config.encoder == "conv":
        return ConvImageEncoder(
            img_size=config.img_size, patch_size=config.patch_size, stem_chans=config.conv_stem_chans,
            stage_chans=config.conv_stage_chans, stage_depths=config.conv_stage_depths,
            attn_depth=config.conv_attn_depth, attn_heads=config.encoder_num_heads, out_chans=config.prompt_embed_dim,
        )
    raise ValueError(f"SamConfig.encoder must be 'vit' or 'conv', got {config.encoder!r}")


def build_sam(config: SamConfig, seed: int | None = None):
    """A randomly initialised ``Sam`` in eval mode, exactly as ``segment_anything.build_sam`` would
    build it for the official configurations.

    Args:
        config: the architecture.
        seed: when given, the initialisation is made deterministic with this seed (the global torch
            RNG state is saved and restored around it).
    """
    from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    if config.img_size % config.patch_size:
        raise ValueError(f"img_size {config.img_size} must be a multiple of patch_size {config.patch_size}")

    def make() -> torch.nn.Module:
        grid = config.embedding_size
        sam = Sam(
            image_encoder=build_image_encoder(config),
            prompt_encoder=PromptEncoder(
                embed_dim=config.prompt_embed_dim,
                image_embedding_size=(grid, grid),
                input_image_size=(config.img_size, config.img_size),
                mask_in_chans=config.mask_in_chans,
            ),
            mask_decoder=MaskDecoder(
                num_multimask_outputs=3,
                transformer=TwoWayTransformer(
                    depth=config.decoder_depth,
                    embedding_dim=config.prompt_embed_dim,
                    mlp_dim=config.decoder_mlp_dim,
                    num_heads=config.decoder_num_heads,
                ),
                transformer_dim=config.prompt_embed_dim,
                iou_head_depth=config.iou_head_depth,
                iou_head_hidden_dim=config.iou_head_hidden_dim,
            ),
            pixel_mean=list(PIXEL_MEAN),
            pixel_std=list(PIXEL_STD),
        )
        return sam.eval()

    if seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()
