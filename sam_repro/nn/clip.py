"""A CLIP for AlignSAM's explicit branch: the embedded world's tiny CLIP (an ``open_clip`` custom config), its
preprocessing and tokenizer, and loading from a file.

The tiny CLIP is ``open_clip.model.CLIP`` built from :data:`TINY_CLIP_CONFIG` (open_clip's own classes: the full
scale swaps in ViT-B/16 by config name, the code path is the same) and trained by ``sam-repro train tiny-clip``
(:mod:`sam_repro.train.tiny_clip`) on captioned synthetic images (:mod:`sam_repro.data.captions`). It uses open_clip's
standard BPE tokenizer (so full-scale CLIP texts tokenise identically), which makes the token embedding 49,408 rows
wide: most of the file. Images are squashed to the CLIP's square input (no crop: CLIP Surgery's map must cover the
whole image) and normalised with OpenAI CLIP's mean and std.

A CLIP file (:func:`save_clip`) stores the state dict with the model config and the caption vocabulary in its
metadata; :class:`TinyClip` warns when a text holds a word the captions never contained (its embedding was never
trained: the map for it means little).
"""
from __future__ import annotations

import copy
import functools
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch

import sam_repro._compat  # noqa: F401  (torchvision next to a CPU torch, before open_clip imports it)
from sam_repro.backbones.checkpoints import CheckpointError, read_checkpoint, save_checkpoint, sha256_file

CLIP_FORMAT = "sam-repro/clip/1"
"""``meta["format"]`` of a CLIP file written by :func:`save_clip`."""

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 96,
    "vision_cfg": {"image_size": 96, "patch_size": 8, "width": 128, "layers": 4, "head_width": 32, "mlp_ratio": 4.0},
    "text_cfg": {"context_length": 24, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 3},
}
"""The embedded world's CLIP: a 96 px ViT (12 x 12 patches of 8 px, width 128, 4 blocks) and a 3-block text
transformer of width 64 with a 24-token context (captions are short), joint space 96."""



@functools.lru_cache(maxsize=4)
def _tokenizer(context_length: int):
    """open_clip's BPE tokenizer, built once per context length (building it reads the BPE merges: ~0.1-0.2 s, which
    was most of an explicit-branch map's cost when built per call)."""
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer(context_length=context_length)

class UnseenWordsWarning(UserWarning):
    """A text holds words the CLIP's training captions never contained."""


