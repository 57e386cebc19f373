"""Stable-SAM (Fan et al., "Stable Segment Anything Model", ICLR 2025): deformable sampling and dynamic routing
plug-ins in layer 2 of SAM's mask decoder, trained on top of a frozen SAM so that poor prompts (a noisy box, one
point) still segment the intended object.

Modules, one job each: :mod:`.plugins` (DSP, DRP, the plug-in block and the ablation variants), :mod:`.weights`
(parts-only files tied to the SAM weights under them) and :mod:`.segmenter` (``stablesam:BACKBONE``). Training:
:mod:`sam_repro.train.stablesam` (``sam-repro train stablesam``).
"""
from sam_repro.methods.stablesam.plugins import (
    PLUGIN_LAYER, VARIANTS, DeformableSamplingPlugin, DynamicRoutingPlugin, StablePluginConfig,
    StableTwoWayAttentionBlock, attach_plugins, deformable_sample, freeze_sam_parts, is_plugin_parameter,
    plugin_block,
)
from sam_repro.methods.stablesam.segmenter import StableSamSegmenter
from sam_repro.methods.stablesam.weights import (
    TRAIN_COMMAND, build_stable_sam, is_trained_parameter, load_stable_sam_model, save_stable_parts, variant_config,
)

__all__ = [
    "PLUGIN_LAYER", "TRAIN_COMMAND", "VARIANTS", "DeformableSamplingPlugin", "DynamicRoutingPlugin",
    "StablePluginConfig", "StableSamSegmenter", "StableTwoWayAttentionBlock", "attach_plugins", "build_stable_sam",
    "deformable_sample", "freeze_sam_parts", "is_plugin_parameter", "is_trained_parameter", "load_stable_sam_model",
    "plugin_block", "save_stable_parts", "variant_config",
]
