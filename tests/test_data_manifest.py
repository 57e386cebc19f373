"""data_manifest.yaml: schema, honesty rules, coverage of every dataset named in the paper tables, catalog."""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from sam_repro.cli import main
from sam_repro.data import open_dataset
from sam_repro.data.errors import DatasetNotPresentError, ManifestError
from sam_repro.data.manifest import DEFAULT_MANIFEST, LOADER_FORMATS, load_manifest, parse_manifest
from sam_repro.paths import REPO_ROOT


@pytest.fixture(autouse=True)
def _repository_manifest(monkeypatch):
    """Use the repository's data_manifest.yaml whatever the caller's environment says."""
    monkeypatch.delenv("SAM_REPRO_MANIFEST", raising=False)


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(DEFAULT_MANIFEST)


def paper_tables_dir() -> Path | None:
    """The paper tables shipped in the package (or $SAM_REPRO_PAPER_TABLES)."""
    candidates = [os.environ.get("SAM_REPRO_PAPER_TABLES"), REPO_ROOT / "sam_repro" / "reproduce" / "paper_tables",
                  REPO_ROOT.parent / "shared" / "paper_tables", Path("/work/shared/paper_tables")]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and list(Path(candidate).glob("*.yaml")):
            return Path(candidate)
    return None


def printed_datasets(manifest) -> dict[tuple[str, str], set[str]]:
    """{(paper key, dataset as printed): {table ids}} read from the paper table files."""
    directory = paper_tables_dir()
    if directory is None:
        pytest.skip("paper_tables/*.yaml not found (set SAM_REPRO_PAPER_TABLES)")
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for key, paper in manifest.papers.items():
        data = yaml.safe_load((directory / paper.tables_file).read_text(encoding="utf-8"))
        for table in data["tables"]:
            for row in table.get("rows") or []:
                found[(key, str(row.get("dataset")))].add(str(table["id"]))
    return found


REQUIRED_DATASETS = [
    "dis5k", "hrsod", "uhrsd", "thinobject5k", "coift", "big", "hqseg44k", "duts", "sbu", "cuhk_blur", "msd",
    "voc2012", "rooftop", "doors", "trashcan", "camo", "istd", "leafdisease", "ppdls", "timberseg",
    "kvasir_instrument", "cvc_clinicdb", "glas", "kvasir_seg", "coco2017", "mess",
]
REQUIRED_CHECKPOINTS = ["sam_vit_b", "sam_vit_l", "sam_vit_h", "sam_hq_vit_b", "sam_hq_vit_l", "sam_hq_vit_h",
                        "clip_vit_b16", "isnet"]


def test_manifest_has_every_dataset_and_checkpoint(manifest):
    assert set(REQUIRED_DATASETS) <= set(manifest.datasets)
    assert set(REQUIRED_CHECKPOINTS) <= set(manifest.checkpoints)


def test_sam_checkpoint_facts(manifest):
    expected = {
        "sam_vit_h": ("sam_vit_h_4b8939.pth", "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", 2564550879),
        "sam_vit_l": ("sam_vit_l_0b3195.pth", "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622", 1249524607),
        "sam_vit_b": ("sam_vit_b_01ec64.pth", "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", 375042383),
    }
    for name, (file, sha, size) in expected.items():
        info = manifest.checkpoints[name]
        assert info.resource.file == file and info.resource.sha256 == sha and info.resource.size_bytes == size
        assert info.resource.urls == (f"https://dl.fbaipublicfiles.com/segment_anything/{file}",)
        assert info.license == "Apache-2.0" and not info.resource.unverified
    for size in "blh":
        info = manifest.checkpoints[f"sam_hq_vit_{size}"]
        assert info.resource.urls == (f"https://huggingface.co/lkeab/hq-sam/resolve/main/sam_hq_vit_{size}.pth",)
        assert info.resource.sha256 is None and info.resource.unverified


