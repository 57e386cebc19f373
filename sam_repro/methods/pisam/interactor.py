"""Pi-SAM's Precise Interactor (§3.3): corrective clicks written into the enhanced mask feature.

Shapes (d = the mask feature's channels, C/8; G = the low-res grid; B = prompts; K = clicks, <= 10):

* **clicks** come as :class:`Corrections`: ``coords`` (B, K, 2) **(x, y)** normalised to [0, 1] over the
  G x G map with pixel centres at ``(x + 0.5) / G`` (the convention of the image PE below and of
  ``F.grid_sample(align_corners=False)``), ``flags`` (B, K) int64 (1 = a missed foreground pixel, a
  false-negative click; 0 = a false foreground pixel, a false-positive click), ``padding`` (B, K) bool
  (True: a padding slot of a shorter click list);
* **point token** (``token_embed``): [the feature bilinearly sampled at the click (d), the flag embedding
  ``points_flag`` (Embedding(2, d)), a random-Fourier PE of the click (``pe_layer``, d)] (3d) ->
  LayerNorm -> MLP(3d -> 8d -> 8d -> d, ReLU) -> LayerNorm -> (B, K, d);
* **tokens** [the HQ token's hypernetwork vector ``hyper_in`` (B, 1, d), K point tokens], with a key-padding
  mask that hides the padding slots from every attention that reads the tokens;
* **two-way blocks without token self-attention** (dim d, one head, no attention downsampling, depth 2):
  pixels attend to the tokens (queries carry the image PE), residual + LayerNorm; a convolutional MLP on
  the map (Conv3x3 -> LayerNorm2d -> ReLU -> Conv3x3, width d), residual + LayerNorm; the tokens attend to
  the pixels (keys **and values** carry the image PE, as the official code), residual + LayerNorm;
* a final pixel -> token attention + LayerNorm, then ``out_cov`` (Conv3x3, zero-initialised) added to the
  input map: ``features + out_cov(updated)``. An untrained interactor is therefore the identity, bit for bit
  (tested), whatever the clicks.

Reconstruction notes. The official ``PointInteract`` stores clicks as (row, col) and feeds them to
``grid_sample`` and to the PE as if they were (x, y), and normalises pixel indices as ``i / 256`` (the
pixel's corner); here clicks are (x, y) and normalised at the pixel centre ``(x + 0.5) / G`` (defect 3 of
the issue). Its image PE is a buffer for a fixed 256 x 256 map; here it is computed for the map it is given
(the same values on a 256 grid), so the tiny model's 64 grid works. Names are the official ones
(``interact_2.points_flag``, ``.token_embed``, ``.transformer.layers.N.cross_attn_image_to_token`` ...).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.mask_decoder import MLP
from segment_anything.modeling.prompt_encoder import PositionEmbeddingRandom
from torch import Tensor, nn

MAX_CORRECTIONS = 10
"""At most this many corrective clicks per prompt (Pi-SAM's ``max_points``)."""


@dataclass(frozen=True)
class Corrections:
    """A batch of corrective clicks in the interactor's frame (see the module docstring).

    Attributes:
        coords: (B, K, 2) float (x, y) in [0, 1] over the low-res map, pixel centres at ``(i + 0.5) / G``.
        flags: (B, K) int64, 1 = missed foreground (false negative), 0 = false foreground (false positive).
        padding: (B, K) bool, True where a slot holds no click (shorter lists padded to K).
    """

    coords: Tensor
    flags: Tensor
    padding: Tensor

    def __post_init__(self) -> None:
        if self.coords.ndim != 3 or self.coords.shape[-1] != 2 or self.flags.ndim != 2 or \
                tuple(self.coords.shape[:2]) != tuple(self.flags.shape) or \
                tuple(self.padding.shape) != tuple(self.flags.shape):
            raise ValueError(f"corrections: coords must be (B, K, 2), flags and padding (B, K); got "
                             f"{tuple(self.coords.shape)}, {tuple(self.flags.shape)}, {tuple(self.padding.shape)}")
        k = int(self.flags.shape[1])
        if k == 0 or k > MAX_CORRECTIONS:
            raise ValueError(f"corrections: 1 to {MAX_CORRECTIONS} click slots per prompt (Pi-SAM's limit), got {k}")
        if self.padding.dtype != torch.bool:
            raise TypeError(f"corrections: padding must be a bool tensor, got {self.padding.dtype}")
        if bool(self.padding.all(dim=1).any()):
            raise ValueError("corrections: every prompt of the batch needs at least one click (a row is all padding)")

    @property
    def batch(self) -> int:
        return int(self.flags.shape[0])

    @staticmethod
    def pad(coords: list[Tensor], flags: list[Tensor]) -> "Corrections":
        """Pad per-prompt click lists ((K_i, 2) coords, (K_i,) flags) to one batch."""
        if not coords or len(coords) != len(flags):
            raise ValueError("corrections: need one coords and one flags tensor per prompt")
        k = max(int(c.shape[0]) for c in coords)
        b = len(coords)
        device = coords[0].device
        out_coords = torch.zeros(b, k, 2, dtype=torch.float32, device=device)
        out_flags = torch.zeros(b, k, dtype=torch.int64, device=device)
        padding = torch.ones(b, k, dtype=torch.bool, device=device)
        for i, (c, f) in enumerate(zip(coords, flags)):
            n = int(c.shape[0])
            out_coords[i, :n], out_flags[i, :n], padding[i, :n] = c.float(), f.long(), False
        return Corrections(out_coords, out_flags, padding)


class MaskedAttention(nn.Module):
    """SAM's attention layer (q/k/v/out projections, heads) with an optional key-padding mask.

    Args:
        dim: embedding width; num_heads: heads (must divide dim).
    """

    def __init__(self, dim: int, num_heads: int = 1) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"num_heads {num_heads} must divide the width {dim}")
        self.num_heads = num_heads
        self.q_proj, self.k_proj, self.v_proj = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_padding: Tensor | None = None) -> Tensor:
        """q (B, Nq, dim), k and v (B, Nk, dim), key_padding (B, Nk) bool (True: ignored) -> (B, Nq, dim)."""
        b, nq, dim = q.shape
        heads, per_head = self.num_heads, dim // self.num_heads

        def split(x: Tensor) -> Tensor:
            return x.reshape(b, x.shape[1], heads, per_head).transpose(1, 2)  # (B, heads, N, per_head)

        qh, kh, vh = split(self.q_proj(q)), split(self.k_proj(k)), split(self.v_proj(v))
        scores = qh @ kh.transpose(-2, -1) / math.sqrt(per_head)
        if key_padding is not None:
            scores = scores.masked_fill(key_padding[:, None, None, :], float("-inf"))
        out = (scores.softmax(dim=-1) @ vh).transpose(1, 2).reshape(b, nq, dim)
        return self.out_proj(out)


