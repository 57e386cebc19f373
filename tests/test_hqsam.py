"""HQ-SAM (methods/hqsam/): the official state-dict layout, output modes, the SAM path, the segmenter
interface and freezing. Fast: the micro backbone with random weights, and a vit_b-sized decoder alone."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sam_repro
from sam_repro.backbones.build import build_sam
from sam_repro.backbones.checkpoints import CheckpointError, WeightsNotFoundError, read_checkpoint_meta
from sam_repro.backbones.encoders import first_global_block
from sam_repro.backbones.registry import get_backbone
from sam_repro.backbones.weights import HQ_TRAIN_COMMAND, get_weights, list_weights, locate_weights
from sam_repro.hashing import sha256_file
from sam_repro.methods.hqsam import (
    HQ_ONLY_FORMAT, HqSamSegmenter, MaskDecoderHQ, SamHQ, build_hq_sam, freeze_sam_parts,
    hq_parameter_names,
)

MICRO = get_backbone("micro").config


def _official_hq_shapes(c: int, d: int) -> dict[str, tuple[int, ...]]:
    """The HQ-only parameters of SysCV/sam-hq's MaskDecoderHQ as published (names and shapes), for
    decoder width c and ViT width d. ConvTranspose2d weights are (in, out, k, k), Conv2d (out, in, k, k)."""
    return {
        "hf_token.weight": (1, c),
        "hf_mlp.layers.0.weight": (c, c), "hf_mlp.layers.0.bias": (c,),
        "hf_mlp.layers.1.weight": (c, c), "hf_mlp.layers.1.bias": (c,),
        "hf_mlp.layers.2.weight": (c // 8, c), "hf_mlp.layers.2.bias": (c // 8,),
        "compress_vit_feat.0.weight": (d, c, 2, 2), "compress_vit_feat.0.bias": (c,),
        "compress_vit_feat.1.weight": (c,), "compress_vit_feat.1.bias": (c,),
        "compress_vit_feat.3.weight": (c, c // 8, 2, 2), "compress_vit_feat.3.bias": (c // 8,),
        "embedding_encoder.0.weight": (c, c // 4, 2, 2), "embedding_encoder.0.bias": (c // 4,),
        "embedding_encoder.1.weight": (c // 4,), "embedding_encoder.1.bias": (c // 4,),
        "embedding_encoder.3.weight": (c // 4, c // 8, 2, 2), "embedding_encoder.3.bias": (c // 8,),
        "embedding_maskfeature.0.weight": (c // 4, c // 8, 3, 3), "embedding_maskfeature.0.bias": (c // 4,),
        "embedding_maskfeature.1.weight": (c // 4,), "embedding_maskfeature.1.bias": (c // 4,),
        "embedding_maskfeature.3.weight": (c // 8, c // 4, 3, 3), "embedding_maskfeature.3.bias": (c // 8,),
    }


# Official ViT-B numbers written out (C = 256, D = 768): the HQ parts, and SAM parts whose shapes an
# HQ decoder must not change (mask_tokens keeps SAM's 4 rows: the HQ token is the separate hf_token).
VIT_B_HQ = {
    "hf_token.weight": (1, 256),
    "hf_mlp.layers.0.weight": (256, 256), "hf_mlp.layers.0.bias": (256,),
    "hf_mlp.layers.1.weight": (256, 256), "hf_mlp.layers.1.bias": (256,),
    "hf_mlp.layers.2.weight": (32, 256), "hf_mlp.layers.2.bias": (32,),
    "compress_vit_feat.0.weight": (768, 256, 2, 2), "compress_vit_feat.0.bias": (256,),
    "compress_vit_feat.1.weight": (256,), "compress_vit_feat.1.bias": (256,),
    "compress_vit_feat.3.weight": (256, 32, 2, 2), "compress_vit_feat.3.bias": (32,),
    "embedding_encoder.0.weight": (256, 64, 2, 2), "embedding_encoder.0.bias": (64,),
    "embedding_encoder.1.weight": (64,), "embedding_encoder.1.bias": (64,),
    "embedding_encoder.3.weight": (64, 32, 2, 2), "embedding_encoder.3.bias": (32,),
    "embedding_maskfeature.0.weight": (64, 32, 3, 3), "embedding_maskfeature.0.bias": (64,),
    "embedding_maskfeature.1.weight": (64,), "embedding_maskfeature.1.bias": (64,),
    "embedding_maskfeature.3.weight": (32, 64, 3, 3), "embedding_maskfeature.3.bias": (32,),
}
VIT_B_SAM_SPOT_CHECKS = {
    "iou_token.weight": (1, 256),
    "mask_tokens.weight": (4, 256),
    "iou_prediction_head.layers.2.weight": (4, 256),
    "output_hypernetworks_mlps.3.layers.2.weight": (32, 256),
    "output_upscaling.3.weight": (64, 32, 2, 2),
}


def _vit_b_transformer():
    from segment_anything.modeling import TwoWayTransformer

    return TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8)


def _shapes(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in state.items()}


@pytest.fixture(scope="module")
def model() -> SamHQ:
    return build_hq_sam(MICRO, seed=5)


@pytest.fixture(scope="module")
def inputs(model: SamHQ):
    """Embedding, early feature and prompt embeddings of 2 point prompts (B = 2) on a random image."""
    torch.manual_seed(0)
    image = torch.rand(1, 3, MICRO.img_size, MICRO.img_size) * 255
    with torch.no_grad():
        features, extra = model.encode(model.preprocess(image))
        early = extra["early_features"]
        points = torch.tensor([[[30.0, 40.0], [90.0, 20.0]], [[64.0, 64.0], [10.0, 100.0]]])
        sparse, dense = model.prompt_encoder(points=(points, torch.tensor([[1, 0], [1, 1]])), boxes=None, masks=None)
    return dict(image_embeddings=features, image_pe=model.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense), early


# -- (a) the official state-dict layout -----------------------------------------------------------------
def test_vit_b_sized_decoder_has_exactly_the_official_keys_and_shapes() -> None:
    from segment_anything.modeling import MaskDecoder

    decoder = MaskDecoderHQ(transformer_dim=256, transformer=_vit_b_transformer(), vit_dim=768)
    sam_decoder = MaskDecoder(transformer_dim=256, transformer=_vit_b_transformer())
    assert _official_hq_shapes(256, 768) == VIT_B_HQ  # the formula agrees with the written-out numbers
    expected = {**_shapes(sam_decoder.state_dict()), **VIT_B_HQ}
    assert _shapes(decoder.state_dict()) == expected
    for key, shape in VIT_B_SAM_SPOT_CHECKS.items():
        assert expected[key] == shape
    assert decoder.num_mask_tokens == 5 and decoder.num_sam_mask_tokens == 4
    assert [n for n, _ in decoder.named_parameters() if n in VIT_B_HQ] == hq_parameter_names(decoder)
    assert set(hq_parameter_names(decoder)) == set(VIT_B_HQ)


def test_full_model_keys_are_sam_keys_plus_the_hq_decoder_keys(model: SamHQ) -> None:
    sam_keys = _shapes(build_sam(MICRO).state_dict())
    hq_keys = {f"mask_decoder.{k}": v for k, v in _official_hq_shapes(MICRO.prompt_embed_dim,
                                                                       MICRO.encoder_embed_dim).items()}
    assert _shapes(model.state_dict()) == {**sam_keys, **hq_keys}
    assert MICRO.encoder_global_attn_indexes[0] == first_global_block(model.image_encoder)


def test_build_hq_sam_rejects_widths_not_divisible_by_8() -> None:
    with pytest.raises(ValueError, match="divisible by 8"):
        MaskDecoderHQ(transformer_dim=36, transformer=torch.nn.Identity(), vit_dim=64)


@pytest.fixture()
def official_file(tmp_path, model: SamHQ):
    """The micro model's weights saved the official way: a bare {name: tensor} dict via torch.save."""
    def write(state: dict[str, torch.Tensor], name: str = "sam_hq_micro.pth"):
        path = tmp_path / name
        torch.save(state, path)
        return path

    return write


