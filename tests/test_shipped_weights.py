"""Every file in the package's weights folder is accounted for: a registry entry (sha256 and size) or a shipped
ablation of a registered method (sha256), each tied to the shipped tiny SAM; nothing ships unregistered."""
from __future__ import annotations

from sam_repro.backbones import get_backbone
from sam_repro.backbones.checkpoints import read_checkpoint_meta, sha256_file
from sam_repro.backbones.weights import SHIPPED_WEIGHTS_DIR, list_weights


def _ablations() -> dict[str, str]:
    """file name -> sha256 of every shipped ablation (Stable-SAM's Table 8, Pi-SAM's Table 5, DIS-SAM's Table 2)."""
    from sam_repro.methods.dissam.weights import SHIPPED_ROWS
    from sam_repro.methods.pisam.weights import SHIPPED_ABLATIONS
    from sam_repro.methods.stablesam.weights import SHIPPED_VARIANTS

    return {**{f"stable_sam_tiny_{v}.pt": sha for v, sha in SHIPPED_VARIANTS.items()},
            **{f"pi_sam_tiny_ablation_{v}.pt": sha for v, sha in SHIPPED_ABLATIONS.items()},
            **{f"dis_sam_tiny_row{row}.pt": sha for row, sha in SHIPPED_ROWS.items()}}


def test_every_shipped_file_is_registered_with_its_digest_and_tied_to_the_tiny_sam() -> None:
    registered = {e.checkpoint.shipped.name: e for e in list_weights()
                  if e.checkpoint.shipped is not None and e.checkpoint.shipped.parent == SHIPPED_WEIGHTS_DIR}
    ablations = _ablations()
    tiny = get_backbone("tiny").checkpoint.sha256
    files = sorted(p for p in SHIPPED_WEIGHTS_DIR.glob("*.pt"))
    assert files
    for path in files:
        if path.name in registered:
            checkpoint = registered[path.name].checkpoint
            assert checkpoint.sha256 == sha256_file(path), f"{path.name}: regenerate with `{checkpoint.regenerate}`"
            assert checkpoint.size_bytes == path.stat().st_size, path.name
        elif path.name in ablations:
            assert ablations[path.name] == sha256_file(path), path.name
        elif path.name != get_backbone("tiny").checkpoint.shipped.name:
            raise AssertionError(f"{path.name} ships but is neither registered nor a registered ablation")
        meta = read_checkpoint_meta(path)
        if "base_sha256" in meta:  # a parts file: trained on the shipped tiny SAM
            assert meta["base_sha256"] == tiny, path.name


def test_the_trainers_defaults_regenerate_the_shipped_clip_and_alignsam_parts() -> None:
    """`sam-repro train tiny-clip` and `sam-repro train alignsam` without options reproduce the recipe recorded in
    the shipped files (the registry's `regenerate` command is the bare command), and the AlignSAM parts were trained
    on the shipped CLIP."""
    from dataclasses import asdict

    from sam_repro.backbones.weights import get_weights
    from sam_repro.train.alignsam import AlignSamTrainConfig
    from sam_repro.train.tiny_clip import TinyClipTrainConfig

    # not in the recorded config: run plumbing, and the input files, which the parts record by their sha256
    plumbing = {"checkpoint_every", "extra", "output", "run_dir", "threads", "base_checkpoint", "clip_checkpoint"}
    clip = get_weights("clip", "tiny").checkpoint
    parts = read_checkpoint_meta(get_weights("alignsam", "tiny").checkpoint.shipped)
    for recorded, config in ((read_checkpoint_meta(clip.shipped)["train_config"], TinyClipTrainConfig()),
                             (parts["train_config"], AlignSamTrainConfig())):
        defaults = asdict(config)
        assert set(defaults) - set(recorded) <= plumbing, type(config).__name__
        assert recorded == {key: defaults[key] for key in recorded}, type(config).__name__
    assert parts["clip_sha256"] == clip.sha256
