"""One interface for every method: a promptable segmenter shaped after ``SamPredictor``.

Set an image once (the engine embeds it and caches the embedding), then predict from prompts as
often as needed. The evaluation harness, the interactive loop and the widgets talk only to this
interface, so methods compose without special cases.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from segment_anything.modeling import Sam

    from sam_repro.backbones.engine import ImageEmbedding, SamEngine
    from sam_repro.methods.hooks import InteractionHooks


@dataclass(frozen=True)
class Prediction:
    """The answer to one prompt.

    Attributes:
        masks: (K, H, W) bool at image resolution (logits > threshold); K = 3 for multimask, else 1
            (HQ-SAM, like its official decoder, answers a multimask request with K = 1: SAM's best
            multimask output combined with the HQ mask).
        logits: (K, H, W) float32 mask logits at image resolution.
        low_res_logits: (K, h, w) float32 low-resolution logits (h = w = 256 for full-scale SAM,
            img_size / 4 in general).
        iou_predictions: (K,) float32, the model's predicted IoU of each mask.
    """

    masks: np.ndarray
    logits: np.ndarray
    low_res_logits: np.ndarray
    iou_predictions: np.ndarray

    @property
    def best(self) -> int:
        """Index of the mask with the highest predicted IoU (SAM's choice for multimask output)."""
        return int(np.argmax(self.iou_predictions))

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool: the best mask."""
        return self.masks[self.best]

    @property
    def logit(self) -> np.ndarray:
        """(H, W) float32 logits of the best mask."""
        return self.logits[self.best]

    @property
    def probability(self) -> np.ndarray:
        """(H, W) float32 in [0, 1]: sigmoid of the best mask's logits."""
        return (1.0 / (1.0 + np.exp(-self.logit.astype(np.float64)))).astype(np.float32)

    @property
    def low_res(self) -> np.ndarray:
        """(1, h, w) low-res logits of the best mask: feed back as the next ``mask_input``."""
        return self.low_res_logits[self.best : self.best + 1]

    @property
    def iou(self) -> float:
        """Predicted IoU of the best mask."""
        return float(self.iou_predictions[self.best])


class Segmenter(ABC):
    """A promptable segmenter.

    Methods that need more than prompts declare it, never by attributes that callers probe for:

    * ``capabilities``: what the harness, the protocols and the widgets may ask of it: ``"adapts"``
      (it learns during interaction: its :attr:`interactive_hooks` carry state from one sample to the
      next, so an interrupted evaluation restarts instead of resuming), and, as the methods land,
      ``"corrects"`` (Pi-SAM routes corrective clicks to its interactor), ``"refines"`` (DIS-SAM's
      second stage), ``"prompts_itself"`` (AlignSAM);
    * ``prompt_kinds``: the prompts :meth:`predict` takes (``"points"``, ``"box"``, ``"mask_input"``; all three
      for SAM-like methods, ``{"box"}`` for DIS-SAM, whose first stage is box-prompted); any other prompt raises a
      ValueError saying what the method takes;
    * :attr:`interactive_hooks`: the hooks every interactive session on this segmenter fires;
    * :class:`SamBacked`: the members a method wrapping a SAM-style segmenter may use.
    """

    name: str
    capabilities: frozenset[str] = frozenset()
    prompt_kinds: frozenset[str] = frozenset({"points", "box", "mask_input"})

    @property
    def interactive_hooks(self) -> tuple["InteractionHooks", ...]:
        """Hooks that every interactive session on this segmenter fires (none by default)."""
        return ()

    @abstractmethod
    def set_image(self, image: np.ndarray) -> None:
        """Embed an (H, W, 3) uint8 RGB image (grayscale and RGBA are converted)."""

    @abstractmethod
    def predict(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                box: np.ndarray | None = None, mask_input: np.ndarray | None = None,
                multimask: bool = False) -> Prediction:
        """Predict from prompts on the current image.

        Args:
            points: (N, 2) xy pixel coordinates; labels: (N,) 1 = foreground, 0 = background.
            box: (4,) xyxy pixels.
            mask_input: (1, h, w) low-res logits of a previous prediction (``Prediction.low_res``).
            multimask: return three masks (for ambiguous prompts) instead of one.
        """

    @abstractmethod
    def reset_image(self) -> None:
        """Forget the current image."""

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """Provenance: method, backbone, checkpoint file and sha256, device, parameters."""

    def diagnostics(self) -> dict[str, float]:
        """Scalars the method computed in its last :meth:`predict`, recorded by the prompt protocols with each
        object and by the interactive protocol after each click (Stable-SAM's routing weight ``alpha_1``); none by
        default."""
        return {}


class SamBacked(Segmenter):
    """A segmenter standing on a SAM-style model: the declared members that a method wrapping it (test-time
    adaptation, DIS-SAM's refinement, a Stable-SAM under TTA) may use, and nothing else.

    Attributes:
        model: the ``segment_anything`` ``Sam`` (or a subclass) on its device.
        engine: the :class:`~sam_repro.backbones.engine.SamEngine` that embeds images once and decodes.
    """

    model: "Sam"
    engine: "SamEngine"

    @property
    @abstractmethod
    def embedding(self) -> "ImageEmbedding":
        """The current image's embedding (with its extra decoder inputs); raises before ``set_image``."""

    @property
    def decoder_options(self) -> dict[str, Any]:
        """Keyword options this segmenter passes to its mask decoder on every decode (HQ-SAM:
        ``hq_token_only``); none for plain SAM."""
        return {}

    @property
    def mask_decoder(self) -> "torch.nn.Module":
        """The mask decoder (what test-time adaptation trains)."""
        return self.model.mask_decoder

    @property
    def low_res_size(self) -> int:
        """Side of the low-resolution logits (256 for full-scale SAM, 64 for the tiny SAM)."""
        from sam_repro.backbones.encoders import embedding_grid

        return 4 * embedding_grid(self.model.image_encoder)

    def decode(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
               boxes: np.ndarray | None = None, mask_input: Any = None, multimask: bool = False,
               grad: bool = False) -> tuple["torch.Tensor", "torch.Tensor"]:
        """Decode B prompts against the current embedding, with this segmenter's decoder options: the
        low-res logits (B, K, h, w) and predicted IoUs (B, K) (see ``SamEngine.decode`` for the prompt
        shapes); ``grad`` keeps the autograd graph."""
        return self.engine.decode(self.embedding, points=points, labels=labels, boxes=boxes, mask_input=mask_input,
                                  multimask=multimask, grad=grad, decoder_options=self.decoder_options)

    def upscale(self, low_res: "torch.Tensor") -> "torch.Tensor":
        """Low-res logits (B, K, h, w) -> logits at the current image's size (B, K, H, W), differentiable."""
        return self.engine.upscale(self.embedding, low_res)
