"""Pi-SAM's mask decoder: HQ-SAM's decoder plus a high-resolution head and an optional Precise Interactor.

See :mod:`sam_repro.methods.pisam` for the method. Shapes (C = ``prompt_embed_dim``: 256 official, 96 tiny;
d = C / 8 the mask feature's channels: 32 official, 12 tiny; g = embedding grid; G = 4g the low-res grid:
256 official, 64 tiny; S = 4G = 16g the input resolution: 1024 official, 256 tiny; B = prompts):

1. SAM's two-way transformer with SAM's tokens and HQ-SAM's ``hf_token`` (as :class:`MaskDecoderHQ`); the
   HQ mask feature ``embedding_maskfeature(upscaled) + hq_features`` goes through ``embedding_act``
   (LayerNorm2d -> Conv3x3 d -> d -> GELU, official): F (B, d, G, G). ``hyper_in = hf_mlp(HQ token)``
   (B, 1, d); the **low-res logits** are ``hyper_in . F`` (B, 1, G, G). Only the HQ token's mask is used
   (SAM's four mask tokens still run, unchanged, and SAM's IoU head gives the predicted IoU: Pi-SAM has none);
2. Object Embedder ``mask_aspp`` (:mod:`.embedder`): (F, low-res logits) -> F' (B, d, G, G);
3. optional Precise Interactor ``interact_2`` (:mod:`.interactor`), only when corrections are given:
   F' -> F'' (without corrections it does not run: the output is the box prediction bit for bit);
4. HR-Conv head: ``output_upscaling_2`` ConvT(d -> h1, 2, 2) -> LayerNorm2d -> GELU -> ConvT(h1 -> h2, 2, 2)
   (B, h2, S, S), plus the RGB embedding ``rgb_embed`` Conv1x1(3 -> h2) -> Conv3x3(h2 -> h2) on the normalised,
   padded input image (N, 3, S, S); then ``out_act`` LayerNorm2d -> Conv3x3 -> LayerNorm2d -> GELU ->
   Conv3x3(h2 -> 1): the **HR logits** (B, 1, S, S).

Widths. d is fixed by HQ-SAM's feature (C/8). The HR head's widths (h1, h2) are official (16, 8) for d = 32;
the default :func:`default_hr_dims` halves d like the official head but never goes below 8 (the official
HR width), because the HR head carries image detail from the RGB embedding whose needs do not shrink with
the SAM: tiny (d = 12) gets (8, 8), the micro test backbone (d = 4) too. Both are parameters.

Trainable sets (the official code's flags leave nothing trainable as shipped; named here, tested):

* stage ``"hr"`` (:data:`HR_STAGE_MODULES`): HQ-SAM's parts (``hf_token``, ``hf_mlp``, ``compress_vit_feat``,
  ``embedding_encoder``, ``embedding_maskfeature``, freshly initialised, as the official decoder builds them
  after loading SAM's plain decoder) and Pi-SAM's ``embedding_act``, ``mask_aspp``, ``output_upscaling_2``,
  ``out_act`` and ``rgb_embed`` (the official RGB embedding sits in the no-grad encoder and is never trained
  or saved; here it is a decoder part, trained in stage 1 and saved with the Pi file);
* stage ``"interactor"`` (:data:`INTERACTOR_MODULES`): ``interact_2`` alone, everything else frozen.

Parameter names are the official ``MaskDecoderAE``'s, plus ``rgb_embed`` (official: ``rgb_embed`` of the encoder).

Components (Table 5's ablation, :class:`PiComponents`): the RGB embedding, the HR-Conv head and the Object Embedder
can each be left out. The paper does not say what replaces a missing HR-Conv head; here its two transposed convs
become a bilinear x4 upsampling followed by a 1x1 conv d -> h2 (the RGB embedding and ``out_act`` then act at input
resolution as in the full head). Without the RGB embedding nothing is added; without the Object Embedder the feature
F goes on unchanged (the low-res logits are not fed back). A decoder without a component has no parameters for it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from segment_anything.modeling import MaskDecoder
from segment_anything.modeling.common import LayerNorm2d
from torch import nn

from sam_repro.methods.hqsam.decoder import HQ_MODULES, MaskDecoderHQ
from sam_repro.methods.pisam.embedder import ObjectEmbedder
from sam_repro.methods.pisam.interactor import MAX_CORRECTIONS, Corrections, PreciseInteractor

PI_HR_MODULES = ("embedding_act", "mask_aspp", "output_upscaling_2", "rgb_embed", "out_act")
"""Pi-SAM's own modules of the high-resolution decoder (trained in stage 1 with the HQ parts)."""
INTERACTOR_MODULES = ("interact_2",)
"""The Precise Interactor (trained alone in stage 2)."""
HR_STAGE_MODULES = HQ_MODULES + PI_HR_MODULES
"""Everything stage 1 trains: HQ-SAM's parts and Pi-SAM's HR decoder."""
PI_MODULES = HR_STAGE_MODULES + INTERACTOR_MODULES
"""Every module a Pi file holds (SAM's parameters stay frozen and are not repeated)."""
STAGES = {"hr": HR_STAGE_MODULES, "interactor": INTERACTOR_MODULES}
"""Training stage -> the decoder modules it trains."""


