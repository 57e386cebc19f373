"""COCO-style instance segmentation (COCO 2017, TrashCan, TimberSeg): a JSON file + an image folder.

JSON (the COCO "instances" format)::

    {"images": [{"id": int, "file_name": str, "height": int, "width": int}, ...],
     "annotations": [{"id": int, "image_id": int, "category_id": int, "iscrowd": 0|1,
                      "segmentation": polygons | RLE, "bbox": [x, y, w, h], "area": float}, ...],
     "categories": [{"id": int, "name": str}, ...]}

One sample per image that has at least one usable annotation (crowd annotations are left out unless
``include_crowd``): ``masks`` (K, H, W) bool in annotation order, ``class_names`` one category name per
mask, ``meta`` with ``annotation_ids``, ``category_ids``, ``iscrowd``, ``bboxes`` (xywh). Images with no
usable annotation are not samples; their ids are listed in ``without_annotations`` (not an error).
Polygons and RLE are decoded by :mod:`sam_repro.data.coco_masks` (no pycocotools).
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from sam_repro.data.coco_masks import segmentation_to_mask
from sam_repro.data.errors import LayoutError, SampleReadError
from sam_repro.data.image_io import image_size, read_image
from sam_repro.data.loaders import FileSampleSet, FingerprintMode, OnError, Problem
from sam_repro.data.sample import Sample


class CocoInstanceSet(FileSampleSet):
    """One split of a COCO-format instance dataset.

    Args:
        root: dataset root; ``annotation_file`` and ``image_dir`` are relative to it.
        annotation_file: the instances JSON.
        image_dir: folder that ``images[].file_name`` is relative to.
        include_crowd: keep ``iscrowd == 1`` annotations as masks too.
        min_area: drop annotations whose decoded mask has fewer pixels (0 keeps all; checked at load).
    """

    def __init__(
        self,
        name: str,
        split: str,
        root: str | os.PathLike,
        *,
        annotation_file: str,
        image_dir: str,
        include_crowd: bool = False,
        min_area: int = 0,
        on_error: OnError = "raise",
        validate: bool = True,
        fingerprint_mode: FingerprintMode = "stat",
    ) -> None:
        self.annotation_file = Path(root) / annotation_file
        self.image_dir = Path(root) / image_dir
        self.include_crowd = include_crowd
        self.min_area = int(min_area)
        self.without_annotations: list[str] = []
        self.categories: dict[int, str] = {}
        super().__init__(name, split, root, on_error=on_error, validate=validate, fingerprint_mode=fingerprint_mode)

    def _config(self) -> dict[str, Any]:
        return {"include_crowd": self.include_crowd, "min_area": self.min_area}

    def _shared_files(self) -> list[Path]:
        return [self.annotation_file]

    def _read_json(self) -> dict[str, Any]:
        try:
            with open(self.annotation_file, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            raise LayoutError(
                f"{self.name}/{self.split}: annotation file {self.annotation_file} does not exist"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise LayoutError(f"cannot parse annotation file {self.annotation_file}: {error}") from error
        if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(
            data.get("annotations"), list
        ):
            raise LayoutError(
                f"annotation file {self.annotation_file} is not COCO instances JSON: expected an object with "
                "'images' and 'annotations' lists"
            )
        return data

    def _scan(self) -> tuple[list[Any], list[Problem]]:
        if not self.image_dir.is_dir():
            raise LayoutError(f"{self.name}/{self.split}: image directory {self.image_dir} does not exist")
        data = self._read_json()
        source = str(self.annotation_file)
        problems: list[Problem] = []
        self.categories = {}
        for category in data.get("categories") or []:
            try:
                self.categories[int(category["id"])] = str(category["name"])
            except (KeyError, TypeError, ValueError):
                problems.append(Problem("bad_annotation", source, f"category without id/name: {category!r:.100}"))

        images: dict[int, dict[str, Any]] = {}
        for record in data["images"]:
            try:
                image_id = int(record["id"])
                images[image_id] = {"file_name": str(record["file_name"]), "height": int(record["height"]),
                                    "width": int(record["width"])}
            except (KeyError, TypeError, ValueError):
                problems.append(Problem("bad_annotation", source,
                                        f"image record needs id, file_name, height, width: {record!r:.100}"))

        by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for annotation in data["annotations"]:
            try:
                image_id = int(annotation["image_id"])
                category_id = int(annotation["category_id"])
                annotation["segmentation"]  # noqa: B018 - presence check
            except (KeyError, TypeError, ValueError):
                problems.append(Problem("bad_annotation", source,
                                        f"annotation needs image_id, category_id, segmentation: {annotation!r:.100}"))
                continue
            if image_id not in images:
                problems.append(Problem("bad_annotation", source,
                                        f"annotation {annotation.get('id')} refers to unknown image_id {image_id}"))
                continue
            if category_id not in self.categories:
                problems.append(Problem(
                    "bad_annotation", source,
                    f"annotation {annotation.get('id')} refers to unknown category_id {category_id}"))
                continue
            if annotation.get("iscrowd", 0) and not self.include_crowd:
                continue
            by_image[image_id].append(annotation)

        items = []
        for image_id in sorted(images):
            record = images[image_id]
            if not by_image.get(image_id):
                self.without_annotations.append(record["file_name"])
                continue
            image_path = self.image_dir / record["file_name"]
            if not image_path.is_file():
                problems.append(Problem("missing_image", str(image_path),
                                        f"image {image_id} of {self.annotation_file.name} is not in {self.image_dir}"))
                continue
            items.append((str(image_id), image_path, record, by_image[image_id]))
        return items, problems

    def _item_id(self, item: Any) -> str:
        return item[0]

    def _check_item(self, item: Any) -> list[Problem]:
        _, image_path, record, _ = item
        try:
            height, width = image_size(image_path)
        except SampleReadError as error:
            return [Problem("unreadable", str(image_path), str(error))]
        if (height, width) != (record["height"], record["width"]):
            return [Problem("size_mismatch", str(image_path),
                            f"image is {height}x{width} (HxW) but {self.annotation_file.name} says "
                            f"{record['height']}x{record['width']}")]
        return []

    def _item_files(self, item: Any) -> list[Path]:
        return [item[1]]

    def _load_item(self, item: Any) -> Sample:
        sample_id, image_path, record, annotations = item
        image = read_image(image_path)
        height, width = image.shape[:2]
        if (height, width) != (record["height"], record["width"]):
            raise SampleReadError(
                f"image {image_path} is {height}x{width} (HxW) but {self.annotation_file} says "
                f"{record['height']}x{record['width']}", path=str(image_path)
            )
        masks, kept = [], []
        for annotation in annotations:
            try:
                mask = segmentation_to_mask(annotation["segmentation"], height, width)
            except ValueError as error:
                raise SampleReadError(
                    f"annotation {annotation.get('id')} of image {record['file_name']} in "
                    f"{self.annotation_file}: {error}", path=str(self.annotation_file)
                ) from error
            if int(mask.sum()) < self.min_area:
                continue
            masks.append(mask)
            kept.append(annotation)
        if not masks:
            raise SampleReadError(
                f"image {record['file_name']} in {self.annotation_file}: no annotation has >= {self.min_area} pixels",
                path=str(image_path),
            )
        meta = self._meta(
            source_image=str(image_path), source_annotations=str(self.annotation_file), original_size=(height, width),
            image_id=int(sample_id), file_name=record["file_name"],
            annotation_ids=[a.get("id") for a in kept], category_ids=[int(a["category_id"]) for a in kept],
            iscrowd=[int(a.get("iscrowd", 0)) for a in kept], bboxes=[a.get("bbox") for a in kept],
        )
        names = tuple(self.categories[int(a["category_id"])] for a in kept)
        return Sample(id=sample_id, image=image, masks=np.stack(masks), class_names=names, meta=meta)
