"""Parameter-efficient tuning baselines of Stable-SAM's tables (its Table 3 and 5 rows, supplement l.19): SAM with
LoRA (rank 4) or AdaptFormer adapters (bottleneck 64 at ViT-B's width, scaled) in the image encoder's feed-forward
blocks plus SAM's "prediction layer", and PT-SAM (learned prompt tokens). SAM's own weights stay frozen; the same
pool, prompts and steps as Stable-SAM train them (``sam-repro train tuning --kind lora|adapter|prompt``).

Reconstruction choices (the supplement names the modules, not these details):

* the "prediction layer" is the mask decoder's output heads: the hypernetwork MLPs and the IoU head;
* LoRA: the ``peft`` library (``inject_adapter_in_model``) on both linear layers of every encoder FFN, r = 4,
  alpha = r (scale 1), no dropout, unmerged (SAM's weights stay bit-identical; only the LoRA matrices and the
  prediction layer train);
* adapters: AdaptFormer's parallel bottleneck (down, ReLU, up, scale 0.1; up zero-initialised, so an untrained
  adapter is SAM) beside every encoder FFN; the bottleneck is 64 x (encoder width / 768), at least 8;
* PT-SAM ("undefined" in the paper, read as prompt tuning): ``num_tokens`` learned tokens appended to every prompt's
  sparse embeddings (zero-initialised: an untrained PT-SAM is SAM up to the extra tokens' attention), alone trained.
"""
from sam_repro.methods.tuning.modules import (
    KINDS, ParallelAdapter, PromptTokens, attach, is_trained_parameter, prediction_layer_names,
)
from sam_repro.methods.tuning.segmenter import TunedSamSegmenter, load_tuned_model, save_tuned_parts

__all__ = ["KINDS", "ParallelAdapter", "PromptTokens", "TunedSamSegmenter", "attach", "is_trained_parameter",
           "load_tuned_model", "prediction_layer_names", "save_tuned_parts"]
