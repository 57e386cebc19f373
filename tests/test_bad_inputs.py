"""A matrix of bad inputs: every row builds its bad data in tmp_path, feeds it to the package and checks the
outcome: the exception (or warning) type and that its message names the file, member or argument at fault;
rows for inputs that are accepted after conversion check the converted value instead.

Rows marked ``#21`` are the defects of issue 21 (each failed before its fix); the others already passed and
are kept so that the whole surface stays covered. Names introduced by the fixes are imported inside the rows,
so that this module still collects on a tree without them and each row fails on its own.
"""
from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import sam_repro
from sam_repro.data import Sample, SampleSet


# ----------------------------------------------------------------------------------------------- the matrix
@dataclass(frozen=True)
class Case:
    """One row: ``build(tmp_path, segmenter)`` makes the bad data and returns the call to make.

    ``expect`` is the exception type raised, a warning category emitted, or None when the input is
    accepted; every string of ``names`` must appear in the message (a file, member or argument name).
    ``check(result, tmp_path)`` runs afterwards (result None when the call raised).
    """

    id: str
    build: Callable[[Path, Any], Callable[[], Any]]
    expect: Any
    names: tuple[str, ...] = ()
    check: Callable[[Any, Path], None] | None = None
    issue: bool = False  # a defect of issue 21


def _exc(module: str, name: str) -> Callable[[], type]:
    """A lazily imported exception class (see the module docstring)."""
    def resolve() -> type:
        import importlib

        return getattr(importlib.import_module(module), name)
    return resolve


# -------------------------------------------------------------------------------------------- builders
def _png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _rgb(height: int = 12, width: int = 16) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _box_mask(height: int = 12, width: int = 16, value: int = 255) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[3:8, 4:10] = value
    return mask


def _pairs(root: Path, masks: dict[str, np.ndarray], size: tuple[int, int] = (12, 16)) -> Path:
    """A folder-pairs dataset ``root/im/<id>.png`` + ``root/gt/<id>.png``."""
    for sample_id, mask in masks.items():
        _png(root / "im" / f"{sample_id}.png", _rgb(*size))
        _png(root / "gt" / f"{sample_id}.png", mask)
    return root


def _folder_pairs(root: Path, **kwargs: Any):
    from sam_repro.data.loaders import FolderPairSet

    return FolderPairSet("toy", "train", root, image_dir="im", mask_dir="gt", image_ext=[".png"], **kwargs)


def _tar(path: Path, files: dict[str, bytes] = {}, symlinks: tuple[tuple[str, str], ...] = (),
         duplicate: str | None = None) -> Path:
    with tarfile.open(path, "w") as tf:
        for name, data in [*files.items(), *([(duplicate, b"second")] if duplicate else [])]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in symlinks:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


def _zip(path: Path, files: dict[str, bytes] = {}, symlinks: tuple[tuple[str, str], ...] = (),
         duplicate: str | None = None) -> Path:
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as zf:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we write on purpose
        for name, data in [*files.items(), *([(duplicate, b"second")] if duplicate else [])]:
            zf.writestr(name, data)
        for name, target in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _extract(maker: Callable[..., Path], name: str, **kwargs: Any) -> Callable[[Path, Any], Callable[[], Any]]:
    def build(tmp: Path, _seg: Any) -> Callable[[], Any]:
        from sam_repro.data.archive import safe_extract

        archive = maker(tmp / name, {"data/a.txt": b"a"}, **kwargs)
        return lambda: safe_extract(archive, tmp / "dest")
    return build


def _nothing_outside(result: Any, tmp: Path) -> None:
    """Nothing was extracted: the target folder is empty (or absent) and nothing landed beside it."""
    dest = tmp / "dest"
    assert not dest.exists() or not [p for p in dest.iterdir() if not p.name.startswith(".extracting-")]
    assert not (tmp / "evil.txt").exists()