def test_official_layout_loads_strictly_and_exactly(official_file, model: SamHQ) -> None:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    segmenter = sam_repro.load_segmenter("hqsam:micro", checkpoint=official_file(state), device="cpu", seed=99)
    assert isinstance(segmenter, HqSamSegmenter)
    loaded = segmenter.model.state_dict()
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    assert segmenter.info()["weights"] == "checkpoint" and segmenter.info()["sha256_verified"] is False
    # pixel statistics (non-persistent in segment_anything) are tolerated when they are SAM's
    with_stats = {**state, "pixel_mean": model.pixel_mean.clone(), "pixel_std": model.pixel_std.clone()}
    sam_repro.load_segmenter("hqsam:micro", checkpoint=official_file(with_stats, "b.pth"), device="cpu")
    wrong = {**state, "pixel_mean": torch.zeros(3, 1, 1)}
    with pytest.raises(CheckpointError, match="pixel_mean"):
        sam_repro.load_segmenter("hqsam:micro", checkpoint=official_file(wrong, "c.pth"), device="cpu")


@pytest.mark.parametrize("fault, message", [
    ("missing", r"missing keys \(1\): mask_decoder\.hf_token\.weight"),
    ("extra", r"unexpected keys \(1\): mask_decoder\.hq_extra\.weight"),
    ("shape", r"shape mismatches \(1\): mask_decoder\.compress_vit_feat\.0\.weight"),
])
def test_a_bad_state_dict_is_rejected_naming_the_key(official_file, model: SamHQ, fault: str, message: str) -> None:
    state = dict(model.state_dict())
    if fault == "missing":
        del state["mask_decoder.hf_token.weight"]
    elif fault == "extra":
        state["mask_decoder.hq_extra.weight"] = torch.zeros(2)
    else:
        state["mask_decoder.compress_vit_feat.0.weight"] = torch.zeros(768, 32, 2, 2)
    with pytest.raises(CheckpointError, match=message):
        sam_repro.load_segmenter("hqsam:micro", checkpoint=official_file(state), device="cpu")


