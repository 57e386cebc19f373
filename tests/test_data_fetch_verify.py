"""fetch / verify / path on a toy manifest: hashes, counts, file problems by name, no-network failure, manual path.

No test touches the network: downloads are injected, or aimed at a closed port on 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import io
import socket
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from sam_repro.cli import main
from sam_repro.data.errors import ChecksumMismatchError, FetchError, ManualDownloadRequired, UnsafeArchiveError
from sam_repro.data.fetch import fetch, pooch_download
from sam_repro.data.manifest import load_manifest
from sam_repro.data.verify import verify


@pytest.fixture(autouse=True)
def _repository_manifest(monkeypatch):
    """Use the repository's data_manifest.yaml whatever the caller's environment says."""
    monkeypatch.delenv("SAM_REPRO_MANIFEST", raising=False)


def png_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def toy_zip(names=("a", "b", "c"), extra: dict[str, bytes] | None = None) -> bytes:
    """toy/train/{im,gt} with one pair per name."""
    buffer = io.BytesIO()
    mask = np.zeros((6, 8), np.uint8)
    mask[1:4, 2:6] = 255
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in names:
            zf.writestr(f"toy/train/im/{name}.jpg", png_bytes(np.full((6, 8, 3), 90, np.uint8), "JPEG"))
            zf.writestr(f"toy/train/gt/{name}.png", png_bytes(mask))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buffer.getvalue()


ZIP = toy_zip()
ZIP_SHA = hashlib.sha256(ZIP).hexdigest()
CKPT = b"fake checkpoint bytes"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_manifest(tmp_path: Path, *, count: int = 3, count_unverified: bool = False, sha: str | None = ZIP_SHA,
                   url: str = "http://127.0.0.1:9/toy.zip", manual: bool = False) -> Path:
    resource = {"file": "toy.zip", "urls": [url], "sha256": sha, "archive": "zip", "extract_to": ".",
                "unverified": sha is None, "manual": manual}
    data = {
        "schema_version": 1,
        "papers": {"p": {"title": "Paper", "tables_file": "p.yaml"}},
        "datasets": {
            "toy": {"title": "Toy set", "format": "folder_pairs", "mask_threshold": 128, "license": "x",
                    "citation": "y", "manual": manual, "instructions": "Get it from the toy site." if manual else None,
                    "resources": [resource],
                    "splits": {"train": {"image_dir": "toy/train/im", "mask_dir": "toy/train/gt", "count": count,
                                         "count_source": "test", "count_unverified": count_unverified}}},
            "toy_view": {"title": "Toy view", "format": "folder_pairs", "storage": "toy", "mask_threshold": 128,
                         "license": "x", "citation": "y", "resources": [{"ref": "toy.zip"}],
                         "splits": {"train": {"image_dir": "toy/train/im", "mask_dir": "toy/train/gt"}}},
        },
        "checkpoints": {
            "toy_ckpt": {"title": "Toy weights", "file": "toy.pth", "urls": [url.replace("toy.zip", "toy.pth")],
                         "sha256": hashlib.sha256(CKPT).hexdigest(), "size_bytes": len(CKPT), "license": "MIT"},
        },
        "paper_table_datasets": [{"paper": "p", "tables": ["table1"], "printed": "Toy", "targets": ["toy:train"]}],
    }
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    data, weights = tmp_path / "data", tmp_path / "weights"
    monkeypatch.setenv("SAM_REPRO_DATA", str(data))
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(weights))
    return data, weights


def serve(payload: bytes):
    calls = []

    def download(url, path, resource, connect_timeout, read_timeout):
        calls.append(url)
        path.write_bytes(payload)

    download.calls = calls
    return download


# --------------------------------------------------------------------------------------------------- fetch
def test_fetch_downloads_checks_and_extracts(tmp_path, env):
    data, _ = env
    manifest = load_manifest(write_manifest(tmp_path))
    download = serve(ZIP)
    result = fetch("toy", manifest=manifest, download=download)
    assert result.status == "extracted" and download.calls == ["http://127.0.0.1:9/toy.zip"]
    assert (data / "_downloads/toy/toy.zip").read_bytes() == ZIP
    assert sorted(p.name for p in (data / "toy/toy/train/im").iterdir()) == ["a.jpg", "b.jpg", "c.jpg"]
    assert (data / "toy/.sam-repro/toy.zip.done").exists()
    again = fetch("toy", manifest=manifest, download=download)
    assert again.status == "present" and len(download.calls) == 1
    assert fetch("toy_view", manifest=manifest, download=download).status == "present"  # shares toy's folder
    report = verify("toy", manifest=manifest)
    assert report.ok, report.lines()


def test_fetch_rejects_a_download_with_the_wrong_hash(tmp_path, env):
    data, _ = env
    manifest = load_manifest(write_manifest(tmp_path))
    with pytest.raises(ChecksumMismatchError, match=rf"toy\.zip.*sha256: expected {ZIP_SHA}"):
        fetch("toy", manifest=manifest, download=serve(toy_zip(("x",))))
    assert not (data / "_downloads/toy/toy.zip").exists() and not (data / "toy/toy").exists()


def test_fetch_refuses_unsafe_archive(tmp_path, env):
    data, _ = env
    evil = toy_zip(extra={"../escape.txt": b"pwned"})
    manifest = load_manifest(write_manifest(tmp_path, sha=hashlib.sha256(evil).hexdigest()))
    with pytest.raises(UnsafeArchiveError, match=r"\.\./escape\.txt"):
        fetch("toy", manifest=manifest, download=serve(evil))
    assert not (data / "escape.txt").exists() and not (data / "toy/toy").exists()


def test_fetch_without_network_fails_fast_with_url_and_destination(tmp_path, env):
    data, _ = env
    url = f"http://127.0.0.1:{closed_port()}/toy.zip"
    manifest = load_manifest(write_manifest(tmp_path, url=url))
    started = time.monotonic()
    with pytest.raises(FetchError) as error:
        fetch("toy", manifest=manifest, connect_timeout=0.5, download=pooch_download)
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert url in message and str(data / "_downloads/toy/toy.zip") in message
    assert "sam-repro data fetch toy" in message and "by hand" in message
    assert not (data / "_downloads/toy/toy.zip").exists()


def test_fetch_reports_downloader_errors(tmp_path, env):
    import requests

    def offline(url, path, resource, connect_timeout, read_timeout):
        raise requests.ConnectionError(f"Failed to resolve host of {url}")

    manifest = load_manifest(write_manifest(tmp_path))
    with pytest.raises(FetchError, match=r"ConnectionError: Failed to resolve"):
        fetch("toy", manifest=manifest, download=offline)


def test_cli_fetch_without_network(tmp_path, env, capsys):
    data, _ = env
    url = f"http://127.0.0.1:{closed_port()}/toy.zip"
    path = write_manifest(tmp_path, url=url)
    started = time.monotonic()
    assert main(["data", "fetch", "toy", "--manifest", str(path), "--connect-timeout", "0.5"]) == 2
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert err.startswith("sam-repro: error: could not download toy.zip")
    assert url in err and str(data / "_downloads/toy/toy.zip") in err


def test_manual_dataset_says_where_to_put_files_then_installs_them(tmp_path, env, capsys):
    data, _ = env
    path = write_manifest(tmp_path, manual=True)
    manifest = load_manifest(path)
    with pytest.raises(ManualDownloadRequired) as error:
        fetch("toy", manifest=manifest, download=serve(b"never called"))
    message = str(error.value)
    assert "http://127.0.0.1:9/toy.zip" in message and str(data / "_downloads/toy/toy.zip") in message
    assert "Get it from the toy site." in message and str(data / "toy/toy/train/im") in message
    assert main(["data", "fetch", "toy", "--manifest", str(path)]) == 2
    assert "must be downloaded by hand" in capsys.readouterr().err

    (data / "_downloads/toy").mkdir(parents=True)
    (data / "_downloads/toy/toy.zip").write_bytes(ZIP)  # the user put the file where asked
    assert main(["data", "fetch", "toy", "--manifest", str(path)]) == 0
    assert "extracted" in capsys.readouterr().out
    assert verify("toy", manifest=manifest).ok


def test_fetch_and_verify_checkpoint(tmp_path, env):
    _, weights = env
    manifest = load_manifest(write_manifest(tmp_path))
    result = fetch("toy_ckpt", manifest=manifest, download=serve(CKPT))
    assert result.status == "fetched" and (weights / "toy.pth").read_bytes() == CKPT
    assert verify("toy_ckpt", manifest=manifest).ok
    (weights / "toy.pth").write_bytes(b"tampered!!")
    report = verify("toy_ckpt", manifest=manifest)
    assert not report.ok
    assert any("sha256: expected" in f.message and "toy.pth" in f.subject for f in report.findings)
    assert any("size: expected 21 bytes, got 10" in f.message for f in report.findings)


# --------------------------------------------------------------------------------------------------- verify
def install(data: Path, payload: bytes = ZIP) -> None:
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        zf.extractall(data / "toy")


def test_verify_reports_wrong_archive_hash(tmp_path, env, capsys):
    data, _ = env
    path = write_manifest(tmp_path)
    install(data)
    (data / "_downloads/toy").mkdir(parents=True)
    (data / "_downloads/toy/toy.zip").write_bytes(b"corrupted download")
    report = verify("toy", manifest=load_manifest(path))
    assert not report.ok
    finding = next(f for f in report.findings if f.severity == "error")
    assert finding.subject.endswith("toy.zip") and f"sha256: expected {ZIP_SHA}, got " in finding.message
    assert main(["data", "verify", "toy", "--manifest", str(path)]) == 1
    out = capsys.readouterr().out
    assert "sha256: expected" in out and "FAILED" in out


def test_verify_reports_wrong_count(tmp_path, env, capsys):
    data, _ = env
    install(data)
    report = verify("toy", manifest=load_manifest(write_manifest(tmp_path, count=5)))
    assert not report.ok and report.splits[0].found == 3 and report.splits[0].expected == 5
    assert any("count mismatch: found 3 samples, expected 5" in f.message for f in report.findings)
    soft = verify("toy", manifest=load_manifest(write_manifest(tmp_path, count=5, count_unverified=True)))
    assert soft.ok and any(f.severity == "warning" and "count mismatch" in f.message for f in soft.findings)
    assert main(["data", "verify", "toy", "--manifest", str(tmp_path / "manifest.yaml")]) == 0
    assert "expected 5 (unverified)" in capsys.readouterr().out


def test_verify_names_missing_extra_and_unreadable_files(tmp_path, env):
    data, _ = env
    install(data, toy_zip(("a", "b", "c", "d")))
    folder = data / "toy/toy/train"
    (folder / "gt/b.png").unlink()                        # missing mask
    (folder / "im/c.jpg").write_bytes(b"garbage")         # unreadable image
    (folder / "im/d.jpg").rename(folder / "im/d.jpeg")    # image under an unexpected extension: extra file,
    (folder / "im/Thumbs.db").write_bytes(b"")            # and its mask becomes an orphan
    report = verify("toy", manifest=load_manifest(write_manifest(tmp_path, count=4)))
    text = "\n".join(report.lines())
    assert "missing_mask" in text and "b.jpg" in text
    assert "unreadable" in text and "c.jpg" in text
    assert "missing_image" in text and "d.png" in text
    assert "extra_file" in text and "d.jpeg" in text and "Thumbs.db" in text
    assert report.splits[0].found == 1 and "count mismatch: found 1 samples, expected 4" in text
    assert not report.ok


def test_verify_deep_finds_truncated_pixels(tmp_path, env, capsys):
    data, _ = env
    install(data)
    image = data / "toy/toy/train/im/a.jpg"
    big = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(big, "JPEG")
    image.write_bytes(big.getvalue()[: len(big.getvalue()) * 2 // 3])
    mask = np.zeros((120, 160), np.uint8)
    Image.fromarray(mask).save(data / "toy/toy/train/gt/a.png")
    manifest = load_manifest(write_manifest(tmp_path))
    assert verify("toy", manifest=manifest).ok  # headers are intact
    deep = verify("toy", manifest=manifest, deep=True, progress=True)
    assert "toy:" in capsys.readouterr().err  # a progress bar per split while decoding
    assert not deep.ok and any("a.jpg" in f.subject and "unreadable" in f.message for f in deep.findings)


def test_verify_absent_dataset(tmp_path, env):
    report = verify("toy", manifest=load_manifest(write_manifest(tmp_path)))
    assert not report.ok and any("not present" in f.message for f in report.findings)


# --------------------------------------------------------------------------------------------------- path
def test_cli_path(tmp_path, env, capsys):
    data, weights = env
    path = str(write_manifest(tmp_path))
    assert main(["data", "path", "toy", "--manifest", path]) == 0
    assert capsys.readouterr().out.strip() == str(data / "toy")
    assert main(["data", "path", "toy_view", "--split", "train", "--manifest", path]) == 0
    assert capsys.readouterr().out.strip() == str(data / "toy/toy/train/im")
    assert main(["data", "path", "toy_ckpt", "--manifest", path]) == 0
    assert capsys.readouterr().out.strip() == str(weights / "toy.pth")
    assert main(["data", "path", "nope", "--manifest", path]) == 2
    assert "unknown dataset or checkpoint 'nope'" in capsys.readouterr().err
    assert main(["data", "path", "toy", "--split", "zzz", "--manifest", path]) == 2


def test_cli_uses_the_repository_manifest_by_default(env, capsys):
    data, _ = env
    assert main(["data", "path", "sam_vit_b"]) == 0
    assert capsys.readouterr().out.strip().endswith("sam_vit_b_01ec64.pth")
    assert main(["data", "path", "dis5k", "--split", "te2"]) == 0
    assert capsys.readouterr().out.strip() == str(data / "dis5k/DIS5K/DIS-TE2/im")