class _RunsACommand:
    """Pickles as a call to ``os.system``: loading it unsafely would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _checkpoint(tmp: Path) -> Path:
    path = tmp / "weights.pt"
    torch.save({"state_dict": {"w": torch.arange(6.0).reshape(2, 3)}, "meta": {"note": "tiny"}}, path)
    return path


def _truncated_checkpoint(tmp: Path) -> Path:
    data = _checkpoint(tmp).read_bytes()
    path = tmp / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    return path


def _unsafe_checkpoint(tmp: Path) -> Path:
    path = tmp / "unsafe.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "meta": _RunsACommand(tmp / "pwned")}, path)
    return path


def _not_executed(result: Any, tmp: Path) -> None:
    assert not (tmp / "pwned").exists(), "the pickle's command ran"


def _read_state_dict(make: Callable[[Path], Path], **kwargs: Any):
    def build(tmp: Path, _seg: Any) -> Callable[[], Any]:
        from sam_repro.backbones.checkpoints import read_state_dict

        path = make(tmp)
        return lambda: read_state_dict(path, **kwargs)
    return build


def _read_meta(make: Callable[[Path], Path]):
    def build(tmp: Path, _seg: Any) -> Callable[[], Any]:
        from sam_repro.backbones.checkpoints import read_checkpoint_meta

        path = make(tmp)
        return lambda: read_checkpoint_meta(path)
    return build


def _missing_key(tmp: Path, _seg: Any) -> Callable[[], Any]:
    from sam_repro.backbones import build_sam, get_backbone, load_strict, read_state_dict, save_checkpoint

    model = build_sam(get_backbone("micro").config, seed=0)
    state = model.state_dict()
    del state["mask_decoder.iou_token.weight"]
    path = tmp / "missing_key.pt"
    save_checkpoint(state, path)
    return lambda: load_strict(build_sam(get_backbone("micro").config, seed=1), read_state_dict(path), path)


def _set_image(make: Callable[[Path], Any]):
    def build(tmp: Path, seg: Any) -> Callable[[], Any]:
        image = make(tmp)

        def call() -> Any:
            from sam_repro.validation import as_rgb_image

            seg.set_image(image)
            return as_rgb_image(image)  # what set_image embedded
        return call
    return build


def _predict(**prompts: Any):
    def build(tmp: Path, seg: Any) -> Callable[[], Any]:
        def call() -> Any:
            seg.set_image(np.full((32, 48, 3), 90, np.uint8))
            if "boxes" in prompts or "labels_batch" in prompts:
                kwargs = {k.replace("_batch", ""): v for k, v in prompts.items()}
                return seg.predict_batch(**kwargs)
            return seg.predict(**prompts)
        return call
    return build


def _read_image(make: Callable[[Path], Path]):
    def build(tmp: Path, _seg: Any) -> Callable[[], Any]:
        from sam_repro.data.image_io import read_image

        path = make(tmp)
        return lambda: read_image(path)
    return build


def _garbage(tmp: Path) -> Path:
    path = tmp / "garbage.png"
    path.write_bytes(b"this is not a PNG")
    return path


def _truncated_png(tmp: Path) -> Path:
    data = io.BytesIO()
    Image.fromarray(_rgb(64, 64)).save(data, format="PNG")
    path = tmp / "cut_short.png"
    path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    return path


def _load_pairs(masks: dict[str, np.ndarray], image_size: tuple[int, int] = (12, 16), **kwargs: Any):
    def build(tmp: Path, _seg: Any) -> Callable[[], Any]:
        root = _pairs(tmp / "toy", {}, image_size)
        for sample_id, mask in masks.items():
            _png(root / "im" / f"{sample_id}.png", _rgb(*image_size))
            _png(root / "gt" / f"{sample_id}.png", mask)
        return lambda: _folder_pairs(root, **kwargs)[0]
    return build


def _verify_deep(masks: dict[str, np.ndarray]):
    """``sam-repro data verify toy --deep`` on a toy manifest whose single split holds ``masks``."""
    def build(tmp: Path, _seg: Any) -> Callable[[], Any]:
        from sam_repro.data.manifest import load_manifest
        from sam_repro.data.verify import verify

        data = tmp / "data"
        _pairs(data / "toy", masks)
        manifest = {
            "schema_version": 1,
            "papers": {"p": {"title": "Paper", "tables_file": "p.yaml"}},
            "datasets": {"toy": {"title": "Toy", "format": "folder_pairs", "mask_threshold": 128, "license": "x",
                                 "citation": "y", "resources": [],
                                 "splits": {"train": {"image_dir": "im", "mask_dir": "gt", "image_ext": [".png"],
                                                      "count": len(masks)}}}},
            "checkpoints": {},
            "paper_table_datasets": [{"paper": "p", "tables": ["t1"], "printed": "Toy", "targets": ["toy"]}],
        }
        (tmp / "manifest.yaml").write_text(yaml.safe_dump(manifest))
        return lambda: verify("toy", manifest=load_manifest(tmp / "manifest.yaml"), data_root=data, deep=True)
    return build


def _read_as_binary(sample: Any) -> None:
    assert sample.mask.sum() == 30 and sample.meta["mask_values"] == "0/1"


def _finding(severity: str, file: str, words: str) -> Callable[[Any, Path], None]:
    def check(report: Any, tmp: Path) -> None:
        lines = [str(f) for f in report.findings if f.severity == severity and f.subject.endswith(file)]
        assert any(words in line for line in lines), report.lines()
    return check


class _Two(SampleSet):
    """Two 32 px images with one square each."""

    name, split = "test/two", "test"

    def __len__(self) -> int:
        return 2

    def fingerprint(self) -> str:
        return "two-v1"

    def load(self, index: int) -> Sample:
        image = np.full((32, 32, 3), 20, np.uint8)
        masks = np.zeros((1, 32, 32), bool)
        masks[0, 4 + index : 20, 6:22] = True
        image[masks[0]] = 200
        return Sample(id=f"two{index}", image=image, masks=masks)


def _corrupt_run_key(tmp: Path, seg: Any) -> Callable[[], Any]:
    from sam_repro.eval.harness import evaluate
    from sam_repro.eval.protocols import TIGHT_BOX

    out = tmp / "run"
    evaluate(seg, _Two(), TIGHT_BOX, out, progress=False)
    (out / "run_key.json").write_text('{"segmenter": {"name": "mic')  # cut short
    return lambda: evaluate(seg, _Two(), TIGHT_BOX, out, progress=False)


def _started_over(summary: Any, tmp: Path) -> None:
    assert summary["provenance"]["samples_this_run"] == 2 and summary["samples"] == 2
    assert json.loads((tmp / "run" / "run_key.json").read_text())["seed"] == 0  # rewritten


def _repeated_index(tmp: Path, seg: Any) -> Callable[[], Any]:
    from sam_repro.eval.harness import evaluate, load_records
    from sam_repro.eval.protocols import TIGHT_BOX

    out = tmp / "run"
    evaluate(seg, _Two(), TIGHT_BOX, out, progress=False)
    first = json.loads((out / "records.jsonl").read_text().splitlines()[0])
    with (out / "records.jsonl").open("a") as handle:  # as if a second run had appended sample 0 again
        handle.write(json.dumps({**first, "seconds": -1.0}) + "\n")
    return lambda: load_records(out)


def _kept_last(records: Any, tmp: Path) -> None:
    assert [r["index"] for r in records] == [0, 1] and records[0]["seconds"] == -1.0


def _locked_folder(tmp: Path, seg: Any) -> Callable[[], Any]:
    from filelock import FileLock

    from sam_repro.eval.harness import evaluate
    from sam_repro.eval.protocols import TIGHT_BOX

    out = tmp / "locked_run"
    out.mkdir()

    def call() -> Any:
        with FileLock(out / "run.lock"):  # another process (no holder file) holds the folder
            return evaluate(seg, _Two(), TIGHT_BOX, out, progress=False)
    return call


def _nothing_appended(result: Any, tmp: Path) -> None:
    assert not (tmp / "locked_run" / "records.jsonl").exists()


def _metric(fn: Callable[..., Any], pred: Any, gt: Any):
    return lambda tmp, seg: (lambda: fn(pred, gt))


def _iou(pred: Any, gt: Any) -> Any:
    from sam_repro.metrics import iou

    return iou(pred, gt)


def _e_measure(pred: Any, gt: Any) -> Any:
    from sam_repro.metrics.sod import e_measure

    return e_measure(pred, gt)


def _sixteen_bit(tmp: Path) -> Image.Image:
    return Image.fromarray(np.full((8, 10), 30000, np.uint16))  # mode I;16: mid-gray, not white


def _check_gray(value: int) -> Callable[[Any, Path], None]:
    def check(image: Any, tmp: Path) -> None:
        assert image.shape[2] == 3 and image.dtype == np.uint8 and (image == value).all(), np.unique(image)
    return check


CASES = [
    # images
    Case("image/corrupt file", _read_image(_garbage), _exc("sam_repro.data.errors", "SampleReadError"),
         ("garbage.png",)),
    Case("image/truncated file", _read_image(_truncated_png), _exc("sam_repro.data.errors", "SampleReadError"),
         ("cut_short.png",)),
    Case("image/missing file", _read_image(lambda tmp: tmp / "absent.png"),
         _exc("sam_repro.data.errors", "SampleReadError"), ("absent.png",)),
    Case("image/16-bit file", _read_image(lambda tmp: _png(tmp / "g16.png", np.full((4, 5), 30000, np.uint16))),
         None, check=_check_gray(30000 >> 8)),
    Case("set_image/grayscale PIL", _set_image(lambda tmp: Image.fromarray(np.full((8, 10), 77, np.uint8))), None,
         check=_check_gray(77)),
    Case("set_image/RGBA array", _set_image(lambda tmp: np.full((8, 10, 4), 77, np.uint8)), None,
         check=_check_gray(77)),
    Case("set_image/16-bit PIL", _set_image(_sixteen_bit), None, check=_check_gray(30000 >> 8), issue=True),
    Case("set_image/HWC uint8 tensor", _set_image(lambda tmp: torch.full((8, 10, 3), 77, dtype=torch.uint8)), None,
         check=_check_gray(77), issue=True),
    Case("set_image/CHW tensor", _set_image(lambda tmp: torch.zeros((3, 8, 10), dtype=torch.uint8)), ValueError,
         ("image", "(3, 8, 10)"), issue=True),
    Case("set_image/float tensor", _set_image(lambda tmp: torch.zeros((8, 10, 3))), TypeError, ("image", "uint8"),
         issue=True),
    Case("set_image/float array", _set_image(lambda tmp: np.zeros((8, 10, 3))), TypeError, ("image", "uint8")),
    Case("set_image/string", _set_image(lambda tmp: "picture.png"), TypeError, ("image",)),
    # masks
    Case("mask/wrong size", _load_pairs({"a": _box_mask(10, 16)}), _exc("sam_repro.data.errors", "LayoutError"),
         ("a.png", "size_mismatch")),
    Case("mask/stored as 0/1", _load_pairs({"zero_one": _box_mask(value=1)}),
         _exc("sam_repro.data.image_io", "MaskEncodingWarning"), ("zero_one.png", "0/1"),
         check=lambda sample, tmp: _read_as_binary(sample),
         issue=True),
    Case("mask/empty, reported by verify --deep", _verify_deep({"full": _box_mask(), "blank": _box_mask(value=0)}),
         None, check=_finding("warning", "blank.png", "empty mask"), issue=True),
    Case("mask/all foreground, reported by verify --deep",
         _verify_deep({"full": np.full((12, 16), 255, np.uint8), "ok": _box_mask()}),
         None, check=_finding("warning", "full.png", "all-foreground"), issue=True),
    Case("mask/non-binary gt to a metric", _metric(_iou, np.zeros((4, 4), bool), _box_mask(4, 4, 200)), TypeError,
         ("gt",)),
    Case("mask/shape differs from pred", _metric(_iou, np.zeros((4, 5), bool), np.zeros((4, 4), bool)), ValueError,
         ("pred", "gt")),
    Case("metric/E-measure of one pixel", _metric(_e_measure, np.ones((1, 1)), np.ones((1, 1), bool)), ValueError,
         ("pred and gt", "2 pixels"), issue=True),
    # prompts
    Case("prompt/point out of range", _predict(points=np.array([[60.0, 5.0]]), labels=np.array([1])), ValueError,
         ("points", "outside")),
    Case("prompt/NaN point", _predict(points=np.array([[np.nan, 5.0]]), labels=np.array([1])), ValueError,
         ("points", "NaN")),
    Case("prompt/label not 0 or 1", _predict(points=np.array([[5.0, 5.0]]), labels=np.array([2])), ValueError,
         ("labels",)),
    Case("prompt/inverted box", _predict(box=np.array([30.0, 20.0, 10.0, 5.0])), ValueError, ("box", "x0 <= x1")),
    Case("prompt/NaN box", _predict(box=np.array([0.0, np.nan, 10.0, 5.0])), ValueError, ("box", "NaN")),
    Case("prompt/box outside", _predict(box=np.array([100.0, 100.0, 120.0, 120.0])), ValueError, ("box", "outside")),
    Case("prompt/zero boxes in a batch", _predict(boxes=np.zeros((0, 4))), ValueError, ("boxes", "(0, 4)"),
         issue=True),
    Case("prompt/zero points in a batch", _predict(points=np.zeros((0, 1, 2)), labels_batch=np.zeros((0, 1))),
         ValueError, ("points", "(0, 1, 2)"), issue=True),
    # checkpoints
    Case("checkpoint/truncated", _read_state_dict(_truncated_checkpoint),
         _exc("sam_repro.backbones.checkpoints", "CheckpointError"), ("truncated.pt",)),
    Case("checkpoint/truncated, metadata", _read_meta(_truncated_checkpoint),
         _exc("sam_repro.backbones.checkpoints", "CheckpointError"), ("truncated.pt",), issue=True),
    Case("checkpoint/missing, metadata", _read_meta(lambda tmp: tmp / "absent.pt"),
         _exc("sam_repro.backbones.checkpoints", "CheckpointError"), ("absent.pt", "does not exist"), issue=True),
    Case("checkpoint/wrong checksum", _read_state_dict(_checkpoint, expected_sha256="0" * 64),
         _exc("sam_repro.backbones.checkpoints", "ChecksumError"), ("weights.pt", "0" * 64)),
    Case("checkpoint/unsafe pickle", _read_state_dict(_unsafe_checkpoint),
         _exc("sam_repro.backbones.checkpoints", "UnsafeCheckpointError"), ("unsafe.pt", "unsafe", "weights_only"),
         check=_not_executed, issue=True),
    Case("checkpoint/unsafe pickle, metadata", _read_meta(_unsafe_checkpoint),
         _exc("sam_repro.backbones.checkpoints", "UnsafeCheckpointError"), ("unsafe.pt", "unsafe"),
         check=_not_executed, issue=True),
    Case("checkpoint/missing key", _missing_key, _exc("sam_repro.backbones.checkpoints", "CheckpointError"),
         ("missing_key.pt", "iou_token.weight")),
    # archives
    Case("archive/traversal (tar)", _extract(lambda p, f, **k: _tar(p, {**f, "../evil.txt": b"x"}), "t.tar"),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("../evil.txt", "t.tar"), check=_nothing_outside),
    Case("archive/absolute (zip)", _extract(lambda p, f, **k: _zip(p, {**f, "/tmp/evil.txt": b"x"}), "a.zip"),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("/tmp/evil.txt", "a.zip"), check=_nothing_outside),
    Case("archive/link out (tar)", _extract(_tar, "out.tar", symlinks=(("data/l", "../../x"),)),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("data/l",), check=_nothing_outside),
    Case("archive/link chain a->b/.., b->. (tar)", _extract(_tar, "chain.tar", symlinks=(("a", "b/.."), ("b", "."))),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("'a'", "chain.tar"), check=_nothing_outside,
         issue=True),
    Case("archive/link chain a->b/.., b->. (zip)", _extract(_zip, "chain.zip", symlinks=(("a", "b/.."), ("b", "."))),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("'a'", "chain.zip"), check=_nothing_outside,
         issue=True),
    Case("archive/link to a link (tar)", _extract(_tar, "l2l.tar", symlinks=(("a", "b"), ("b", "."))),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("'a'", "link chain"), check=_nothing_outside,
         issue=True),
    Case("archive/duplicate member (zip)", _extract(_zip, "dup.zip", duplicate="data/a.txt"),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("data/a.txt", "duplicate"), check=_nothing_outside,
         issue=True),
    Case("archive/duplicate member (tar)", _extract(_tar, "dup.tar", duplicate="./data/a.txt"),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("data/a.txt", "duplicate"), check=_nothing_outside,
         issue=True),
    Case("archive/member written through a link (tar)",
         _extract(lambda p, f, **k: _tar(p, {**f, "l/a.txt": b"x"}, symlinks=(("l", "data"),)), "through.tar"),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("'l/a.txt'", "symbolic link 'l'", "through.tar"),
         check=_nothing_outside, issue=True),
    Case("archive/file used as a folder (zip)",
         _extract(lambda p, f, **k: _zip(p, {**f, "data/a.txt/b": b"x"}), "file_dir.zip"),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("'data/a.txt/b'", "'data/a.txt'", "file_dir.zip"),
         check=_nothing_outside, issue=True),
    Case("archive/link to its own folder (zip)", _extract(_zip, "loop.zip", symlinks=(("data/b", "."),)),
         _exc("sam_repro.data.errors", "UnsafeArchiveError"), ("'data/b'", "loop", "loop.zip"),
         check=_nothing_outside, issue=True),
    # results folders
    Case("harness/corrupt run_key.json", _corrupt_run_key, _exc("sam_repro.eval.harness", "RecordsWarning"),
         ("run_key.json",), check=_started_over, issue=True),
    Case("harness/repeated sample index", _repeated_index, _exc("sam_repro.eval.harness", "RecordsWarning"),
         ("records.jsonl", "[0]"), check=_kept_last, issue=True),
    Case("harness/folder locked by another run", _locked_folder, _exc("sam_repro.eval.harness", "RunLockedError"),
         ("locked_run", "in use"), check=_nothing_appended, issue=True),
]


@pytest.fixture(scope="module")
def segmenter():
    return sam_repro.load_segmenter("micro", random_init=True, device="cpu")


@pytest.mark.parametrize("case", CASES, ids=[f"{'#21 ' if c.issue else ''}{c.id}" for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, segmenter) -> None:
    call = case.build(tmp_path, segmenter)
    expect = case.expect() if callable(case.expect) and not isinstance(case.expect, type) else case.expect
    result = None
    if expect is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # an accepted input is accepted silently
            warnings.filterwarnings("ignore", message=".*pickle protocol.*")
            result = call()
    elif issubclass(expect, Warning):
        with pytest.warns(expect) as caught:
            result = call()
        messages = [str(w.message) for w in caught if issubclass(w.category, expect)]
        assert any(all(name in message for name in case.names) for message in messages), messages
    else:
        with pytest.raises(expect) as error:
            call()
        for name in case.names:
            assert name in str(error.value), f"{name!r} not named in: {error.value}"
    if case.check is not None:
        case.check(result, tmp_path)


def test_every_row_names_something() -> None:
    """Each error or warning row says which file, member or argument its message must name."""
    assert all(case.names for case in CASES if case.expect is not None)
    assert len({case.id for case in CASES}) == len(CASES)


def test_locked_error_names_the_holder(tmp_path: Path, segmenter) -> None:
    """The holder's pid and host (written beside the lock) are in the refusal."""
    from filelock import FileLock

    from sam_repro.eval.harness import HOLDER_FILE, LOCK_FILE, RunLockedError, evaluate
    from sam_repro.eval.protocols import TIGHT_BOX

    out = tmp_path / "busy"
    out.mkdir()
    with FileLock(out / LOCK_FILE):
        (out / HOLDER_FILE).write_text(json.dumps({"pid": 424242, "hostname": "node-7", "started": "then"}))
        with pytest.raises(RunLockedError) as error:
            evaluate(segmenter, _Two(), TIGHT_BOX, out, progress=False)
    assert "424242" in str(error.value) and "node-7" in str(error.value) and str(out) in str(error.value)
    assert error.value.holder["hostname"] == "node-7" and error.value.folder == out
    summary = evaluate(segmenter, _Two(), TIGHT_BOX, out, progress=False)  # free again: runs
    assert summary["samples"] == 2 and not (out / HOLDER_FILE).exists()


def test_verify_deep_names_masks_stored_as_zero_one(tmp_path: Path) -> None:
    """A 0/1 mask is rescued by the loader (not reported empty) and listed as info by file name."""
    report = _verify_deep({"zero_one": _box_mask(value=1), "ok": _box_mask()})(tmp_path, None)()
    assert report.ok, report.lines()
    assert not [f for f in report.findings if f.severity == "warning"], report.lines()
    _finding("info", "zero_one.png", "stored as 0/1")(report, tmp_path)
