"""The tuning modules and how they attach to a ``segment_anything`` SAM (see the package docstring)."""
from __future__ import annotations

import torch
from segment_anything.modeling.common import MLPBlock
from torch import Tensor, nn

KINDS = ("lora", "adapter", "prompt")


class ParallelAdapter(nn.Module):
    """AdaptFormer's adapter beside an FFN: ``ffn(x) + scale * up(relu(down(x)))`` (up zero-initialised)."""

    def __init__(self, ffn: nn.Module, dim: int, bottleneck: int, scale: float = 0.1):
        super().__init__()
        self.ffn = ffn
        self.adapter_down, self.adapter_up = nn.Linear(dim, bottleneck), nn.Linear(bottleneck, dim)
        self.scale = scale
        nn.init.zeros_(self.adapter_up.weight)
        nn.init.zeros_(self.adapter_up.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.ffn(x) + self.scale * self.adapter_up(torch.relu(self.adapter_down(x)))


class PromptTokens(nn.Module):
    """Learned tokens appended to the sparse prompt embeddings of every prompt: wraps the prompt encoder."""

    def __init__(self, prompt_encoder: nn.Module, num_tokens: int):
        super().__init__()
        self.prompt_encoder = prompt_encoder
        self.learned_tokens = nn.Parameter(torch.zeros(num_tokens, prompt_encoder.embed_dim))

    def forward(self, points=None, boxes=None, masks=None) -> tuple[Tensor, Tensor]:
        sparse, dense = self.prompt_encoder(points=points, boxes=boxes, masks=masks)
        extra = self.learned_tokens[None].expand(sparse.shape[0], -1, -1).to(sparse.dtype)
        return torch.cat([sparse, extra], dim=1), dense

    def __getattr__(self, name: str):  # the wrapped encoder's attributes (get_dense_pe, mask_input_size...)
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["prompt_encoder"], name)


def _ffns(sam: nn.Module) -> list[tuple[nn.Module, str, MLPBlock]]:
    """(parent, attribute, FFN) of every feed-forward block of the image encoder."""
    found = []
    for name, module in sam.image_encoder.named_modules():
        for child_name, child in module.named_children():
            if isinstance(child, MLPBlock):
                found.append((module, child_name, child))
    if not found:
        raise ValueError("the image encoder has no feed-forward (MLPBlock) layers to tune")
    return found


def attach(sam: nn.Module, kind: str, *, rank: int = 4, bottleneck: int | None = None,
           num_tokens: int = 4) -> nn.Module:
    """Add the tuning modules of ``kind`` to ``sam`` in place (SAM's own weights kept) and return it.

    Raises:
        ValueError: an unknown kind, or a model that already carries tuning modules.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if any(is_tuning_parameter(n) for n, _ in sam.named_parameters()):
        raise ValueError("this SAM already carries tuning modules")
    if kind == "prompt":
        sam.prompt_encoder = PromptTokens(sam.prompt_encoder, num_tokens)
        return sam
    ffns = _ffns(sam)
    if kind == "lora":
        from sam_repro._compat import ensure_torchvision

        ensure_torchvision()  # peft imports transformers, which imports torchvision: its CPU fix must come first
        from peft import LoraConfig, inject_adapter_in_model

        names = {id(ffn): name for name, ffn in sam.named_modules()}
        targets = [f"{names[id(ffn)]}.{layer}" for _, _, ffn in ffns for layer in ("lin1", "lin2")]
        inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, bias="none",
                                           target_modules=targets), sam)
        return sam
    for parent, attribute, ffn in ffns:
        dim = ffn.lin1.in_features
        size = bottleneck or max(8, round(64 * dim / 768))
        setattr(parent, attribute, ParallelAdapter(ffn, dim, size))
    return sam


def is_tuning_parameter(name: str) -> bool:
    """Whether a parameter belongs to a tuning module (LoRA matrices, adapters, prompt tokens)."""
    leaf = name.rsplit(".", 2)
    return ".lora_A." in name or ".lora_B." in name or name.endswith(".learned_tokens") or (
        len(leaf) == 3 and leaf[1] in ("adapter_down", "adapter_up"))


def prediction_layer_names(sam: nn.Module) -> list[str]:
    """SAM's "prediction layer" (our reading): the mask decoder's hypernetwork MLPs and IoU head."""
    return [n for n, _ in sam.named_parameters()
            if n.startswith(("mask_decoder.output_hypernetworks_mlps.", "mask_decoder.iou_prediction_head."))]


def is_trained_parameter(name: str, kind: str, prediction_names: set[str]) -> bool:
    """What ``kind`` trains: its tuning modules, plus the prediction layer for LoRA and adapters."""
    return is_tuning_parameter(name) or (kind != "prompt" and name in prediction_names)
