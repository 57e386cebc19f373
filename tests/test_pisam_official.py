"""Official Pi-SAM decoder files (lmzpai/pi-sam, ``{"model_state_dict": MaskDecoderAE.state_dict()}``): the loader
recognises them, maps them strictly (a missing or extra key is named), redraws the RGB embedding the official code
draws (seed 42 + rank, after SAM's image and prompt encoders) and says so in the provenance; the registry lists the
official files as manual downloads. Micro backbone, random weights: official-layout files are written here from a
Pi-SAM model (the inverse of the key map)."""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import sam_repro
from sam_repro.backbones import build_sam, get_backbone
from sam_repro.backbones.checkpoints import CheckpointError, WeightsNotFoundError
from sam_repro.backbones.weights import PI_PAPER, get_weights
from sam_repro.methods.pisam import SamPi, build_pi_sam, load_pi_sam_model
from sam_repro.methods.pisam.weights import (
    OFFICIAL_DROPPED, OFFICIAL_SEED, is_official_decoder_state, official_rgb_embedding,
)

MICRO = get_backbone("micro").config


def _official_layout(model: SamPi) -> dict[str, torch.Tensor]:
    """``model``'s decoder as the official code saves it: no prefix, no RGB embedding, plus the interactor's fixed
    buffers (the 256-grid image PE and the click simulator's Laplacian)."""
    state = {key.removeprefix("mask_decoder."): value.clone() for key, value in model.state_dict().items()
             if key.startswith("mask_decoder.") and not key.startswith("mask_decoder.rgb_embed.")}
    laplacian = -torch.ones(1, 1, 3, 3)
    laplacian[0, 0, 1, 1] = 8.0
    state["interact_2.bnd_op.laplacian_kernel"] = laplacian
    state["interact_2.img_pe"] = model.mask_decoder.interact_2.pe_layer((256, 256)).detach()
    return state


@pytest.fixture(scope="module")
def source() -> SamPi:
    """A micro Pi-SAM whose HQ and Pi parts are non-zero everywhere (a "trained" interactor included); its SAM parts
    are those of build_sam(MICRO, seed=0)."""
    model = build_pi_sam(MICRO, seed=0)
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, parameter in model.mask_decoder.named_parameters():
            if any(part in name for part in ("hf_", "compress", "embedding_", "mask_aspp", "upscaling_2", "out_act",
                                             "interact_2")):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
    return model


