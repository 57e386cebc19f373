"""decode_multi_image: one decoder pass for prompts of several images equals per-image passes."""
from __future__ import annotations

import pytest
import torch

from sam_repro.backbones.build import build_sam
from sam_repro.backbones.decoding import decode_multi_image
from sam_repro.backbones.registry import get_backbone


@pytest.mark.parametrize("multimask", [False, True])
def test_multi_image_decode_matches_the_decoder_per_image(multimask: bool) -> None:
    torch.manual_seed(0)
    model = build_sam(get_backbone("micro").config, seed=0).eval()
    grid = model.image_encoder.img_size // 16
    features = torch.randn(2, model.prompt_encoder.embed_dim, grid, grid)
    points = torch.rand(5, 2, 2) * model.image_encoder.img_size
    labels = torch.tensor([[1, 0], [1, 1], [1, 0], [0, 1], [1, 1]])
    image_index = torch.tensor([0, 1, 1, 0, 1])
    pe = model.prompt_encoder.get_dense_pe()
    with torch.no_grad():
        sparse, dense = model.prompt_encoder(points=(points, labels), boxes=None, masks=None)
        masks, iou = decode_multi_image(model.mask_decoder, features, image_index, pe, sparse, dense, multimask)
        for i in range(5):
            expected_masks, expected_iou = model.mask_decoder(
                image_embeddings=features[image_index[i] : image_index[i] + 1], image_pe=pe,
                sparse_prompt_embeddings=sparse[i : i + 1], dense_prompt_embeddings=dense[i : i + 1],
                multimask_output=multimask)
            torch.testing.assert_close(masks[i : i + 1], expected_masks, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(iou[i : i + 1], expected_iou, rtol=1e-5, atol=1e-5)
    assert masks.shape == (5, 3 if multimask else 1, 4 * grid, 4 * grid)


def test_multi_image_decode_checks_counts() -> None:
    model = build_sam(get_backbone("micro").config, seed=0).eval()
    grid = model.image_encoder.img_size // 16
    features = torch.zeros(1, model.prompt_encoder.embed_dim, grid, grid)
    sparse = torch.zeros(3, 2, model.prompt_encoder.embed_dim)
    dense = torch.zeros(3, model.prompt_encoder.embed_dim, grid, grid)
    with pytest.raises(ValueError, match="number of prompts"):
        decode_multi_image(model.mask_decoder, features, torch.zeros(2, dtype=torch.long),
                           model.prompt_encoder.get_dense_pe(), sparse, dense, False)
