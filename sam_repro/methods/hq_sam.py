"""HQ-SAM (Ke et al., "Segment Anything in High Quality", NeurIPS 2023) built on ``segment_anything``.

SAM stays frozen; HQ-SAM adds a learned *HQ output token* that runs through SAM's two-way transformer
next to SAM's own output tokens, and a *high-quality feature* that fuses an early ViT feature with the
final image embedding. Its mask is the HQ token's hypernetwork output dotted with that feature.

Shapes (C = ``prompt_embed_dim``, 256 for the official models; D = ViT width; g = embedding grid, 64
for the official models; B = prompts of one image):

* early feature: output of the *first global-attention* ViT block (block 2/5/7 of ViT-B/L/H),
  (1, g, g, D) channels-last, as ``segment_anything``'s ViT blocks return it;
* ``compress_vit_feat``: ConvT(D, C, 2, 2) -> LayerNorm2d -> GELU -> ConvT(C, C/8, 2, 2), (1, C/8, 4g, 4g);
* ``embedding_encoder``: ConvT(C, C/4, 2, 2) -> LayerNorm2d -> GELU -> ConvT(C/4, C/8, 2, 2) on the image
  embedding; the HQ feature is the sum of the two, (1, C/8, 4g, 4g);
* ``embedding_maskfeature``: Conv3x3(C/8, C/4) -> LayerNorm2d -> GELU -> Conv3x3(C/4, C/8) on SAM's
  upscaled embedding, plus the HQ feature: the HQ mask feature (B, C/8, 4g, 4g);
* ``hf_token`` (1, C) is appended after SAM's IoU token and 4 mask tokens; ``hf_mlp`` (C -> C -> C -> C/8)
  maps its transformer output to the hypernetwork weights of the HQ mask (B, 1, 4g, 4g).

Outputs follow the official ``MaskDecoderHQ`` (SysCV/sam-hq), including where they differ from SAM:

* ``multimask_output=True`` returns **one** mask: SAM's multimask output with the highest predicted IoU
  (and that IoU), not three (sam-hq issues #19, #62, #133);
* ``hq_token_only=True`` returns the HQ logits alone (the maintainers' choice for single-object HQ
  datasets); ``False`` (the official predictor's default) returns SAM's logits **plus** the HQ logits;
* the predicted IoU is always SAM's IoU head (the HQ token has none);
* SAM's masks from this decoder are *not* plain SAM's: the HQ token takes part in the token
  self-attention, which changes SAM's tokens slightly (sam-hq issue #27; the maintainers report a
  negligible effect). They equal plain SAM's decoder given the HQ token as an extra sparse prompt
  embedding, bit for bit (tested).

Parameter names are the official ones, so ``sam_hq_vit_{b,l,h}.pth`` load strictly; SAM's own
parameters keep their names and shapes (``mask_tokens`` keeps its 4 rows: the HQ token is the separate
``hf_token``). All channel sizes derive from C and D, so the tiny configurations (C = 64 or 96) work.

Two weight layouts load: the official full state dict (``sam_hq_vit_{b,l,h}.pth``: SAM and HQ parts
together), and an *HQ-only* file (:func:`save_hq_checkpoint`; the embedded world's ``hq_sam_tiny.pt``,
written by ``sam-repro train hq-sam``) that holds exactly the HQ parameters and, in its metadata, the
sha256 of the SAM weights they were trained on. An HQ-only file is loaded on top of the backbone's SAM
weights (or ``base_checkpoint``) only when their digest matches, so the shipped file stays small and
can never silently sit on a retrained SAM.

Design: the decoder subclasses ``segment_anything.modeling.MaskDecoder`` and the model subclasses
``Sam``; neither depends on the ``segment-anything-hq`` pip package (0.3, Aug 2023), which vendors a
second, modified copy of ``segment_anything`` under the import name ``segment_anything_hq`` (image
encoder returning a tuple, predictor and builders duplicated). Installing it would put two diverging
copies of SAM's classes in the environment, and our tiny backbones, engine and plug-ins are built from
the one ``segment_anything``; the few HQ modules are written here instead (no code copied).
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from segment_anything.modeling import MaskDecoder, Sam
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.mask_decoder import MLP
from torch import nn

from sam_repro.backbones.build import PIXEL_MEAN, PIXEL_STD, build_sam
from sam_repro.backbones.checkpoints import (
    CheckpointError, load_strict, read_checkpoint, read_state_dict, resolve_checkpoint, sha256_file,
)
from sam_repro.backbones.engine import ImageEmbedding, SamEngine
from sam_repro.backbones.hq_registry import TRAIN_COMMAND, resolve_hq_checkpoint
from sam_repro.backbones.registry import get_backbone
from sam_repro.backbones.specs import BackboneSpec, SamConfig
from sam_repro.device import resolve_device
from sam_repro.methods.sam import SamSegmenter

HQ_MODULES = ("hf_token", "hf_mlp", "compress_vit_feat", "embedding_encoder", "embedding_maskfeature")
"""The mask decoder's HQ-only modules: all that HQ-SAM trains (SAM's parameters stay frozen)."""


# -- the decoder ---------------------------------------------------------------------------------------
class MaskDecoderHQ(MaskDecoder):
    """SAM's mask decoder plus HQ-SAM's output token and high-quality feature (see the module docstring).

    Args:
        transformer_dim: C, the decoder width (must be divisible by 8).
        transformer: SAM's two-way transformer (frozen by HQ-SAM).
        vit_dim: D, the width of the ViT whose early feature is fused.
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
        self._bound: tuple[Sequence[torch.Tensor], bool | None] | None = None

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

    # -- binding the per-image inputs (lets SamEngine.decode call the decoder unchanged) ------------------
    @contextmanager
    def bound(self, interm_embeddings: Sequence[torch.Tensor], hq_token_only: bool | None = None) -> Iterator[None]:
        """Within the block, ``forward`` calls without ``interm_embeddings`` use these (and this
        ``hq_token_only`` when given): how :class:`HqSamEngine` reuses ``SamEngine.decode``."""
        previous, self._bound = self._bound, (interm_embeddings, hq_token_only)
        try:
            yield
        finally:
            self._bound = previous

    # -- computation ------------------------------------------------------------------------------------
    def hq_features(self, image_embeddings: torch.Tensor, early_feature: torch.Tensor) -> torch.Tensor:
        """(N, C, g, g) image embedding and (N, g, g, D) early ViT feature -> (N, C/8, 4g, 4g)."""
        if early_feature.ndim != 4 or early_feature.shape[-1] != self.vit_dim:
            raise ValueError(f"the early ViT feature must be (N, g, g, {self.vit_dim}) channels-last, "
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
                interm_embeddings: Sequence[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks (B, 1, 4g, 4g) and predicted IoUs (B, 1) for B prompts of one image.

        Args:
            interm_embeddings: as the official decoder: ``interm_embeddings[0]`` is the early ViT feature
                (1, g, g, D) (a list of the global-attention blocks' outputs, or a tensor whose first
                entry is it). None inside :meth:`bound`.
            hq_token_only: None for the bound value, else :attr:`hq_token_only`.
        """
        bound = self._bound
        if interm_embeddings is None:
            if bound is None:
                raise ValueError("MaskDecoderHQ needs interm_embeddings (interm_embeddings[0] = the output of the "
                                 "first global-attention ViT block, (1, g, g, D)); see SamHQ.encode")
            interm_embeddings = bound[0]
        if hq_token_only is None:
            hq_token_only = bound[1] if bound is not None and bound[1] is not None else self.hq_token_only
        features = self.hq_features(image_embeddings, interm_embeddings[0])
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


# -- the model -----------------------------------------------------------------------------------------
def first_global_block(image_encoder: nn.Module) -> int:
    """Index of the first global-attention ViT block: HQ-SAM's early feature is its output."""
    for index, block in enumerate(image_encoder.blocks):
        if block.window_size == 0:
            return index
    raise ValueError("the image encoder has no global-attention block (HQ-SAM fuses the first one's output)")


class SamHQ(Sam):
    """A ``segment_anything`` ``Sam`` whose mask decoder is :class:`MaskDecoderHQ` (same state-dict keys
    as the official HQ-SAM model: ``image_encoder.*``, ``prompt_encoder.*``, ``mask_decoder.*``).

    Attributes:
        early_block: the ViT block whose output is the early feature (the first global-attention one).
    """

    def __init__(self, image_encoder: nn.Module, prompt_encoder: nn.Module, mask_decoder: MaskDecoderHQ,
                 pixel_mean: Sequence[float] = PIXEL_MEAN, pixel_std: Sequence[float] = PIXEL_STD) -> None:
        if not isinstance(mask_decoder, MaskDecoderHQ):
            raise TypeError(f"SamHQ needs a MaskDecoderHQ, got {type(mask_decoder).__name__}")
        super().__init__(image_encoder, prompt_encoder, mask_decoder, list(pixel_mean), list(pixel_std))
        self.early_block = first_global_block(image_encoder)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Preprocessed (N, 3, S, S) images -> image embeddings (N, C, g, g) and early features (N, g, g, D)."""
        captured: list[torch.Tensor] = []
        handle = self.image_encoder.blocks[self.early_block].register_forward_hook(
            lambda _module, _inputs, output: captured.append(output))
        try:
            features = self.image_encoder(images)
        finally:
            handle.remove()
        return features, captured[0]

    def forward(self, batched_input: list[dict[str, Any]], multimask_output: bool,
                hq_token_only: bool = False) -> list[dict[str, torch.Tensor]]:
        """``Sam.forward`` with the HQ decoder (the official HQ-SAM signature); one output mask per prompt.
        Runs with autograd enabled (wrap in ``torch.no_grad()`` for inference)."""
        images = torch.stack([self.preprocess(record["image"]) for record in batched_input], dim=0)
        embeddings, early = self.encode(images)
        outputs = []
        for index, record in enumerate(batched_input):
            points = (record["point_coords"], record["point_labels"]) if "point_coords" in record else None
            sparse, dense = self.prompt_encoder(points=points, boxes=record.get("boxes"),
                                                masks=record.get("mask_inputs"))
            low_res, iou = self.mask_decoder(
                image_embeddings=embeddings[index : index + 1], image_pe=self.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask_output,
                hq_token_only=hq_token_only, interm_embeddings=[early[index : index + 1]],
            )
            masks = self.postprocess_masks(low_res, record["image"].shape[-2:], record["original_size"])
            outputs.append({"masks": masks > self.mask_threshold, "iou_predictions": iou, "low_res_logits": low_res})
        return outputs


def build_hq_sam(config: SamConfig, seed: int | None = None) -> SamHQ:
    """A randomly initialised HQ-SAM in eval mode. Its SAM parameters equal ``build_sam(config, seed)``'s
    exactly; the HQ parts (C = ``config.prompt_embed_dim``, D = ``config.encoder_embed_dim``) are drawn
    after them from the same seed."""

    def make() -> SamHQ:
        sam = build_sam(config)
        decoder = MaskDecoderHQ.from_sam(sam.mask_decoder, vit_dim=config.encoder_embed_dim)
        return SamHQ(sam.image_encoder, sam.prompt_encoder, decoder).eval()

    if seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


# -- weights -------------------------------------------------------------------------------------------
_PIXEL_STATS = {"pixel_mean": PIXEL_MEAN, "pixel_std": PIXEL_STD}


def load_hq_state(model: SamHQ, state: dict[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load a full HQ-SAM state dict (the official layout) strictly.

    ``pixel_mean`` / ``pixel_std`` (non-persistent buffers in ``segment_anything``) are accepted and
    dropped when present, but only with SAM's normalisation values.

    Raises:
        CheckpointError: missing / unexpected / mis-shaped keys (named), a plain SAM checkpoint (with the
            fix), or pixel statistics other than SAM's.
    """
    state = dict(state)
    for key, values in _PIXEL_STATS.items():
        if key in state:
            stored = state.pop(key).detach().float().flatten().cpu()
            if not torch.allclose(stored, torch.tensor(values)):
                raise CheckpointError(f"checkpoint {source}: {key} = {stored.tolist()} is not SAM's {list(values)}")
    expected_hq = [name for name in model.state_dict() if is_hq_parameter(name)]
    if not any(is_hq_parameter(name) for name in state) and set(state) == set(model.state_dict()) - set(expected_hq):
        raise CheckpointError(
            f"checkpoint {source} is a plain SAM checkpoint (no HQ-SAM parameters such as {expected_hq[0]}); pass "
            "it with random_init_hq=True to start from SAM with freshly initialised HQ parts, or load an HQ-SAM file"
        )
    load_strict(model, state, source)


def load_sam_part(model: SamHQ, state: dict[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load a plain SAM state dict into the SAM parts of ``model`` strictly; the HQ parts keep their values."""
    present_hq = sorted(name for name in state if is_hq_parameter(name))
    if present_hq:
        raise CheckpointError(f"checkpoint {source} already holds HQ-SAM parameters ({present_hq[0]}, ...); "
                              "load it as an HQ-SAM checkpoint (without random_init_hq)")
    hq_state = {name: value for name, value in model.state_dict().items() if is_hq_parameter(name)}
    load_strict(model, {**state, **hq_state}, source)


HQ_ONLY_FORMAT = "sam-repro/hq-only/1"
"""``meta["format"]`` of an HQ-only checkpoint (:func:`save_hq_checkpoint`): the HQ parameters alone,
trained on top of the SAM weights whose sha256 is ``meta["base_sha256"]``."""


def hq_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The HQ-only entries of ``model``'s state dict (exactly :func:`hq_parameter_names`: the HQ
    modules hold no buffers), detached copies on the CPU."""
    names = set(hq_parameter_names(model))
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items() if name in names}


def save_hq_checkpoint(model: nn.Module, path: str | os.PathLike, *, base_sha256: str, backbone: str,
                       meta: dict[str, Any] | None = None, dtype: torch.dtype | None = None) -> str:
    """Write the HQ parameters of ``model`` alone (a small file: SAM's weights are not repeated),
    atomically, with ``meta`` plus ``format`` (:data:`HQ_ONLY_FORMAT`), ``backbone`` and
    ``base_sha256`` (the SAM weights the HQ parts were trained on); returns the file's sha256.

    :func:`load_hq_sam_model` loads such a file on top of the backbone's SAM weights and refuses
    SAM weights with another digest."""
    from sam_repro.backbones.checkpoints import save_checkpoint

    if not isinstance(base_sha256, str) or len(base_sha256) != 64:
        raise ValueError(f"base_sha256 must be the 64-hex-digit sha256 of the SAM weights, got {base_sha256!r}")
    info = {**dict(meta or {}), "format": HQ_ONLY_FORMAT, "backbone": backbone, "base_sha256": base_sha256.lower()}
    return save_checkpoint(hq_state_dict(model), path, meta=info, dtype=dtype)


def is_hq_only_checkpoint(state: dict[str, torch.Tensor], meta: dict[str, Any]) -> bool:
    """Whether a checkpoint is an HQ-only file: its metadata says so, or every key is an HQ parameter."""
    return meta.get("format") == HQ_ONLY_FORMAT or (bool(state) and all(is_hq_parameter(k) for k in state))


def load_hq_only_state(model: SamHQ, state: dict[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load an HQ-only state dict into the HQ parts of ``model``; SAM's parts keep their values.

    Strict: the keys must be exactly the model's HQ parameters (any missing or extra key, SAM keys
    included, and any shape mismatch is named with the file).

    Raises:
        CheckpointError: the keys or shapes do not fit.
    """
    current = model.state_dict()
    expected = [name for name in current if is_hq_parameter(name)]
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"missing HQ keys ({len(missing)}): {', '.join(missing[:12])}")
        if unexpected:
            problems.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:12])}")
        raise CheckpointError(f"HQ-only checkpoint {source} does not hold exactly the HQ parameters of the model: "
                              + "; ".join(problems))
    sam_state = {name: value for name, value in current.items() if not is_hq_parameter(name)}
    load_strict(model, {**sam_state, **state}, source)  # shapes are checked (and named) here


def load_hq_sam_model(backbone: str | BackboneSpec, checkpoint: str | os.PathLike | None = None,
                      device: str | torch.device = "auto", random_init: bool = False, random_init_hq: bool = False,
                      seed: int = 0, base_checkpoint: str | os.PathLike | None = None) -> tuple[SamHQ, dict[str, Any]]:
    """Build a backbone's HQ-SAM and load its weights (strict, safe; verified where a digest is known).

    Args:
        backbone: SAM registry name or spec.
        checkpoint: with the default mode, an HQ-SAM file (None: the HQ registry's): either a full
            state dict (the official ``sam_hq_vit_*.pth`` layout) or an HQ-only file written by
            :func:`save_hq_checkpoint` (``hq_sam_tiny.pt``), which is loaded on top of SAM weights;
            with ``random_init_hq``, a plain SAM file (None: the backbone registry's SAM weights).
        random_init: no weights at all (seeded): tests, timing.
        random_init_hq: SAM weights plus freshly initialised (``seed``) HQ parts: the start of training.
        base_checkpoint: for an HQ-only file, the SAM weights to put under it (None: the backbone
            registry's). Their sha256 must be the one recorded in the HQ-only file.

    Returns:
        (model in eval mode on the device, provenance: backbone, device, checkpoint, checkpoint_sha256,
        sha256_verified, weights; for an HQ-only file also base_checkpoint and base_checkpoint_sha256).

    Raises:
        CheckpointError: a file does not fit (keys named), an HQ-only file without its base digest, or
            SAM weights other than the ones the HQ parts were trained on.
    """
    if random_init and random_init_hq:
        raise ValueError("pass random_init (no weights) or random_init_hq (SAM weights + new HQ parts), not both")
    if base_checkpoint is not None and (random_init or random_init_hq):
        raise ValueError("base_checkpoint is the SAM file under an HQ-only checkpoint; with random_init_hq pass the "
                         "SAM file as checkpoint, with random_init nothing is loaded")
    spec = get_backbone(backbone) if isinstance(backbone, str) else backbone
    target = resolve_device(device)
    provenance: dict[str, Any] = {"backbone": spec.name, "device": str(target)}
    state = base_state = None
    if random_init:
        provenance.update(checkpoint=None, checkpoint_sha256=None, sha256_verified=False,
                          weights=f"random(seed={seed})")
    elif random_init_hq:
        path, expected = resolve_checkpoint(spec, checkpoint)
        state = read_state_dict(path, expected_sha256=expected)  # read (and verify) before building
        provenance.update(checkpoint=str(path), checkpoint_sha256=expected or sha256_file(path),
                          sha256_verified=expected is not None,
                          weights=f"SAM checkpoint + random HQ parts (seed={seed})")
    else:
        path, expected = resolve_hq_checkpoint(spec.name, checkpoint)
        state, meta = read_checkpoint(path, expected_sha256=expected)
        provenance.update(checkpoint=str(path), checkpoint_sha256=expected or sha256_file(path),
                          sha256_verified=expected is not None, weights="checkpoint")
        if is_hq_only_checkpoint(state, meta):
            base_state, base_info = _read_base(spec, path, meta, base_checkpoint)
            provenance.update(base_info, weights="SAM checkpoint + HQ-only checkpoint")
        elif base_checkpoint is not None:
            raise CheckpointError(f"base_checkpoint was given, but {path} is a full HQ-SAM checkpoint (it holds its "
                                  "own SAM weights); pass base_checkpoint only with an HQ-only file")
    model = build_hq_sam(spec.config, seed=seed)
    if base_state is not None:
        load_sam_part(model, base_state, provenance["base_checkpoint"])
        load_hq_only_state(model, state, provenance["checkpoint"])
    elif state is not None:
        (load_sam_part if random_init_hq else load_hq_state)(model, state, provenance["checkpoint"])
    return model.to(target).eval(), provenance


def _read_base(spec: BackboneSpec, path: os.PathLike, meta: dict[str, Any],
               base_checkpoint: str | os.PathLike | None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The SAM weights under the HQ-only file ``path`` (checked against its recorded base digest)."""
    recorded = meta.get("base_sha256")
    if meta.get("format") != HQ_ONLY_FORMAT or not isinstance(recorded, str):
        raise CheckpointError(
            f"HQ-only checkpoint {path} holds only HQ parameters but no record of the SAM weights it was trained on "
            f"(meta format {HQ_ONLY_FORMAT!r} with base_sha256); write it with save_hq_checkpoint")
    if meta.get("backbone") not in (None, spec.name):
        raise CheckpointError(f"HQ-only checkpoint {path} was trained for backbone {meta['backbone']!r}, "
                              f"not {spec.name!r}")
    base_path, expected = resolve_checkpoint(spec, base_checkpoint)
    base_state = read_state_dict(base_path, expected_sha256=expected)
    actual = (expected or sha256_file(base_path)).lower()
    if actual != recorded.lower():
        raise CheckpointError(
            f"HQ-only checkpoint {path} was trained on top of SAM weights with sha256 {recorded}, but the SAM weights "
            f"loaded under it ({base_path}) have sha256 {actual}. Load it with the SAM weights it was trained on "
            f"(base_checkpoint=PATH), or retrain the HQ parts on these weights with `{TRAIN_COMMAND}`")
    return base_state, {"base_checkpoint": str(base_path), "base_checkpoint_sha256": actual,
                        "base_sha256_verified": expected is not None}


# -- engine and segmenter ------------------------------------------------------------------------------
class HqSamEngine(SamEngine):
    """:class:`SamEngine` for :class:`SamHQ`: captures the early ViT feature with every embedding and
    hands it (and ``hq_token_only``) to the HQ decoder on every decode.

    Cache keys carry the early block, so an embedding cached on disk without the early feature by a
    plain SAM engine with the same encoder weights is never served here.

    Args:
        hq_token_only: the default for :meth:`decode` (official default: False, SAM + HQ logits).
        options: as :class:`SamEngine`; ``capture_blocks`` are added to the early block.
    """

    def __init__(self, model: SamHQ, weights_id: str | None = None, *, hq_token_only: bool = False, **options: Any):
        if not isinstance(getattr(model, "mask_decoder", None), MaskDecoderHQ):
            raise TypeError("HqSamEngine needs a model with a MaskDecoderHQ (build_hq_sam)")
        self.early_block = first_global_block(model.image_encoder)
        blocks = tuple(dict.fromkeys((self.early_block, *options.pop("capture_blocks", ()))))
        super().__init__(model, weights_id, capture_blocks=blocks, **options)
        self.hq_token_only = hq_token_only

    def key(self, image: np.ndarray) -> str:
        return f"{super().key(image)}-hq{self.early_block}"

    def decode(self, embedding: ImageEmbedding, points: np.ndarray | None = None, labels: np.ndarray | None = None,
               boxes: np.ndarray | None = None, mask_input: np.ndarray | torch.Tensor | None = None,
               multimask: bool = False, grad: bool = False,
               hq_token_only: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``SamEngine.decode`` through the HQ decoder: low-res logits (B, 1, h, w) and IoUs (B, 1) (one
        mask per prompt, also with ``multimask``); ``hq_token_only`` None for the engine's default."""
        early = embedding.intermediates.get(self.early_block)
        if early is None:
            raise ValueError(f"the embedding holds no output of ViT block {self.early_block} (HQ-SAM's early "
                             "feature); embed the image with this engine")
        flag = self.hq_token_only if hq_token_only is None else hq_token_only
        with self.model.mask_decoder.bound([early], flag):
            return super().decode(embedding, points=points, labels=labels, boxes=boxes, mask_input=mask_input,
                                  multimask=multimask, grad=grad)


class HqSamSegmenter(SamSegmenter):
    """HQ-SAM as a :class:`Segmenter` (``load_segmenter("hqsam:vit_b")``).

    Everything is plain SAM's segmenter (preprocessing, prompt transforms, postprocessing) except the
    decoder: predictions hold **one** mask per prompt (K = 1) also with ``multimask=True`` (the
    official selection of SAM's best multimask output), and ``hq_token_only`` chooses the HQ logits
    alone or SAM + HQ (see the module docstring).

    Args:
        model: a :class:`SamHQ` in eval mode on its device.
        engine: an existing :class:`HqSamEngine` to share; by default a new one.
        hq_token_only: output mode (None: the engine's, False by default); settable later through the
            attribute, which is the engine's.
    """

    def __init__(self, model: SamHQ, provenance: dict[str, Any] | None = None, *, name: str | None = None,
                 engine: HqSamEngine | None = None, hq_token_only: bool | None = None):
        provenance = dict(provenance or {})
        if engine is None:
            engine = HqSamEngine(model, weights_id=provenance.get("base_checkpoint_sha256")
                                 or provenance.get("checkpoint_sha256"))
        elif not isinstance(engine, HqSamEngine):
            raise TypeError(f"HqSamSegmenter needs an HqSamEngine, got {type(engine).__name__}")
        if hq_token_only is not None:
            engine.hq_token_only = bool(hq_token_only)
        super().__init__(model, provenance, name=name or f"hqsam:{provenance.get('backbone', 'custom')}", engine=engine)

    @property
    def hq_token_only(self) -> bool:
        return self.engine.hq_token_only

    @hq_token_only.setter
    def hq_token_only(self, value: bool) -> None:
        self.engine.hq_token_only = bool(value)

    @classmethod
    def from_backbone(cls, backbone: str, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                      hq_token_only: bool = False, random_init: bool = False, random_init_hq: bool = False,
                      seed: int = 0, base_checkpoint: str | os.PathLike | None = None,
                      **engine_options: Any) -> "HqSamSegmenter":
        """``load_segmenter("hqsam:BACKBONE", ...)``; arguments as :func:`load_hq_sam_model`."""
        model, provenance = load_hq_sam_model(backbone, checkpoint, device, random_init, random_init_hq, seed,
                                              base_checkpoint=base_checkpoint)
        # the embedding cache is keyed by the encoder's weights: under an HQ-only file, the base SAM file's
        weights_id = provenance.get("base_checkpoint_sha256") or provenance.get("checkpoint_sha256")
        engine = HqSamEngine(model, weights_id=weights_id, hq_token_only=hq_token_only, **engine_options)
        return cls(model, provenance, engine=engine, hq_token_only=hq_token_only)

    def info(self) -> dict[str, Any]:
        return {"method": "hqsam", "name": self.name, "hq_token_only": self.hq_token_only, **self.provenance}