def test_plain_sam_checkpoint_is_refused_with_the_fix_and_accepted_with_random_init_hq(official_file) -> None:
    sam_state = build_sam(MICRO, seed=11).state_dict()
    path = official_file(sam_state, "sam_micro.pth")
    with pytest.raises(CheckpointError, match="plain SAM checkpoint.*random_init_hq=True"):
        sam_repro.load_segmenter("hqsam:micro", checkpoint=path, device="cpu")
    segmenter = sam_repro.load_segmenter("hqsam:micro", checkpoint=path, random_init_hq=True, device="cpu")
    loaded = segmenter.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in sam_state.items())
    assert "random HQ parts" in segmenter.info()["weights"]
    hq_path = official_file(dict(loaded), "hq_micro.pth")
    with pytest.raises(CheckpointError, match="already holds HQ-SAM parameters"):
        sam_repro.load_segmenter("hqsam:micro", checkpoint=hq_path, random_init_hq=True, device="cpu")


# -- (b) hq_token_only ------------------------------------------------------------------------------------
@pytest.mark.parametrize("multimask", [False, True])
def test_hq_token_only_switches_between_hq_and_sam_plus_hq(model: SamHQ, inputs, multimask: bool) -> None:
    decoder_inputs, early = inputs
    decoder = model.mask_decoder
    with torch.no_grad():
        hq_features = decoder.hq_features(decoder_inputs["image_embeddings"], early)
        masks, iou = decoder.predict_masks(**decoder_inputs, hq_features=hq_features)
        outputs = {flag: decoder(**decoder_inputs, multimask_output=multimask, hq_token_only=flag,
                                 interm_embeddings=[early]) for flag in (False, True)}
    assert masks.shape == (2, 5, 32, 32) and iou.shape == (2, 4)
    # hand composition: SAM's chosen mask (single-output token, or the best of the 3 multimask ones)
    if multimask:
        best = [1 + int(torch.argmax(iou[i, 1:4])) for i in range(2)]
        sam = torch.stack([masks[i, best[i]] for i in range(2)])[:, None]
        sam_iou = torch.stack([iou[i, best[i]] for i in range(2)])[:, None]
    else:
        sam, sam_iou = masks[:, 0:1], iou[:, 0:1]
    hq = masks[:, 4:5]
    assert torch.equal(outputs[True][0], hq)
    assert torch.equal(outputs[False][0], sam + hq)
    assert torch.equal(outputs[True][1], sam_iou) and torch.equal(outputs[False][1], sam_iou)
    assert not torch.allclose(outputs[True][0], outputs[False][0])
    # the engine's form (early_features, as SamHQ.encode names it) is the same computation
    with torch.no_grad():
        assert torch.equal(decoder(**decoder_inputs, multimask_output=multimask, hq_token_only=True,
                                   early_features=early)[0], hq)
    with pytest.raises(ValueError, match="early_features"):
        decoder(**decoder_inputs, multimask_output=multimask)
    with pytest.raises(ValueError, match="exactly one"):
        decoder(**decoder_inputs, multimask_output=multimask, early_features=early, interm_embeddings=[early])


