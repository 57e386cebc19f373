"""Name -> backbone registry (timm-style): the official SAM checkpoints and the tiny configurations
of the embedded world."""
from __future__ import annotations

from pathlib import Path

from sam_repro.backbones.specs import BackboneSpec, CheckpointSpec, SamConfig

SAM_PAPER = "Kirillov et al., Segment Anything, ICCV 2023 (arXiv:2304.02643)"
SAM_LICENSE = "Apache-2.0"
_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything/"

#: Directory of weights shipped inside the package (small embedded-world checkpoints).
SHIPPED_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    """Add ``spec``; registering a second spec under the same name is an error."""
    if spec.name in _REGISTRY:
        raise ValueError(f"backbone {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get_backbone(name: str) -> BackboneSpec:
    """The spec registered under ``name``.

    Raises:
        KeyError: unknown name; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown backbone {name!r}; known backbones: {', '.join(list_backbones())}") from None


def list_backbones() -> list[str]:
    return sorted(_REGISTRY)


def _official(name: str, filename: str, sha256: str, size: int, dim: int, depth: int, heads: int,
              global_attn: tuple[int, ...], description: str) -> BackboneSpec:
    return BackboneSpec(
        name=name,
        config=SamConfig(dim, depth, heads, global_attn),
        checkpoint=CheckpointSpec(
            filename=filename, url=_SAM_URL + filename, sha256=sha256, size_bytes=size,
            license=SAM_LICENSE, paper=SAM_PAPER,
        ),
        description=description,
        tags=("official", "full-scale"),
    )


register_backbone(_official(
    "vit_b", "sam_vit_b_01ec64.pth", "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
    375_042_383, 768, 12, 12, (2, 5, 8, 11), "SAM ViT-B (91M encoder params), official Meta checkpoint",
))
register_backbone(_official(
    "vit_l", "sam_vit_l_0b3195.pth", "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
    1_249_524_607, 1024, 24, 16, (5, 11, 17, 23), "SAM ViT-L (308M encoder params), official Meta checkpoint",
))
register_backbone(_official(
    "vit_h", "sam_vit_h_4b8939.pth", "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
    2_564_550_879, 1280, 32, 16, (7, 15, 23, 31), "SAM ViT-H (636M encoder params), official Meta checkpoint",
))

#: The embedded world v2 tiny SAM's architecture (ViT 192x6 on a 16x16 grid), kept without weights for the backbone
#: benchmark's side-by-side figures. Its weights shipped until v3 replaced them (git history: tiny_sam.pt at commit
#: 9c63223); they reached 0.68 tight-box / 0.44 one-point mIoU on held-out generic objects.
TINY_V2_CONFIG = SamConfig(
    encoder_embed_dim=192, encoder_depth=6, encoder_num_heads=6, encoder_global_attn_indexes=(2, 5),
    img_size=256, patch_size=16, window_size=8, prompt_embed_dim=96, mask_in_chans=16,
    decoder_depth=2, decoder_mlp_dim=384, decoder_num_heads=4, iou_head_depth=3, iou_head_hidden_dim=96,
)
register_backbone(BackboneSpec(
    name="tiny_v2",
    config=TINY_V2_CONFIG,
    checkpoint=None,
    description="the v2 tiny SAM's architecture (img 256, ViT 192x6, prompt dim 96), random init only: benchmarks",
    tags=("embedded", "test"),
))
#: The embedded world's default backbone (v3): input 256, a 16x16 embedding grid, 64x64 low-res masks; the same
#: prompt encoder and mask decoder as v2, with a hybrid encoder: convolutional stages (32/64/128/192 channels at
#: strides 4/8/16/16) then two global-attention blocks at the embedding grid. In 25-minute pilots at equal wall time
#: it reached 0.50 tight-box / 0.40 point val mIoU against 0.46 / 0.39 for a purely convolutional encoder (the v2 ViT
#: had reached 0.45 / 0.32 in the 15-minute pilot of shared/research/tiny-sam-pilot.md). HQ-SAM's early feature is
#: the first stride-16 stage (128 channels). Trained by `bash scripts/train_tiny_sam_v3.sh` (20,000 steps of 8 images
#: on the synthetic generic pool; see the script for the configuration).
TINY_CONFIG = SamConfig(
    encoder_embed_dim=192, encoder_depth=2, encoder_num_heads=6, encoder_global_attn_indexes=(),
    img_size=256, patch_size=16, window_size=0, prompt_embed_dim=96, mask_in_chans=16,
    decoder_depth=2, decoder_mlp_dim=384, decoder_num_heads=4, iou_head_depth=3, iou_head_hidden_dim=96,
    encoder="conv", conv_stem_chans=24, conv_stage_chans=(32, 64, 128, 192), conv_stage_depths=(1, 1, 2, 1),
    conv_attn_depth=2,
)
TINY_V3_CONFIG = TINY_CONFIG
register_backbone(BackboneSpec(
    name="tiny",
    config=TINY_CONFIG,
    checkpoint=CheckpointSpec(
        filename="tiny_sam_v3.pt", url=None, license="Apache-2.0",
        sha256="4c155a690f05b2b1604118278df772bc150c85319e2630a41f3e8865a7256407", size_bytes=5_284_757,
        paper="sam-repro embedded world (architecture of " + SAM_PAPER + ", hybrid encoder)",
        shipped=SHIPPED_WEIGHTS_DIR / "tiny_sam_v3.pt",
        regenerate="bash scripts/train_tiny_sam_v3.sh",
    ),
    description="tiny SAM v3 (img 256, conv 32/64/128/192 + 2 global-attention blocks, prompt dim 96, float16 file) "
                "trained on the synthetic generic pool; default backbone of every notebook",
    tags=("embedded", "default"),
))
#: The v3 architecture without weights: what `scripts/train_tiny_sam_v3.sh` trains (random init).
register_backbone(BackboneSpec(
    name="tiny_v3",
    config=TINY_V3_CONFIG,
    checkpoint=None,
    description="the tiny SAM v3 architecture, random init: the training script's starting point",
    tags=("embedded", "training"),
))
#: A smaller configuration with no weights, for fast unit tests and benchmarks with random init.
register_backbone(BackboneSpec(
    name="micro",
    config=SamConfig(
        encoder_embed_dim=64, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=(1,),
        img_size=128, patch_size=16, window_size=4, prompt_embed_dim=32, mask_in_chans=8,
        decoder_depth=2, decoder_mlp_dim=64, decoder_num_heads=2, iou_head_depth=3, iou_head_hidden_dim=32,
    ),
    checkpoint=None,
    description="micro SAM (img 128, ViT 64x2, prompt dim 32), random init only: tests and benchmarks",
    tags=("embedded", "test"),
))
