"""HQ-SAM's mask decoder: SAM's decoder plus an HQ output token and a high-quality feature.

See :mod:`sam_repro.methods.hqsam` for the method and where its outputs follow the official code.

Shapes (C = ``prompt_embed_dim``, 256 for the official models; D = the early feature's channels, the ViT
width for SAM's ViTs; g = embedding grid, 64 for the official models; B = prompts of one image):

* early feature: (1, g, g, D) channels-last, the output of the first global-attention ViT block (block
  2/5/7 of ViT-B/L/H) or of the first stage at the embedding stride of a convolutional encoder
  (:func:`sam_repro.backbones.encoders.encode_with_early`);
* ``compress_vit_feat``: ConvT(D, C, 2, 2) -> LayerNorm2d -> GELU -> ConvT(C, C/8, 2, 2), (1, C/8, 4g, 4g);
* ``embedding_encoder``: ConvT(C, C/4, 2, 2) -> LayerNorm2d -> GELU -> ConvT(C/4, C/8, 2, 2) on the image
  embedding; the HQ feature is the sum of the two, (1, C/8, 4g, 4g);
* ``embedding_maskfeature``: Conv3x3(C/8, C/4) -> LayerNorm2d -> GELU -> Conv3x3(C/4, C/8) on SAM's
  upscaled embedding, plus the HQ feature: the HQ mask feature (B, C/8, 4g, 4g);
* ``hf_token`` (1, C) is appended after SAM's IoU token and 4 mask tokens; ``hf_mlp`` (C -> C -> C -> C/8)
  maps its transformer output to the hypernetwork weights of the HQ mask (B, 1, 4g, 4g).

Parameter names are the official ones, so ``sam_hq_vit_{b,l,h}.pth`` load strictly.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from segment_anything.modeling import MaskDecoder
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.mask_decoder import MLP
from torch import nn

HQ_MODULES = ("hf_token", "hf_mlp", "compress_vit_feat", "embedding_encoder", "embedding_maskfeature")
"""The mask decoder's HQ-only modules: all that HQ-SAM trains (SAM's parameters stay frozen)."""


class MaskDecoderHQ(MaskDecoder):
    """SAM's mask decoder plus HQ-SAM's output token and high-quality feature (see the module docstring).

    Args:
        transformer_dim: C, the decoder width (must be divisible by 8).
        transformer: SAM's two-way transformer (frozen by HQ-SAM).
        vit_dim: D, the channels of the early feature that is fused (the ViT width for SAM's ViTs; see
            :func:`sam_repro.backbones.encoders.early_feature_dim`). The official name is kept.
        num_multimask_outputs, activation, iou_head_depth, iou_head_hidden_dim: as ``MaskDecoder``.

    Attributes:
        num_mask_tokens: 4 + 1 output mask tokens (SAM's, then the HQ token), as in the official code.
        num_sam_mask_tokens: SAM's 4 (the single-output token and the 3 multimask tokens).
        hq_token_only: the default of ``forward``'s ``hq_token_only`` (official default: False).
    """

    def __init__(self, *, transformer_dim: int, transformer: nn.Module, vit_dim: int,
                 num_multimask_outputs: int = 3, activation: type[nn.Module] = nn.GELU, iou_head_depth: int = 3,
                 iou_head_hidden_dim: int = 256) -> None:
        if transformer_dim % 8:
            raise ValueError(f"transformer_dim must be divisible by 8 (HQ features have C/8 channels), "
                             f"got {transformer_dim}")
        super().__init__(transformer_dim=transformer_dim, transformer=transformer,
                         num_multimask_outputs=num_multimask_outputs, activation=activation,
                         iou_head_depth=iou_head_depth, iou_head_hidden_dim=iou_head_hidden_dim)
        c = transformer_dim
        self.vit_dim = vit_dim
        self.num_sam_mask_tokens = self.num_mask_tokens
        self.hf_token = nn.Embedding(1, c)
        self.hf_mlp = MLP(c, c, c // 8, 3)
        self.num_mask_tokens = self.num_sam_mask_tokens + 1
        self.compress_vit_feat = nn.Sequential(
            nn.ConvTranspose2d(vit_dim, c, kernel_size=2, stride=2), LayerNorm2d(c), nn.GELU(),
            nn.ConvTranspose2d(c, c // 8, kernel_size=2, stride=2),
        )
        self.embedding_encoder = nn.Sequential(
            nn.ConvTranspose2d(c, c // 4, kernel_size=2, stride=2), LayerNorm2d(c // 4), nn.GELU(),
            nn.ConvTranspose2d(c // 4, c // 8, kernel_size=2, stride=2),
        )
        self.embedding_maskfeature = nn.Sequential(
            nn.Conv2d(c // 8, c // 4, 3, 1, 1), LayerNorm2d(c // 4), nn.GELU(), nn.Conv2d(c // 4, c // 8, 3, 1, 1),
        )
        self.hq_token_only = False

    @classmethod
    def from_sam(cls, decoder: MaskDecoder, vit_dim: int) -> "MaskDecoderHQ":
        """An HQ decoder around a SAM decoder: the same transformer module and a copy of every other SAM
        weight (as HQ-SAM's training starts), with freshly initialised HQ parts."""
        hq = cls(
            transformer_dim=decoder.transformer_dim, transformer=decoder.transformer, vit_dim=vit_dim,
            num_multimask_outputs=decoder.num_multimask_outputs, activation=type(decoder.output_upscaling[2]),
            iou_head_depth=decoder.iou_prediction_head.num_layers,
            iou_head_hidden_dim=decoder.iou_prediction_head.layers[0].out_features,
        )
        missing, unexpected = hq.load_state_dict(decoder.state_dict(), strict=False)
        if unexpected or any(not is_hq_parameter(name) for name in missing):
            raise ValueError(f"decoder does not fit an HQ decoder: missing {missing}, unexpected {unexpected}")
        return hq.train(decoder.training)

    # -- computation ------------------------------------------------------------------------------------
    def hq_features(self, image_embeddings: torch.Tensor, early_feature: torch.Tensor) -> torch.Tensor:
        """(N, C, g, g) image embedding and (N, g, g, D) early feature -> (N, C/8, 4g, 4g)."""
        if early_feature.ndim != 4 or early_feature.shape[-1] != self.vit_dim:
            raise ValueError(f"the early feature must be (N, g, g, {self.vit_dim}) channels-last, "
                             f"got shape {tuple(early_feature.shape)}")
        if early_feature.shape[1:3] != image_embeddings.shape[-2:]:
            raise ValueError(f"early ViT feature grid {tuple(early_feature.shape[1:3])} does not match the image "
                             f"embedding grid {tuple(image_embeddings.shape[-2:])}")
        return self.embedding_encoder(image_embeddings) + self.compress_vit_feat(early_feature.permute(0, 3, 1, 2))

    def predict_masks(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor,
                      sparse_prompt_embeddings: torch.Tensor, dense_prompt_embeddings: torch.Tensor,
                      hq_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every output before selection.

        Args:
            image_embeddings: (1, C, g, g), repeated for the B prompts as in SAM.
            image_pe: (1, C, g, g); sparse_prompt_embeddings: (B, T, C); dense_prompt_embeddings: (B, C, g, g).
            hq_features: (1 or B, C/8, 4g, 4g) from :meth:`hq_features`.

        Returns:
            masks (B, 5, 4g, 4g): SAM's 4 masks (single-output, then the 3 multimask ones) and the HQ
            mask last; iou_pred (B, 4): SAM's IoU head.
        """
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight, self.hf_token.weight], dim=0)
        output_tokens = output_tokens.unsqueeze(0).expand(sparse_prompt_embeddings.size(0), -1, -1)
        tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)
        src = torch.repeat_interleave(image_embeddings, tokens.shape[0], dim=0) + dense_prompt_embeddings
        pos_src = torch.repeat_interleave(image_pe, tokens.shape[0], dim=0)
        b, c, h, w = src.shape
        hs, src = self.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1 : 1 + self.num_mask_tokens, :]
        upscaled_sam = self.output_upscaling(src.transpose(1, 2).view(b, c, h, w))
        upscaled_hq = self.embedding_maskfeature(upscaled_sam) + hq_features
        n_sam = self.num_sam_mask_tokens
        hyper_sam = torch.stack(
            [self.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :]) for i in range(n_sam)], dim=1)
        hyper_hq = self.hf_mlp(mask_tokens_out[:, n_sam, :]).unsqueeze(1)
        b, c, h, w = upscaled_sam.shape
        masks_sam = (hyper_sam @ upscaled_sam.view(b, c, h * w)).view(b, -1, h, w)
        masks_hq = (hyper_hq @ upscaled_hq.reshape(b, c, h * w)).view(b, -1, h, w)
        return torch.cat([masks_sam, masks_hq], dim=1), self.iou_prediction_head(iou_token_out)

    @staticmethod
    def select(masks: torch.Tensor, iou_pred: torch.Tensor, multimask_output: bool,
               hq_token_only: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The official output selection on :meth:`predict_masks`' outputs -> (B, 1, 4g, 4g), (B, 1).

        multimask: SAM's multimask output (index 1..3) with the highest predicted IoU, else SAM's
        single-output mask (index 0); then the HQ mask (index 4) alone or added to it.
        """
        if multimask_output:
            best_iou, best = iou_pred[:, 1:4].max(dim=1)
            masks_sam = masks[torch.arange(masks.shape[0], device=masks.device), 1 + best].unsqueeze(1)
            iou = best_iou.unsqueeze(1)
        else:
            masks_sam, iou = masks[:, 0:1], iou_pred[:, 0:1]
        masks_hq = masks[:, 4:5]
        return (masks_hq if hq_token_only else masks_sam + masks_hq), iou

    def forward(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor, sparse_prompt_embeddings: torch.Tensor,
                dense_prompt_embeddings: torch.Tensor, multimask_output: bool, hq_token_only: bool | None = None,
                interm_embeddings: Sequence[torch.Tensor] | None = None,
                early_features: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks (B, 1, 4g, 4g) and predicted IoUs (B, 1) for B prompts of one image.

        Args:
            early_features: (1, g, g, D) the early feature (what :meth:`SamHQ.encode` returns and the
                engine passes on every decode).
            interm_embeddings: the official decoder's argument, accepted for compatibility:
                ``interm_embeddings[0]`` is the early feature. Pass exactly one of the two.
            hq_token_only: None for :attr:`hq_token_only`.
        """
        if (early_features is None) == (interm_embeddings is None):
            raise ValueError("MaskDecoderHQ needs the early feature: pass early_features=(1, g, g, D) (or the "
                             "official interm_embeddings, whose first entry is it), exactly one of them; "
                             "SamHQ.encode computes it")
        early = early_features if early_features is not None else interm_embeddings[0]
        if hq_token_only is None:
            hq_token_only = self.hq_token_only
        features = self.hq_features(image_embeddings, early)
        masks, iou_pred = self.predict_masks(image_embeddings, image_pe, sparse_prompt_embeddings,
                                             dense_prompt_embeddings, features)
        return self.select(masks, iou_pred, multimask_output, bool(hq_token_only))


def is_hq_parameter(name: str) -> bool:
    """Whether a parameter name (of a model or of its decoder) belongs to an HQ-only module."""
    return any(part in HQ_MODULES for part in name.split("."))


def hq_parameter_names(model: nn.Module) -> list[str]:
    """The names of the HQ-only parameters of ``model`` (what HQ-SAM training updates), in order."""
    return [name for name, _ in model.named_parameters() if is_hq_parameter(name)]


def freeze_sam_parts(model: nn.Module) -> list[nn.Parameter]:
    """Freeze every SAM parameter and unfreeze the HQ ones (as the official builder does); returns
    the HQ parameters to hand to the optimiser."""
    trainable = []
    for name, parameter in model.named_parameters():
        hq = is_hq_parameter(name)
        parameter.requires_grad_(hq)
        if hq:
            trainable.append(parameter)
    if not trainable:
        raise ValueError("the model has no HQ parameters (is it built with build_hq_sam?)")
    return trainable