@pytest.mark.parametrize("hq_token_only", [False, True])
def test_segmenter_matches_the_official_style_model_forward(random_image, hq_token_only: bool) -> None:
    """Engine path (cached embedding + early feature as a decoder input) == SamHQ.forward (official signature)."""
    from segment_anything.utils.transforms import ResizeLongestSide

    segmenter = sam_repro.load_segmenter("hqsam:micro", random_init=True, seed=2, device="cpu",
                                         hq_token_only=hq_token_only)
    assert segmenter.hq_token_only is hq_token_only
    segmenter.set_image(random_image)
    points, labels = np.array([[40.0, 55.0], [10.0, 100.0]]), np.array([1, 0])
    ours = segmenter.predict(points=points, labels=labels, multimask=True)
    transform = ResizeLongestSide(MICRO.img_size)
    image = torch.as_tensor(transform.apply_image(random_image)).permute(2, 0, 1).float()
    coords = torch.as_tensor(transform.apply_coords(points, random_image.shape[:2]), dtype=torch.float)[None]
    with torch.no_grad():
        out = segmenter.model([{"image": image, "original_size": random_image.shape[:2], "point_coords": coords,
                                "point_labels": torch.as_tensor(labels)[None]}],
                              multimask_output=True, hq_token_only=hq_token_only)[0]
    np.testing.assert_array_equal(ours.low_res_logits, out["low_res_logits"][0].numpy())
    np.testing.assert_array_equal(ours.masks, out["masks"][0].numpy())
    np.testing.assert_array_equal(ours.iou_predictions, out["iou_predictions"][0].numpy())
    segmenter.hq_token_only = not hq_token_only  # the attribute switches the mode of later predictions
    other = segmenter.predict(points=points, labels=labels, multimask=True)
    assert not np.array_equal(other.low_res_logits, ours.low_res_logits)


# -- (c) the SAM path --------------------------------------------------------------------------------------
def test_sam_parameters_equal_build_sam_for_the_same_seed(model: SamHQ) -> None:
    plain = build_sam(MICRO, seed=5).state_dict()
    ours = model.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in plain.items())


