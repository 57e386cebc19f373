"""SAM-family backbones: the registry, builders, checkpoint loading and the embedding engine."""
from sam_repro.backbones.build import build_sam
from sam_repro.backbones.checkpoints import (
    CheckpointError,
    ChecksumError,
    WeightsNotFoundError,
    load_strict,
    read_state_dict,
    save_checkpoint,
    sha256_file,
)
from sam_repro.backbones.engine import EngineStats, ImageEmbedding, SamEngine
from sam_repro.backbones.registry import get_backbone, list_backbones, register_backbone
from sam_repro.backbones.specs import BackboneSpec, CheckpointSpec, SamConfig
from sam_repro.backbones.weights import WeightsEntry, fetch_weights, find_weights, get_weights, list_weights

__all__ = [
    "BackboneSpec", "CheckpointError", "CheckpointSpec", "ChecksumError", "EngineStats", "ImageEmbedding",
    "SamConfig", "SamEngine", "WeightsEntry", "WeightsNotFoundError", "build_sam", "fetch_weights", "find_weights",
    "get_backbone", "get_weights", "list_backbones", "list_weights", "load_strict", "read_state_dict",
    "register_backbone", "save_checkpoint", "sha256_file",
]
