"""Pi-SAM's decoder, model, weights and segmenter (methods/pisam/): the deformable Object Embedder is a plain
convolution at init, the untrained interactor is the identity, padded click batches equal single runs, a click
(x, y) samples column x, the RGB embedding round-trips through a Pi file, no corrections = the box prediction
bit for bit, and every misuse raises a message that names the argument. Micro backbone, random weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sam_repro
from sam_repro.backbones import build_sam, get_backbone, save_checkpoint, sha256_file
from sam_repro.backbones.checkpoints import CheckpointError, WeightsNotFoundError
from sam_repro.backbones.weights import get_weights
from sam_repro.methods.pisam import (
    Corrections, MaskDecoderPi, ObjectEmbedder, PiSamSegmenter, PreciseInteractor, SamPi, build_pi_sam,
    corrections_to_grid, default_hr_dims, load_pi_sam_model, map_official_decoder_state, pi_state_dict,
    save_pi_checkpoint, set_trainable_stage, stage_parameter_names,
)

MICRO = get_backbone("micro").config
H, W = 96, 72  # non-square: x is the column, y the row
BOX = np.array([8.0, 12.0, 60.0, 80.0])


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)


def _randomise(module: torch.nn.Module, seed: int) -> None:
    """Non-zero values everywhere (so zero-initialised parts act)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)


# -- shapes and widths --------------------------------------------------------------------------------------
def test_widths_and_shapes() -> None:
    assert default_hr_dims(32) == (16, 8)  # the official head
    assert default_hr_dims(12) == (8, 8) and default_hr_dims(4) == (8, 8)
    model = build_pi_sam(MICRO, seed=0)
    decoder = model.mask_decoder
    assert isinstance(decoder, MaskDecoderPi) and decoder.feature_dim == 4 and decoder.hr_dims == (8, 8)
    assert build_pi_sam(MICRO, seed=0, hr_dims=(6, 4)).mask_decoder.hr_dims == (6, 4)
    # SAM parts are those of build_sam with the same seed
    sam = build_sam(MICRO, seed=0)
    for name, value in sam.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    images = torch.randn(2, 3, 128, 128)
    embeddings, inputs = model.encode(images)
    assert set(inputs) == {"early_features", "image"} and inputs["image"] is images
    sparse, dense = model.prompt_encoder(points=None, boxes=torch.tensor([[10.0, 20, 90, 100], [0, 0, 50, 60]]),
                                         masks=None)
    out = decoder.predict_pi(embeddings, model.prompt_encoder.get_dense_pe(), sparse, dense,
                             inputs["early_features"], inputs["image"])
    assert out.low_res.shape == (2, 1, 32, 32) and out.hr.shape == (2, 1, 128, 128) and out.iou.shape == (2, 1)
    low, iou = decoder(embeddings[:1], model.prompt_encoder.get_dense_pe(), sparse, dense, False,
                       early_features=inputs["early_features"][:1], image=images[:1])
    assert low.shape == (2, 1, 32, 32) and iou.shape == (2, 1)


