"""Encode once, decode many: the image-embedding engine every segmenter stands on.

The image encoder is by far the expensive part of SAM (seconds per image for ViT-B on a CPU against
tens of milliseconds for a decode), so each image is embedded once and every prompt of that image is
decoded against the cached embedding. The cache is keyed by the image's content and the encoder's
weights, bounded in memory (LRU by entries and bytes), and optionally mirrored on disk. The engine
counts encoder passes and decoder calls so benchmarks and the evaluation harness can report them.
"""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from segment_anything.modeling import Sam


@dataclass
class EngineStats:
    """Counters since construction (or the last :meth:`SamEngine.reset_stats`)."""

    encoder_passes: int = 0
    decoder_calls: int = 0
    decoded_prompts: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    disk_hits: int = 0


@dataclass(frozen=True)
class ImageEmbedding:
    """An embedded image.

    Attributes:
        key: cache key (image content + encoder weights + the model's decoder-input kind).
        features: (1, C, g, g) image embedding (C = prompt dim, g = img_size / encoder stride).
        input_size: (h, w) of the image after ``ResizeLongestSide``, before padding.
        original_size: (H, W) of the image as given.
        decoder_inputs: per-image inputs of the mask decoder beyond the embedding, computed with it
            (:meth:`SamWithDecoderInputs.encode`) and passed to the decoder as keyword arguments on
            every decode; each tensor has the image batch (1) as its first dimension (HQ-SAM:
            ``early_features`` (1, g, g, D)). Empty for plain SAM.
    """

    key: str
    features: torch.Tensor
    input_size: tuple[int, int]
    original_size: tuple[int, int]
    decoder_inputs: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        tensors = [self.features, *self.decoder_inputs.values()]
        return sum(t.element_size() * t.nelement() for t in tensors)


class SamWithDecoderInputs(Sam):
    """A ``Sam`` whose mask decoder needs per-image inputs beyond the image embedding (the engine's one
    extension point: HQ-SAM's early ViT feature, Pi-SAM's image at input resolution...).

    Subclasses implement :meth:`encode`; the engine calls it once per image, caches what it returns with
    the embedding, and passes the extra inputs to ``mask_decoder(...)`` as keyword arguments on every
    decode. ``decoder_inputs_tag`` names the kind of extra inputs in cache keys, so an embedding cached
    (on disk) by a model that computes other inputs is never served.
    """

    decoder_inputs_tag: str = ""

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Preprocessed (N, 3, S, S) images -> embeddings (N, C, g, g) and the decoder's extra inputs,
        each a tensor with N as its first dimension."""
        raise NotImplementedError


def encode_images(model: Sam, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Preprocessed (N, 3, S, S) images -> embeddings (N, C, g, g) and the mask decoder's extra inputs
    ({} for plain SAM): the one place the package runs a SAM's image encoder for decoding."""
    if isinstance(model, SamWithDecoderInputs):
        return model.encode(images)
    return model.image_encoder(images), {}


def select_decoder_inputs(decoder_inputs: dict[str, torch.Tensor], index: int) -> dict[str, torch.Tensor]:
    """The extra decoder inputs of image ``index`` of a batch (first dimension kept, of size 1)."""
    return {name: value[index : index + 1] for name, value in decoder_inputs.items()}


def parameter_fingerprint(module: torch.nn.Module) -> str:
    """sha256 over the names, shapes and values of a module's parameters and buffers."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def image_fingerprint(image: np.ndarray) -> str:
    """sha256 of an image array's shape, dtype and bytes."""
    digest = hashlib.sha256(f"{image.shape}{image.dtype}".encode())
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


