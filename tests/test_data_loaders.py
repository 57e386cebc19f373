"""Loaders of the real layouts, on tiny trees built in tmp_path (folder pairs, VOC, COCO, RLE/polygons)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam_repro.data.coco import CocoInstanceSet
from sam_repro.data.coco_masks import (
    polygons_to_mask,
    rle_counts_from_string,
    rle_counts_to_string,
    rle_decode,
    rle_encode,
    segmentation_to_mask,
)
from sam_repro.data.errors import LayoutError, SampleReadError
from sam_repro.data.image_io import read_image, read_mask_values
from sam_repro.data.loaders import ConcatSampleSet, FolderPairSet, read_split_list
from sam_repro.data.sample import IGNORE_INDEX
from sam_repro.data.voc import VOC_CLASSES, VOCSegmentationSet, voc_colormap

RNG = np.random.default_rng(0)


def save_rgb(path: Path, height: int = 12, width: int = 16, mode: str = "RGB") -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(array)
    if mode != "RGB":
        image = image.convert(mode)
    image.save(path)
    return array


def save_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8)).save(path)


def box_mask(height: int = 12, width: int = 16, value: int = 255) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[3:8, 4:10] = value
    return mask


def save_palette(path: Path, indices: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.astype(np.uint8).tobytes())
    image.putpalette(voc_colormap().ravel().tolist())
    image.save(path)


# -------------------------------------------------------------------------------------------- image reading
@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "1", "CMYK"])
def test_read_image_converts_modes_to_rgb(tmp_path, mode):
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    save_rgb(path, mode=mode)
    image = read_image(path)
    assert image.dtype == np.uint8 and image.shape == (12, 16, 3)


def test_read_image_16bit_gray_is_scaled(tmp_path):
    path = tmp_path / "g16.png"
    Image.fromarray(np.full((4, 5), 65535, np.uint16)).save(path)
    assert read_image(path).max() == 255


def test_read_mask_uses_first_channel_of_rgb(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 200  # red, whose luminance would be < 128
    path = tmp_path / "m.png"
    Image.fromarray(rgb).save(path)
    assert (read_mask_values(path) == 200).all()


def test_read_image_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(SampleReadError, match="broken.jpg"):
        read_image(bad)
    with pytest.raises(SampleReadError, match="missing.png"):
        read_image(tmp_path / "missing.png")


# -------------------------------------------------------------------------------------------- folder pairs
def make_dis_tree(root: Path, ids=("a", "b", "c")) -> None:
    for name in ids:
        save_rgb(root / "DIS5K/DIS-TE1/im" / f"{name}.jpg")
        save_mask(root / "DIS5K/DIS-TE1/gt" / f"{name}.png", box_mask())


def dis(root: Path, **kwargs) -> FolderPairSet:
    return FolderPairSet("dis5k", "te1", root, image_dir="DIS5K/DIS-TE1/im", mask_dir="DIS5K/DIS-TE1/gt",
                         image_ext=[".jpg"], mask_ext=[".png"], **kwargs)


def test_folder_pairs_dis_layout(tmp_path):
    make_dis_tree(tmp_path)
    dataset = dis(tmp_path)
    assert len(dataset) == 3 and dataset.ids == ["a", "b", "c"]
    sample = dataset[1]
    assert sample.id == "b"
    assert sample.image.shape == (12, 16, 3) and sample.masks.shape == (1, 12, 16)
    assert sample.mask.sum() == 5 * 6
    assert sample.meta["source_mask"].endswith("b.png") and sample.meta["original_size"] == (12, 16)
    assert [s.id for s in dataset] == ["a", "b", "c"]


def test_threshold_is_strictly_greater(tmp_path):
    make_dis_tree(tmp_path, ids=("a",))
    save_mask(tmp_path / "DIS5K/DIS-TE1/gt/a.png", box_mask(value=128))
    assert not dis(tmp_path, mask_threshold=128)[0].mask.any()
    assert dis(tmp_path, mask_threshold=127)[0].mask.sum() == 30


def test_missing_mask_raises_naming_file_or_is_skipped(tmp_path):
    make_dis_tree(tmp_path)
    (tmp_path / "DIS5K/DIS-TE1/gt/b.png").unlink()
    with pytest.raises(LayoutError, match=r"missing_mask: .*b\.jpg"):
        dis(tmp_path)
    dataset = dis(tmp_path, on_error="skip")
    assert dataset.ids == ["a", "c"]
    assert [(p.kind, Path(p.path).name) for p in dataset.skipped] == [("missing_mask", "b.jpg")]


def test_orphan_mask_is_a_missing_image(tmp_path):
    make_dis_tree(tmp_path)
    save_mask(tmp_path / "DIS5K/DIS-TE1/gt/zzz.png", box_mask())
    with pytest.raises(LayoutError, match=r"missing_image: .*zzz\.png"):
        dis(tmp_path)
    assert [Path(p.path).name for p in dis(tmp_path, on_error="skip").skipped] == ["zzz.png"]
    shared = dis(tmp_path, unpaired_masks="ignore")  # a mask folder shared by several splits (CAMO GT/)
    assert shared.ids == ["a", "b", "c"] and not shared.skipped


def test_size_mismatch_and_corrupt_files(tmp_path):
    make_dis_tree(tmp_path)
    save_mask(tmp_path / "DIS5K/DIS-TE1/gt/a.png", np.zeros((5, 5), np.uint8))
    (tmp_path / "DIS5K/DIS-TE1/gt/c.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(LayoutError) as error:
        dis(tmp_path)
    assert "size_mismatch" in str(error.value) and "a.png" in str(error.value)
    assert "unreadable" in str(error.value) and "c.png" in str(error.value)
    dataset = dis(tmp_path, on_error="skip")
    assert dataset.ids == ["b"]
    assert sorted(p.kind for p in dataset.skipped) == ["size_mismatch", "unreadable"]


def test_size_mismatch_found_at_load_when_not_validated(tmp_path):
    make_dis_tree(tmp_path)
    save_mask(tmp_path / "DIS5K/DIS-TE1/gt/a.png", np.zeros((5, 5), np.uint8))
    dataset = dis(tmp_path, validate=False)
    with pytest.raises(SampleReadError, match=r"a\.png.*5x5"):
        dataset[0]
    skipping = dis(tmp_path, validate=False, on_error="skip")
    assert [s.id for s in skipping] == ["b", "c"]
    assert [Path(p.path).name for p in skipping.skipped] == ["a.png"]  # the mask, not the image, is named
    list(skipping)
    assert len(skipping.skipped) == 1  # iterating again does not duplicate the record
    union = ConcatSampleSet("dis5k", "all", [skipping, dis(tmp_path, validate=False, on_error="skip")])
    assert [s.id for s in union] == ["b", "c", "b", "c"] and len(union.skipped) == 2


def test_truncated_image_raises_on_load_and_is_skipped_in_iteration(tmp_path):
    make_dis_tree(tmp_path)
    path = tmp_path / "DIS5K/DIS-TE1/im/b.jpg"
    save_rgb(path, height=120, width=160)
    save_mask(tmp_path / "DIS5K/DIS-TE1/gt/b.png", box_mask(120, 160))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.7)])  # header intact, pixel data cut
    dataset = dis(tmp_path, on_error="skip")
    assert len(dataset) == 3  # headers are fine
    with pytest.raises(SampleReadError, match=r"b\.jpg"):
        dataset.load(1)
    assert [s.id for s in dataset] == ["a", "c"]
    assert [Path(p.path).name for p in dataset.skipped] == ["b.jpg"]


def test_duplicate_ids_and_extra_files(tmp_path):
    make_dis_tree(tmp_path)
    save_rgb(tmp_path / "DIS5K/DIS-TE1/im/a.JPG")
    (tmp_path / "DIS5K/DIS-TE1/im/notes.txt").write_text("x")
    dataset = dis(tmp_path, on_error="skip")
    assert any(p.kind == "duplicate_id" for p in dataset.skipped)
    assert [(p.kind, Path(p.path).name) for p in dataset.extras] == [("extra_file", "notes.txt")]


def test_missing_directory_is_a_layout_error(tmp_path):
    with pytest.raises(LayoutError, match="DIS-TE1/im does not exist"):
        dis(tmp_path)


def test_same_folder_layout_like_cascade_psp(tmp_path):
    folder = tmp_path / "cascade_psp/DUTS-TE"
    for name in ("x1", "x2"):
        save_rgb(folder / f"{name}.jpg")
        save_mask(folder / f"{name}.png", box_mask())
    dataset = FolderPairSet("hqseg44k", "duts_te", tmp_path, image_dir="cascade_psp/DUTS-TE",
                            mask_dir="cascade_psp/DUTS-TE")
    assert dataset.ids == ["x1", "x2"] and not dataset.extras


def test_suffix_layout_like_big(tmp_path):
    folder = tmp_path / "BIG/test"
    for name in ("p1", "p2"):
        save_rgb(folder / f"{name}_im.jpg")
        save_mask(folder / f"{name}_gt.png", box_mask())
    save_mask(folder / "p1_seg.png", box_mask())  # CascadePSP input masks: not part of the pair
    dataset = FolderPairSet("big", "test", tmp_path, image_dir="BIG/test", mask_dir="BIG/test",
                            image_ext=[".jpg", ".png"], mask_ext=[".png"], image_suffix="_im", mask_suffix="_gt")
    assert dataset.ids == ["p1", "p2"]
    assert dataset[0].meta["source_mask"].endswith("p1_gt.png")
    assert [Path(p.path).name for p in dataset.extras] == ["p1_seg.png"]


def test_instance_label_maps_with_include_glob_like_glas(tmp_path):
    folder = tmp_path / "Warwick QU"
    labels = np.zeros((12, 16), np.uint8)
    labels[1:4, 1:4] = 1
    labels[6:10, 8:14] = 2
    for name in ("train_1", "train_2", "testA_1"):
        save_rgb(folder / f"{name}.bmp")
        save_mask(folder / f"{name}_anno.bmp", labels)
    common = dict(image_dir="Warwick QU", mask_dir="Warwick QU", image_ext=[".bmp"], mask_ext=[".bmp"],
                  mask_suffix="_anno", mask_mode="instances")
    train = FolderPairSet("glas", "train", tmp_path, include="train_*", **common)
    test = FolderPairSet("glas", "testA", tmp_path, include="testA_*", **common)
    assert train.ids == ["train_1", "train_2"] and test.ids == ["testA_1"]
    assert not train.skipped  # testA masks belong to another split, not orphans
    sample = train[0]
    assert sample.masks.shape == (2, 12, 16)
    assert sorted(int(m.sum()) for m in sample.masks) == [9, 24]


def test_components_mode_and_empty_mask(tmp_path):
    folder = tmp_path / "d"
    two = np.zeros((12, 16), np.uint8)
    two[0:3, 0:3] = 255
    two[8:12, 10:16] = 255
    save_rgb(folder / "im/a.jpg")
    save_mask(folder / "gt/a.png", two)
    save_rgb(folder / "im/b.jpg")
    save_mask(folder / "gt/b.png", np.zeros((12, 16), np.uint8))
    dataset = FolderPairSet("doors", "all", folder, image_dir="im", mask_dir="gt", mask_mode="components",
                            min_component_area=5)
    assert dataset[0].masks.shape == (2, 12, 16)
    empty = dataset[1]
    assert empty.masks.shape == (1, 12, 16) and not empty.masks.any() and empty.meta["empty"]


def test_split_list_selects_ids_and_reports_listed_missing(tmp_path):
    make_dis_tree(tmp_path)
    (tmp_path / "list.txt").write_text("c\n# comment\na\nnope\n")
    assert read_split_list(tmp_path / "list.txt") == ["c", "a", "nope"]
    with pytest.raises(LayoutError, match="nope"):
        dis(tmp_path, split_list="list.txt")
    dataset = dis(tmp_path, split_list="list.txt", on_error="skip")
    assert dataset.ids == ["c", "a"]


def test_gray_and_rgba_images_load_as_rgb(tmp_path):
    save_rgb(tmp_path / "im/g.png", mode="L")
    save_rgb(tmp_path / "im/r.png", mode="RGBA")
    save_rgb(tmp_path / "im/p.png", mode="P")
    for name in "gpr":
        save_mask(tmp_path / f"gt/{name}.png", box_mask())
    dataset = FolderPairSet("x", "all", tmp_path, image_dir="im", mask_dir="gt", image_ext=[".png"])
    for sample in dataset:
        assert sample.image.shape == (12, 16, 3) and sample.image.dtype == np.uint8


def test_fingerprint_stat_and_content_modes(tmp_path):
    make_dis_tree(tmp_path / "one")
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    first = dis(tmp_path / "one").fingerprint()
    assert first == dis(tmp_path / "one").fingerprint()
    assert dis(tmp_path / "one", fingerprint_mode="content").fingerprint() == dis(
        tmp_path / "two", fingerprint_mode="content").fingerprint()
    assert dis(tmp_path / "one", mask_threshold=10).fingerprint() != first
    mask = tmp_path / "one/DIS5K/DIS-TE1/gt/a.png"
    save_mask(mask, box_mask(value=200))
    os.utime(mask, ns=(1, 1))
    assert dis(tmp_path / "one").fingerprint() != first


def test_concat_sample_set(tmp_path):
    make_dis_tree(tmp_path, ids=("a", "b"))
    make_dis_tree(tmp_path / "x", ids=("c",))
    union = ConcatSampleSet("dis5k", "te_all", [dis(tmp_path), dis(tmp_path / "x")])
    assert len(union) == 3 and [union[i].id for i in range(3)] == ["a", "b", "c"]
    assert len(union.fingerprint()) == 64


# -------------------------------------------------------------------------------------------- PASCAL VOC
def make_voc(root: Path) -> Path:
    base = root / "VOCdevkit/VOC2012"
    class_map = np.zeros((12, 16), np.uint8)
    class_map[2:6, 2:6] = 15  # person
    class_map[6:10, 8:14] = 5  # bottle
    class_map[1, :] = IGNORE_INDEX
    for name in ("2007_000032", "2007_000039"):
        save_rgb(base / "JPEGImages" / f"{name}.jpg")
        save_palette(base / "SegmentationClass" / f"{name}.png", class_map)
    (base / "ImageSets/Segmentation").mkdir(parents=True)
    (base / "ImageSets/Segmentation/train.txt").write_text("2007_000032\n")
    (base / "ImageSets/Segmentation/val.txt").write_text("2007_000039\n")
    return base


def test_voc_palette_class_maps(tmp_path):
    make_voc(tmp_path)
    train = VOCSegmentationSet("voc2012", "train", tmp_path)
    assert len(train) == 1 and train.ids == ["2007_000032"]
    sample = train[0]
    assert sample.masks is None and sample.class_names == VOC_CLASSES and len(VOC_CLASSES) == 21
    assert sample.class_map[3, 3] == 15 and sample.class_map[7, 9] == 5 and (sample.class_map[1] == 255).all()
    assert sample.meta["present_classes"] == [0, 5, 15]


def test_voc_rgb_colour_maps_are_mapped_back(tmp_path):
    base = make_voc(tmp_path)
    indices = np.asarray(Image.open(base / "SegmentationClass/2007_000039.png"))
    Image.fromarray(voc_colormap()[indices]).save(base / "SegmentationClass/2007_000039.png")
    sample = VOCSegmentationSet("voc2012", "val", tmp_path)[0]
    assert sample.class_map[3, 3] == 15 and (sample.class_map[1] == 255).all()


def test_voc_bad_values_missing_files_and_lists(tmp_path):
    base = make_voc(tmp_path)
    bad = np.full((12, 16), 42, np.uint8)
    save_palette(base / "SegmentationClass/2007_000039.png", bad)
    with pytest.raises(SampleReadError, match=r"2007_000039\.png.*\[42\]"):
        VOCSegmentationSet("voc2012", "val", tmp_path)[0]
    (base / "ImageSets/Segmentation/train.txt").write_text("2007_000032\n2099_000001\n")
    with pytest.raises(LayoutError, match=r"2099_000001\.jpg"):
        VOCSegmentationSet("voc2012", "train", tmp_path)
    assert len(VOCSegmentationSet("voc2012", "train", tmp_path, on_error="skip")) == 1
    with pytest.raises(LayoutError, match="trainval.txt does not exist"):
        VOCSegmentationSet("voc2012", "trainval", tmp_path)


def test_voc_size_mismatch(tmp_path):
    base = make_voc(tmp_path)
    save_palette(base / "SegmentationClass/2007_000032.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(LayoutError, match=r"size_mismatch: .*2007_000032\.png"):
        VOCSegmentationSet("voc2012", "train", tmp_path)


# -------------------------------------------------------------------------------------------- RLE / polygons
def test_compressed_rle_hand_examples():
    assert rle_counts_to_string([5, 10, 7]) == "5:7"
    assert rle_counts_to_string([100]) == "T3"
    assert rle_counts_from_string("T3") == [100]
    assert rle_counts_to_string([1, 2, 3, 1]) == "123O"  # 4th run stored as 1 - 2 = -1 -> 'O'
    assert rle_counts_from_string(b"123O") == [1, 2, 3, 1]
    with pytest.raises(ValueError):
        rle_counts_from_string("T")  # continuation bit set, string ends


def test_rle_roundtrip_and_column_major_order():
    mask = np.zeros((3, 4), bool)
    mask[0, 1] = mask[1, 1] = mask[2, 3] = True
    uncompressed = rle_encode(mask, compressed=False)
    assert uncompressed == {"size": [3, 4], "counts": [3, 2, 6, 1]}  # column-major runs, background first
    assert (rle_decode(uncompressed) == mask).all()
    random_mask = RNG.random((37, 53)) > 0.6
    random_mask[0, 0] = True  # starts with foreground: a leading zero-length run
    encoded = rle_encode(random_mask)
    assert isinstance(encoded["counts"], str)
    assert (rle_decode(encoded) == random_mask).all()
    with pytest.raises(ValueError, match="sum to"):
        rle_decode({"size": [3, 4], "counts": [1, 2]})


def test_polygon_rasterisation():
    mask = polygons_to_mask([[2, 2, 9, 2, 9, 7, 2, 7]], 10, 12)
    assert mask[2:8, 2:10].all() and mask.sum() == 8 * 6
    union = segmentation_to_mask([[0, 0, 2, 0, 2, 2, 0, 2], [6, 6, 8, 6, 8, 8, 6, 8]], 10, 12)
    assert union.sum() == 18
    with pytest.raises(ValueError, match="RLE size"):
        segmentation_to_mask(rle_encode(np.zeros((4, 4), bool)), 5, 5)


# -------------------------------------------------------------------------------------------- COCO
def make_coco(root: Path) -> dict:
    for name in ("000001.jpg", "000002.jpg", "000003.jpg"):
        save_rgb(root / "val2017" / name, height=10, width=12)
    crowd = np.zeros((10, 12), bool)
    crowd[5:, :] = True
    solid = np.zeros((10, 12), bool)
    solid[0:4, 0:5] = True
    data = {
        "images": [{"id": 1, "file_name": "000001.jpg", "height": 10, "width": 12},
                   {"id": 2, "file_name": "000002.jpg", "height": 10, "width": 12},
                   {"id": 3, "file_name": "000003.jpg", "height": 10, "width": 12}],
        "categories": [{"id": 1, "name": "bottle"}, {"id": 7, "name": "net"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [2, 2, 7, 5],
             "segmentation": [[2, 2, 9, 2, 9, 7, 2, 7]]},
            {"id": 11, "image_id": 1, "category_id": 7, "iscrowd": 0, "bbox": [0, 0, 5, 4],
             "segmentation": rle_encode(solid, compressed=True)},
            {"id": 12, "image_id": 2, "category_id": 7, "iscrowd": 0, "bbox": [0, 0, 5, 4],
             "segmentation": rle_encode(solid, compressed=False)},
            {"id": 13, "image_id": 2, "category_id": 1, "iscrowd": 1, "bbox": [0, 5, 12, 5],
             "segmentation": rle_encode(crowd, compressed=False)},
        ],
    }
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations/instances_val2017.json").write_text(json.dumps(data))
    return data


def coco(root: Path, **kwargs) -> CocoInstanceSet:
    return CocoInstanceSet("coco2017", "val", root, annotation_file="annotations/instances_val2017.json",
                           image_dir="val2017", **kwargs)


def test_coco_polygons_and_rles(tmp_path):
    make_coco(tmp_path)
    dataset = coco(tmp_path)
    assert dataset.ids == ["1", "2"] and dataset.without_annotations == ["000003.jpg"]
    first = dataset[0]
    assert first.masks.shape == (2, 10, 12) and first.class_names == ("bottle", "net")
    assert first.masks[0].sum() == 8 * 6 and first.masks[1].sum() == 20
    assert first.meta["annotation_ids"] == [10, 11] and first.meta["category_ids"] == [1, 7]
    second = dataset[1]
    assert second.masks.shape == (1, 10, 12)  # the crowd annotation is left out
    with_crowd = coco(tmp_path, include_crowd=True)[1]
    assert with_crowd.masks.shape == (2, 10, 12) and with_crowd.meta["iscrowd"] == [0, 1]


def test_coco_missing_image_bad_annotation_and_size_mismatch(tmp_path):
    data = make_coco(tmp_path)
    (tmp_path / "val2017/000002.jpg").unlink()
    with pytest.raises(LayoutError, match=r"missing_image: .*000002\.jpg"):
        coco(tmp_path)
    assert coco(tmp_path, on_error="skip").ids == ["1"]

    save_rgb(tmp_path / "val2017/000002.jpg", height=10, width=12)
    data["annotations"].append({"id": 99, "image_id": 42, "category_id": 1, "segmentation": [[0, 0, 1, 0, 1, 1]]})
    save_rgb(tmp_path / "val2017/000001.jpg", height=11, width=12)
    (tmp_path / "annotations/instances_val2017.json").write_text(json.dumps(data))
    with pytest.raises(LayoutError) as error:
        coco(tmp_path)
    assert "unknown image_id 42" in str(error.value) and "000001.jpg" in str(error.value)
    skipping = coco(tmp_path, on_error="skip")
    assert skipping.ids == ["2"] and {p.kind for p in skipping.skipped} == {"bad_annotation", "size_mismatch"}


def test_coco_bad_json_names_the_file(tmp_path):
    (tmp_path / "val2017").mkdir()
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations/instances_val2017.json").write_text("{not json")
    with pytest.raises(LayoutError, match="instances_val2017.json"):
        coco(tmp_path)


# -------------------------------------------------------------------------------------------- 0/1 masks
def test_zero_one_mask_is_read_as_binary_with_one_warning(tmp_path):
    from sam_repro.data.image_io import MaskEncodingWarning

    make_dis_tree(tmp_path, ids=("a", "b"))
    for name in ("a", "b"):
        save_mask(tmp_path / f"DIS5K/DIS-TE1/gt/{name}.png", box_mask(value=1))
    dataset = dis(tmp_path)
    with pytest.warns(MaskEncodingWarning, match=r"a\.png.*0/1") as caught:
        samples = [dataset[0], dataset[1]]
    assert len([w for w in caught if issubclass(w.category, MaskEncodingWarning)]) == 1  # once per loader
    assert all(s.mask.sum() == 30 and s.meta["mask_values"] == "0/1" and "empty" not in s.meta for s in samples)


def test_zero_one_detection_leaves_other_masks_alone(tmp_path):
    import warnings

    make_dis_tree(tmp_path, ids=("a",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dis(tmp_path)[0].mask.sum() == 30 and "mask_values" not in dis(tmp_path)[0].meta  # 0/255
        save_mask(tmp_path / "DIS5K/DIS-TE1/gt/a.png", box_mask(value=1))
        assert dis(tmp_path, mask_threshold=0.5)[0].mask.sum() == 30  # a 0/1 threshold needs no rescue
        save_mask(tmp_path / "DIS5K/DIS-TE1/gt/a.png", box_mask(value=2))
        assert not dis(tmp_path)[0].mask.any()  # maximum 2: not 0/1, thresholded as the manifest says
        save_mask(tmp_path / "DIS5K/DIS-TE1/gt/a.png", np.zeros((12, 16), np.uint8))
        assert dis(tmp_path)[0].meta["empty"]


def test_zero_one_components(tmp_path):
    from sam_repro.data.image_io import MaskEncodingWarning

    folder = tmp_path / "d"
    two = np.zeros((12, 16), np.uint8)
    two[0:3, 0:3] = 1
    two[8:12, 10:16] = 1
    save_rgb(folder / "im/a.jpg")
    save_mask(folder / "gt/a.png", two)
    dataset = FolderPairSet("doors", "all", folder, image_dir="im", mask_dir="gt", mask_mode="components")
    with pytest.warns(MaskEncodingWarning, match="a.png"):
        assert dataset[0].masks.shape == (2, 12, 16)


def test_pil_to_rgb_matches_read_image(tmp_path):
    from sam_repro.data.image_io import pil_to_rgb

    path = tmp_path / "g16.png"
    Image.fromarray(np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000).save(path)
    with Image.open(path) as image:
        assert np.array_equal(pil_to_rgb(image), read_image(path))