# -- object embedder ----------------------------------------------------------------------------------------
def test_object_embedder_is_a_plain_convolution_at_init() -> None:
    torch.manual_seed(0)
    embedder = ObjectEmbedder(6)
    for branch in (embedder.aspp1, embedder.aspp2):
        dcn = branch.atrous_conv[0]
        assert not dcn.offset_conv.weight.any() and not dcn.modulator_conv.weight.any()
    features, logits = torch.randn(2, 6, 20, 20), torch.randn(2, 1, 20, 20)

    def plain(branch: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        dcn, norm, act = branch.atrous_conv
        return act(norm(F.conv2d(x, dcn.regular_conv.weight, dcn.regular_conv.bias, padding=dcn.padding)))

    x = embedder.mask_embedding(torch.cat([features, logits], 1))
    expected = embedder.conv_out(torch.cat([x, plain(embedder.aspp1, x), plain(embedder.aspp2, x)], 1))
    torch.testing.assert_close(embedder(features, logits), expected, atol=1e-5, rtol=1e-5)
    # once the offset conv is trained, the deformable path differs from the plain one
    with torch.no_grad():
        embedder.aspp2.atrous_conv[0].offset_conv.bias.fill_(0.7)
    assert not torch.allclose(embedder(features, logits), expected, atol=1e-3)


# -- interactor ---------------------------------------------------------------------------------------------
def _corrections(coords: list[list[tuple[float, float]]], flags: list[list[int]]) -> Corrections:
    return Corrections.pad([torch.tensor(c, dtype=torch.float32) for c in coords],
                           [torch.tensor(f) for f in flags])


def test_untrained_interactor_is_the_identity_bit_for_bit() -> None:
    torch.manual_seed(1)
    interactor = PreciseInteractor(8)
    features, hyper = torch.randn(2, 8, 16, 16), torch.randn(2, 1, 8)
    clicks = _corrections([[(0.3, 0.7)], [(0.1, 0.2), (0.9, 0.5)]], [[1], [0, 1]])
    assert torch.equal(interactor(features, hyper, clicks), features)
    with torch.no_grad():
        interactor.out_cov.weight.normal_()
    assert not torch.equal(interactor(features, hyper, clicks), features)


def test_a_padded_batch_of_clicks_equals_single_runs() -> None:
    torch.manual_seed(2)
    interactor = PreciseInteractor(8)
    _randomise(interactor, 3)
    features, hyper = torch.randn(3, 8, 16, 16), torch.randn(3, 1, 8)
    coords = [[(0.3, 0.7)], [(0.1, 0.2), (0.9, 0.5), (0.5, 0.5)], [(0.8, 0.1), (0.2, 0.6)]]
    flags = [[1], [0, 1, 1], [0, 0]]
    batched = interactor(features, hyper, _corrections(coords, flags))
    assert _corrections(coords, flags).padding.tolist() == [[False, True, True], [False] * 3, [False, False, True]]
    for i in range(3):
        single = interactor(features[i : i + 1], hyper[i : i + 1], _corrections([coords[i]], [flags[i]]))
        torch.testing.assert_close(batched[i : i + 1], single, atol=1e-5, rtol=1e-5)
    # the padding really is hidden: garbage in the padded slots changes nothing
    padded = _corrections(coords, flags)
    noisy = Corrections(padded.coords + padded.padding[..., None] * 0.37, 1 - padded.flags, padded.padding)
    noisy = Corrections(noisy.coords, torch.where(padded.padding, noisy.flags, padded.flags), padded.padding)
    torch.testing.assert_close(interactor(features, hyper, noisy), batched, atol=1e-6, rtol=1e-6)
    # and the clicks matter: another flag gives another map
    flipped = _corrections(coords, [[0], [1, 1, 1], [0, 1]])
    assert not torch.allclose(interactor(features, hyper, flipped), batched, atol=1e-4)


def test_a_click_xy_samples_column_x_on_a_non_square_image() -> None:
    size, img_size = (96, 72), 128  # micro: S = 128, G = 32; the image fills 96 x 128 of the padded input
    grid = 32
    yy, xx = torch.meshgrid(torch.arange(grid, dtype=torch.float32), torch.arange(grid, dtype=torch.float32),
                            indexing="ij")
    features = torch.stack([xx, yy])[None]  # channel 0 = column index, channel 1 = row index
    # a click at grid cell centre (i + 0.5) / G reads that cell exactly
    exact = PreciseInteractor.sample_features(features, torch.tensor([[[(5 + 0.5) / grid, (20 + 0.5) / grid]]]))
    assert exact[0, 0].tolist() == [5.0, 20.0]
    # image pixel clicks: the column follows x, the row follows y, through ResizeLongestSide (scale 128 / 96)
    points = np.array([[10.0, 90.0], [70.0, 3.0]])  # (x, y)
    coords = torch.as_tensor(corrections_to_grid(points, size, img_size), dtype=torch.float32)[None]
    sampled = PreciseInteractor.sample_features(features, coords)[0]
    scale = img_size / max(size)
    for (x, y), (col, row) in zip(points, sampled.tolist()):
        assert col == pytest.approx((x + 0.5) * scale * grid / img_size - 0.5, abs=1e-5)
        assert row == pytest.approx((y + 0.5) * scale * grid / img_size - 0.5, abs=1e-5)
    # the click's Fourier PE is the image PE at the same place (pixel-centre convention)
    interactor = PreciseInteractor(8)
    grid_pe = interactor.pe_layer((grid, grid))
    click_pe = interactor.pe_layer._pe_encoding(torch.tensor([(7 + 0.5) / grid, (3 + 0.5) / grid]))
    torch.testing.assert_close(click_pe, grid_pe[:, 3, 7])


def test_corrections_are_checked() -> None:
    with pytest.raises(ValueError, match="1 to 10 click"):
        Corrections(torch.zeros(1, 11, 2), torch.zeros(1, 11, dtype=torch.long), torch.zeros(1, 11, dtype=torch.bool))
    with pytest.raises(ValueError, match="all padding"):
        Corrections(torch.zeros(1, 2, 2), torch.zeros(1, 2, dtype=torch.long), torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="coords must be"):
        Corrections(torch.zeros(1, 2), torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2, dtype=torch.bool))