def test_every_table_dataset_is_in_the_manifest_and_vice_versa(manifest):
    found = printed_datasets(manifest)
    rows = {(row.paper, row.printed): set(row.tables) for row in manifest.table_datasets}
    missing = sorted(key for key in found if key not in rows)
    assert not missing, f"paper-table datasets without a paper_table_datasets row: {missing}"
    for key, tables in found.items():
        assert tables == rows[key], f"{key}: tables {sorted(tables)} in the paper files, {sorted(rows[key])} in the manifest"
    stale = sorted(key for key in rows if key not in found)
    assert not stale, f"paper_table_datasets rows that no table prints: {stale}"


def test_every_printed_dataset_resolves_to_manifest_entries(manifest):
    for row in manifest.table_datasets:
        assert manifest.resolve_printed(row.paper, row.printed) == row.targets
        for target in row.targets:
            info = manifest.dataset(target.dataset)
            assert target.split is None or target.split in info.splits
            assert any(use.paper == row.paper for use in manifest.uses(target.dataset))
        if not row.targets:
            assert row.note  # a row naming no dataset says why


def test_data_list_names_every_dataset_of_every_paper_table(manifest, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SAM_REPRO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SAM_REPRO_WEIGHTS", str(tmp_path / "weights"))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in manifest.names():
        assert f"  {name} " in out
    for (paper, printed), tables in printed_datasets(manifest).items():
        assert repr(printed) in out, f"{paper}: {printed!r} missing from `data list`"
        for target in manifest.resolve_printed(paper, printed):
            assert str(target) in out
    assert "tta:" in out and "dissam:" in out


def test_data_list_paper_filter(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SAM_REPRO_DATA", str(tmp_path))
    assert main(["data", "list", "--paper", "sam_tta"]) == 0
    out = capsys.readouterr().out
    assert "'GlaS' -> glas" in out and "'DIS-VD'" not in out
    assert main(["data", "list", "--paper", "nope"]) == 2
    assert "unknown paper 'nope'" in capsys.readouterr().err


def test_honesty_rules(manifest):
    for info in manifest.datasets.values():
        for split in info.splits.values():
            if split.count is not None:
                assert split.count_source, f"{info.name}:{split.name} has a count without count_source"
        for resource in info.resources:
            if not (resource.sha256 or resource.md5):
                assert resource.unverified, f"{info.name}/{resource.file}: no digest but not marked unverified"
        if info.format == "folder_pairs" and info.mask_mode != "instances":
            assert info.mask_threshold is not None and info.mask_threshold_source
        if info.manual:
            assert info.instructions
        assert info.citation and info.license
    for info in manifest.checkpoints.values():
        if info.released and not info.resource.sha256:
            assert info.resource.unverified, f"{info.name}: no sha256 but not marked unverified"


def test_mask_threshold_conventions(manifest):
    assert manifest.datasets["dis5k"].mask_threshold == 128
    assert manifest.datasets["hqseg44k"].mask_threshold == 128
    assert manifest.datasets["sbu"].mask_threshold == 125  # ComputeBERonSet.m
    assert manifest.datasets["voc2012"].format == "voc"


def test_known_counts(manifest):
    counts = {(name, split): layout.count for name, info in manifest.datasets.items()
              for split, layout in info.splits.items()}
    assert counts[("dis5k", "tr")] == 3000 and counts[("dis5k", "vd")] == 470
    assert all(counts[("dis5k", f"te{i}")] == 500 for i in range(1, 5))
    assert counts[("duts", "train")] == 10553 and counts[("duts", "test")] == 5019
    assert counts[("voc2012", "train")] == 1464 and counts[("voc2012", "val")] == 1449
    assert counts[("coift", "test")] == 280 and counts[("big", "test")] + counts[("big", "val")] == 150
    hq = manifest.datasets["hqseg44k"]
    assert sum(counts[("hqseg44k", part)] for part in hq.splits["train"].union) == hq.splits["train"].count == 44320
    assert sum(counts[("hqseg44k", part)] for part in hq.splits["val"].union) == hq.splits["val"].count == 1537


def minimal(**dataset_changes):
    dataset = {"title": "T", "format": "folder_pairs", "mask_threshold": 128, "license": "x", "citation": "y",
               "splits": {"test": {"image_dir": "im", "mask_dir": "gt"}}}
    dataset.update(dataset_changes)
    return {"schema_version": 1, "papers": {"p": {"title": "P", "tables_file": "p.yaml"}},
            "datasets": {"toy": dataset}, "checkpoints": {},
            "paper_table_datasets": [{"paper": "p", "tables": ["table1"], "printed": "Toy", "targets": ["toy:test"]}]}


def test_schema_errors_name_the_key(tmp_path):
    source = tmp_path / "m.yaml"
    assert parse_manifest(minimal(), source).datasets["toy"].splits["test"].params["image_dir"] == "im"
    with pytest.raises(ManifestError, match=r"datasets\.toy: unknown key\(s\) \['colour'\]"):
        parse_manifest(minimal(colour="red"), source)
    with pytest.raises(ManifestError, match=r"datasets\.toy\.resources\[0\]\.sha256: must be 64 hex digits"):
        parse_manifest(minimal(resources=[{"file": "a.zip", "sha256": "abc"}]), source)
    with pytest.raises(ManifestError, match=r"datasets\.toy\.mask_threshold: is required"):
        parse_manifest(minimal(mask_threshold=None), source)
    with pytest.raises(ManifestError, match=r"datasets\.toy\.instructions: is required when manual"):
        parse_manifest(minimal(manual=True), source)
    with pytest.raises(ManifestError, match=r"extract_to: must be a relative path"):
        parse_manifest(minimal(resources=[{"file": "a.zip", "extract_to": "../x"}]), source)
    bad_target = minimal()
    bad_target["paper_table_datasets"][0]["targets"] = ["toy:nope"]
    with pytest.raises(ManifestError, match=r"toy has no split 'nope'"):
        parse_manifest(bad_target, source)
    no_reason = minimal()
    no_reason["paper_table_datasets"][0]["targets"] = []
    with pytest.raises(ManifestError, match=r"note: is required when targets is empty"):
        parse_manifest(no_reason, source)


def test_missing_manifest_file_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        load_manifest(tmp_path / "nope.yaml")


# ------------------------------------------------------------------------------------- catalog integration
def test_real_datasets_are_in_the_catalog_and_open_from_sam_repro_data(manifest, tmp_path, monkeypatch):
    monkeypatch.setenv("SAM_REPRO_DATA", str(tmp_path))
    from sam_repro.data.catalog import get_entry

    entry = get_entry("dis5k")
    assert entry.kind == "real" and "te1" in entry.splits and any(p.startswith("dissam:") for p in entry.papers)
    for name, info in manifest.datasets.items():
        if info.format in LOADER_FORMATS:
            assert get_entry(name).splits == tuple(info.splits)

    with pytest.raises(DatasetNotPresentError, match="sam-repro data fetch dis5k"):
        open_dataset("dis5k", "te1")
    folder = tmp_path / "dis5k/DIS5K/DIS-TE1"
    (folder / "im").mkdir(parents=True)
    (folder / "gt").mkdir()
    Image.fromarray(np.zeros((6, 7, 3), np.uint8)).save(folder / "im/x.jpg")
    Image.fromarray(np.full((6, 7), 255, np.uint8)).save(folder / "gt/x.png")
    dataset = open_dataset("dis5k", "te1")
    assert len(dataset) == 1 and dataset[0].mask.all() and dataset[0].meta["dataset"] == "dis5k"


def test_open_evaluation_set_parses_name_and_split_for_both_worlds(tmp_path, monkeypatch):
    """``NAME:SPLIT`` or ``NAME`` (test, else all): the seed reaches synthetic families, not real openers."""
    from sam_repro.data import open_evaluation_set

    monkeypatch.setenv("SAM_REPRO_DATA", str(tmp_path))
    for split in ("DIS-VD", "DIS-TE1"):
        folder = tmp_path / "dis5k/DIS5K" / split
        (folder / "im").mkdir(parents=True)
        (folder / "gt").mkdir()
        Image.fromarray(np.zeros((6, 7, 3), np.uint8)).save(folder / "im/x.jpg")
        Image.fromarray(np.full((6, 7), 255, np.uint8)).save(folder / "gt/x.png")
    assert open_evaluation_set("dis5k:vd", seed=3).split == "vd"  # a real opener gets no seed argument
    thin_val, thin_test = open_evaluation_set("synthetic/thin:val"), open_evaluation_set("synthetic/thin")
    assert (thin_val.split, thin_test.split) == ("val", "test")
    assert open_evaluation_set("synthetic/thin", seed=1).fingerprint() != thin_test.fingerprint()
    with pytest.raises(KeyError, match="has no split 'nope'"):
        open_evaluation_set("synthetic/thin:nope")
    with pytest.raises(KeyError, match="unknown dataset 'nope'"):
        open_evaluation_set("nope:test")
    with pytest.raises(KeyError, match="NAME:SPLIT"):
        open_evaluation_set("")

def test_manifest_layouts_drive_voc_and_coco_loaders(tmp_path, monkeypatch):
    """The manifest's voc2012 / coco2017 / glas layouts reach the right loaders with the right options."""
    import json

    from sam_repro.data.coco_masks import rle_encode

    monkeypatch.setenv("SAM_REPRO_DATA", str(tmp_path))
    voc = tmp_path / "voc2012/VOCdevkit/VOC2012"
    (voc / "JPEGImages").mkdir(parents=True)
    (voc / "SegmentationClass").mkdir()
    (voc / "ImageSets/Segmentation").mkdir(parents=True)
    Image.fromarray(np.zeros((5, 6, 3), np.uint8)).save(voc / "JPEGImages/2008_000001.jpg")
    labels = np.full((5, 6), 20, np.uint8)
    palette = Image.frombytes("P", (6, 5), labels.tobytes())
    palette.putpalette([0, 0, 0] * 256)
    palette.save(voc / "SegmentationClass/2008_000001.png")
    (voc / "ImageSets/Segmentation/val.txt").write_text("2008_000001\n")
    sample = open_dataset("voc2012", "val")[0]
    assert sample.class_names[20] == "tvmonitor" and (sample.class_map == 20).all()

    coco = tmp_path / "coco2017"
    (coco / "val2017").mkdir(parents=True)
    (coco / "annotations").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(coco / "val2017/1.jpg")
    crowd = rle_encode(np.ones((4, 4), bool), compressed=False)
    (coco / "annotations/instances_val2017.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "1.jpg", "height": 4, "width": 4}],
        "categories": [{"id": 3, "name": "car"}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 3, "iscrowd": 0, "segmentation": [[0, 0, 2, 0, 2, 2]]},
                        {"id": 6, "image_id": 1, "category_id": 3, "iscrowd": 1, "segmentation": crowd}],
    }))
    sample = open_dataset("coco2017", "val")[0]
    assert sample.class_names == ("car",)  # include_crowd: false in the manifest

    glas = tmp_path / "glas/Warwick QU Dataset (Released 2016_07_08)"
    glas.mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(glas / "testB_1.bmp")
    Image.fromarray(np.array([[0, 1, 1, 0]] * 2 + [[2, 2, 0, 0]] * 2, np.uint8)).save(glas / "testB_1_anno.bmp")
    sample = open_dataset("glas", "testB")[0]
    assert sample.masks.shape == (2, 4, 4)