@pytest.mark.parametrize("multimask", [False, True])
def test_zero_hq_output_leaves_exactly_the_sam_path(model: SamHQ, inputs, multimask: bool) -> None:
    """With hf_mlp's last layer zero the HQ logits are exactly 0, so SAM + HQ is the SAM path bit for
    bit; and the SAM path is plain SAM's decoder given the HQ token as one more sparse prompt embedding
    (the HQ token takes part in the token self-attention, so plain SAM without it differs: sam-hq #27)."""
    from segment_anything.modeling import MaskDecoder

    decoder_inputs, early = inputs
    decoder = MaskDecoderHQ.from_sam(build_sam(MICRO, seed=5).mask_decoder, vit_dim=MICRO.encoder_embed_dim)
    decoder.load_state_dict(model.mask_decoder.state_dict())
    with torch.no_grad():
        decoder.hf_mlp.layers[2].weight.zero_()
        decoder.hf_mlp.layers[2].bias.zero_()
        hq_only, _ = decoder(**decoder_inputs, multimask_output=multimask, hq_token_only=True,
                             interm_embeddings=[early])
        fused, iou = decoder(**decoder_inputs, multimask_output=multimask, hq_token_only=False,
                             interm_embeddings=[early])
        assert torch.count_nonzero(hq_only) == 0

        plain = MaskDecoder(transformer_dim=MICRO.prompt_embed_dim, transformer=decoder.transformer,
                            iou_head_depth=MICRO.iou_head_depth, iou_head_hidden_dim=MICRO.iou_head_hidden_dim)
        plain.load_state_dict({k: v for k, v in decoder.state_dict().items() if k in plain.state_dict()})
        sparse = decoder_inputs["sparse_prompt_embeddings"]
        with_token = torch.cat([decoder.hf_token.weight.expand(len(sparse), 1, -1), sparse], dim=1)
        args = dict(image_embeddings=decoder_inputs["image_embeddings"], image_pe=decoder_inputs["image_pe"],
                    dense_prompt_embeddings=decoder_inputs["dense_prompt_embeddings"], multimask_output=multimask)
        sam_masks, sam_iou = plain(sparse_prompt_embeddings=with_token, **args)
        if multimask:
            best = sam_iou.argmax(dim=1)
            sam_masks, sam_iou = sam_masks[torch.arange(len(best)), best][:, None], sam_iou.max(dim=1).values[:, None]
        assert torch.equal(fused, sam_masks) and torch.equal(iou, sam_iou)
        without_token, _ = plain(sparse_prompt_embeddings=sparse, **{**args, "multimask_output": False})
        if not multimask:
            assert not torch.equal(fused, without_token)


# -- (d) the segmenter interface -------------------------------------------------------------------------
PROMPTS = [
    dict(points=np.array([[40.0, 55.0]]), labels=np.array([1])),
    dict(points=np.array([[40.0, 55.0], [10.0, 100.0]]), labels=np.array([1, 0])),
    dict(box=np.array([15.0, 30.0, 70.0, 95.0])),
    dict(points=np.array([[40.0, 55.0]]), labels=np.array([1]), box=np.array([15.0, 30.0, 70.0, 95.0])),
]


@pytest.fixture(scope="module")
def segmenter() -> HqSamSegmenter:
    return sam_repro.load_segmenter("hqsam:micro", random_init=True, seed=7, device="cpu")


@pytest.mark.parametrize("prompt", PROMPTS, ids=["1pt", "2pt", "box", "pt+box"])
@pytest.mark.parametrize("multimask", [False, True])
def test_prediction_shapes(segmenter: HqSamSegmenter, random_image, prompt, multimask: bool) -> None:
    segmenter.set_image(random_image)
    prediction = segmenter.predict(**prompt, multimask=multimask)
    assert prediction.masks.shape == (1, 120, 90) and prediction.masks.dtype == bool  # one mask, also multimask
    assert prediction.logits.shape == (1, 120, 90) and prediction.logits.dtype == np.float32
    assert prediction.low_res_logits.shape == (1, 32, 32) and prediction.iou_predictions.shape == (1,)
    assert prediction.mask.shape == (120, 90) and prediction.low_res.shape == (1, 32, 32)
    again = segmenter.predict(**prompt, mask_input=prediction.low_res, multimask=multimask)
    assert again.low_res_logits.shape == (1, 32, 32)


def test_batch_prediction_and_caching(segmenter: HqSamSegmenter, random_image) -> None:
    segmenter.engine.reset_stats()
    segmenter.set_image(random_image)
    segmenter.set_image(random_image)
    assert segmenter.engine.stats.encoder_passes <= 1
    boxes = np.array([[15.0, 30.0, 70.0, 95.0], [0.0, 0.0, 50.0, 60.0], [20.0, 10.0, 89.0, 119.0]])
    batch = segmenter.predict_batch(boxes=boxes, multimask=True)
    assert len(batch) == 3 and all(p.masks.shape == (1, 120, 90) for p in batch)
    single = segmenter.predict(box=boxes[1], multimask=True)
    np.testing.assert_allclose(batch[1].low_res_logits, single.low_res_logits, atol=1e-5)
    early = segmenter.embedding.decoder_inputs["early_features"]
    assert early.shape == (1, MICRO.embedding_size, MICRO.embedding_size, MICRO.encoder_embed_dim)


