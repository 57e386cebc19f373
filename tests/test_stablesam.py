"""Stable-SAM's plug-ins: an untrained Stable-SAM is SAM; deformable sampling moves features exactly by whole cells
and averages at half cells; only layer 2's token-to-image keys and values are deformed; α per prompt."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sam_repro.backbones.build import build_sam
from sam_repro.backbones.registry import get_backbone
from sam_repro.methods.sam import SamSegmenter
from sam_repro.methods.stablesam import (
    PLUGIN_LAYER, StablePluginConfig, attach_plugins, deformable_sample, freeze_sam_parts, is_plugin_parameter,
    plugin_block,
)

MICRO = get_backbone("micro").config


def _pair(config: StablePluginConfig = StablePluginConfig()):
    sam = build_sam(MICRO, seed=3)
    return sam, attach_plugins(copy.deepcopy(sam), config)


def _randomize_plugins(model, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if is_plugin_parameter(name):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)


def test_integer_offsets_shift_features_exactly_and_half_cells_average() -> None:
    features = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    offsets = torch.zeros(2, 2, 4, 5)
    torch.testing.assert_close(deformable_sample(features, offsets), features)  # zero offsets: the identity
    offsets[:, 0] = 1.0  # one cell to the right (x = column)
    shifted = deformable_sample(features, offsets)
    torch.testing.assert_close(shifted[..., :4], features[..., 1:])
    assert torch.all(shifted[..., 4] == 0)  # beyond the border: zeros
    offsets = torch.zeros(2, 2, 4, 5)
    offsets[:, 1] = 0.5  # half a cell down (y = row)
    half = deformable_sample(features, offsets)
    torch.testing.assert_close(half[:, :, :3], (features[:, :, :3] + features[:, :, 1:]) / 2)
    border = deformable_sample(features, torch.full((2, 2, 4, 5), 10.0), padding="border")
    assert torch.all(border == features[:, :, -1:, -1:])  # clamped to the last cell
    with pytest.raises(ValueError, match="offsets"):
        deformable_sample(features, torch.zeros(2, 3, 4, 5))


@pytest.mark.parametrize("config", [StablePluginConfig(), StablePluginConfig(alpha="sigmoid", amplitude=False),
                                    StablePluginConfig(resample_pe=True)])
def test_an_untrained_stable_sam_is_sam(config: StablePluginConfig) -> None:
    sam, stable = _pair(config)
    if config.alpha == "sigmoid":  # independent weights need α = (0, 1) to be SAM: force it
        plugin_block(stable).force_alpha = 0.0
    image = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    a, b = SamSegmenter(sam), SamSegmenter(stable)
    for segmenter in (a, b):
        segmenter.set_image(image)
    for prompt in ({"box": np.array([10.0, 20.0, 80.0, 70.0])},
                   {"points": np.array([[30.0, 40.0], [100.0, 10.0]]), "labels": np.array([1, 0]), "multimask": True}):
        np.testing.assert_allclose(b.predict(**prompt).low_res_logits, a.predict(**prompt).low_res_logits, atol=1e-5)


def test_only_layer_twos_token_to_image_keys_and_values_are_deformed() -> None:
    sam, stable = _pair()
    _randomize_plugins(stable)
    seen = {}

    def capture(name):
        def hook(module, args, kwargs, output):
            seen[name] = {k: v.detach().clone() for k, v in kwargs.items()}
        return hook

    transformer = stable.mask_decoder.transformer
    block = transformer.layers[PLUGIN_LAYER]
    block.cross_attn_token_to_image.register_forward_hook(capture("t2i"), with_kwargs=True)
    block.cross_attn_image_to_token.register_forward_hook(capture("i2t"), with_kwargs=True)
    reference = {}
    transformer.layers[0].register_forward_hook(lambda m, a, o: reference.__setitem__("layer1", o))
    plain = {}
    sam.mask_decoder.transformer.layers[0].register_forward_hook(lambda m, a, o: plain.__setitem__("layer1", o))
    segmenters = SamSegmenter(sam), SamSegmenter(stable)
    image = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    for segmenter in segmenters:
        segmenter.set_image(image)
        segmenter.predict(box=np.array([5.0, 5.0, 50.0, 40.0]))
    torch.testing.assert_close(reference["layer1"][1], plain["layer1"][1])  # layer 1 untouched
    keys_in = reference["layer1"][1]
    key_pe = stable.prompt_encoder.get_dense_pe().flatten(2).permute(0, 2, 1)
    torch.testing.assert_close(seen["i2t"]["q"], keys_in + key_pe)  # image-to-token: the original x_p
    assert not torch.allclose(seen["t2i"]["v"], keys_in)  # token-to-image values: deformed and mixed
    torch.testing.assert_close(seen["t2i"]["k"], seen["t2i"]["v"] + key_pe)  # reference-grid PE by default


def test_alpha_is_per_prompt_and_a_batch_equals_single_prompts() -> None:
    _, stable = _pair()
    _randomize_plugins(stable, seed=1)
    segmenter = SamSegmenter(stable)
    segmenter.set_image(np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    boxes = np.array([[5.0, 5.0, 50.0, 40.0], [20.0, 10.0, 60.0, 60.0]])
    batch = segmenter.predict_batch(boxes=boxes)
    alphas = plugin_block(stable).last_alpha
    assert alphas.shape == (2, 2) and not torch.allclose(alphas[0], alphas[1])
    torch.testing.assert_close(alphas.sum(1), torch.ones(2))  # softmax: a convex mix
    for box, prediction in zip(boxes, batch):
        np.testing.assert_allclose(segmenter.predict(box=box).low_res_logits, prediction.low_res_logits, atol=1e-5)
    plugin_block(stable).force_alpha = 0.7
    segmenter.predict(box=boxes[0])
    torch.testing.assert_close(plugin_block(stable).last_alpha, torch.tensor([[0.7, 0.3]]))


def test_only_the_plugins_train_and_plugins_attach_once() -> None:
    sam, stable = _pair()
    trainable = freeze_sam_parts(stable)
    names = [n for n, p in stable.named_parameters() if p.requires_grad]
    assert names and all(".dsp." in n or ".drp." in n for n in names) and len(trainable) == len(names)
    plugin_count = sum(p.numel() for p in trainable)
    assert plugin_count < 0.1 * sum(p.numel() for p in sam.mask_decoder.parameters())
    with pytest.raises(ValueError, match="already"):
        attach_plugins(stable)
    with pytest.raises(TypeError, match="no Stable-SAM plug-ins"):
        plugin_block(sam)
    with pytest.raises(ValueError, match="alpha"):
        StablePluginConfig(alpha="relu")


def test_plugin_size_at_sams_width_matches_the_papers_count() -> None:
    """At C = 256 (SAM's decoder) DSP + DRP hold about 0.08M parameters, the paper's figure."""
    from sam_repro.methods.stablesam import DeformableSamplingPlugin, DynamicRoutingPlugin

    config = StablePluginConfig()
    count = sum(p.numel() for module in (DeformableSamplingPlugin(256, config), DynamicRoutingPlugin(256, config))
                for p in module.parameters())
    assert 0.07e6 < count < 0.09e6


def test_alpha_of_each_prompt_reaches_the_protocol_records() -> None:
    """StableSamSegmenter.diagnostics() gives the last prompt's alpha_1, and the prompt protocols record it per draw
    (what Table 6 averages); plain SAM records none."""
    from sam_repro.data.sample import Sample
    from sam_repro.eval.protocols import RepeatedPromptProtocol, points_protocol
    from sam_repro.methods.stablesam import StableSamSegmenter

    sam, stable = _pair()
    _randomize_plugins(stable, seed=4)
    segmenter = StableSamSegmenter(stable, {"backbone": "micro"})
    gt = np.zeros((64, 64), bool)
    gt[10:50, 12:40] = True
    sample = Sample(id="s", image=np.random.default_rng(5).integers(0, 255, (64, 64, 3), dtype=np.uint8), masks=gt[None])
    out = RepeatedPromptProtocol("p", points_protocol(2, multimask=False), draws=3).run(
        segmenter, sample, [0], np.random.default_rng(0))
    alphas = [o.record["alpha_1"] for o in out.objects]
    assert len(set(alphas)) == 3 and all(0.0 < a < 1.0 for a in alphas)
    segmenter.set_image(sample.image)
    segmenter.predict(points=np.array([[20.0, 20.0]]), labels=np.array([1]))
    assert segmenter.diagnostics()["alpha_1"] == pytest.approx(float(segmenter.last_alpha[0, 0]))
    plain = points_protocol(1).run(SamSegmenter(sam), sample, [0], np.random.default_rng(0))
    assert "alpha_1" not in plain.objects[0].record


def test_recorded_attention_is_what_layer_2_attends_with() -> None:
    """last_attention (record_attention=True) times the layer's values, through the attention's output projection,
    gives exactly the token-to-image attention's output (captured by a hook): the figures draw the real weights."""
    _, stable = _pair()
    _randomize_plugins(stable, seed=6)
    block = plugin_block(stable)
    block.record_attention = True
    seen = {}

    def hook(module, args, kwargs, output):
        seen.update(v=kwargs["v"], out=output)

    handle = block.cross_attn_token_to_image.register_forward_hook(hook, with_kwargs=True)
    segmenter = SamSegmenter(stable)
    segmenter.set_image(np.random.default_rng(7).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    segmenter.predict(box=np.array([8.0, 8.0, 50.0, 44.0]))
    handle.remove()
    attention = block.cross_attn_token_to_image
    weights = block.last_attention
    assert weights.shape[:2] == (1, attention.num_heads) and weights.shape[-1] == block.grid ** 2
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
    values = attention._separate_heads(attention.v_proj(seen["v"]), attention.num_heads)
    rebuilt = attention.out_proj(attention._recombine_heads(weights @ values))
    torch.testing.assert_close(rebuilt, seen["out"], atol=1e-5, rtol=1e-5)


def test_attended_points_are_cell_centres_for_sam_and_sampled_positions_for_stable_sam() -> None:
    from sam_repro.methods.stablesam import StableSamSegmenter
    from sam_repro.methods.stablesam.attention import attended_points

    _, stable = _pair()
    _randomize_plugins(stable, seed=8)
    segmenter = StableSamSegmenter(stable, {"backbone": "micro"})
    segmenter.set_image(np.random.default_rng(9).integers(0, 255, (64, 48, 3), dtype=np.uint8))
    cell = 128 / 8 * (64 / 128)  # micro: img 128, grid 8; the 64-px side is resized to 128
    box = np.array([4.0, 6.0, 40.0, 50.0])
    sam = attended_points(segmenter, box=box, top_k=64, as_sam=True)
    assert sam.alpha_1 == 0.0 and segmenter.force_alpha is None  # restored
    np.testing.assert_allclose(np.sort(np.unique(sam.xy[:, 0])), (np.arange(8) + 0.5) * cell)
    assert np.all(np.diff(sam.scores) <= 0) and sam.scores.sum() == pytest.approx(1.0, abs=1e-5)
    ours = attended_points(segmenter, box=box, top_k=64)
    offsets = plugin_block(stable).last_offsets[0].numpy()
    rows, cols = np.divmod(np.arange(64), 8)
    expected = np.stack([cols + 0.5 + offsets[0].ravel(), rows + 0.5 + offsets[1].ravel()], 1) * cell
    centre_of = {tuple(np.round(p, 4)) for p in expected}
    assert {tuple(np.round(p, 4)) for p in ours.xy} == centre_of and 0.0 < ours.alpha_1 < 1.0
    assert plugin_block(stable).record_attention is False


def test_unshipped_ablations_name_their_train_command() -> None:
    from sam_repro.backbones.checkpoints import WeightsNotFoundError
    from sam_repro.methods.stablesam import VARIANTS, weights

    missing = [v for v in VARIANTS if v != "full" and v not in weights.SHIPPED_VARIANTS]
    for variant in missing:
        with pytest.raises(WeightsNotFoundError, match=f"sam-repro train stablesam --variant {variant}"):
            weights.shipped_variant(variant)
    with pytest.raises(ValueError, match="variant must be one of"):
        weights.shipped_variant("nope")
    for variant, digest in weights.SHIPPED_VARIANTS.items():  # shipped ones load as the variant they claim
        model, provenance = weights.load_stable_sam_model("tiny", variant=variant, device="cpu")
        assert provenance["variant"] == variant and provenance["checkpoint_sha256"] == digest