def build_clip(config: dict[str, Any] | None = None, seed: int = 0) -> torch.nn.Module:
    """A seeded ``open_clip.model.CLIP`` from an open_clip model config (default :data:`TINY_CLIP_CONFIG`)."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    config = copy.deepcopy(config or TINY_CLIP_CONFIG)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIP(embed_dim=config["embed_dim"], vision_cfg=CLIPVisionCfg(**config["vision_cfg"]),
                     text_cfg=CLIPTextCfg(**config["text_cfg"]), quick_gelu=bool(config.get("quick_gelu", False)))
    return model.eval()


@dataclass
class TinyClip:
    """A CLIP with its preprocessing and tokenizer.

    Attributes:
        model: the ``open_clip`` CLIP (eval mode, frozen by the methods that use it).
        config: its open_clip model config.
        vocabulary: the words of its training captions (None: unknown, no warning), for :meth:`tokenize`.
        provenance: checkpoint path and sha256 (``clip_sha256``), or ``random(seed=...)``.
    """

    model: torch.nn.Module
    config: dict[str, Any]
    vocabulary: frozenset[str] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        size = self.config["vision_cfg"]["image_size"]
        return int(size if isinstance(size, int) else size[0])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def sha256(self) -> str | None:
        return self.provenance.get("clip_sha256")

    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """(H, W, 3) uint8 RGB images -> (N, 3, s, s) float32 normalised (squashed to s x s, area interpolation)."""
        size = self.image_size
        batch = np.stack([cv2.resize(np.asarray(im), (size, size), interpolation=cv2.INTER_AREA) for im in images])
        tensor = torch.as_tensor(batch, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
        mean = torch.tensor(OPENAI_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(OPENAI_STD).view(1, 3, 1, 1)
        return ((tensor - mean) / std).to(self.device)

    def unseen_words(self, texts: Sequence[str]) -> list[str]:
        """Words of ``texts`` outside the training vocabulary (empty when the vocabulary is unknown)."""
        from sam_repro.data.captions import words

        if self.vocabulary is None:
            return []
        return sorted({w for text in texts for w in words(text)} - self.vocabulary)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, context_length) int64 tokens (open_clip's BPE tokenizer); warns (:class:`UnseenWordsWarning`) about
        words the CLIP was never trained on."""
        unseen = self.unseen_words(texts)
        if unseen:
            warnings.warn(f"the CLIP never saw the word(s) {', '.join(repr(w) for w in unseen)} in its training "
                          "captions: their text features are untrained and the map for them means little",
                          UnseenWordsWarning, stacklevel=2)
        return _tokenizer(int(self.config["text_cfg"]["context_length"]))(list(texts)).to(self.device)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, D) L2-normalised text features."""
        return self.model.encode_text(self.tokenize(texts), normalize=True)


def save_clip(clip: TinyClip | torch.nn.Module, path: str | os.PathLike, *, config: dict[str, Any] | None = None,
              vocabulary: Sequence[str] | None = None, meta: dict[str, Any] | None = None,
              dtype: torch.dtype | None = None) -> str:
    """Write a CLIP file (state dict + config + vocabulary in the metadata); return its sha256."""
    model = clip.model if isinstance(clip, TinyClip) else clip
    config = config if config is not None else (clip.config if isinstance(clip, TinyClip) else TINY_CLIP_CONFIG)
    if vocabulary is None and isinstance(clip, TinyClip) and clip.vocabulary is not None:
        vocabulary = sorted(clip.vocabulary)
    info = {**dict(meta or {}), "format": CLIP_FORMAT, "clip_config": config,
            "vocabulary": None if vocabulary is None else sorted(vocabulary)}
    return save_checkpoint(model.state_dict(), path, meta=info, dtype=dtype)


def load_clip(checkpoint: str | os.PathLike | None = None, device: str | torch.device = "cpu", *,
              random_init: bool = False, seed: int = 0, config: dict[str, Any] | None = None,
              expected_sha256: str | None = None) -> TinyClip:
    """A :class:`TinyClip` from a CLIP file (None: the registry's ``clip:tiny``), or seeded random weights.

    Raises:
        CheckpointError: not a CLIP file, or its weights do not fit its config; WeightsNotFoundError: no file.
    """
    from sam_repro.backbones.checkpoints import load_strict
    from sam_repro.device import resolve_device

    target = resolve_device(device)
    if random_init:
        config = copy.deepcopy(config or TINY_CLIP_CONFIG)
        from sam_repro.data.captions import corpus_vocabulary

        return TinyClip(build_clip(config, seed).to(target), config, corpus_vocabulary(),
                        {"clip_checkpoint": None, "clip_sha256": None, "clip_weights": f"random(seed={seed})"})
    if checkpoint is None:
        from sam_repro.backbones.weights import find_weights, resolve_weights, expected_sha256 as registered

        entry = find_weights("clip:tiny")
        path, expected = resolve_weights(entry, None, missing_hint="pass random_init=True")
        expected_sha256 = expected_sha256 or expected or registered(entry)
    else:
        path = checkpoint
    state, meta = read_checkpoint(path, expected_sha256=expected_sha256)
    if meta.get("format") != CLIP_FORMAT or not isinstance(meta.get("clip_config"), dict):
        raise CheckpointError(f"{path} is not a CLIP file (meta format {CLIP_FORMAT!r} with clip_config, written by "
                              "sam_repro.nn.clip.save_clip)")
    config = meta["clip_config"]
    model = build_clip(config, seed)
    load_strict(model, state, path)
    vocabulary = meta.get("vocabulary")
    return TinyClip(model.to(target).eval(), config, None if vocabulary is None else frozenset(vocabulary),
                    {"clip_checkpoint": str(path), "clip_sha256": expected_sha256 or sha256_file(path),
                     "clip_weights": "checkpoint"})