def test_engine_cache_keys_differ_from_plain_sam(segmenter: HqSamSegmenter, random_image) -> None:
    from sam_repro.backbones.engine import SamEngine

    plain_model = build_sam(MICRO)
    plain = SamEngine(plain_model, weights_id=segmenter.engine.weights_id)  # the same encoder weights id
    assert plain.key(random_image) != segmenter.engine.key(random_image)  # but no early feature: never shared
    with pytest.raises(TypeError, match="SamHQ"):
        HqSamSegmenter(plain_model)
    embedding = plain.embed(random_image)  # no early feature
    with pytest.raises(ValueError, match="early_features"):
        segmenter.engine.decode(embedding, boxes=np.array([[15.0, 30.0, 70.0, 95.0]]))


# -- weights registry -----------------------------------------------------------------------------------
def test_hq_registry_agrees_with_the_data_manifest() -> None:
    from sam_repro.data.manifest import load_manifest

    manifest = load_manifest()
    assert [e.backbone for e in list_weights("hqsam")] == ["tiny", "vit_b", "vit_h", "vit_l"]
    for name in ("vit_b", "vit_l", "vit_h"):
        weights = get_weights("hqsam", name)
        entry = manifest.get(weights.manifest_name)
        assert entry.resource.file == weights.checkpoint.filename == f"sam_hq_{name}.pth"
        assert weights.checkpoint.url in entry.resource.urls
        assert weights.checkpoint.sha256 is None and entry.resource.sha256 is None
        assert entry.resource.unverified and weights.tied_to is None


def test_official_weights_missing_fails_fast_with_instructions() -> None:
    with pytest.raises(WeightsNotFoundError, match=r"sam-repro weights fetch hqsam:vit_b.*lkeab/hq-sam"):
        sam_repro.load_segmenter("hqsam:vit_b", device="cpu")
    with pytest.raises(WeightsNotFoundError, match="no HQ-SAM weights are registered for backbone 'micro'"):
        sam_repro.load_segmenter("hqsam:micro", device="cpu")
    with pytest.raises(ValueError, match="not both"):
        sam_repro.load_segmenter("hqsam:micro", random_init=True, random_init_hq=True, device="cpu")


def test_shipped_hq_file_matches_the_registry() -> None:
    weights = get_weights("hqsam", "tiny")
    ckpt = weights.checkpoint
    assert locate_weights(weights) == ckpt.shipped, f"regenerate with `{ckpt.regenerate}`"
    assert sha256_file(ckpt.shipped) == ckpt.sha256 and ckpt.shipped.stat().st_size == ckpt.size_bytes
    meta = read_checkpoint_meta(ckpt.shipped)
    # the shipped v2-era file was written before the command took the method's name (`hq-sam` is its alias)
    assert meta["command"] in (HQ_TRAIN_COMMAND, "sam-repro train hq-sam") and meta["format"] == HQ_ONLY_FORMAT
    # trained on the shipped tiny SAM, as the registry says
    assert meta["base_sha256"] == weights.tied_to == get_backbone("tiny").checkpoint.sha256
    assert meta["data"].startswith("synthetic/thin,synthetic/salient:train")


def test_shipped_hq_sam_beats_tiny_sam_on_held_out_thin_structures() -> None:
    """Not the notebook's measurement: a guard that the shipped HQ parts do what they were trained for
    (tight boxes on the thin family's val split, HQ logits only)."""
    from sam_repro.data import open_dataset
    from sam_repro.metrics import iou
    from sam_repro.prompts import mask_to_box

    sam = sam_repro.load_segmenter("tiny", device="cpu")
    hq = sam_repro.load_segmenter("hqsam:tiny", device="cpu", hq_token_only=True)
    dataset = open_dataset("synthetic/thin", "val")
    scores = {"sam": [], "hq": []}
    for index in range(4):
        sample = dataset[index]
        for name, segmenter in (("sam", sam), ("hq", hq)):
            segmenter.set_image(sample.image)
            scores[name] += [iou(segmenter.predict(box=mask_to_box(gt)).mask, gt) for gt in sample.masks]
    assert np.mean(scores["hq"]) > np.mean(scores["sam"]) + 0.03


