"""Stable-SAM's plug-ins (Fan et al., "Stable Segment Anything Model", ICLR 2025): deformable sampling and dynamic
routing in SAM's mask decoder, robust to poor prompts. SAM stays frozen; only the plug-ins train.

No official code or weights exist (research/methods.md §5); the design is read off the paper's figure, its
supplement (../shared/papers/004) and the ICLR reviews. What the paper fixes:

* the plug-ins sit only in the **second** two-way attention block of the decoder's transformer, and change only the
  keys and values of that block's **token-to-image** attention; its self-attention, MLP and image-to-token
  attention, the first block and the final token-to-image attention all see the original image features x_p;
* **DSP** (deformable sampling plug-in): Conv1x1 (C -> C) gives x*_p; DWConv5x5, LayerNorm, GELU and Conv1x1 give
  offsets Δp per grid location; x*_{p+Δp} is x*_p sampled bilinearly at (reference grid + Δp)
  (:func:`deformable_sample`, ``F.grid_sample``: no torchvision ops);
* **DRP** (dynamic routing plug-in): an MLP on one token of the block's token stream, taken right after its
  self-attention, gives α per prompt; the keys and values become α1·x*_{p+Δp} + α2·x_p.

Reconstruction choices where the paper is silent (each a parameter of :class:`StablePluginConfig`):

* ``routing_token``: which token feeds the DRP: 1, SAM's single-output mask token (the figure's "output token");
* ``alpha``: ``"softmax"`` over (α1, α2) (default: the two weights form a convex mix, so an untrained plug-in is
  SAM whatever its routing MLP) or ``"sigmoid"`` (independent weights);
* ``offset_range``: offsets are bounded as ``offset_range * tanh(raw)`` grid cells (Deformable-DETR / DAT practice;
  None leaves them unbounded);
* ``amplitude``: DSP also predicts a per-location amplitude m = 2·sigmoid(raw) that scales x*_{p+Δp} (the v2 text
  says DSP adjusts sampling "locations and amplitudes"; v1's figure shows only Δp);
* ``resample_pe``: the keys' positional encoding stays at the reference grid (default) or is resampled with the
  features;
* ``padding``: what sampling outside the grid reads: ``"zeros"`` (default) or ``"border"``.

Ablation switches (the paper's Table 8 variants, :data:`VARIANTS`): ``deform=False`` keeps DSP's projection and
amplitude but no offsets (a per-location *spatial attention* over the features instead of deformable sampling);
``routing="fixed"`` replaces the DRP by constant weights (``fixed_alpha``, 1 - ``fixed_alpha``).

Initialisation makes an untrained Stable-SAM exactly SAM: the C -> C conv is the identity, the last offset conv is
zero (so Δp = 0 and m = 1), and the softmax mix of two equal tensors returns them. ``force_alpha`` fixes α1 (and
α2 = 1 - α1) for the paper's Table 7. The α of the last decode is kept in ``last_alpha`` for the α1-per-click
figures (Table 6), a diagnostic only.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.transformer import TwoWayAttentionBlock
from torch import Tensor, nn

PLUGIN_LAYER = 1
"""Index of the decoder transformer block that carries the plug-ins (the paper's "layer 2")."""


@dataclass(frozen=True)
class StablePluginConfig:
    """Reconstruction choices of the plug-ins (see the module docstring).

    Attributes:
        routing_token: index of the token (in [IoU, 4 mask tokens, prompt tokens]) that feeds the DRP.
        alpha: ``"softmax"`` or ``"sigmoid"`` normalisation of the DRP's two outputs.
        routing_hidden: width of the DRP's hidden layer (the paper's parameter count suggests 16-32 at C = 256).
        offset_range: bound of the offsets in grid cells (``range * tanh``); None: unbounded.
        amplitude: DSP also predicts a per-location amplitude.
        resample_pe: resample the keys' positional encoding with the features.
        padding: ``"zeros"`` or ``"border"`` for samples outside the grid.
        deform: DSP predicts offsets (False: no resampling, the spatial-attention ablation).
        routing: ``"learned"`` (the DRP) or ``"fixed"`` (α = (fixed_alpha, 1 - fixed_alpha), no DRP parameters).
        fixed_alpha: α1 of ``routing="fixed"``.
    """

    routing_token: int = 1
    alpha: str = "softmax"
    routing_hidden: int = 32
    offset_range: float | None = 8.0
    amplitude: bool = True
    resample_pe: bool = False
    padding: str = "zeros"
    deform: bool = True
    routing: str = "learned"
    fixed_alpha: float = 0.5

    def __post_init__(self) -> None:
        if self.routing not in ("learned", "fixed"):
            raise ValueError(f"routing must be 'learned' or 'fixed', got {self.routing!r}")
        if not 0.0 <= self.fixed_alpha <= 1.0:
            raise ValueError(f"fixed_alpha must be in [0, 1], got {self.fixed_alpha!r}")
        if not (self.deform or self.amplitude):
            raise ValueError("a DSP without offsets (deform=False) needs amplitude=True: it would only project")
        if self.alpha not in ("softmax", "sigmoid"):
            raise ValueError(f"alpha must be 'softmax' or 'sigmoid', got {self.alpha!r}")
        if self.padding not in ("zeros", "border"):
            raise ValueError(f"padding must be 'zeros' or 'border', got {self.padding!r}")
        if self.offset_range is not None and not self.offset_range > 0:
            raise ValueError(f"offset_range must be > 0 or None, got {self.offset_range!r}")


def deformable_sample(features: Tensor, offsets: Tensor, padding: str = "zeros") -> Tensor:
    """Sample ``features`` bilinearly at every grid location shifted by ``offsets``.

    Args:
        features: (B, C, H, W).
        offsets: (B, 2, H, W) in grid cells, channel 0 along x (columns), channel 1 along y (rows): location (i, j)
            reads ``features`` at column j + offsets[:, 0, i, j], row i + offsets[:, 1, i, j].
        padding: ``"zeros"`` (outside the grid reads 0) or ``"border"``.

    Returns:
        (B, C, H, W). Integer offsets move features by whole cells exactly; half-cell offsets average neighbours.
    """
    if features.ndim != 4 or offsets.ndim != 4 or offsets.shape[1] != 2:
        raise ValueError(f"features must be (B, C, H, W) and offsets (B, 2, H, W), got {tuple(features.shape)} and "
                         f"{tuple(offsets.shape)}")
    if offsets.shape[0] != features.shape[0] or offsets.shape[2:] != features.shape[2:]:
        raise ValueError(f"offsets {tuple(offsets.shape)} do not match features {tuple(features.shape)}")
    _, _, height, width = features.shape
    rows = torch.arange(height, dtype=features.dtype, device=features.device)
    cols = torch.arange(width, dtype=features.dtype, device=features.device)
    # cell centres in grid_sample's normalised coordinates (align_corners=False): x = (2j + 1) / W - 1
    x = (2 * (cols[None, None, :] + offsets[:, 0]) + 1) / width - 1
    y = (2 * (rows[None, :, None] + offsets[:, 1]) + 1) / height - 1
    grid = torch.stack([x, y], dim=-1)  # (B, H, W, 2) as (x, y)
    return F.grid_sample(features, grid, mode="bilinear", padding_mode=padding, align_corners=False)


class DeformableSamplingPlugin(nn.Module):
    """DSP: x_p (B, C, g, g) -> x*_p (C -> C 1x1 conv, identity at init), offsets and amplitude (zero-init)."""

    def __init__(self, channels: int, config: StablePluginConfig):
        super().__init__()
        self.config = config
        self.project = nn.Conv2d(channels, channels, 1)
        outputs = (2 if config.deform else 0) + (1 if config.amplitude else 0)
        self.offset_net = nn.Sequential(
            nn.Conv2d(channels, channels, 5, padding=2, groups=channels), LayerNorm2d(channels), nn.GELU(),
            nn.Conv2d(channels, outputs, 1),
        )
        with torch.no_grad():
            self.project.weight.copy_(torch.eye(channels)[:, :, None, None])
            self.project.bias.zero_()
            self.offset_net[-1].weight.zero_()
            self.offset_net[-1].bias.zero_()

    def offsets(self, projected: Tensor) -> tuple[Tensor, Tensor | None]:
        """(B, 2, g, g) offsets in cells (zeros with ``deform=False``) and (B, 1, g, g) amplitudes (None without
        them) from x*_p."""
        raw = self.offset_net(projected)
        if self.config.deform:
            offsets = raw[:, :2]
            if self.config.offset_range is not None:
                offsets = self.config.offset_range * torch.tanh(offsets)
        else:
            offsets = raw.new_zeros((raw.shape[0], 2, *raw.shape[2:]))
        amplitude = 2 * torch.sigmoid(raw[:, -1:]) if self.config.amplitude else None
        return offsets, amplitude

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C, g, g) -> the deformed features x*_{p+Δp} (B, C, g, g) and the offsets (B, 2, g, g)."""
        projected = self.project(features)
        offsets, amplitude = self.offsets(projected)
        deformed = deformable_sample(projected, offsets, self.config.padding) if self.config.deform else projected
        return (deformed if amplitude is None else deformed * amplitude), offsets


class DynamicRoutingPlugin(nn.Module):
    """DRP: one token (B, C) -> α (B, 2): Linear, LayerNorm, GELU, Linear, then softmax (or sigmoid)."""

    def __init__(self, channels: int, config: StablePluginConfig):
        super().__init__()
        self.config = config
        self.mlp = nn.Sequential(nn.Linear(channels, config.routing_hidden), nn.LayerNorm(config.routing_hidden),
                                 nn.GELU(), nn.Linear(config.routing_hidden, 2))

    def forward(self, token: Tensor) -> Tensor:
        logits = self.mlp(token)
        return torch.softmax(logits, dim=-1) if self.config.alpha == "softmax" else torch.sigmoid(logits)


class StableTwoWayAttentionBlock(TwoWayAttentionBlock):
    """SAM's two-way attention block with the plug-ins in its token-to-image attention (keys and values only).

    Built from a SAM block (:meth:`from_block`: the same weights), so only the plug-ins are new parameters
    (``dsp.*``, ``drp.*``). Everything but the token-to-image attention is SAM's, on the original features.

    Attributes:
        grid: the embedding grid side g (keys arrive flattened, (B, g*g, C)).
        force_alpha: None, or α1 in [0, 1] used for every prompt (α2 = 1 - α1).
        last_alpha: (B, 2) α of the last forward (a diagnostic for the α-per-click figures).
        last_offsets: (B, 2, g, g) offsets of the last forward (the figures draw them).
        record_attention: when True, each forward keeps :attr:`last_attention`, the (B, heads, tokens, g*g)
            softmax weights of this layer's token-to-image attention (the figures draw where the output token looks;
            with α1 forced to 0 they are plain SAM's). Off by default: it recomputes the attention's scores.
    """

    def __init__(self, embedding_dim: int, num_heads: int, mlp_dim: int, activation: type[nn.Module],
                 attention_downsample_rate: int, skip_first_layer_pe: bool, grid: int, config: StablePluginConfig):
        super().__init__(embedding_dim, num_heads, mlp_dim, activation, attention_downsample_rate, skip_first_layer_pe)
        self.grid = grid
        self.plugin_config = config
        self.dsp = DeformableSamplingPlugin(embedding_dim, config)
        self.drp = DynamicRoutingPlugin(embedding_dim, config) if config.routing == "learned" else None
        self.force_alpha: float | None = None
        self.last_alpha: Tensor | None = None
        self.last_offsets: Tensor | None = None
        self.record_attention = False
        self.last_attention: Tensor | None = None

    @classmethod
    def from_block(cls, block: TwoWayAttentionBlock, grid: int, config: StablePluginConfig) -> "StableTwoWayAttentionBlock":
        """A plug-in block around a SAM block: a copy of every SAM weight, fresh (identity) plug-ins."""
        attention = block.self_attn
        stable = cls(attention.embedding_dim, attention.num_heads, block.mlp.lin1.out_features, type(block.mlp.act),
                     attention.embedding_dim // block.cross_attn_token_to_image.internal_dim,
                     block.skip_first_layer_pe, grid, config)
        missing, unexpected = stable.load_state_dict(copy.deepcopy(block.state_dict()), strict=False)
        if unexpected or any(not name.startswith(("dsp.", "drp.")) for name in missing):
            raise ValueError(f"block does not fit: missing {missing}, unexpected {unexpected}")
        return stable.train(block.training)

    def alpha(self, queries: Tensor) -> Tensor:
        """(B, 2) routing weights from the routing token of ``queries`` (B, T, C), or the forced ones."""
        if self.force_alpha is not None:
            a1 = float(self.force_alpha)
            if not 0.0 <= a1 <= 1.0:
                raise ValueError(f"force_alpha must be in [0, 1], got {a1}")
            return queries.new_tensor([a1, 1.0 - a1]).expand(queries.shape[0], 2)
        if self.drp is None:
            a1 = self.plugin_config.fixed_alpha
            return queries.new_tensor([a1, 1.0 - a1]).expand(queries.shape[0], 2)
        return self.drp(queries[:, self.plugin_config.routing_token])

    def _attention_weights(self, q: Tensor, k: Tensor) -> Tensor:
        """(B, heads, tokens, keys) softmax weights of the token-to-image attention, as segment_anything's
        ``Attention.forward`` computes them."""
        attention = self.cross_attn_token_to_image
        with torch.no_grad():
            qh = attention._separate_heads(attention.q_proj(q), attention.num_heads)
            kh = attention._separate_heads(attention.k_proj(k), attention.num_heads)
            return torch.softmax(qh @ kh.transpose(-2, -1) / math.sqrt(qh.shape[-1]), dim=-1)

    def forward(self, queries: Tensor, keys: Tensor, query_pe: Tensor, key_pe: Tensor) -> tuple[Tensor, Tensor]:
        if self.skip_first_layer_pe:
            queries = self.self_attn(q=queries, k=queries, v=queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q=q, k=q, v=queries)
        queries = self.norm1(queries)

        # the plug-ins: keys and values of the token-to-image attention only
        b, n, c = keys.shape
        spatial = keys.transpose(1, 2).reshape(b, c, self.grid, self.grid)
        deformed, offsets = self.dsp(spatial)
        alpha = self.alpha(queries)
        mixed = alpha[:, 0, None, None] * deformed.flatten(2).transpose(1, 2) + alpha[:, 1, None, None] * keys
        self.last_alpha, self.last_offsets = alpha.detach(), offsets.detach()
        pe = key_pe
        if self.plugin_config.resample_pe:
            pe_spatial = key_pe.transpose(1, 2).reshape(key_pe.shape[0], c, self.grid, self.grid)
            pe_spatial = pe_spatial.expand(b, -1, -1, -1)
            pe = deformable_sample(pe_spatial, offsets, self.plugin_config.padding).flatten(2).transpose(1, 2)
        q = queries + query_pe
        if self.record_attention:
            self.last_attention = self._attention_weights(q, mixed + pe)
        queries = queries + self.cross_attn_token_to_image(q=q, k=mixed + pe, v=mixed)
        queries = self.norm2(queries)

        queries = self.norm3(queries + self.mlp(queries))

        q = queries + query_pe
        k = keys + key_pe  # the original x_p: the image-to-token attention is SAM's
        keys = self.norm4(keys + self.cross_attn_image_to_token(q=k, k=q, v=queries))
        return queries, keys


def attach_plugins(sam: nn.Module, config: StablePluginConfig = StablePluginConfig()) -> nn.Module:
    """Replace the plug-in block of ``sam``'s mask decoder by a :class:`StableTwoWayAttentionBlock` (in place) and
    return ``sam``. Its SAM weights are kept; the plug-ins start as the identity (an untrained Stable-SAM is SAM)."""
    transformer = sam.mask_decoder.transformer
    grid = sam.prompt_encoder.image_embedding_size[0]
    block = transformer.layers[PLUGIN_LAYER]
    if isinstance(block, StableTwoWayAttentionBlock):
        raise ValueError("this SAM already carries Stable-SAM plug-ins")
    transformer.layers[PLUGIN_LAYER] = StableTwoWayAttentionBlock.from_block(block, grid, config)
    return sam


def plugin_block(sam: nn.Module) -> StableTwoWayAttentionBlock:
    """The plug-in block of a Stable-SAM (raises for a plain SAM)."""
    block = sam.mask_decoder.transformer.layers[PLUGIN_LAYER]
    if not isinstance(block, StableTwoWayAttentionBlock):
        raise TypeError("this SAM carries no Stable-SAM plug-ins (attach_plugins)")
    return block


def is_plugin_parameter(name: str) -> bool:
    """Whether a model parameter name belongs to the plug-ins (what Stable-SAM trains)."""
    return f"transformer.layers.{PLUGIN_LAYER}.dsp." in name or f"transformer.layers.{PLUGIN_LAYER}.drp." in name


def freeze_sam_parts(sam: nn.Module) -> list[nn.Parameter]:
    """Freeze every SAM parameter, unfreeze the plug-ins; returns the plug-in parameters for the optimiser."""
    trainable = []
    for name, parameter in sam.named_parameters():
        plugin = is_plugin_parameter(name)
        parameter.requires_grad_(plugin)
        if plugin:
            trainable.append(parameter)
    if not trainable:
        raise ValueError("the model has no Stable-SAM plug-ins (attach_plugins)")
    return trainable


VARIANTS: dict[str, StablePluginConfig | None] = {
    "full": StablePluginConfig(),
    "no_amplitude": StablePluginConfig(amplitude=False),
    "spatial_attn": StablePluginConfig(deform=False),
    "fixed_alpha": StablePluginConfig(routing="fixed"),
    "no_rts": StablePluginConfig(),
    "decoder_ft": StablePluginConfig(),
}
"""The trained variants (the paper's Table 8 ablations, reconstructed: its contents are not in the text we have):
``full`` is Stable-SAM; ``no_amplitude`` drops DSP's amplitude (v1's figure); ``spatial_attn`` replaces deformable
sampling by a learned per-location weighting of the same features; ``fixed_alpha`` replaces the DRP by α = (0.5,
0.5); ``no_rts`` is the full plug-in trained without the robust training strategy (clean prompts only, see the
trainer); ``decoder_ft`` is the full plug-in trained together with SAM's whole mask decoder (the supplement, Sec. 3:
"we apply the conventional deformable attention in our Stable-SAM by finetuning the mask decoder during training")."""
DECODER_TRAINED_VARIANTS = frozenset({"decoder_ft"})
"""Variants that train SAM's mask decoder with the plug-ins (conventional deformable attention, Table 8)."""