# -- training stages ----------------------------------------------------------------------------------------
def test_each_stage_trains_exactly_its_set() -> None:
    model = build_pi_sam(MICRO, seed=0)
    names = dict(model.named_parameters())
    hr = set(stage_parameter_names(model, "hr"))
    inter = set(stage_parameter_names(model, "interactor"))
    assert hr and inter and not hr & inter
    assert any(".rgb_embed." in n for n in hr) and any(".hf_token." in n for n in hr)
    assert all(".interact_2." in n for n in inter)
    assert not any(n.startswith(("image_encoder.", "prompt_encoder.")) for n in hr | inter)
    assert "mask_decoder.transformer.layers.0.self_attn.q_proj.weight" not in hr | inter  # SAM's decoder frozen
    for stage, expected in (("hr", hr), ("interactor", inter)):
        trainable = set_trainable_stage(model, stage)
        assert {n for n, p in names.items() if p.requires_grad} == expected
        assert len(trainable) == len(expected)
    with pytest.raises(ValueError, match="stage"):
        set_trainable_stage(model, "both")


# -- weights ------------------------------------------------------------------------------------------------
@pytest.fixture()
def base(tmp_path: Path) -> Path:
    path = tmp_path / "micro_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=3), path)
    return path


def test_rgb_embedding_and_every_pi_part_round_trip(tmp_path: Path, base: Path) -> None:
    model, info = load_pi_sam_model("micro", base, device="cpu", random_init_pi=True, seed=5)
    _randomise(model.mask_decoder.rgb_embed, 7)
    model.mask_decoder.interactor_trained = True
    path = tmp_path / "pi.pt"
    save_pi_checkpoint(model, path, base_sha256=info["checkpoint_sha256"], backbone="micro")
    loaded, provenance = load_pi_sam_model("micro", path, device="cpu", base_checkpoint=base, seed=99)
    assert provenance["interactor_trained"] and loaded.mask_decoder.interactor_trained
    saved = pi_state_dict(model)
    assert any(k.startswith("mask_decoder.rgb_embed.") for k in saved)
    assert not any(k.startswith(("image_encoder.", "prompt_encoder.")) for k in saved)
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name


def test_a_pi_file_refuses_other_sam_weights(tmp_path: Path, base: Path) -> None:
    model, info = load_pi_sam_model("micro", base, device="cpu", random_init_pi=True)
    path = tmp_path / "pi.pt"
    save_pi_checkpoint(model, path, base_sha256=info["checkpoint_sha256"], backbone="micro")
    other = tmp_path / "other_sam.pt"
    save_checkpoint(build_sam(MICRO, seed=4), other)
    with pytest.raises(CheckpointError, match=f"sha256 {sha256_file(base)}.*{sha256_file(other)}"):
        load_pi_sam_model("micro", path, device="cpu", base_checkpoint=other)
    with pytest.raises(CheckpointError, match="not a Pi-only checkpoint"):
        load_pi_sam_model("micro", base, device="cpu", base_checkpoint=base)


def test_missing_weights_raise_weights_not_found() -> None:
    entry = get_weights("pisam", "tiny")
    assert entry is not None and entry.tied_to == get_backbone("tiny").checkpoint.sha256
    assert entry.checkpoint.regenerate == "sam-repro train pisam"
    if entry.checkpoint.shipped is None or not entry.checkpoint.shipped.is_file():
        with pytest.raises(WeightsNotFoundError, match="sam-repro train pisam"):
            sam_repro.load_segmenter("pisam:tiny", device="cpu")
    with pytest.raises(WeightsNotFoundError, match="no Pi-SAM weights are registered for backbone 'micro'"):
        sam_repro.load_segmenter("pisam:micro", device="cpu")


def test_official_key_map() -> None:
    """An official-layout decoder dict (built here from our decoder: no prefix, the interactor's 256-grid PE
    buffer and Laplacian kernel, no RGB embedding) loads strictly after the map."""
    model = build_pi_sam(MICRO, seed=0)
    decoder_state = {k.removeprefix("mask_decoder."): v for k, v in model.state_dict().items()
                     if k.startswith("mask_decoder.")}
    rgb = {k.removeprefix("rgb_embed."): decoder_state.pop(k) for k in list(decoder_state) if k.startswith("rgb_embed.")}
    laplacian = -torch.ones(1, 1, 3, 3)
    laplacian[0, 0, 1, 1] = 8
    official = {**decoder_state, "interact_2.bnd_op.laplacian_kernel": laplacian,
                "interact_2.img_pe": model.mask_decoder.interact_2.pe_layer((256, 256))}
    with pytest.raises(CheckpointError, match="no RGB embedding"):
        map_official_decoder_state(official)
    mapped = map_official_decoder_state({"model_state_dict": official}, rgb_embed=rgb)
    fresh = build_pi_sam(MICRO, seed=1)
    fresh.load_state_dict({**{k: v for k, v in fresh.state_dict().items() if not k.startswith("mask_decoder.")},
                           **mapped}, strict=True)
    assert torch.equal(fresh.mask_decoder.out_act[1].weight, model.mask_decoder.out_act[1].weight)
    with pytest.raises(CheckpointError, match="Laplacian"):
        map_official_decoder_state({**official, "interact_2.bnd_op.laplacian_kernel": torch.ones(1, 1, 3, 3)},
                                   rgb_embed=rgb)