@dataclass(frozen=True)
class PiComponents:
    """Which parts of Pi-SAM's high-resolution decoder exist (Table 5; all True is Pi-SAM)."""

    rgb_embedding: bool = True
    hr_conv_head: bool = True
    object_embedder: bool = True

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)


VARIANTS: dict[str, PiComponents] = {
    "none": PiComponents(False, False, False),
    "rgb": PiComponents(True, False, False),
    "rgb_hr": PiComponents(True, True, False),
    "full": PiComponents(True, True, True),
}
"""Table 5's rows in the paper's order: variant name -> components."""


def default_hr_dims(feature_dim: int) -> tuple[int, int]:
    """HR-head widths (h1, h2) for a d-channel mask feature: official (16, 8) for d = 32; never below 8."""
    return max(feature_dim // 2, 8), 8


def is_pi_parameter(name: str, modules: Sequence[str] = PI_MODULES) -> bool:
    """Whether a state-dict name (of a model or of its decoder) belongs to one of ``modules``."""
    return any(part in modules for part in name.split("."))


@dataclass(frozen=True)
class PiDecoderOutput:
    """Everything one Pi-SAM decode gives, for B prompts.

    Attributes:
        low_res: (B, 1, G, G) logits of the HQ token on the low-res grid.
        hr: (B, 1, S, S) logits of the HR head at the (padded) input resolution.
        iou: (B, 1) SAM's IoU head (single-output token, or the best multimask token when asked).
    """

    low_res: torch.Tensor
    hr: torch.Tensor
    iou: torch.Tensor


class MaskDecoderPi(MaskDecoderHQ):
    """HQ-SAM's decoder plus Pi-SAM's HR decoder and Precise Interactor (see the module docstring).

    Args:
        transformer_dim, transformer, vit_dim, num_multimask_outputs, activation, iou_head_*: as
            :class:`MaskDecoderHQ`.
        hr_dims: (h1, h2) widths of the HR head; None for :func:`default_hr_dims`.
        interactor_depth: two-way blocks of the interactor (official 2).
        max_points: most corrective clicks per prompt (official 10).

    Attributes:
        interactor_trained: whether ``interact_2`` holds trained weights (set by the loader from the Pi file
            and by training); the segmenter refuses corrections otherwise (an untrained interactor is the
            identity, so clicks would silently change nothing).
    """

    def __init__(self, *, transformer_dim: int, transformer: nn.Module, vit_dim: int,
                 num_multimask_outputs: int = 3, activation: type[nn.Module] = nn.GELU, iou_head_depth: int = 3,
                 iou_head_hidden_dim: int = 256, hr_dims: Sequence[int] | None = None, interactor_depth: int = 2,
                 max_points: int = MAX_CORRECTIONS, components: PiComponents = PiComponents()) -> None:
        super().__init__(transformer_dim=transformer_dim, transformer=transformer, vit_dim=vit_dim,
                         num_multimask_outputs=num_multimask_outputs, activation=activation,
                         iou_head_depth=iou_head_depth, iou_head_hidden_dim=iou_head_hidden_dim)
        d = transformer_dim // 8
        h1, h2 = tuple(hr_dims) if hr_dims is not None else default_hr_dims(d)
        if h1 < 1 or h2 < 1:
            raise ValueError(f"hr_dims must be two positive widths, got {hr_dims}")
        self.feature_dim, self.hr_dims = d, (int(h1), int(h2))
        self.components = components
        self.embedding_act = nn.Sequential(LayerNorm2d(d), nn.Conv2d(d, d, 3, 1, 1), nn.GELU())
        self.mask_aspp = ObjectEmbedder(d) if components.object_embedder else None
        if components.hr_conv_head:
            self.output_upscaling_2 = nn.Sequential(
                nn.ConvTranspose2d(d, h1, kernel_size=2, stride=2), LayerNorm2d(h1), nn.GELU(),
                nn.ConvTranspose2d(h1, h2, kernel_size=2, stride=2),
            )
        else:  # Table 5 without the HR-Conv head: fixed upsampling, a 1x1 conv to the head's width
            self.output_upscaling_2 = nn.Sequential(
                nn.Upsample(scale_factor=4, mode="bilinear", align_corners=False), nn.Conv2d(d, h2, kernel_size=1),
            )
        self.rgb_embed = (nn.Sequential(nn.Conv2d(3, h2, kernel_size=1), nn.Conv2d(h2, h2, kernel_size=3, padding=1))
                          if components.rgb_embedding else None)
        self.out_act = nn.Sequential(
            LayerNorm2d(h2), nn.Conv2d(h2, h2, 3, 1, 1), LayerNorm2d(h2), nn.GELU(), nn.Conv2d(h2, 1, 3, 1, 1),
        )
        self.interact_2 = PreciseInteractor(d, depth=interactor_depth, max_points=max_points)
        self.interactor_trained = False

    # readable aliases of the official names
    @property
    def object_embedder(self) -> ObjectEmbedder | None:
        return self.mask_aspp

    @property
    def interactor(self) -> PreciseInteractor:
        return self.interact_2

    @classmethod
    def from_sam(cls, decoder: MaskDecoder, vit_dim: int, **options) -> "MaskDecoderPi":
        """A Pi decoder around a SAM decoder: the same transformer module, a copy of every other SAM weight,
        freshly initialised HQ and Pi parts. ``options``: ``hr_dims``, ``interactor_depth``, ``max_points``,
        ``components``."""
        pi = cls(
            transformer_dim=decoder.transformer_dim, transformer=decoder.transformer, vit_dim=vit_dim,
            num_multimask_outputs=decoder.num_multimask_outputs, activation=type(decoder.output_upscaling[2]),
            iou_head_depth=decoder.iou_prediction_head.num_layers,
            iou_head_hidden_dim=decoder.iou_prediction_head.layers[0].out_features, **options,
        )
        missing, unexpected = pi.load_state_dict(decoder.state_dict(), strict=False)
        if unexpected or any(not is_pi_parameter(name) for name in missing):
            raise ValueError(f"decoder does not fit a Pi decoder: missing {missing}, unexpected {unexpected}")
        return pi.train(decoder.training)

    # -- computation ------------------------------------------------------------------------------------
    def mask_features(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor,
                      sparse_prompt_embeddings: torch.Tensor, dense_prompt_embeddings: torch.Tensor,
                      early_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Step 1 of the module docstring.

        Args:
            image_embeddings: (1 or B, C, g, g): one image for B prompts (repeated, as SAM does), or one
                image per prompt (training batches).
            image_pe: (1, C, g, g); sparse_prompt_embeddings (B, T, C); dense_prompt_embeddings (B, C, g, g).
            early_features: (1 or B, g, g, D), matching ``image_embeddings``.

        Returns:
            F (B, d, G, G), hyper_in (B, 1, d) and SAM's IoU predictions (B, 4).
        """
        b = sparse_prompt_embeddings.shape[0]
        n = image_embeddings.shape[0]
        if n not in (1, b):
            raise ValueError(f"image_embeddings must hold 1 image or one per prompt ({b}), got {n}")
        hq = self.hq_features(image_embeddings, early_features)  # (n, d, G, G), broadcast over prompts
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight, self.hf_token.weight], dim=0)
        tokens = torch.cat((output_tokens.unsqueeze(0).expand(b, -1, -1), sparse_prompt_embeddings), dim=1)
        src = (image_embeddings.expand(b, -1, -1, -1) if n == 1 else image_embeddings) + dense_prompt_embeddings
        pos_src = image_pe.expand(b, -1, -1, -1)
        _, c, h, w = src.shape
        hs, src = self.transformer(src, pos_src, tokens)
        upscaled = self.output_upscaling(src.transpose(1, 2).reshape(b, c, h, w))
        features = self.embedding_act(self.embedding_maskfeature(upscaled) + hq)
        hyper_in = self.hf_mlp(hs[:, 1 + self.num_sam_mask_tokens, :]).unsqueeze(1)
        return features, hyper_in, self.iou_prediction_head(hs[:, 0, :])

    @staticmethod
    def low_res_logits(features: torch.Tensor, hyper_in: torch.Tensor) -> torch.Tensor:
        """(B, d, G, G) . (B, 1, d) -> (B, 1, G, G)."""
        b, d, h, w = features.shape
        return (hyper_in @ features.reshape(b, d, h * w)).reshape(b, 1, h, w)

    def embed_object(self, features: torch.Tensor, low_res: torch.Tensor) -> torch.Tensor:
        """Step 2: the Object Embedder on (B, d, G, G) features and their (B, 1, G, G) low-res logits; the features
        unchanged in a variant without it."""
        return features if self.mask_aspp is None else self.mask_aspp(features, low_res)

    def hr_logits(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """HR-Conv head: (B, d, G, G) feature and (1 or B, 3, S, S) normalised padded image -> (B, 1, S, S)."""
        large = self.output_upscaling_2(features)
        if image.ndim != 4 or image.shape[1] != 3 or tuple(image.shape[-2:]) != tuple(large.shape[-2:]):
            raise ValueError(f"image must be the (N, 3, {large.shape[-2]}, {large.shape[-1]}) normalised, padded "
                             f"input (SamPi.encode returns it), got shape {tuple(image.shape)}")
        if image.shape[0] not in (1, large.shape[0]):
            raise ValueError(f"image must hold 1 image or one per prompt ({large.shape[0]}), got {image.shape[0]}")
        return self.out_act(large if self.rgb_embed is None else large + self.rgb_embed(image))

    def predict_pi(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor,
                   sparse_prompt_embeddings: torch.Tensor, dense_prompt_embeddings: torch.Tensor,
                   early_features: torch.Tensor, image: torch.Tensor, corrections: Corrections | None = None,
                   multimask_output: bool = False) -> PiDecoderOutput:
        """Low-res and HR logits and the predicted IoU for B prompts (shapes as :meth:`mask_features`,
        ``image`` as :meth:`hr_logits`). ``corrections`` (B prompts, <= ``max_points`` clicks) run the
        interactor; None skips it (the box prediction, bit for bit)."""
        features, hyper_in, iou_pred = self.mask_features(image_embeddings, image_pe, sparse_prompt_embeddings,
                                                          dense_prompt_embeddings, early_features)
        low_res = self.low_res_logits(features, hyper_in)
        features = self.embed_object(features, low_res)
        if corrections is not None:
            features = self.interact_2(features, hyper_in, corrections)
        iou = iou_pred[:, 1:4].max(dim=1, keepdim=True).values if multimask_output else iou_pred[:, 0:1]
        return PiDecoderOutput(low_res=low_res, hr=self.hr_logits(features, image), iou=iou)

    def forward(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor, sparse_prompt_embeddings: torch.Tensor,
                dense_prompt_embeddings: torch.Tensor, multimask_output: bool, hq_token_only: bool | None = None,
                interm_embeddings: Sequence[torch.Tensor] | None = None, early_features: torch.Tensor | None = None,
                image: torch.Tensor | None = None,
                corrections: Corrections | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """SAM's decoder contract (what the engine and ``SamHQ.forward`` call): the **low-res** logits
        (B, 1, G, G) and IoU (B, 1). :meth:`predict_pi` gives the HR logits too.

        ``early_features`` / ``interm_embeddings`` as :class:`MaskDecoderHQ`; ``image`` the normalised padded
        input (accepted and checked, unused for the low-res output); ``hq_token_only`` is accepted for
        ``SamHQ.forward`` and ignored (Pi-SAM always uses the HQ token alone).
        """
        if (early_features is None) == (interm_embeddings is None):
            raise ValueError("MaskDecoderPi needs the early feature: pass early_features=(1, g, g, D) (or the "
                             "official interm_embeddings), exactly one of them; SamPi.encode computes it")
        early = early_features if early_features is not None else interm_embeddings[0]
        features, hyper_in, iou_pred = self.mask_features(image_embeddings, image_pe, sparse_prompt_embeddings,
                                                          dense_prompt_embeddings, early)
        iou = iou_pred[:, 1:4].max(dim=1, keepdim=True).values if multimask_output else iou_pred[:, 0:1]
        return self.low_res_logits(features, hyper_in), iou


def set_trainable_stage(model: nn.Module, stage: str) -> list[nn.Parameter]:
    """Freeze every parameter of ``model`` (a ``SamPi`` or its decoder) except the stage's set
    (:data:`STAGES`); return the trainable parameters in order.

    Raises:
        ValueError: an unknown stage, or a model without Pi parts.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    trainable = []
    for name, parameter in model.named_parameters():
        train = is_pi_parameter(name, STAGES[stage])
        parameter.requires_grad_(train)
        if train:
            trainable.append(parameter)
    if not trainable:
        raise ValueError("the model has no Pi-SAM parameters (is it built with build_pi_sam?)")
    return trainable


def stage_parameter_names(model: nn.Module, stage: str) -> list[str]:
    """The names of the parameters stage ``stage`` trains, in order."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    return [name for name, _ in model.named_parameters() if is_pi_parameter(name, STAGES[stage])]