def test_tiny_without_trained_hq_weights_names_the_train_command(tmp_path, monkeypatch) -> None:
    from dataclasses import replace

    from sam_repro.backbones import weights as registry

    weights = registry.get_weights("hqsam", "tiny")
    missing = replace(weights, checkpoint=replace(weights.checkpoint, shipped=tmp_path / "hq_sam_tiny.pt"))
    monkeypatch.setitem(registry._WEIGHTS, ("hqsam", "tiny"), missing)
    with pytest.raises(WeightsNotFoundError, match=f"`{HQ_TRAIN_COMMAND}`"):
        sam_repro.load_segmenter("hqsam:tiny", device="cpu")


def test_random_init_hq_puts_seeded_hq_parts_on_the_tiny_sam() -> None:
    tiny = sam_repro.load_segmenter("tiny", device="cpu").model.state_dict()
    first = sam_repro.load_segmenter("hqsam:tiny", random_init_hq=True, seed=1, device="cpu").model.state_dict()
    again = sam_repro.load_segmenter("hqsam:tiny", random_init_hq=True, seed=1, device="cpu").model.state_dict()
    other = sam_repro.load_segmenter("hqsam:tiny", random_init_hq=True, seed=2, device="cpu").model.state_dict()
    assert all(torch.equal(first[k], v) for k, v in tiny.items())  # tiny SAM's weights, exactly
    hq = [k for k in first if k not in tiny]
    assert hq and all(torch.equal(first[k], again[k]) for k in hq)  # seeded
    assert not torch.equal(first["mask_decoder.hf_token.weight"], other["mask_decoder.hf_token.weight"])


# -- (e) freezing ------------------------------------------------------------------------------------------
def test_a_gradient_step_on_the_hq_parameters_leaves_sam_bit_identical(random_image) -> None:
    segmenter = sam_repro.load_segmenter("hqsam:micro", random_init=True, seed=4, device="cpu")
    model = segmenter.model
    trainable = freeze_sam_parts(model)
    names = hq_parameter_names(model)
    assert len(trainable) == len(names) == 25
    assert all(p.requires_grad == (n in names) for n, p in model.named_parameters())
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(trainable, lr=1e-2)
    segmenter.set_image(random_image)
    gt = torch.zeros(120, 90)
    gt[30:95, 15:70] = 1
    for _ in range(2):
        low_res, _ = segmenter.engine.decode(segmenter.embedding, boxes=np.array([[15.0, 30.0, 70.0, 95.0]]),
                                             grad=True)
        logits = segmenter.engine.upscale(segmenter.embedding, low_res)[0, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, gt)
        optimizer.zero_grad()
        loss.backward()
        assert all(p.grad is not None for p in trainable)
        optimizer.step()
    after = model.state_dict()
    sam_keys = [k for k in before if k not in names]
    assert sam_keys and all(torch.equal(before[k], after[k]) for k in sam_keys)
    assert all(not torch.equal(before[k], after[k]) for k in names)


def test_test_time_adaptation_composes_with_hq_sam() -> None:
    """TTA adapts the HQ decoder through the same engine path (multimask first click: K = 1)."""
    from sam_repro.eval.interactive import InteractiveProtocol, run_interactive
    from sam_repro.methods.tta import TTAConfig

    tta = sam_repro.load_segmenter("tta:micro", base="hqsam", random_init=True, device="cpu",
                                   config=TTAConfig(click_adaptation="continual", result_mask=None, click_mask=False))
    assert isinstance(tta.segmenter, HqSamSegmenter)
    before = tta.decoder_state()
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    gt = np.zeros((96, 128), dtype=bool)
    gt[30:60, 40:80] = True
    protocol = InteractiveProtocol(name="hq-tta-test", max_clicks=3, target_iou=0.99, clicker="simple")
    run_interactive(tta, image, gt, protocol, rng=np.random.default_rng(0))
    after = tta.decoder_state()
    assert tta.steps["click"] >= 1
    assert not torch.equal(before["hf_token.weight"], after["hf_token.weight"])
