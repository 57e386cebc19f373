"""`sam-repro weights list|fetch` through the real entry point."""
from __future__ import annotations

import pytest

from sam_repro.cli import main


def test_weights_list_shows_official_and_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    for name, sha in [("vit_b", "ec2df627"), ("vit_l", "3adcc431"), ("vit_h", "a7bf3b02")]:
        assert name in out and sha in out
    assert "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth" in out
    assert "sam:tiny" in out and "hqsam:tiny" in out
    for size in ("b", "l", "h"):  # HQ-SAM's official files, with their URLs
        assert f"hqsam:vit_{size}" in out
        assert f"https://huggingface.co/lkeab/hq-sam/resolve/main/sam_hq_vit_{size}.pth" in out


def test_weights_list_filters_by_method(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "list", "--method", "hqsam"]) == 0
    out = capsys.readouterr().out
    assert "hqsam:vit_b" in out and "sam:vit_b" not in out.replace("hqsam:vit_b", "")


def test_weights_fetch_offline_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import pooch

    def offline(**kwargs):
        raise ConnectionError("Failed to resolve host")

    monkeypatch.setattr(pooch, "retrieve", offline)
    assert main(["weights", "fetch", "vit_b"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam-repro: error: could not download") and "put it at" in err


def test_weights_fetch_unknown_name(capsys) -> None:
    assert main(["weights", "fetch", "vit_z"]) == 2
    assert "no weights registered as 'vit_z'" in capsys.readouterr().err
