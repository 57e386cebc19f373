"""Decode prompts of several images in one mask-decoder pass.

``segment_anything``'s ``MaskDecoder`` repeats one image's embedding for every prompt, so prompts of
different images need one call per image; at the tiny backbone's sizes the per-call overhead, not
the arithmetic, dominates training. :func:`decode_multi_image` runs the same computation as
``MaskDecoder.forward`` with the image embedding *indexed* per prompt instead, so a whole training
batch is one call. It reuses the decoder's own modules (weights and numerics are the decoder's).
"""
from __future__ import annotations

import torch
from segment_anything.modeling.mask_decoder import MaskDecoder


def decode_multi_image(decoder: MaskDecoder, image_embeddings: torch.Tensor, image_index: torch.Tensor,
                       image_pe: torch.Tensor, sparse: torch.Tensor, dense: torch.Tensor,
                       multimask_output: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks and IoU predictions for N prompts over B images.

    Args:
        decoder: a SAM mask decoder.
        image_embeddings: (B, C, g, g) encoder output.
        image_index: (N,) long, the image of each prompt.
        image_pe: (1, C, g, g) dense positional encoding.
        sparse: (N, T, C) sparse prompt embeddings; dense: (N, C, g, g) dense prompt embeddings.
        multimask_output: as in ``MaskDecoder.forward`` (3 masks, else the single-output token).

    Returns:
        (N, 3 or 1, 4g, 4g) low-resolution mask logits and (N, 3 or 1) predicted IoU.
    """
    if image_index.ndim != 1 or len(image_index) != len(sparse) or len(dense) != len(sparse):
        raise ValueError(f"image_index {tuple(image_index.shape)}, sparse {tuple(sparse.shape)} and dense "
                         f"{tuple(dense.shape)} must agree on the number of prompts N")
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    tokens = torch.cat([output_tokens.unsqueeze(0).expand(len(sparse), -1, -1), sparse], dim=1)
    src = image_embeddings[image_index] + dense
    pos_src = image_pe.expand(len(sparse), -1, -1, -1)
    b, c, h, w = src.shape
    hs, src = decoder.transformer(src, pos_src, tokens)
    iou_token_out = hs[:, 0, :]
    mask_tokens_out = hs[:, 1 : 1 + decoder.num_mask_tokens, :]
    upscaled = decoder.output_upscaling(src.transpose(1, 2).reshape(b, c, h, w))
    hyper_in = torch.stack([mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(decoder.output_hypernetworks_mlps)],
                           dim=1)
    b, c, h, w = upscaled.shape
    masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
    iou_pred = decoder.iou_prediction_head(iou_token_out)
    chosen = slice(1, None) if multimask_output else slice(0, 1)
    return masks[:, chosen], iou_pred[:, chosen]
