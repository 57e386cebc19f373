"""Pi-SAM (Liu et al., "Segment Anything with Precise Interaction", ACM MM 2024) built on HQ-SAM's decoder.

SAM stays frozen. Pi-SAM takes HQ-SAM's output token and fused mask feature, and adds a high-resolution mask
decoder (an Object Embedder of deformable convolutions and an HR-Conv head with an RGB embedding of the input
image) and an optional Precise Interactor that writes corrective clicks into the mask feature.

Modules, one job each: :mod:`.embedder` (Object Embedder, modulated deformable convolutions),
:mod:`.interactor` (Precise Interactor, :class:`Corrections`), :mod:`.decoder` (``MaskDecoderPi``, a
``MaskDecoderHQ`` subclass; shapes, widths and the trainable set of each stage), :mod:`.model` (``SamPi``: the
early feature and the input image as the engine's per-image decoder inputs), :mod:`.corrections` (corrective
clicks: checks, image pixels -> the interactor's frame), :mod:`.weights` (Pi-only files tied to their SAM
weights; the official key map) and :mod:`.segmenter` (``pisam:BACKBONE``, capability ``corrects``).

Defects of the official code (``lmzpai/pi-sam``) fixed here, each documented where it is fixed:

1. nothing receives a gradient as shipped (the interactor flag freezes everything else while the training step
   skips the interactor): each stage's trainable set is named (:data:`~.decoder.STAGES`) and tested;
2. the RGB embedding lives in the no-grad encoder, random per run, never trained or saved: here it is a decoder
   part, trained in stage 1 and saved in the Pi file;
3. clicks stored as (row, col) are used as (x, y): here clicks are (x, y), normalised at pixel centres
   ``(x + 0.5) / W`` like the image PE.
"""
from sam_repro.methods.pisam.corrections import check_corrections, corrections_to_grid
from sam_repro.methods.pisam.decoder import (
    HR_STAGE_MODULES, INTERACTOR_MODULES, PI_MODULES, STAGES, VARIANTS, MaskDecoderPi, PiComponents, PiDecoderOutput,
    default_hr_dims, is_pi_parameter, set_trainable_stage, stage_parameter_names,
)
from sam_repro.methods.pisam.embedder import DeformableConv2d, ObjectEmbedder
from sam_repro.methods.pisam.interactor import MAX_CORRECTIONS, Corrections, PreciseInteractor
from sam_repro.methods.pisam.model import SamPi, build_pi_sam
from sam_repro.methods.pisam.segmenter import PiSamSegmenter
from sam_repro.methods.pisam.weights import (
    PI_ONLY_FORMAT, load_pi_only_state, load_pi_sam_model, map_official_decoder_state, pi_state_dict,
    save_pi_checkpoint,
)

__all__ = [
    "Corrections", "DeformableConv2d", "HR_STAGE_MODULES", "INTERACTOR_MODULES", "MAX_CORRECTIONS", "MaskDecoderPi",
    "ObjectEmbedder", "PI_MODULES", "PI_ONLY_FORMAT", "PiComponents", "PiDecoderOutput", "PiSamSegmenter", "PreciseInteractor",
    "STAGES", "VARIANTS", "SamPi", "build_pi_sam", "check_corrections", "corrections_to_grid", "default_hr_dims",
    "is_pi_parameter", "load_pi_only_state", "load_pi_sam_model", "map_official_decoder_state", "pi_state_dict",
    "save_pi_checkpoint", "set_trainable_stage", "stage_parameter_names",
]
