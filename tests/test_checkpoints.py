"""Registry metadata and strict / safe / verified checkpoint loading, on state dicts the tests save."""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import torch

from sam_repro.backbones import (
    BackboneSpec,
    CheckpointError,
    CheckpointSpec,
    ChecksumError,
    WeightsNotFoundError,
    build_sam,
    get_backbone,
    list_backbones,
    load_strict,
    read_state_dict,
    save_checkpoint,
    sha256_file,
)
from sam_repro.backbones.registry import TINY_CONFIG
from sam_repro.backbones.weights import (
    RECORDED_DIGESTS, WeightsEntry, expected_sha256, fetch_weights, get_weights, recorded_digests,
)
from sam_repro.methods.sam import load_sam_model


def test_official_backbones_have_urls_and_hashes() -> None:
    for name, dim, depth in [("vit_b", 768, 12), ("vit_l", 1024, 24), ("vit_h", 1280, 32)]:
        spec = get_backbone(name)
        assert spec.config.encoder_embed_dim == dim and spec.config.encoder_depth == depth
        assert spec.checkpoint.url.startswith("https://dl.fbaipublicfiles.com/segment_anything/sam_vit_")
        assert len(spec.checkpoint.sha256) == 64 and spec.checkpoint.license == "Apache-2.0"
    assert {"tiny", "micro"} <= set(list_backbones())


def test_unknown_backbone_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="vit_b"):
        get_backbone("vit_x")


def test_official_config_matches_segment_anything_builder() -> None:
    """Our vit_b builder produces exactly the parameter layout of segment_anything's own."""
    from segment_anything import sam_model_registry

    ours = build_sam(get_backbone("vit_b").config, seed=0).state_dict()
    theirs = sam_model_registry["vit_b"]().state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


@pytest.fixture()
def micro_checkpoint(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    model = build_sam(get_backbone("micro").config, seed=3)
    path = tmp_path / "micro.pt"
    save_checkpoint(model, path, meta={"note": "test"})
    return path, model.state_dict()


def test_round_trip_is_exact(micro_checkpoint) -> None:
    path, original = micro_checkpoint
    fresh = build_sam(get_backbone("micro").config, seed=99)
    load_strict(fresh, read_state_dict(path), path)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, original[key]), key


def test_half_precision_storage_round_trips_to_float16_values(tmp_path: Path) -> None:
    from sam_repro.backbones.checkpoints import read_checkpoint_meta

    model = build_sam(get_backbone("micro").config, seed=3)
    full, half = tmp_path / "full.pt", tmp_path / "half.pt"
    save_checkpoint(model, full)
    save_checkpoint(model, half, meta={"note": "x"}, dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    assert read_checkpoint_meta(half) == {"note": "x", "stored_dtype": "float16"}
    fresh = build_sam(get_backbone("micro").config, seed=99)
    load_strict(fresh, read_state_dict(half), half)
    for key, value in fresh.state_dict().items():
        assert value.dtype == model.state_dict()[key].dtype, key  # cast back to the model's dtype
        assert torch.equal(value, model.state_dict()[key].to(torch.float16).to(value.dtype)), key


def test_seeded_build_is_deterministic() -> None:
    a = build_sam(get_backbone("micro").config, seed=5).state_dict()
    b = build_sam(get_backbone("micro").config, seed=5).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_plain_state_dict_is_accepted(tmp_path: Path) -> None:
    model = build_sam(get_backbone("micro").config, seed=1)
    path = tmp_path / "plain.pth"
    torch.save(model.state_dict(), path)
    assert set(read_state_dict(path)) == set(model.state_dict())


def test_missing_and_unexpected_keys_are_named(micro_checkpoint) -> None:
    path, original = micro_checkpoint
    model = build_sam(get_backbone("micro").config)
    state = dict(original)
    state.pop("mask_decoder.iou_token.weight")
    state["mask_decoder.hf_token.weight"] = torch.zeros(1, 32)
    with pytest.raises(CheckpointError) as info:
        load_strict(model, state, path)
    message = str(info.value)
    assert "mask_decoder.iou_token.weight" in message and "mask_decoder.hf_token.weight" in message
    assert str(path) in message


def test_shape_mismatch_is_named(micro_checkpoint) -> None:
    path, original = micro_checkpoint
    state = dict(original)
    state["mask_decoder.iou_token.weight"] = torch.zeros(1, 7)
    with pytest.raises(CheckpointError, match=r"iou_token.weight: checkpoint \(1, 7\)"):
        load_strict(build_sam(get_backbone("micro").config), state, path)


def test_truncated_and_garbage_files_are_reported(micro_checkpoint, tmp_path: Path) -> None:
    path, _ = micro_checkpoint
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        read_state_dict(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="garbage.pt"):
        read_state_dict(garbage)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_state_dict(tmp_path / "absent.pt")


class _Arbitrary:
    pass


def test_loading_is_safe(tmp_path: Path) -> None:
    """weights_only=True: a pickle holding an arbitrary object is refused, not executed."""
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _Arbitrary()}, path)
    with pytest.raises(CheckpointError, match="evil.pt"):
        read_state_dict(path)


