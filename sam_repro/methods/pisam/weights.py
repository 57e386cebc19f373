"""Pi-SAM weights: the embedded world's *Pi-only* files, and a key map for the official decoder state dicts.

A Pi-only file (:func:`save_pi_checkpoint`; ``pi_sam_tiny.pt``, written by ``sam-repro train pisam``) holds
exactly the decoder's HQ and Pi parts (:data:`~sam_repro.methods.pisam.decoder.PI_MODULES`: RGB embedding
included), and in its metadata the sha256 of the SAM weights they were trained on (``base_sha256``), the
HR-head widths (``hr_dims``) and whether the interactor was trained (``interactor_trained``). It loads on top
of the backbone's SAM weights (or ``base_checkpoint``) only when their digest matches.

Official checkpoints (``lmzpai/pi-sam``: ``{"model_state_dict": MaskDecoderAE.state_dict()}``, written by
``Runner.save``) hold the whole decoder without a prefix: SAM's own decoder (loaded from SAM and frozen), the HQ
parts (``hf_token`` ... ``embedding_maskfeature``, trained by Pi-SAM), the Pi parts and the interactor, plus the
interactor's fixed buffers (``interact_2.img_pe``, a 256-grid PE, and ``interact_2.bnd_op.laplacian_kernel``, the
click simulator's kernel), and **no RGB embedding** (it lives in their encoder, random and unsaved).
:func:`map_official_decoder_state` maps such a dict onto this model's keys; :func:`official_rgb_embedding` redraws
the RGB embedding as the official code draws it; :func:`load_pi_sam_model` recognises an official file and puts
the three together on top of SAM's own weights.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sam_repro.backbones.checkpoints import (
    CheckpointError, WeightsNotFoundError, _load, load_strict, read_state_dict, sha256_file, verify_sha256,
)
from sam_repro.backbones.registry import get_backbone
from sam_repro.backbones.specs import BackboneSpec, SamConfig
from sam_repro.backbones.weights import (
    PI_TRAIN_COMMAND, get_weights, resolve_method_weights, resolve_sam_weights,
)
from sam_repro.device import resolve_device
from sam_repro.methods.pisam.decoder import VARIANTS, PiComponents, is_pi_parameter
from sam_repro.methods.pisam.model import SamPi, build_pi_sam

PI_ONLY_FORMAT = "sam-repro/pi-only/1"
"""``meta["format"]`` of a Pi-only checkpoint."""
OFFICIAL_SEED = 42
"""``--seed`` default of the official ``scripts/main.py``; each process seeds ``OFFICIAL_SEED + rank``
(:func:`official_rgb_embedding`)."""
OFFICIAL_RGB_WIDTH = 8
"""Output channels of the official RGB embedding (``SamEncoder.rgb_embed``: Conv1x1 3 -> 8, Conv3x3 8 -> 8)."""


def pi_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The HQ and Pi entries of ``model``'s state dict (parameters and the interactor's PE matrix),
    detached copies on the CPU."""
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items() if is_pi_parameter(name)}


def save_pi_checkpoint(model: SamPi, path: str | os.PathLike, *, base_sha256: str, backbone: str,
                       meta: dict[str, Any] | None = None, dtype: torch.dtype | None = None) -> str:
    """Write the Pi parts of ``model`` alone, atomically, with ``meta`` plus ``format``, ``backbone``,
    ``base_sha256``, ``hr_dims``, ``components`` (Table 5's switches) and ``interactor_trained`` (the decoder's flag);
    return the file's sha256."""
    from sam_repro.backbones.checkpoints import save_checkpoint

    if not isinstance(base_sha256, str) or len(base_sha256) != 64:
        raise ValueError(f"base_sha256 must be the 64-hex-digit sha256 of the SAM weights, got {base_sha256!r}")
    decoder = model.mask_decoder
    info = {**dict(meta or {}), "format": PI_ONLY_FORMAT, "backbone": backbone, "base_sha256": base_sha256.lower(),
            "hr_dims": list(decoder.hr_dims), "components": decoder.components.as_dict(),
            "interactor_trained": bool(decoder.interactor_trained)}
    return save_checkpoint(pi_state_dict(model), path, meta=info, dtype=dtype)