# -- segmenter ----------------------------------------------------------------------------------------------
@pytest.fixture()
def segmenter(image: np.ndarray) -> PiSamSegmenter:
    seg = sam_repro.load_segmenter("pisam:micro", random_init=True, device="cpu")
    _randomise(seg.model.mask_decoder.interact_2.out_cov, 11)  # a "trained" interactor that acts
    seg.set_image(image)
    return seg


def test_segmenter_declares_corrects_and_uses_the_hr_head(segmenter: PiSamSegmenter, image: np.ndarray) -> None:
    assert isinstance(segmenter, PiSamSegmenter) and "corrects" in segmenter.capabilities
    assert isinstance(segmenter.model, SamPi) and segmenter.info()["method"] == "pisam"
    prediction = segmenter.predict(box=BOX)
    output = segmenter.decode_pi(boxes=BOX[None])
    expected = segmenter.model.postprocess_masks(output.hr, segmenter.embedding.input_size, (H, W))
    np.testing.assert_array_equal(prediction.logits, expected[0].detach().numpy())
    np.testing.assert_array_equal(prediction.low_res_logits, output.low_res[0].detach().numpy())


def test_no_corrections_is_the_box_prediction_bit_for_bit(segmenter: PiSamSegmenter) -> None:
    segmenter.model.mask_decoder.interactor_trained = True
    plain = segmenter.predict(box=BOX)
    for kwargs in ({}, {"corrections": None, "correction_labels": None},
                   {"corrections": np.zeros((0, 2)), "correction_labels": np.zeros(0, int)}):
        again = segmenter.predict(box=BOX, **kwargs)
        np.testing.assert_array_equal(again.logits, plain.logits)
        np.testing.assert_array_equal(again.low_res_logits, plain.low_res_logits)
    corrected = segmenter.predict(box=BOX, corrections=np.array([[30.0, 40.0]]), correction_labels=np.array([0]))
    assert not np.array_equal(corrected.logits, plain.logits)
    np.testing.assert_array_equal(corrected.low_res_logits, plain.low_res_logits)  # the interactor acts after it
    # a zero-init interactor leaves even corrected predictions unchanged
    with torch.no_grad():
        segmenter.model.mask_decoder.interact_2.out_cov.weight.zero_()
        segmenter.model.mask_decoder.interact_2.out_cov.bias.zero_()
    same = segmenter.predict(box=BOX, corrections=np.array([[30.0, 40.0]]), correction_labels=np.array([0]))
    np.testing.assert_array_equal(same.logits, plain.logits)


def test_batched_corrections_equal_single_predictions(segmenter: PiSamSegmenter) -> None:
    segmenter.model.mask_decoder.interactor_trained = True
    boxes = np.array([BOX, [20.0, 5.0, 70.0, 50.0]])
    clicks = [np.array([[30.0, 40.0]]), np.array([[25.0, 10.0], [60.0, 45.0]])]
    labels = [np.array([1]), np.array([0, 1])]
    batch = segmenter.predict_batch(boxes=boxes, corrections=clicks, correction_labels=labels)
    for i in range(2):
        single = segmenter.predict(box=boxes[i], corrections=clicks[i], correction_labels=labels[i])
        np.testing.assert_allclose(batch[i].logits, single.logits, atol=1e-4)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"corrections": np.array([[30.0, 40.0]]), "correction_labels": np.array([1]), "box": None,
      "points": np.array([[30.0, 40.0]]), "labels": np.array([1])}, ValueError, "corrections need the box"),
    ({"corrections": np.full((11, 2), 5.0), "correction_labels": np.ones(11, int)}, ValueError, "at most 10"),
    ({"corrections": np.array([[72.0, 40.0]]), "correction_labels": np.array([1])}, ValueError, "off the 72x96"),
    ({"corrections": np.array([[-1.0, 40.0]]), "correction_labels": np.array([1])}, ValueError, "corrections .* off"),
    ({"corrections": np.array([[3.0, 4.0]]), "correction_labels": np.array([2])}, ValueError,
     "correction_labels must be 1"),
    ({"corrections": np.array([[3.0, 4.0]])}, ValueError, "given together"),
    ({"corrections": np.array([[3.0, 4.0]]), "correction_labels": np.array([1, 0])}, ValueError,
     "correction_labels must have shape"),
    ({"corrections": np.array([3.0, 4.0]), "correction_labels": np.array([1])}, ValueError, r"\(K, 2\)"),
])
def test_bad_corrections_name_the_argument(segmenter: PiSamSegmenter, kwargs, error, message) -> None:
    segmenter.model.mask_decoder.interactor_trained = True
    kwargs = {"box": BOX, **kwargs}
    with pytest.raises(error, match=message):
        segmenter.predict(**kwargs)