def test_wrong_hash_names_file_expected_and_actual(micro_checkpoint) -> None:
    path, _ = micro_checkpoint
    actual = sha256_file(path)
    assert actual == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ChecksumError) as info:
        read_state_dict(path, expected_sha256="0" * 64)
    assert str(path) in str(info.value) and "0" * 64 in str(info.value) and actual in str(info.value)
    assert read_state_dict(path, expected_sha256=actual.upper())  # case-insensitive match passes


def test_registry_file_with_wrong_hash_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file in the weights cache under vit_b's name is verified before anything is built."""
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path))
    (tmp_path / "sam_vit_b_01ec64.pth").write_bytes(b"corrupt download")
    with pytest.raises(ChecksumError, match="ec2df627"):
        load_sam_model("vit_b", device="cpu")


def test_missing_official_weights_say_where_to_put_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as info:
        load_sam_model("vit_l", device="cpu")
    message = str(info.value)
    assert "sam-repro weights fetch sam:vit_l" in message and str(tmp_path / "sam_vit_l_0b3195.pth") in message


def test_explicit_checkpoint_loads_strictly(micro_checkpoint) -> None:
    path, original = micro_checkpoint
    model, provenance = load_sam_model("micro", checkpoint=path, device="cpu")
    assert provenance["checkpoint_sha256"] == sha256_file(path)
    assert torch.equal(model.state_dict()["mask_decoder.iou_token.weight"], original["mask_decoder.iou_token.weight"])
    with pytest.raises(CheckpointError, match="does not fit"):
        load_sam_model("tiny", checkpoint=path, device="cpu")  # micro weights into the tiny architecture


def _serve(directory: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _entry_for(url: str, sha256: str | None) -> WeightsEntry:
    return WeightsEntry("sam", "served", CheckpointSpec(filename="served.pt", url=url, sha256=sha256, size_bytes=None,
                                                        license="test", paper="test"))


def test_fetch_downloads_and_verifies_from_a_loopback_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = tmp_path / "served"
    served.mkdir()
    digest = save_checkpoint(build_sam(get_backbone("micro").config, seed=0), served / "served.pt")
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path / "cache"))
    server = _serve(served)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/served.pt"
        path = fetch_weights(_entry_for(url, digest), progressbar=False)
        assert path == tmp_path / "cache" / "served.pt" and sha256_file(path) == digest
        with pytest.raises(CheckpointError, match="did not match"):
            fetch_weights(_entry_for(url.replace("served.pt", "served.pt?x"), "1" * 64), progressbar=False)
    finally:
        server.shutdown()