def load_pi_only_state(model: SamPi, state: Mapping[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load a Pi-only state dict into the Pi parts of ``model``; SAM's parts keep their values.

    Raises:
        CheckpointError: the keys are not exactly the model's Pi entries (named), or a shape differs.
    """
    current = model.state_dict()
    expected = [name for name in current if is_pi_parameter(name)]
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"missing Pi keys ({len(missing)}): {', '.join(missing[:12])}")
        if unexpected:
            problems.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:12])}")
        raise CheckpointError(f"Pi-only checkpoint {source} does not hold exactly the Pi-SAM parts of the model: "
                              + "; ".join(problems))
    sam_state = {name: value for name, value in current.items() if not is_pi_parameter(name)}
    load_strict(model, {**sam_state, **state}, source)


def load_sam_part(model: SamPi, state: Mapping[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load a plain SAM state dict into the SAM parts of ``model`` strictly; the Pi parts keep their values."""
    present = sorted(name for name in state if is_pi_parameter(name))
    if present:
        raise CheckpointError(f"checkpoint {source} holds HQ/Pi-SAM parameters ({present[0]}, ...), not plain SAM "
                              "weights")
    pi_state = {name: value for name, value in model.state_dict().items() if is_pi_parameter(name)}
    load_strict(model, {**state, **pi_state}, source)



SHIPPED_ABLATIONS: dict[str, str] = {
    "none": "8a20fa4f0ae4b04a0541017bd295b83dc082d47570865fc58a9333980dd19d62",
    "rgb": "d3a98980f25fba148f029aa83bb5ff45bb3de5f6e68999c136f8ffb93311208f",
    "rgb_hr": "119737ead04b8dd8a7711395cdc3303b5e32cd8b3976492f7f53dbec205ad526",
    "full": "aacd0e3140b88b5d57307786ef82a3f57a284b01b309e82e41981e666e08de94",
}
"""sha256 of Table 5's decoder ablations shipped for the tiny SAM (``pi_sam_tiny_ablation_<variant>.pt`` beside the
registered ``pi_sam_tiny.pt``; every variant, ``full`` included, trained at one equal budget by
``scripts/train_pisam_ablations.sh``); a variant missing here is not shipped."""
ABLATIONS_COMMAND = "bash scripts/train_pisam_ablations.sh"


def shipped_ablation(variant: str) -> tuple[os.PathLike, str]:
    """The shipped file of a tiny-SAM Table 5 ablation and its sha256.

    Raises:
        KeyError: unknown variant (the known ones named).
        WeightsNotFoundError: the variant is not shipped (the message says how to train it).
    """
    if variant not in VARIANTS:
        raise KeyError(f"unknown Pi-SAM ablation {variant!r}; expected one of {', '.join(VARIANTS)}")
    path = get_weights("pisam", "tiny").checkpoint.shipped.with_name(f"pi_sam_tiny_ablation_{variant}.pt")
    if variant not in SHIPPED_ABLATIONS or not path.is_file():
        raise WeightsNotFoundError(f"the Pi-SAM ablation {variant!r} is not shipped for the tiny SAM; train it with "
                                   f"`{ABLATIONS_COMMAND}` and pass checkpoint=PATH")
    return path, SHIPPED_ABLATIONS[variant]


def resolve_pi_checkpoint(backbone: str, checkpoint: str | os.PathLike | None,
                          ablation: str | None = None) -> tuple[os.PathLike, str | None]:
    """The Pi file to load for ``backbone`` (the registry's ``pisam:BACKBONE``: a Pi-only file, or for vit_b/l/h the
    official decoder file, a manual download; a shipped tiny-SAM Table 5 ablation when ``ablation`` names one; or an
    explicit file) and the sha256 it must have (None: unchecked)."""
    if checkpoint is None and ablation is not None:
        if backbone != "tiny":
            raise WeightsNotFoundError(f"Pi-SAM ablations are shipped for the tiny SAM only, not {backbone!r}; pass "
                                       "checkpoint=PATH")
        return shipped_ablation(ablation)
    return resolve_method_weights(
        "pisam", backbone, checkpoint, label="Pi-SAM",
        alternatives="pass checkpoint=PATH (a Pi-only file or an official Pi-SAM decoder file), random_init_pi=True "
                     "(the backbone's SAM weights with freshly initialised Pi-SAM parts) or random_init=True")


def load_pi_sam_model(backbone: str | BackboneSpec, checkpoint: str | os.PathLike | None = None,
                      device: str | torch.device = "auto", random_init: bool = False, random_init_pi: bool = False,
                      seed: int = 0, base_checkpoint: str | os.PathLike | None = None,
                      hr_dims: Sequence[int] | None = None,
                      components: PiComponents = PiComponents(),
                      ablation: str | None = None, rgb_seed: int = OFFICIAL_SEED,
                      rgb_rank: int = 0) -> tuple[SamPi, dict[str, Any]]:
    """Build a backbone's Pi-SAM and load its weights (strict, safe; verified where a digest is known).

    Two kinds of Pi file load: this package's Pi-only files (:func:`save_pi_checkpoint`) and the official
    ``lmzpai/pi-sam`` decoder files (``{"model_state_dict": MaskDecoderAE.state_dict()}``, recognised by their
    layout, :func:`is_official_decoder_state`). An official file is mapped strictly
    (:func:`map_official_decoder_state`: every key of this decoder but the RGB embedding must be there, nothing else
    may be) and gets the RGB embedding the official code would draw (:func:`official_rgb_embedding`, ``rgb_seed`` +
    ``rgb_rank``), since official files never hold it; the provenance says so (``rgb_embedding``). SAM's encoder and
    prompt encoder come from ``base_checkpoint`` (None: the backbone's registered SAM weights); the decoder, SAM's
    own parts included, comes from the file (``sam_decoder_matches_base`` records whether those equal the base's).

    Args:
        backbone: SAM registry name or spec.
        checkpoint: default mode: a Pi-only or official Pi-SAM file (None: the registry's ``pisam:BACKBONE``); with
            ``random_init_pi``: a plain SAM file (None: the backbone's registered SAM weights).
        random_init: no weights at all (seeded): tests, timing. The interactor counts as untrained.
        random_init_pi: SAM weights plus freshly initialised (``seed``) HQ and Pi parts: the start of training.
        base_checkpoint: for a Pi file, the SAM weights under it (None: the backbone's registered ones); for a
            Pi-only file their sha256 must be the one the file records.
        hr_dims: HR-head widths for ``random_init`` / ``random_init_pi`` (a Pi file brings its own).
        components: Table 5's decoder switches for ``random_init`` / ``random_init_pi`` (a Pi file brings its own).
        ablation: with ``checkpoint`` None, load the shipped Table 5 ablation of this name (:data:`SHIPPED_ABLATIONS`)
            instead of the registry's Pi-SAM.
        rgb_seed, rgb_rank: for an official file, the seed and process rank of the redrawn RGB embedding (defaults:
            the official evaluation's single process, ``--seed 42``, rank 0).

    Returns:
        (model in eval mode on the device, provenance: backbone, device, checkpoint, checkpoint_sha256,
        sha256_verified, weights, interactor_trained; for a Pi file also base_checkpoint(_sha256); for an official
        file also checkpoint_format ``"official"``, rgb_embedding, rgb_embedding_seed, rgb_embedding_rank and
        sam_decoder_matches_base).

    Raises:
        WeightsNotFoundError: no Pi file registered / present and none given.
        CheckpointError: a file that does not fit (keys named), a Pi-only file without its base digest, for another
            backbone, or on SAM weights other than the ones it was trained on.
    """
    if random_init and random_init_pi:
        raise ValueError("pass random_init (no weights) or random_init_pi (SAM weights + new Pi parts), not both")
    if ablation is not None:
        if ablation not in VARIANTS:
            raise KeyError(f"unknown Pi-SAM ablation {ablation!r}; expected one of {', '.join(VARIANTS)}")
        components = VARIANTS[ablation]  # a file brings its own (checked below against this name)
    if base_checkpoint is not None and (random_init or random_init_pi):
        raise ValueError("base_checkpoint is the SAM file under a Pi file; with random_init_pi pass the SAM file as "
                         "checkpoint, with random_init nothing is loaded")
    spec = get_backbone(backbone) if isinstance(backbone, str) else backbone
    target = resolve_device(device)
    provenance: dict[str, Any] = {"backbone": spec.name, "device": str(target)}
    pi_state = base_state = sam_state = official_state = rgb_embed = None
    meta: dict[str, Any] = {}
    if random_init:
        provenance.update(checkpoint=None, checkpoint_sha256=None, sha256_verified=False,
                          weights=f"random(seed={seed})")
    elif random_init_pi:
        path, expected = resolve_sam_weights(spec.name, checkpoint)
        sam_state = read_state_dict(path, expected_sha256=expected)
        provenance.update(checkpoint=str(path), checkpoint_sha256=expected or sha256_file(path),
                          sha256_verified=expected is not None,
                          weights=f"SAM checkpoint + random Pi-SAM parts (seed={seed})")
    else:
        path, expected = resolve_pi_checkpoint(spec.name, checkpoint, ablation)
        state, meta, official = _read_pi_file(path, expected)
        provenance.update(checkpoint=str(path), checkpoint_sha256=expected or sha256_file(path),
                          sha256_verified=expected is not None)
        if official:
            if ablation is not None and components != PiComponents():
                raise CheckpointError(f"{path} is an official Pi-SAM decoder (the full model), not the ablation "
                                      f"{ablation!r}")
            official_state = state
            hr_dims, components = _official_hr_dims(state, path), PiComponents()
            # drawn before SAM's weights are read: the encoder built for the draw is freed before they take memory
            rgb_embed = official_rgb_embedding(spec, seed=rgb_seed, rank=rgb_rank)
            base_path, base_expected = resolve_sam_weights(spec.name, base_checkpoint)
            base_state = read_state_dict(base_path, expected_sha256=base_expected)
            provenance.update(
                weights="SAM checkpoint + official Pi-SAM decoder (lmzpai/pi-sam; RGB embedding redrawn)",
                checkpoint_format="official", base_checkpoint=str(base_path),
                base_checkpoint_sha256=(base_expected or sha256_file(base_path)).lower(),
                base_sha256_verified=base_expected is not None)
        else:
            if meta.get("format") != PI_ONLY_FORMAT:
                raise CheckpointError(
                    f"{path} is not a Pi-only checkpoint (meta format {meta.get('format')!r}, expected "
                    f"{PI_ONLY_FORMAT!r}), and not an official Pi-SAM decoder file either; write one with "
                    f"save_pi_checkpoint / `{PI_TRAIN_COMMAND}`")
            pi_state = state
            provenance.update(weights="SAM checkpoint + Pi-only checkpoint")
            base_state, base_info = _read_base(spec, path, meta, base_checkpoint)
            provenance.update(base_info)
            hr_dims = meta.get("hr_dims") or hr_dims
            recorded = _components(meta.get("components"), path)
            if ablation is not None and recorded != components:
                raise CheckpointError(f"{path} holds the decoder components {recorded.as_dict()}, not those of the "
                                      f"ablation {ablation!r} ({components.as_dict()})")
            components = recorded
    model = build_pi_sam(spec.config, seed=seed, hr_dims=hr_dims, components=components)
    if sam_state is not None:
        load_sam_part(model, sam_state, provenance["checkpoint"])
    if pi_state is not None:
        load_sam_part(model, base_state, provenance["base_checkpoint"])
        load_pi_only_state(model, pi_state, provenance["checkpoint"])
        model.mask_decoder.interactor_trained = bool(meta.get("interactor_trained", False))
    if official_state is not None:
        load_sam_part(model, base_state, provenance["base_checkpoint"])
        base_state = None
        provenance.update(load_official_decoder(model, official_state, provenance["checkpoint"], spec,
                                                rgb_seed=rgb_seed, rgb_rank=rgb_rank, rgb_embed=rgb_embed))
    provenance["interactor_trained"] = model.mask_decoder.interactor_trained
    return model.to(target).eval(), provenance


def _read_pi_file(path: os.PathLike,
                  expected_sha256: str | None) -> tuple[dict[str, torch.Tensor], dict[str, Any], bool]:
    """One safe read of a Pi file: (state dict, metadata, whether it is an official decoder file). A Pi-only file is
    ``{"state_dict", "meta"}`` (:func:`save_pi_checkpoint`); an official one ``{"model_state_dict": ...}`` or a bare
    decoder state dict in the official layout."""
    if expected_sha256:
        verify_sha256(path, expected_sha256)
    content = _load(Path(path))
    meta: dict[str, Any] = {}
    if isinstance(content, Mapping) and isinstance(content.get("state_dict"), Mapping):
        meta, content = dict(content.get("meta") or {}), content["state_dict"]
        official = False
    else:
        official = isinstance(content, Mapping) and is_official_decoder_state(content)
        if official and isinstance(content.get("model_state_dict"), Mapping):
            content = content["model_state_dict"]
    if not isinstance(content, Mapping) or not all(
            isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in content.items()):
        raise CheckpointError(f"checkpoint {path} does not hold a state dict of tensors (got {type(content).__name__})")
    return dict(content), meta, official


def _components(recorded: Any, path: os.PathLike) -> PiComponents:
    """The decoder components a Pi file records (files written before the switches existed hold the full decoder)."""
    if recorded is None:
        return PiComponents()
    try:
        return PiComponents(**{key: bool(value) for key, value in dict(recorded).items()})
    except TypeError as error:
        raise CheckpointError(f"Pi-only checkpoint {path} records unknown decoder components {recorded!r}: "
                              f"{error}") from None


def _read_base(spec: BackboneSpec, path: os.PathLike, meta: dict[str, Any],
               base_checkpoint: str | os.PathLike | None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The SAM weights under the Pi-only file ``path``, checked against its recorded base digest."""
    recorded = meta.get("base_sha256")
    if not isinstance(recorded, str):
        raise CheckpointError(f"Pi-only checkpoint {path} records no base_sha256 (the SAM weights it was trained "
                              "on); write it with save_pi_checkpoint")
    if meta.get("backbone") not in (None, spec.name):
        raise CheckpointError(f"Pi-only checkpoint {path} was trained for backbone {meta['backbone']!r}, "
                              f"not {spec.name!r}")
    base_path, expected = resolve_sam_weights(spec.name, base_checkpoint)
    base_state = read_state_dict(base_path, expected_sha256=expected)
    actual = (expected or sha256_file(base_path)).lower()
    if actual != recorded.lower():
        raise CheckpointError(
            f"Pi-only checkpoint {path} was trained on top of SAM weights with sha256 {recorded}, but the SAM weights "
            f"loaded under it ({base_path}) have sha256 {actual}. Load it with the SAM weights it was trained on "
            f"(base_checkpoint=PATH), or retrain the Pi-SAM parts on these weights with `{PI_TRAIN_COMMAND}`")
    return base_state, {"base_checkpoint": str(base_path), "base_checkpoint_sha256": actual,
                        "base_sha256_verified": expected is not None}


# -- official checkpoints ----------------------------------------------------------------------------------
OFFICIAL_DROPPED = ("interact_2.img_pe", "interact_2.bnd_op.laplacian_kernel")
"""Official decoder entries with no counterpart here: the interactor's 256-grid image PE (recomputed from
``pe_layer``'s matrix for the map it is given) and the click simulator's fixed Laplacian kernel."""


def map_official_decoder_state(state: Mapping[str, torch.Tensor], rgb_embed: Mapping[str, torch.Tensor] | None = None,
                               prefix: str = "mask_decoder.") -> dict[str, torch.Tensor]:
    """An official Pi-SAM decoder state dict (``MaskDecoderAE.state_dict()``, optionally wrapped in
    ``{"model_state_dict": ...}``) under this package's keys.

    Names are the official ones, so the map is: add ``prefix``, drop :data:`OFFICIAL_DROPPED` (checked to be
    what the official code builds: the Laplacian is 8 at the centre and -1 around; the image PE is the
    ``pe_layer`` encoding of the 256 grid), and insert the RGB embedding, which official files lack.

    Args:
        rgb_embed: ``{"0.weight", "0.bias", "1.weight", "1.bias"}`` (the official encoder's ``rgb_embed.*`` with
            that prefix removed). None raises: the official RGB embedding is never saved (it is drawn at random
            per run), so the caller must decide what to use and say so; :func:`official_rgb_embedding` redraws the
            official one (:func:`load_official_decoder` / :func:`load_pi_sam_model` do, and record it).

    Raises:
        CheckpointError: no RGB embedding given, or a dropped buffer that is not what the official code builds.
    """
    if "model_state_dict" in state and isinstance(state["model_state_dict"], Mapping):
        state = state["model_state_dict"]
    state = dict(state)
    kernel = state.pop("interact_2.bnd_op.laplacian_kernel", None)
    if kernel is not None:
        expected = -torch.ones(1, 1, 3, 3)
        expected[0, 0, 1, 1] = 8.0
        if tuple(kernel.shape) != (1, 1, 3, 3) or not torch.equal(kernel.float().cpu(), expected):
            raise CheckpointError("official interact_2.bnd_op.laplacian_kernel is not the 3x3 Laplacian (8 / -1)")
    image_pe = state.pop("interact_2.img_pe", None)
    matrix = state.get("interact_2.pe_layer.positional_encoding_gaussian_matrix")
    if image_pe is not None and matrix is not None:
        from segment_anything.modeling.prompt_encoder import PositionEmbeddingRandom

        layer = PositionEmbeddingRandom(matrix.shape[1])
        layer.positional_encoding_gaussian_matrix.copy_(matrix.float())
        size = tuple(image_pe.shape[-2:])
        if not torch.allclose(layer(size), image_pe.float().cpu(), atol=1e-4):
            raise CheckpointError("official interact_2.img_pe is not the pe_layer encoding of its grid")
    if rgb_embed is None:
        raise CheckpointError("official Pi-SAM files hold no RGB embedding (it lives in their encoder, drawn at "
                              "random and never saved): pass rgb_embed={'0.weight', '0.bias', '1.weight', "
                              "'1.bias'}, e.g. official_rgb_embedding(backbone), the official code's draw")
    mapped = {f"{prefix}{name}": value for name, value in state.items()}
    mapped.update({f"{prefix}rgb_embed.{name}": value for name, value in rgb_embed.items()})
    return mapped


def official_rgb_embedding(backbone: str | BackboneSpec | SamConfig = "vit_h", *, seed: int = OFFICIAL_SEED,
                           rank: int = 0) -> dict[str, torch.Tensor]:
    """The RGB embedding (``{"0.weight", "0.bias", "1.weight", "1.bias"}``: Conv1x1 3 -> 8, Conv3x3 8 -> 8) that
    the official Pi-SAM code draws in process ``rank`` seeded with ``seed``; official files never hold it.

    What the official code (``lmzpai/pi-sam`` at 87e3d16) does:

    * ``scripts/main.py`` 24, 56, 64-67: ``--seed`` defaults to 42; every process seeds
      ``torch.manual_seed(args.seed + rank)`` (numpy and ``random`` too), then builds the ``Runner`` (69);
    * ``segment_anything/runner.py`` 20: the first thing the Runner builds is the SAM encoder,
      ``sam_model_registry[model_type](checkpoint=sam_ckpt)``; the decoder follows (25);
    * ``segment_anything/build_sam_encoder.py`` 68-92: the arguments of ``SamEncoder(...)`` are built first, SAM's
      ``ImageEncoderViT`` (69-82) then ``PromptEncoder`` (83-88), with the standard SAM arguments; then
      ``SamEncoder.__init__`` runs with ``add_rgb=True`` (89);
    * ``segment_anything/modeling/__init__.py`` 11 imports ``SamEncoder`` from ``sam_encoder_box.py`` (the
      ``sam_encoder.py`` import is commented out; both build the embedding alike), whose ``__init__`` (44-52)
      registers two constant buffers and draws ``rgb_embed = Sequential(Conv2d(3, 8, 1), Conv2d(8, 8, 3,
      padding=1))`` with PyTorch's default initialisation: the first random draws after SAM's encoder and prompt
      encoder;
    * ``build_sam_encoder.py`` 94-97 then loads SAM's checkpoint non-strictly, which leaves ``rgb_embed`` as drawn;
      ``forward`` (``sam_encoder_box.py`` 65, 124-126) runs under ``no_grad``, so it is never trained, and
      ``Runner.save`` (``runner.py`` 223-228) saves only the decoder, so it is never saved.

    Consequences: training on 8 GPUs ran 8 different embeddings (seeds 42..49; DDP wraps only the decoder); the
    README's single-process evaluation (``--eval``) uses rank 0's, seed 42, which this function redraws by the same
    steps (SAM's own ``ImageEncoderViT`` and ``PromptEncoder`` built with ``backbone``'s configuration and discarded,
    then the two convolutions) on the CPU generator, as the official build runs on the CPU. The gradio demo
    (``scripts/gradio.py`` 45-52) seeds nothing: its embedding is arbitrary.

    Exactness: the result is the authors' rank-0 embedding if their PyTorch drew the same CPU random stream for
    these default initialisations (kaiming-uniform convolutions and linears, normal embeddings and ``randn``); the
    version they used is not recorded, so this cannot be checked without their run. For backbones other than
    vit_b/l/h the same rule is applied to that backbone's encoder (the official code has no such models).
    The ViT-H encoder built to advance the generator takes about 2.5 GB and some seconds on the CPU.
    """
    from segment_anything.modeling import PromptEncoder

    from sam_repro.backbones.build import build_image_encoder

    if isinstance(backbone, SamConfig):
        config = backbone
    else:
        config = (get_backbone(backbone) if isinstance(backbone, str) else backbone).config
    grid, size = config.embedding_size, config.img_size
    with torch.random.fork_rng(devices=[]), torch.device("cpu"):
        torch.random.default_generator.manual_seed(seed + rank)
        build_image_encoder(config)  # discarded: built only to draw what the official build draws first
        PromptEncoder(embed_dim=config.prompt_embed_dim, image_embedding_size=(grid, grid),
                      input_image_size=(size, size), mask_in_chans=config.mask_in_chans)
        width = OFFICIAL_RGB_WIDTH
        embed = nn.Sequential(nn.Conv2d(3, width, kernel_size=1), nn.Conv2d(width, width, kernel_size=3, padding=1))
    return {name: value.detach().clone() for name, value in embed.state_dict().items()}


_OFFICIAL_MARKERS = ("hf_token.", "embedding_act.", "mask_aspp.", "output_upscaling_2.", "out_act.", "interact_2.")
_OUR_PREFIXES = ("mask_decoder.", "image_encoder.", "prompt_encoder.")


def is_official_decoder_state(state: Mapping[str, Any]) -> bool:
    """Whether ``state`` is in the official Pi-SAM decoder layout: ``{"model_state_dict": {...}}`` (what
    ``Runner.save`` writes), or a bare dict of unprefixed decoder keys with Pi-SAM's modules (``hf_token``,
    ``mask_aspp``, ``output_upscaling_2``, ...)."""
    inner = state.get("model_state_dict")
    if isinstance(inner, Mapping):
        state = inner
    keys = [key for key in state if isinstance(key, str)]
    return (bool(keys) and not any(key.startswith(_OUR_PREFIXES) for key in keys)
            and any(key.startswith(_OFFICIAL_MARKERS) for key in keys))


def _official_hr_dims(state: Mapping[str, torch.Tensor], source: str | os.PathLike) -> tuple[int, int]:
    """The HR head's widths (h1, h2) of an official decoder dict; h2 must be the RGB embedding's width."""
    first, second = state.get("output_upscaling_2.0.weight"), state.get("output_upscaling_2.3.weight")
    if first is None or second is None or first.ndim != 4 or second.ndim != 4:
        raise CheckpointError(f"official Pi-SAM decoder {source} lacks the HR head (output_upscaling_2.0.weight / "
                              "output_upscaling_2.3.weight, ConvTranspose2d)")
    h1, h2 = int(first.shape[1]), int(second.shape[1])
    if h2 != OFFICIAL_RGB_WIDTH:
        raise CheckpointError(f"official Pi-SAM decoder {source} has an HR head {h2} wide, but the official RGB "
                              f"embedding is {OFFICIAL_RGB_WIDTH} wide")
    return h1, h2


def load_official_decoder(model: SamPi, state: Mapping[str, torch.Tensor], source: str | os.PathLike,
                          backbone: str | BackboneSpec | SamConfig, *, rgb_seed: int = OFFICIAL_SEED,
                          rgb_rank: int = 0, rgb_embed: Mapping[str, torch.Tensor] | None = None) -> dict[str, Any]:
    """Load an official Pi-SAM decoder state dict into ``model``'s decoder (SAM's own decoder parts included), with
    the RGB embedding redrawn by :func:`official_rgb_embedding` (``backbone``, ``rgb_seed``, ``rgb_rank``; or
    ``rgb_embed``, that draw made beforehand); the encoder and prompt encoder keep their values. Sets ``interactor_trained`` (the official interactor's output
    conv starts at zero: trained when it is not). Returns what the provenance should record.

    Raises:
        CheckpointError: a key of this decoder (the RGB embedding aside) missing from ``state``, a key it does not
            have (the official fixed buffers :data:`OFFICIAL_DROPPED` aside), both named; a shape mismatch; a model
            without an official-width RGB embedding.
    """
    inner = state.get("model_state_dict")
    state = dict(inner if isinstance(inner, Mapping) else state)
    rgb = model.mask_decoder.rgb_embed
    if rgb is None or rgb[0].out_channels != OFFICIAL_RGB_WIDTH:
        raise CheckpointError(f"an official Pi-SAM decoder ({source}) needs a model with the official "
                              f"{OFFICIAL_RGB_WIDTH}-wide RGB embedding")
    current = model.state_dict()
    expected = {key.removeprefix("mask_decoder.") for key in current
                if key.startswith("mask_decoder.") and not key.startswith("mask_decoder.rgb_embed.")}
    given = set(state) - set(OFFICIAL_DROPPED)
    missing, unexpected = sorted(expected - given), sorted(given - expected)
    if missing or unexpected:
        problems = [f"{label} ({len(keys)}): {', '.join(keys[:12])}{' ...' if len(keys) > 12 else ''}"
                    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected)) if keys]
        raise CheckpointError(f"official Pi-SAM decoder {source} does not fit this Pi-SAM decoder: "
                              + "; ".join(problems))
    if rgb_embed is None:
        rgb_embed = official_rgb_embedding(backbone, seed=rgb_seed, rank=rgb_rank)
    mapped = map_official_decoder_state(state, rgb_embed=rgb_embed)
    sam_keys = [key for key in mapped if not is_pi_parameter(key)]
    matches = all(mapped[key].shape == current[key].shape
                  and torch.equal(mapped[key].to(current[key].dtype).cpu(), current[key].cpu()) for key in sam_keys)
    load_strict(model, {**{key: value for key, value in current.items() if not key.startswith("mask_decoder.")},
                        **mapped}, source)
    out_cov = model.mask_decoder.interact_2.out_cov
    model.mask_decoder.interactor_trained = bool(out_cov.weight.detach().abs().sum() > 0
                                                 or out_cov.bias.detach().abs().sum() > 0)
    if not matches:
        warnings.warn(f"the SAM decoder parts of the official Pi-SAM decoder {source} differ from those of the SAM "
                      "weights loaded under it (the official code freezes SAM's own decoder): the file was trained "
                      "on other SAM weights; its decoder values are used", stacklevel=2)
    return {"rgb_embedding": (f"redrawn (official files do not hold it): the official rule, seed {rgb_seed} + rank "
                              f"{rgb_rank} drawn after SAM's image and prompt encoders"),
            "rgb_embedding_seed": rgb_seed, "rgb_embedding_rank": rgb_rank, "sam_decoder_matches_base": matches}