def test_corrections_need_a_trained_interactor(segmenter: PiSamSegmenter) -> None:
    assert not segmenter.model.mask_decoder.interactor_trained  # random_init: untrained
    with pytest.raises(RuntimeError, match="corrections need a trained interactor"):
        segmenter.predict(box=BOX, corrections=np.array([[30.0, 40.0]]), correction_labels=np.array([1]))


# -- Table 5's decoder variants ------------------------------------------------------------------------------
def test_each_variant_holds_exactly_its_components_and_round_trips(tmp_path: Path, base: Path) -> None:
    from sam_repro.methods.pisam import VARIANTS, PiComponents

    names = {}
    for variant, components in VARIANTS.items():
        model, info = load_pi_sam_model("micro", base, device="cpu", random_init_pi=True, seed=5,
                                        components=components)
        decoder = model.mask_decoder
        keys = set(pi_state_dict(model))
        names[variant] = keys
        assert any(".rgb_embed." in k for k in keys) == components.rgb_embedding
        assert any(".mask_aspp." in k for k in keys) == components.object_embedder
        assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in decoder.output_upscaling_2) \
            == components.hr_conv_head
        images = torch.randn(1, 3, 128, 128)
        embeddings, inputs = model.encode(images)
        sparse, dense = model.prompt_encoder(points=None, boxes=torch.tensor([[10.0, 20, 90, 100]]), masks=None)
        out = decoder.predict_pi(embeddings, model.prompt_encoder.get_dense_pe(), sparse, dense,
                                 inputs["early_features"], inputs["image"])
        assert out.hr.shape == (1, 1, 128, 128) and out.low_res.shape == (1, 1, 32, 32)
        generator = torch.Generator().manual_seed(3)
        with torch.no_grad():  # non-zero Pi parts (what a Pi file holds), so a wrong load cannot pass
            for name, parameter in model.named_parameters():
                if name in keys:
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
        path = tmp_path / f"pi_{variant}.pt"
        save_pi_checkpoint(model, path, base_sha256=info["checkpoint_sha256"], backbone="micro")
        loaded, _ = load_pi_sam_model("micro", path, device="cpu", base_checkpoint=base)  # the file says its parts
        assert loaded.mask_decoder.components == components
        for name, value in loaded.state_dict().items():
            assert torch.equal(value, model.state_dict()[name]), name
    assert names["rgb"] - names["none"] == {k for k in names["rgb"] if ".rgb_embed." in k}
    assert names["rgb_hr"] < names["full"]  # the Object Embedder adds parameters and removes none
    assert PiComponents() == VARIANTS["full"]


def test_a_file_of_another_variant_is_refused_by_ablation_name(tmp_path: Path, base: Path) -> None:
    from sam_repro.methods.pisam import VARIANTS

    model, info = load_pi_sam_model("micro", base, device="cpu", random_init_pi=True, components=VARIANTS["rgb"])
    path = tmp_path / "pi_rgb.pt"
    save_pi_checkpoint(model, path, base_sha256=info["checkpoint_sha256"], backbone="micro")
    assert load_pi_sam_model("micro", path, device="cpu", base_checkpoint=base, ablation="rgb")[0] is not None
    with pytest.raises(CheckpointError, match="not those of the ablation 'full'"):
        load_pi_sam_model("micro", path, device="cpu", base_checkpoint=base, ablation="full")
    with pytest.raises(KeyError, match="unknown Pi-SAM ablation"):
        load_pi_sam_model("micro", path, device="cpu", base_checkpoint=base, ablation="everything")
    with pytest.raises(WeightsNotFoundError, match="tiny SAM only"):
        load_pi_sam_model("micro", device="cpu", ablation="rgb")