class SamEngine:
    """Embeds images with a ``Sam``'s encoder (cached) and decodes prompts with its decoder.

    Args:
        model: a ``segment_anything.modeling.Sam`` on its device, in eval mode.
        weights_id: identifies the encoder weights in cache keys (the checkpoint's sha256); None
            computes a fingerprint of the encoder's parameters.
        cache_entries / cache_bytes: in-memory LRU bounds (0 entries disables the memory cache).
        disk_cache: a directory to mirror embeddings in (files written atomically), or None.
    """

    def __init__(self, model: torch.nn.Module, weights_id: str | None = None, *, cache_entries: int = 16,
                 cache_bytes: int = 512 << 20, disk_cache: str | os.PathLike | None = None):
        from segment_anything.utils.transforms import ResizeLongestSide

        self.model = model
        self.transform = ResizeLongestSide(model.image_encoder.img_size)
        self.weights_id = weights_id or parameter_fingerprint(model.image_encoder)
        self.cache_entries = cache_entries
        self.cache_bytes = cache_bytes
        self.disk_cache = Path(disk_cache) if disk_cache is not None else None
        self.stats = EngineStats()
        self._cache: OrderedDict[str, ImageEmbedding] = OrderedDict()

    @property
    def device(self) -> torch.device:
        return self.model.device

    def reset_stats(self) -> None:
        self.stats = EngineStats()

    def clear_cache(self) -> None:
        """Drop the in-memory cache (the disk cache is kept)."""
        self._cache.clear()

    def refresh_weights_id(self) -> None:
        """Recompute the encoder fingerprint after its weights changed (e.g. during training), so
        stale embeddings are never served."""
        self.weights_id = parameter_fingerprint(self.model.image_encoder)
        self._cache.clear()

    def key(self, image: np.ndarray) -> str:
        tag = self.model.decoder_inputs_tag if isinstance(self.model, SamWithDecoderInputs) else ""
        return f"{self.weights_id[:16]}-{image_fingerprint(image)[:32]}" + (f"-{tag}" if tag else "")

    # -- encoding ------------------------------------------------------------------------------
    def embed(self, image: np.ndarray) -> ImageEmbedding:
        """The embedding of an (H, W, 3) uint8 RGB image, from the cache when possible."""
        key = self.key(image)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self.stats.cache_hits += 1
            return cached
        self.stats.cache_misses += 1
        embedding = self._read_disk(key)
        if embedding is None:
            embedding = self.encode(image, key)
            self._write_disk(embedding)
        else:
            self.stats.disk_hits += 1
        self._remember(embedding)
        return embedding

    @torch.no_grad()
    def encode(self, image: np.ndarray, key: str | None = None) -> ImageEmbedding:
        """Run the encoder on an (H, W, 3) uint8 RGB image, bypassing the cache (counted).

        Preprocessing is exactly ``SamPredictor.set_image``'s: ResizeLongestSide, normalise, pad.
        """
        resized = self.transform.apply_image(image)
        tensor = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None]
        features, decoder_inputs = encode_images(self.model, self.model.preprocess(tensor))
        self.stats.encoder_passes += 1
        return ImageEmbedding(
            key=key or self.key(image),
            features=features,
            input_size=(int(tensor.shape[-2]), int(tensor.shape[-1])),
            original_size=(int(image.shape[0]), int(image.shape[1])),
            decoder_inputs={name: value.detach() for name, value in decoder_inputs.items()},
        )

    def _remember(self, embedding: ImageEmbedding) -> None:
        if self.cache_entries <= 0:
            return
        self._cache[embedding.key] = embedding
        while self._cache and (
            len(self._cache) > self.cache_entries
            or sum(e.nbytes for e in self._cache.values()) > self.cache_bytes
        ):
            if len(self._cache) == 1:
                break  # always keep the most recent embedding
            self._cache.popitem(last=False)

    def _disk_path(self, key: str) -> Path | None:
        return None if self.disk_cache is None else self.disk_cache / f"{key}.pt"

    def _read_disk(self, key: str) -> ImageEmbedding | None:
        path = self._disk_path(key)
        if path is None or not path.is_file():
            return None
        try:
            data = torch.load(path, map_location=self.device, weights_only=True)
            data["decoder_inputs"]
        except Exception:
            return None  # a damaged (or older-format) cache file is recomputed, never trusted
        return ImageEmbedding(
            key=key, features=data["features"], input_size=tuple(data["input_size"]),
            original_size=tuple(data["original_size"]),
            decoder_inputs=dict(data["decoder_inputs"]),
        )

    def _write_disk(self, embedding: ImageEmbedding) -> None:
        path = self._disk_path(embedding.key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(
            {
                "features": embedding.features.cpu(),
                "input_size": list(embedding.input_size),
                "original_size": list(embedding.original_size),
                "decoder_inputs": {name: value.cpu() for name, value in embedding.decoder_inputs.items()},
            },
            tmp,
        )
        os.replace(tmp, path)

    # -- decoding ------------------------------------------------------------------------------
    def decode(self, embedding: ImageEmbedding, points: np.ndarray | None = None, labels: np.ndarray | None = None,
               boxes: np.ndarray | None = None, mask_input: np.ndarray | torch.Tensor | None = None,
               multimask: bool = False, grad: bool = False,
               decoder_options: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode a batch of B prompts against one embedding.

        The mask decoder receives the embedding's ``decoder_inputs`` and ``decoder_options`` as keyword
        arguments (e.g. HQ-SAM's ``early_features`` and ``hq_token_only``).

        Args:
            points: (B, N, 2) xy in original-image pixels, with ``labels`` (B, N) in {0, 1}.
            boxes: (B, 4) xyxy in original-image pixels.
            mask_input: (B, 1, h, w) low-res logits of a previous prediction.
            multimask: three masks per prompt instead of one.
            grad: keep the autograd graph (test-time adaptation trains the decoder).

        Returns:
            low-res logits (B, K, h, w) and predicted IoUs (B, K), K = 3 if multimask else 1.
        """
        device = self.device
        size = embedding.original_size
        coords_t = labels_t = boxes_t = masks_t = None
        if points is not None:
            coords = self.transform.apply_coords(np.asarray(points, dtype=np.float64), size)
            coords_t = torch.as_tensor(coords, dtype=torch.float, device=device)
            labels_t = torch.as_tensor(labels, dtype=torch.int, device=device)
        if boxes is not None:
            boxes_t = torch.as_tensor(self.transform.apply_boxes(np.asarray(boxes, dtype=np.float64), size),
                                      dtype=torch.float, device=device)
        if mask_input is not None:
            masks_t = torch.as_tensor(mask_input, dtype=torch.float, device=device)
        with torch.set_grad_enabled(grad):
            sparse, dense = self.model.prompt_encoder(
                points=(coords_t, labels_t) if coords_t is not None else None, boxes=boxes_t, masks=masks_t
            )
            low_res, iou = self.model.mask_decoder(
                image_embeddings=embedding.features,
                image_pe=self.model.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=multimask,
                **embedding.decoder_inputs,
                **(decoder_options or {}),
            )
        self.stats.decoder_calls += 1
        self.stats.decoded_prompts += int(low_res.shape[0])
        return low_res, iou

    def upscale(self, embedding: ImageEmbedding, low_res: torch.Tensor) -> torch.Tensor:
        """Low-res logits (B, K, h, w) -> logits at the original image size (B, K, H, W), as SAM does
        (bilinear to the padded input, crop, bilinear to the original size)."""
        return self.model.postprocess_masks(low_res, embedding.input_size, embedding.original_size)