def test_first_download_of_an_unpublished_file_records_its_digest_and_later_loads_check_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No sha256 is published (HQ-SAM's official files): trust on first use, then verify."""
    served = tmp_path / "served"
    served.mkdir()
    digest = save_checkpoint(build_sam(get_backbone("micro").config, seed=0), served / "served.pt")
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path / "cache"))
    server = _serve(served)
    try:
        entry = _entry_for(f"http://127.0.0.1:{server.server_address[1]}/served.pt", None)
        assert expected_sha256(entry) is None
        path = fetch_weights(entry, progressbar=False)
    finally:
        server.shutdown()
    assert recorded_digests() == {"served.pt": digest} and (tmp_path / "cache" / RECORDED_DIGESTS).is_file()
    assert expected_sha256(entry) == digest
    path.write_bytes(b"swapped after the download")
    with pytest.raises(ChecksumError, match=digest):
        read_state_dict(path, expected_sha256=expected_sha256(entry))


def test_official_hq_sam_file_is_checked_against_the_recorded_digest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A load of an official HQ-SAM file checks the digest its first download recorded."""
    import sam_repro
    from sam_repro.backbones.weights import record_digest

    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path))
    (tmp_path / "sam_hq_vit_b.pth").write_bytes(b"not what was downloaded")
    record_digest("sam_hq_vit_b.pth", "ab" * 32)
    assert expected_sha256(get_weights("hqsam", "vit_b")) == "ab" * 32
    with pytest.raises(ChecksumError, match="ab" * 32):
        sam_repro.load_segmenter("hqsam:vit_b", device="cpu")


def test_fetch_without_network_fails_fast_with_manual_instructions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pooch

    def offline(**kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(CheckpointError) as info:
        fetch_weights(get_weights("sam", "vit_b"), progressbar=False)
    message = str(info.value)
    assert "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth" in message
    assert str(tmp_path / "sam_vit_b_01ec64.pth") in message


def test_tiny_config_is_small() -> None:
    model = build_sam(TINY_CONFIG)
    assert sum(p.numel() for p in model.parameters()) < 4_000_000  # 3.4M: a few MB in float16


def test_registry_agrees_with_the_data_manifest() -> None:
    """The backbone registry and data_manifest.yaml describe the official checkpoints identically."""
    from sam_repro.data.manifest import load_manifest

    manifest = load_manifest()
    for name in ("vit_b", "vit_l", "vit_h"):
        spec = get_backbone(name).checkpoint
        entry = manifest.get(f"sam_{name}")
        assert entry.resource.file == spec.filename and entry.resource.sha256 == spec.sha256
        assert entry.resource.size_bytes == spec.size_bytes and spec.url in entry.resource.urls


class _RunsACommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_runs_code_is_refused_as_unsafe_not_corrupt(tmp_path: Path) -> None:
    from sam_repro.backbones.checkpoints import UnsafeCheckpointError, read_checkpoint_meta

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "meta": _RunsACommand(tmp_path / "pwned")}, path)
    for read in (read_state_dict, read_checkpoint_meta):
        with pytest.raises(UnsafeCheckpointError) as error:
            read(path)
        message = str(error.value)
        assert "evil.pt" in message and "unsafe" in message and "weights_only=True" in message
        assert "system" in message and "corrupt" not in message
    assert not (tmp_path / "pwned").exists()


def test_checkpoint_metadata_errors_name_the_file(micro_checkpoint, tmp_path: Path) -> None:
    from sam_repro.backbones.checkpoints import read_checkpoint_meta

    path, _ = micro_checkpoint
    assert read_checkpoint_meta(path) == {"note": "test"}
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"cut\.pt.*corrupt or truncated"):
        read_checkpoint_meta(truncated)
    with pytest.raises(CheckpointError, match=r"absent\.pt does not exist"):
        read_checkpoint_meta(tmp_path / "absent.pt")
    odd = tmp_path / "odd.pt"
    torch.save({"state_dict": {}, "meta": [1, 2]}, odd)
    with pytest.raises(CheckpointError, match=r"odd\.pt: 'meta' is a list"):
        read_checkpoint_meta(odd)
