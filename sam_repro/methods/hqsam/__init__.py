"""HQ-SAM (Ke et al., "Segment Anything in High Quality", NeurIPS 2023) built on ``segment_anything``.

SAM stays frozen; HQ-SAM adds a learned *HQ output token* that runs through SAM's two-way transformer
next to SAM's own output tokens, and a *high-quality feature* that fuses an early ViT feature with the
final image embedding (HQ-SAM's light variant takes an intermediate stage of its TinyViT the same
way; the package's convolutional encoders give theirs through the same interface). Its mask is the HQ token's hypernetwork output dotted with that feature.

Modules, one job each (as ``segment_anything`` splits its own): :mod:`.decoder` (``MaskDecoderHQ``, the
shapes), :mod:`.model` (``SamHQ``: the early feature as the engine's per-image decoder input),
:mod:`.weights` (official and HQ-only files) and :mod:`.segmenter` (``hqsam:BACKBONE``).

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

Design: the decoder subclasses ``segment_anything.modeling.MaskDecoder`` and the model subclasses
``Sam``; neither depends on the ``segment-anything-hq`` pip package (0.3, Aug 2023), which vendors a
second, modified copy of ``segment_anything`` under the import name ``segment_anything_hq`` (image
encoder returning a tuple, predictor and builders duplicated). Installing it would put two diverging
copies of SAM's classes in the environment, and our tiny backbones, engine and plug-ins are built from
the one ``segment_anything``; the few HQ modules are written here instead (no code copied).
"""
from sam_repro.methods.hqsam.decoder import (
    HQ_MODULES, MaskDecoderHQ, freeze_sam_parts, hq_parameter_names, is_hq_parameter,
)
from sam_repro.methods.hqsam.model import SamHQ, build_hq_sam
from sam_repro.methods.hqsam.segmenter import HqSamSegmenter
from sam_repro.methods.hqsam.weights import (
    HQ_ONLY_FORMAT, hq_state_dict, is_hq_only_checkpoint, load_hq_only_state, load_hq_sam_model, load_hq_state,
    load_sam_part, save_hq_checkpoint,
)

__all__ = [
    "HQ_MODULES", "HQ_ONLY_FORMAT", "HqSamSegmenter", "MaskDecoderHQ", "SamHQ", "build_hq_sam", "freeze_sam_parts",
    "hq_parameter_names", "hq_state_dict", "is_hq_only_checkpoint", "is_hq_parameter", "load_hq_only_state",
    "load_hq_sam_model", "load_hq_state", "load_sam_part", "save_hq_checkpoint",
]