@pytest.fixture(scope="module")
def files(source: SamPi, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("official")
    sam_path, official_path = folder / "sam_micro.pth", folder / "pi_sam_micro.pth"
    torch.save(build_sam(MICRO, seed=0).state_dict(), sam_path)
    torch.save({"model_state_dict": _official_layout(source)}, official_path)
    return {"sam": sam_path, "official": official_path, "folder": folder}


def _write(folder: Path, name: str, state: dict[str, torch.Tensor]) -> Path:
    path = folder / name
    torch.save({"model_state_dict": state}, path)
    return path


# -- loading ----------------------------------------------------------------------------------------------
def test_official_file_loads_every_decoder_tensor(source: SamPi, files: dict[str, Path]) -> None:
    model, provenance = load_pi_sam_model("micro", files["official"], device="cpu", base_checkpoint=files["sam"],
                                          seed=3)
    official = _official_layout(source)
    loaded = model.state_dict()
    for name, value in official.items():
        if name in OFFICIAL_DROPPED:
            continue
        assert torch.equal(loaded[f"mask_decoder.{name}"], value), name
    # the encoder and prompt encoder are SAM's, the RGB embedding the official draw
    for name, value in build_sam(MICRO, seed=0).state_dict().items():
        assert torch.equal(loaded[name], value), name
    rgb = official_rgb_embedding("micro")
    for name, value in rgb.items():
        assert torch.equal(loaded[f"mask_decoder.rgb_embed.{name}"], value), name
    assert model.mask_decoder.hr_dims == source.mask_decoder.hr_dims
    assert provenance["checkpoint_format"] == "official" and "redrawn" in provenance["rgb_embedding"]
    assert provenance["rgb_embedding_seed"] == OFFICIAL_SEED == 42 and provenance["rgb_embedding_rank"] == 0
    assert provenance["sam_decoder_matches_base"] is True
    assert provenance["base_checkpoint"] == str(files["sam"]) and provenance["interactor_trained"] is True
    assert "official Pi-SAM decoder" in provenance["weights"]
    load_pi_sam_model("micro", files["official"], device="cpu", base_checkpoint=files["sam"], ablation="full")
    with pytest.raises(CheckpointError, match="not the ablation 'rgb'"):
        load_pi_sam_model("micro", files["official"], device="cpu", base_checkpoint=files["sam"], ablation="rgb")


def test_segmenter_loads_an_official_file(files: dict[str, Path]) -> None:
    segmenter = sam_repro.load_segmenter("pisam:micro", checkpoint=files["official"], base_checkpoint=files["sam"],
                                         device="cpu")
    info = segmenter.info()
    assert info["checkpoint_format"] == "official" and info["rgb_embedding_seed"] == 42
    image = np.random.default_rng(0).integers(0, 255, (96, 72, 3), dtype=np.uint8)
    segmenter.set_image(image)
    prediction = segmenter.predict(box=np.array([8.0, 12.0, 60.0, 80.0]))
    assert prediction.masks.shape == (1, 96, 72)


def test_bare_dict_rank_and_untrained_interactor(source: SamPi, files: dict[str, Path]) -> None:
    state = _official_layout(source)
    state["interact_2.out_cov.weight"] = torch.zeros_like(state["interact_2.out_cov.weight"])
    state["interact_2.out_cov.bias"] = torch.zeros_like(state["interact_2.out_cov.bias"])
    for name in OFFICIAL_DROPPED:  # the fixed buffers are optional
        del state[name]
    path = files["folder"] / "bare.pth"
    torch.save(state, path)  # not wrapped in model_state_dict
    assert is_official_decoder_state(state) and not is_official_decoder_state({"mask_decoder.hf_token.weight": 0})
    model, provenance = load_pi_sam_model("micro", path, device="cpu", base_checkpoint=files["sam"], rgb_rank=1)
    assert provenance["interactor_trained"] is False and provenance["rgb_embedding_rank"] == 1
    rgb = official_rgb_embedding("micro", rank=1)
    assert torch.equal(model.mask_decoder.rgb_embed[1].weight, rgb["1.weight"])


def test_missing_extra_or_misshapen_keys_are_refused_by_name(source: SamPi, files: dict[str, Path]) -> None:
    state = _official_layout(source)
    missing = dict(state)
    del missing["out_act.4.weight"]
    with pytest.raises(CheckpointError, match=r"missing keys \(1\): out_act\.4\.weight"):
        load_pi_sam_model("micro", _write(files["folder"], "missing.pth", missing), device="cpu",
                          base_checkpoint=files["sam"])
    extra = {**state, "interact_2.extra.weight": torch.zeros(2)}
    with pytest.raises(CheckpointError, match=r"unexpected keys \(1\): interact_2\.extra\.weight"):
        load_pi_sam_model("micro", _write(files["folder"], "extra.pth", extra), device="cpu",
                          base_checkpoint=files["sam"])
    misshapen = {**state, "mask_aspp.conv_out.0.weight": torch.zeros(3, 3, 1, 1)}
    with pytest.raises(CheckpointError, match=r"shape mismatches.*mask_aspp\.conv_out\.0\.weight"):
        load_pi_sam_model("micro", _write(files["folder"], "shape.pth", misshapen), device="cpu",
                          base_checkpoint=files["sam"])


def test_other_sam_weights_under_an_official_file_warn(files: dict[str, Path]) -> None:
    other = files["folder"] / "sam_other.pth"
    torch.save(build_sam(MICRO, seed=1).state_dict(), other)
    with pytest.warns(UserWarning, match="differ from those of the SAM weights"):
        _, provenance = load_pi_sam_model("micro", files["official"], device="cpu", base_checkpoint=other)
    assert provenance["sam_decoder_matches_base"] is False


# -- the RGB embedding ---------------------------------------------------------------------------------------
def _hand_draw(seed: int) -> dict[str, torch.Tensor]:
    """The official build by hand (scripts/main.py, build_sam_encoder._build_sam, SamEncoder.__init__): seed, SAM's
    ViT, SAM's prompt encoder, then the two convolutions."""
    from segment_anything.modeling import ImageEncoderViT, PromptEncoder

    torch.manual_seed(seed)
    grid = MICRO.img_size // MICRO.patch_size
    ImageEncoderViT(depth=MICRO.encoder_depth, embed_dim=MICRO.encoder_embed_dim, img_size=MICRO.img_size,
                    mlp_ratio=4, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=MICRO.encoder_num_heads,
                    patch_size=MICRO.patch_size, qkv_bias=True, use_rel_pos=True,
                    global_attn_indexes=list(MICRO.encoder_global_attn_indexes), window_size=MICRO.window_size,
                    out_chans=MICRO.prompt_embed_dim)
    PromptEncoder(embed_dim=MICRO.prompt_embed_dim, image_embedding_size=(grid, grid),
                  input_image_size=(MICRO.img_size, MICRO.img_size), mask_in_chans=MICRO.mask_in_chans)
    rgb = nn.Sequential(nn.Conv2d(3, 8, kernel_size=1), nn.Conv2d(8, 8, kernel_size=3, padding=1))
    return rgb.state_dict()


def test_rgb_embedding_follows_the_official_seeding_rule() -> None:
    state = torch.get_rng_state()
    first = official_rgb_embedding("micro")
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is left alone
    second = official_rgb_embedding(get_backbone("micro"))
    assert set(first) == {"0.weight", "0.bias", "1.weight", "1.bias"}
    assert first["0.weight"].shape == (8, 3, 1, 1) and first["1.weight"].shape == (8, 8, 3, 3)
    assert all(torch.equal(first[name], second[name]) for name in first)  # deterministic
    with torch.random.fork_rng(devices=[]):
        by_hand, rank1_by_hand = _hand_draw(42), _hand_draw(43)
        torch.manual_seed(42)  # the convolutions alone: the encoders' draws come first in the official build
        alone = nn.Sequential(nn.Conv2d(3, 8, kernel_size=1), nn.Conv2d(8, 8, kernel_size=3, padding=1)).state_dict()
    assert all(torch.equal(first[name], by_hand[name]) for name in first)
    rank1 = official_rgb_embedding(MICRO, rank=1)
    assert all(torch.equal(rank1[name], rank1_by_hand[name]) for name in rank1)  # seed + rank
    assert all(torch.equal(rank1[name], official_rgb_embedding("micro", seed=43)[name]) for name in rank1)
    assert not torch.equal(rank1["1.weight"], first["1.weight"])
    assert not torch.equal(alone["1.weight"], first["1.weight"])


# -- registry -------------------------------------------------------------------------------------------------
def test_official_weights_are_registered_as_manual_downloads(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from sam_repro.data.manifest import load_manifest

    manifest = load_manifest()
    for backbone in ("vit_b", "vit_l", "vit_h"):
        entry = get_weights("pisam", backbone)
        ckpt = entry.checkpoint
        assert ckpt.url is None and ckpt.sha256 is None and ckpt.license == "MIT" and ckpt.paper == PI_PAPER
        assert ckpt.shipped is None and entry.tied_to is None
        info = manifest.get(entry.manifest_name)
        assert info.resource.file == ckpt.filename == f"pi_sam_{backbone}.pth" and info.manual
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path / "weights"))
    with pytest.raises(WeightsNotFoundError, match=r"pisam:vit_h are a manual download \(data_manifest.yaml, "
                                                   r"pisam_vit_h\).*pi_sam_vit_h\.pth"):
        sam_repro.load_segmenter("pisam:vit_h", device="cpu")
