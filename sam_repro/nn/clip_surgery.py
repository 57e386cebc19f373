"""CLIP Surgery (Li et al., "CLIP Surgery for Better Explainability with Enhancement in Open-Vocabulary Tasks",
2023), reimplemented from its description (the official repository has no license: research/methods.md §6): the
text-similarity map M_c of AlignSAM's explicit branch.

* **Architecture surgery.** From the first block of the last half of the ViT on, a second path runs beside the
  original one. In each such block the v-v self-attention (queries and keys replaced by the values:
  softmax(v v^T / sqrt(d)) v, the block's own projection weights, the block's LayerNorm input) is computed on the
  *original* path's tokens entering the block, and added to the new path; the new path skips the FFN. The new path
  starts from the tokens entering the first such block. The original path is left untouched: the class token and
  ``encode_image`` are bit-for-bit CLIP's (the surgery never modifies the model; it reads its weights).
* **Feature surgery.** Patch features of the new path (through ``ln_post`` and ``proj``, L2-normalised) times each
  text feature, element-wise; the mean over the texts of these products is subtracted (the redundant features every
  text shares); the sum over channels is the similarity. With one text the redundant part is its product with the
  empty text's features instead (i.e. the similarity with text - empty text). (The paper also weights the mean by a
  softmax of the class-token similarities; we take the plain mean, as the issue asks.)
* **Map.** Each text's similarity over the patches is min-max normalised to [0, 1] and laid out on the patch grid:
  M_c. Texts go through the prompt ensemble :data:`sam_repro.data.captions.TEMPLATES` (the paper's 85 ImageNet
  templates would mean nothing to the tiny CLIP, trained on our captions), averaged and re-normalised.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from sam_repro.nn.clip import TinyClip


def _vv_attention(attn: torch.nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """v-v self-attention with ``attn``'s weights: (N, L, D) batch-first -> (N, L, D)."""
    n, length, dim = x.shape
    heads = attn.num_heads
    head_dim = dim // heads
    w_v = attn.in_proj_weight[2 * dim:]
    b_v = attn.in_proj_bias[2 * dim:] if attn.in_proj_bias is not None else None
    v = F.linear(x, w_v, b_v).reshape(n, length, heads, head_dim).transpose(1, 2)  # (N, h, L, d)
    weights = torch.softmax((v @ v.transpose(-2, -1)) * head_dim ** -0.5, dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(n, length, dim)
    return attn.out_proj(out)


class ClipSurgery:
    """CLIP Surgery on an ``open_clip`` CLIP with a ViT (default blocks, batch-first, class-token pooling).

    Args:
        clip: the CLIP (never modified).
        start: first block of the new path (default: the first block of the last half, ``layers - layers // 2``).
        templates: the text prompt ensemble (``{}`` = the text).
    """

    def __init__(self, clip: TinyClip, start: int | None = None, templates: Sequence[str] | None = None):
        from sam_repro.data.captions import TEMPLATES

        visual = clip.model.visual
        blocks = visual.transformer.resblocks
        if getattr(visual, "attn_pool", None) is not None or not visual.transformer.batch_first:
            raise ValueError("CLIP Surgery here needs a batch-first ViT without attentional pooling")
        self.clip = clip
        self.start = len(blocks) - len(blocks) // 2 if start is None else int(start)
        if not 0 <= self.start < len(blocks):
            raise ValueError(f"start must be a block index in [0, {len(blocks)}), got {self.start}")
        self.templates = tuple(templates or TEMPLATES)

    @property
    def grid(self) -> tuple[int, int]:
        return tuple(self.clip.model.visual.grid_size)

    @torch.no_grad()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """The CLIP's own ``encode_image`` (the original path), unchanged."""
        return self.clip.model.encode_image(images)

    @torch.no_grad()
    def image_tokens(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both paths: (class-token features (N, D) of the original path, which equal ``encode_image`` exactly;
        patch features (N, L, D) of the new path), not normalised."""
        visual = self.clip.model.visual
        x = visual._embeds(images)
        new = None
        for index, block in enumerate(visual.transformer.resblocks):
            if index >= self.start:
                surgery = block.ls_1(_vv_attention(block.attn, block.ln_1(x)))
                new = x + surgery if new is None else new + surgery
            x = block(x)
        pooled, _ = visual._pool(x)
        if visual.proj is not None:
            pooled = pooled @ visual.proj
        tokens = visual.ln_post(new)[:, 1:]
        if visual.proj is not None:
            tokens = tokens @ visual.proj
        return pooled, tokens

    @torch.no_grad()
    def text_features(self, texts: Sequence[str]) -> torch.Tensor:
        """(T, D) normalised features of each text's template ensemble (mean of the normalised templates)."""
        if not texts:
            raise ValueError("CLIP Surgery needs at least one text")
        out = []
        for text in texts:
            features = self.clip.encode_text([t.format(text) for t in self.templates])
            out.append(F.normalize(features.mean(dim=0), dim=-1))
        return torch.stack(out)

    @torch.no_grad()
    def similarity(self, images: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        """Feature surgery: (N, L, T) similarity of every patch with every text, redundancy removed."""
        _, tokens = self.image_tokens(images)
        patches = F.normalize(tokens, dim=-1)  # (N, L, D)
        text = self.text_features(texts)  # (T, D)
        if len(texts) == 1:
            empty = self.text_features([""])
            return patches @ (text - empty).t()
        products = patches[:, :, None, :] * text[None, None]  # (N, L, T, D)
        return (products - products.mean(dim=2, keepdim=True)).sum(dim=-1)

    @torch.no_grad()
    def maps(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> torch.Tensor:
        """M_c: (N, T, gh, gw) per-text similarity maps min-max normalised to [0, 1] over each image's patches."""
        similarity = self.similarity(self.clip.preprocess(images), texts)  # (N, L, T)
        low = similarity.min(dim=1, keepdim=True).values
        high = similarity.max(dim=1, keepdim=True).values
        normalised = (similarity - low) / (high - low).clamp_min(1e-12)
        gh, gw = self.grid
        return normalised.transpose(1, 2).reshape(normalised.shape[0], len(texts), gh, gw)
