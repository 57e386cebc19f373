"""DIS-SAM under the common :class:`~sam_repro.methods.base.Segmenter` interface (``dissam:BACKBONE``), and plain
IS-Net (prompt-free) beside it."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from sam_repro.backbones.engine import SamEngine
from sam_repro.methods.base import Prediction
from sam_repro.methods.dissam.inputs import box_map, five_channel_input
from sam_repro.methods.dissam.refiner import probability_to_logits, refine
from sam_repro.methods.dissam.settings import DisSamSettings
from sam_repro.methods.dissam.weights import build_isnet, load_dissam_parts
from sam_repro.methods.isnet import ISNet
from sam_repro.methods.sam import SamSegmenter, load_sam_model
from sam_repro.validation import as_rgb_image, check_box, check_mask_input, check_points


class DisSamSegmenter(SamSegmenter):
    """DIS-SAM (Sec. 2 of the paper): the frozen SAM turns the box into a coarse mask, then IS-Net refines
    [image, SAM mask, box] into a high-resolution map.

    Takes a box only (``prompt_kinds``): the first stage is box-prompted, and the box is also an input of the second.
    ``predict(box=...)`` returns one mask: ``probability`` is the refined map (min-max normalised as the official code
    saves it, or the sigmoid: :class:`DisSamSettings`), ``mask`` is it above 0.5, ``low_res_logits`` and
    ``iou_predictions`` are SAM's coarse stage's (a feedback loop feeds SAM what SAM made). The coarse prediction of
    the last call is kept in :attr:`last_coarse` (the demos draw it beside the refinement).

    With ``settings.in_ch == 3`` this is plain IS-Net: prompt-free, any prompt is validated and ignored, SAM is not
    run (see :class:`IsNetSegmenter`).
    """

    capabilities = frozenset({"refines"})
    prompt_kinds = frozenset({"box"})

    def __init__(self, model: torch.nn.Module, isnet: ISNet, settings: DisSamSettings,
                 provenance: dict[str, Any] | None = None, *, name: str | None = None,
                 engine: SamEngine | None = None):
        if isnet.in_ch != settings.in_ch:
            raise ValueError(f"the IS-Net takes {isnet.in_ch} channels but settings.in_ch is {settings.in_ch}")
        provenance = dict(provenance or {})
        super().__init__(model, provenance, name=name or f"dissam:{provenance.get('backbone', 'custom')}",
                         engine=engine)
        self.isnet, self.settings = isnet, settings
        self.last_coarse: Prediction | None = None
        self._image: np.ndarray | None = None

    def set_image(self, image: np.ndarray) -> None:
        image = as_rgb_image(image)
        if self.settings.prompted:
            super().set_image(image)
        self._image = image

    def reset_image(self) -> None:
        super().reset_image()
        self._image = None
        self.last_coarse = None

    def predict(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                box: np.ndarray | None = None, mask_input: np.ndarray | None = None,
                multimask: bool = False) -> Prediction:
        if self._image is None:
            raise RuntimeError(f"{self.name}: call set_image(image) before predict()")
        image = self._image
        if not self.settings.prompted:
            return self._prompt_free(image, points, labels, box, mask_input)
        if points is not None or labels is not None or mask_input is not None:
            raise ValueError(f"{self.name}: DIS-SAM takes a box prompt only (its SAM stage is box-prompted and the box "
                             "is an input of its second stage); got points or mask_input")
        if box is None:
            raise ValueError(f"{self.name}: predict() needs at least one prompt: DIS-SAM refines a box (box=...)")
        box_arr = check_box(box, image.shape[:2])
        if not box_map(box_arr, image.shape[:2]).any():
            raise ValueError(f"box: {box_arr.tolist()} holds no pixel centre, so DIS-SAM has no region to refine "
                             "(an empty box)")
        choice = self.settings.mask_choice
        coarse = super().predict(box=box_arr, multimask=choice != "single")
        index = 0 if choice in ("first", "single") else int(np.argmax(coarse.iou_predictions))
        self.last_coarse = coarse
        sam_mask = coarse.masks[index] if self.settings.binary_mask else \
            (1.0 / (1.0 + np.exp(-coarse.logits[index].astype(np.float64)))).astype(np.float32)
        inputs = five_channel_input(image, sam_mask, box_arr, use_mask=self.settings.use_mask,
                                    use_box=self.settings.use_box, order=self.settings.order)
        probability = refine(self.isnet, inputs, self.settings.input_size, self.settings.normalization)
        logits = probability_to_logits(probability)
        return Prediction(masks=(logits > 0)[None], logits=logits[None],
                          low_res_logits=coarse.low_res_logits[index : index + 1],
                          iou_predictions=coarse.iou_predictions[index : index + 1])

    def _prompt_free(self, image, points, labels, box, mask_input) -> Prediction:
        """IS-Net (or a row with neither prompt input): the prompts are checked, then not used."""
        check_points(points, labels, image.shape[:2])
        check_box(box, image.shape[:2])
        check_mask_input(mask_input, self.low_res_size)
        inputs = five_channel_input(image, None, None, use_mask=False, use_box=False, order=self.settings.order)
        probability = refine(self.isnet, inputs[: self.settings.in_ch], self.settings.input_size,
                             self.settings.normalization)
        logits = probability_to_logits(probability)
        low = torch.nn.functional.interpolate(torch.from_numpy(logits)[None, None], (self.low_res_size,) * 2,
                                              mode="bilinear", align_corners=False)[0].numpy()
        return Prediction(masks=(logits > 0)[None], logits=logits[None], low_res_logits=low,
                          iou_predictions=np.ones(1, np.float32))

    @classmethod
    def from_backbone(cls, backbone: str, checkpoint: str | os.PathLike | None = None, device: str = "auto",
                      random_init: bool = False, random_init_isnet: bool = False,
                      settings: DisSamSettings | None = None, seed: int = 0,
                      base_checkpoint: str | os.PathLike | None = None, **engine_options: Any) -> "DisSamSegmenter":
        """``load_segmenter("dissam:BACKBONE", ...)``.

        Args:
            checkpoint: a DIS-SAM file (None: the registry's ``dissam:BACKBONE``): ours (a parts file tied to its
                SAM) or the official ``dis_sam.pth`` (width 1, 1024 px).
            random_init: random SAM and IS-Net (seeded): tests, timing. random_init_isnet: the backbone's SAM
                weights (or ``base_checkpoint``) and a random IS-Net: the start of training.
            settings: the IS-Net's settings with ``random_init`` / ``random_init_isnet`` (a file carries its own).
        """
        if random_init and random_init_isnet:
            raise ValueError("pass random_init (nothing loaded) or random_init_isnet (SAM weights + a new IS-Net)")
        if settings is not None and not (random_init or random_init_isnet):
            raise ValueError("settings come from the DIS-SAM file; pass them only with random_init or random_init_isnet")
        if random_init or random_init_isnet:
            settings = settings or DisSamSettings()
            isnet = build_isnet(settings, seed)
            model, provenance = load_sam_model(backbone, base_checkpoint, device, random_init=random_init, seed=seed)
            provenance.update(isnet="random", settings=settings.to_dict())
        else:
            isnet, settings, parts = load_dissam_parts(backbone, checkpoint, base_checkpoint=base_checkpoint)
            model, provenance = load_sam_model(backbone, base_checkpoint, device)
            provenance.update({f"isnet_{k}" if k.startswith("checkpoint") else k: v for k, v in parts.items()})
        isnet = isnet.to(next(model.parameters()).device).eval()
        engine = SamEngine(model, weights_id=provenance.get("checkpoint_sha256"), **engine_options)
        return cls(model, isnet, settings, provenance, engine=engine)

    def info(self) -> dict[str, Any]:
        return {"method": "dissam", "name": self.name, **self.provenance}


class IsNetSegmenter(DisSamSegmenter):
    """Plain IS-Net (3 channels, prompt-free) through the same interface, for the tables that compare it: it takes
    any prompt and ignores it. Built with ``settings.in_ch = 3``; SAM is never run."""

    capabilities = frozenset()
    prompt_kinds = frozenset({"points", "box", "mask_input"})

    def __init__(self, model: torch.nn.Module, isnet: ISNet, settings: DisSamSettings,
                 provenance: dict[str, Any] | None = None, *, name: str | None = None,
                 engine: SamEngine | None = None):
        if settings.in_ch != 3:
            raise ValueError(f"IsNetSegmenter is the 3-channel IS-Net; got settings.in_ch = {settings.in_ch}")
        super().__init__(model, isnet, settings, provenance, name=name or "isnet", engine=engine)

    def info(self) -> dict[str, Any]:
        return {"method": "isnet", "name": self.name, **self.provenance}
