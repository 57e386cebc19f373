"""PASCAL VOC 2012 semantic segmentation: palette PNG class maps, 20 classes + background, 255 = ignore.

Layout (under the dataset root, as in ``VOCtrainval_11-May-2012.tar``)::

    VOCdevkit/VOC2012/JPEGImages/<id>.jpg
    VOCdevkit/VOC2012/SegmentationClass/<id>.png      palette PNG: pixel value = class index, 255 = void
    VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt   one id per line

Samples carry ``class_map`` (H, W) uint8 with values 0..20 and :data:`~sam_repro.data.sample.IGNORE_INDEX`
(255) for the void boundary band, ``class_names`` = :data:`VOC_CLASSES` (indexed by class id) and
``masks = None``. Class maps saved as 8-bit gray indices (mode ``L``) are read as indices; RGB
colour-coded maps are mapped back through the VOC colour map; any other value is an error naming
the file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sam_repro.data.errors import LayoutError, SampleReadError
from sam_repro.data.image_io import image_size, read_image, read_palette_indices
from sam_repro.data.loaders import FileSampleSet, FingerprintMode, OnError, Problem, read_split_list
from sam_repro.data.sample import IGNORE_INDEX, Sample

#: The 21 VOC classes, indexed by class id (0 = background).
VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


def voc_colormap(size: int = 256) -> np.ndarray:
    """The VOC palette as a (size, 3) uint8 array: class ``c`` gets the colour whose bits interleave the
    bits of ``c`` (bit 0 -> red, bit 1 -> green, bit 2 -> blue, filling from the most significant bit)."""
    colours = np.zeros((size, 3), dtype=np.uint8)
    for index in range(size):
        value, red, green, blue = index, 0, 0, 0
        for shift in range(7, -1, -1):
            red |= ((value >> 0) & 1) << shift
            green |= ((value >> 1) & 1) << shift
            blue |= ((value >> 2) & 1) << shift
            value >>= 3
        colours[index] = (red, green, blue)
    return colours


class VOCSegmentationSet(FileSampleSet):
    """One split of PASCAL VOC semantic segmentation (see the module docstring for the layout).

    Args:
        root: dataset root (the folder that contains ``VOCdevkit``, or whatever ``image_dir`` etc. are
            relative to).
        image_dir, mask_dir: folders of ``<id><image_ext>`` and ``<id><mask_ext>``, relative to ``root``.
        split_list: the split's id list relative to ``root``; ``{split}`` is replaced by the split name.
        num_classes: valid class ids are ``0..num_classes-1`` plus ``ignore_index``.
    """

    def __init__(
        self,
        name: str,
        split: str,
        root: str | os.PathLike,
        *,
        image_dir: str = "VOCdevkit/VOC2012/JPEGImages",
        mask_dir: str = "VOCdevkit/VOC2012/SegmentationClass",
        split_list: str = "VOCdevkit/VOC2012/ImageSets/Segmentation/{split}.txt",
        image_ext: str = ".jpg",
        mask_ext: str = ".png",
        class_names: tuple[str, ...] = VOC_CLASSES,
        ignore_index: int = IGNORE_INDEX,
        on_error: OnError = "raise",
        validate: bool = True,
        fingerprint_mode: FingerprintMode = "stat",
    ) -> None:
        self.image_dir = Path(root) / image_dir
        self.mask_dir = Path(root) / mask_dir
        self.split_list = Path(root) / split_list.format(split=split)
        self.image_ext = image_ext
        self.mask_ext = mask_ext
        self.class_names = tuple(class_names)
        self.ignore_index = int(ignore_index)
        colours = voc_colormap()
        self._colour_to_class = {tuple(int(c) for c in colours[k]): k for k in range(len(self.class_names))}
        # the void colour (224, 224, 192) is the palette entry of 255
        self._colour_to_class[tuple(int(c) for c in colours[self.ignore_index])] = self.ignore_index
        super().__init__(name, split, root, on_error=on_error, validate=validate, fingerprint_mode=fingerprint_mode)

    def _config(self) -> dict[str, Any]:
        return {"classes": list(self.class_names), "ignore_index": self.ignore_index}

    def _shared_files(self) -> list[Path]:
        return [self.split_list]

    def _scan(self) -> tuple[list[Any], list[Problem]]:
        for directory, role in ((self.image_dir, "image"), (self.mask_dir, "class map")):
            if not directory.is_dir():
                raise LayoutError(f"{self.name}/{self.split}: {role} directory {directory} does not exist")
        problems: list[Problem] = []
        items = []
        for sample_id in dict.fromkeys(read_split_list(self.split_list)):
            image_path = self.image_dir / f"{sample_id}{self.image_ext}"
            mask_path = self.mask_dir / f"{sample_id}{self.mask_ext}"
            if not image_path.is_file():
                problems.append(Problem("missing_image", str(image_path), f"listed in {self.split_list.name}"))
            elif not mask_path.is_file():
                problems.append(Problem("missing_mask", str(mask_path), f"listed in {self.split_list.name}"))
            else:
                items.append((sample_id, image_path, mask_path))
        return items, problems

    def _check_item(self, item: Any) -> list[Problem]:
        _, image_path, mask_path = item
        sizes = []
        for path in (image_path, mask_path):
            try:
                sizes.append(image_size(path))
            except SampleReadError as error:
                return [Problem("unreadable", str(path), str(error))]
        image_hw, mask_hw = sizes
        if image_hw != mask_hw:
            return [Problem("size_mismatch", str(mask_path),
                            f"class map is {mask_hw[0]}x{mask_hw[1]} (HxW) but image {image_path.name} is "
                            f"{image_hw[0]}x{image_hw[1]}")]
        return []

    def _item_files(self, item: Any) -> list[Path]:
        return [item[1], item[2]]

    def _read_class_map(self, mask_path: Path) -> np.ndarray:
        values, mode = read_palette_indices(mask_path)
        if mode == "RGB":
            keys = (values[:, :, 0].astype(np.int64) << 16) | (values[:, :, 1].astype(np.int64) << 8) | values[:, :, 2]
            class_map = np.full(keys.shape, -1, dtype=np.int64)
            for colour, class_id in self._colour_to_class.items():
                class_map[keys == ((colour[0] << 16) | (colour[1] << 8) | colour[2])] = class_id
            if (class_map < 0).any():
                bad = np.unique(values[class_map < 0].reshape(-1, 3), axis=0)[:5].tolist()
                raise SampleReadError(f"class map {mask_path} has colours outside the VOC palette: {bad}",
                                      path=str(mask_path))
            return class_map.astype(np.uint8)
        valid = (values < len(self.class_names)) | (values == self.ignore_index)
        if not valid.all():
            bad = sorted(set(np.unique(values[~valid]).tolist()))[:10]
            raise SampleReadError(
                f"class map {mask_path} has values {bad} outside 0..{len(self.class_names) - 1} and "
                f"{self.ignore_index} (ignore)", path=str(mask_path)
            )
        return values.astype(np.uint8)

    def _load_item(self, item: Any) -> Sample:
        sample_id, image_path, mask_path = item
        image = read_image(image_path)
        class_map = self._read_class_map(mask_path)
        if class_map.shape != image.shape[:2]:
            raise SampleReadError(
                f"class map {mask_path} is {class_map.shape[0]}x{class_map.shape[1]} (HxW) but image "
                f"{image_path} is {image.shape[0]}x{image.shape[1]}", path=str(mask_path)
            )
        meta = self._meta(source_image=str(image_path), source_mask=str(mask_path), original_size=image.shape[:2],
                          present_classes=sorted(int(c) for c in np.unique(class_map) if c != self.ignore_index))
        return Sample(id=sample_id, image=image, class_map=class_map, class_names=self.class_names, meta=meta)
