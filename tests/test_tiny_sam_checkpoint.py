"""The shipped tiny SAM checkpoint: registered hash, strict load, provenance, and SAM-like behaviour."""
from __future__ import annotations

import numpy as np

import sam_repro
from sam_repro.backbones import get_backbone, read_state_dict, sha256_file
from sam_repro.backbones.checkpoints import read_checkpoint_meta
from sam_repro.data import open_dataset
from sam_repro.prompts import mask_to_box


def test_shipped_file_matches_the_registry() -> None:
    spec = get_backbone("tiny").checkpoint
    assert spec.shipped.is_file(), f"regenerate with `{spec.regenerate}`"
    assert sha256_file(spec.shipped) == spec.sha256
    assert spec.shipped.stat().st_size < 8 * 1024 * 1024  # a few MB, fine in git
    meta = read_checkpoint_meta(spec.shipped)
    assert meta["command"] == spec.regenerate and meta["data"].startswith("synthetic/generic:train")
    assert len(read_state_dict(spec.shipped)) > 50


def test_tiny_sam_segments_held_out_generic_objects_from_boxes() -> None:
    """Not a quality target (the report notebook measures those): the trained model must do far better
    than chance with tight boxes on held-out generic samples."""
    segmenter = sam_repro.load_segmenter("tiny", device="cpu")
    dataset = open_dataset("synthetic/generic", "test")
    ious = []
    for index in range(3):
        sample = dataset[index]
        segmenter.set_image(sample.image)
        for gt in sample.masks:
            if gt.sum() >= 256:
                pred = segmenter.predict(box=mask_to_box(gt)).mask
                ious.append((pred & gt).sum() / (pred | gt).sum())
    assert len(ious) >= 5 and np.mean(ious) > 0.5