class InteractorBlock(nn.Module):
    """One two-way block without token self-attention (official ``TwoWayAttentionBlockNew``)."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.cross_attn_image_to_token = MaskedAttention(dim, num_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Conv2d(dim, mlp_dim, 3, 1, 1), LayerNorm2d(mlp_dim), nn.ReLU(),
                                 nn.Conv2d(mlp_dim, dim, 3, 1, 1))
        self.norm2 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = MaskedAttention(dim, num_heads)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, pixels: Tensor, tokens: Tensor, pixel_pe: Tensor, key_padding: Tensor,
                size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """pixels (B, HW, d), tokens (B, T, d), pixel_pe (1, HW, d), key_padding (B, T) -> updated pair."""
        pixels = self.norm1(pixels + self.cross_attn_image_to_token(pixels + pixel_pe, tokens, tokens, key_padding))
        b, hw, d = pixels.shape
        grid = pixels.transpose(1, 2).reshape(b, d, *size)
        pixels = self.norm2((grid + self.mlp(grid)).flatten(2).transpose(1, 2))
        keyed = pixels + pixel_pe  # the official block uses the PE'd pixels as keys and values
        tokens = self.norm3(tokens + self.cross_attn_token_to_image(tokens, keyed, keyed))
        return pixels, tokens


class InteractorTransformer(nn.Module):
    """``depth`` :class:`InteractorBlock` s, then a final pixel -> token attention and LayerNorm; returns the
    updated map (official ``TwoWayTransformerNew``)."""

    def __init__(self, depth: int, dim: int, num_heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(InteractorBlock(dim, num_heads, mlp_dim) for _ in range(depth))
        self.final_attn_image_to_token = MaskedAttention(dim, num_heads)
        self.norm_final_attn = nn.LayerNorm(dim)

    def forward(self, features: Tensor, image_pe: Tensor, tokens: Tensor, key_padding: Tensor) -> Tensor:
        """features (B, d, H, W), image_pe (1, d, H, W), tokens (B, T, d), key_padding (B, T) -> (B, d, H, W)."""
        b, d, h, w = features.shape
        pixels = features.flatten(2).transpose(1, 2)
        pixel_pe = image_pe.flatten(2).transpose(1, 2)
        for layer in self.layers:
            pixels, tokens = layer(pixels, tokens, pixel_pe, key_padding, (h, w))
        pixels = self.norm_final_attn(
            pixels + self.final_attn_image_to_token(pixels + pixel_pe, tokens, tokens, key_padding))
        return pixels.transpose(1, 2).reshape(b, d, h, w)


class PreciseInteractor(nn.Module):
    """Pi-SAM's Precise Interactor (official ``PointInteract``; see the module docstring).

    Args:
        dim: d, the mask feature's channels (official 32; even, for the Fourier PE's sin/cos halves).
        depth: two-way blocks (official 2); num_heads: official 1.
        max_points: the most clicks per prompt (official 10).
    """

    def __init__(self, dim: int, depth: int = 2, num_heads: int = 1, max_points: int = MAX_CORRECTIONS) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"the interactor width must be even (sin/cos halves of the Fourier PE), got {dim}")
        self.dim, self.max_points = dim, max_points
        self.points_flag = nn.Embedding(2, dim)
        self.pe_layer = PositionEmbeddingRandom(dim // 2)
        self.token_embed = nn.Sequential(nn.LayerNorm(3 * dim), MLP(3 * dim, 8 * dim, dim, 3), nn.LayerNorm(dim))
        self.transformer = InteractorTransformer(depth, dim, num_heads, mlp_dim=dim)
        self.out_cov = nn.Conv2d(dim, dim, 3, 1, 1)
        nn.init.zeros_(self.out_cov.weight)  # zero-init residual: an untrained interactor is the identity
        nn.init.zeros_(self.out_cov.bias)

    @staticmethod
    def sample_features(features: Tensor, coords: Tensor) -> Tensor:
        """Bilinear features at normalised (x, y) points: (B, d, H, W), (B, K, 2) -> (B, K, d).

        ``coords`` (i + 0.5) / W, (j + 0.5) / H hits pixel (row j, column i) exactly (align_corners=False)."""
        grid = (2.0 * coords - 1.0).unsqueeze(2)  # (B, K, 1, 2), grid_sample's x then y
        return F.grid_sample(features, grid, mode="bilinear", align_corners=False).squeeze(3).transpose(1, 2)

    def point_tokens(self, features: Tensor, corrections: Corrections) -> Tensor:
        """(B, K, d) point tokens from the map and the clicks."""
        parts = [self.sample_features(features, corrections.coords), self.points_flag(corrections.flags),
                 self.pe_layer._pe_encoding(corrections.coords)]
        return self.token_embed(torch.cat(parts, dim=-1))

    def forward(self, features: Tensor, hyper_in: Tensor, corrections: Corrections) -> Tensor:
        """The corrected map.

        Args:
            features: (B, d, G, G) the Object Embedder's output.
            hyper_in: (B, 1, d) the HQ token's hypernetwork vector (what dots the map into the low-res mask).
            corrections: clicks for the B prompts (K <= ``max_points``).

        Returns:
            (B, d, G, G): ``features + out_cov(updated map)``.
        """
        if corrections.batch != features.shape[0]:
            raise ValueError(f"corrections hold {corrections.batch} prompts, the features {features.shape[0]}")
        if corrections.flags.shape[1] > self.max_points:
            raise ValueError(f"corrections: at most {self.max_points} clicks, got {corrections.flags.shape[1]}")
        tokens = torch.cat([hyper_in, self.point_tokens(features, corrections)], dim=1)
        key_padding = torch.cat([corrections.padding.new_zeros(corrections.batch, 1), corrections.padding], dim=1)
        image_pe = self.pe_layer(tuple(features.shape[-2:])).unsqueeze(0).to(features.dtype)
        updated = self.transformer(features, image_pe, tokens, key_padding)
        return features + self.out_cov(updated)
