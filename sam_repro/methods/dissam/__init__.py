"""DIS-SAM (Liu, Fu, Jiang, Zhao, ICME 2025): SAM's box-prompted coarse mask, refined by a 5-channel IS-Net
([RGB, SAM mask, box]) into a dichotomous (high-detail) segmentation.

Modules, one job each: :mod:`.inputs` (the 5-channel input), :mod:`.enrichment` (the training-data enrichment of
Appendix A), :mod:`.settings` (what defines a second stage), :mod:`.refiner` (running it), :mod:`.weights` (our
parts files and the official ``dis_sam.pth``) and :mod:`.segmenter` (``dissam:BACKBONE``, and plain IS-Net). IS-Net
itself is :mod:`sam_repro.methods.isnet`; training is :mod:`sam_repro.train.dissam`.
"""
from sam_repro.methods.dissam.enrichment import MIN_PART_FRACTION, enrich_gt
from sam_repro.methods.dissam.inputs import box_map, five_channel_input
from sam_repro.methods.dissam.refiner import probability_to_logits, refine
from sam_repro.methods.dissam.segmenter import DisSamSegmenter, IsNetSegmenter
from sam_repro.methods.dissam.settings import OFFICIAL, DisSamSettings
from sam_repro.methods.dissam.weights import build_isnet, load_dissam_parts, load_isnet_state, save_dissam_parts

__all__ = [
    "MIN_PART_FRACTION", "OFFICIAL", "DisSamSegmenter", "DisSamSettings", "IsNetSegmenter", "box_map",
    "build_isnet", "enrich_gt", "five_channel_input", "load_dissam_parts", "load_isnet_state",
    "probability_to_logits", "refine", "save_dissam_parts",
]
