"""The one sample type every loader and synthetic family returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Label of pixels that evaluation ignores in a class map (PASCAL VOC convention).
IGNORE_INDEX = 255


@dataclass(frozen=True)
class Sample:
    """One image with its ground truth.

    Attributes:
        id: identifier, unique within its dataset split (e.g. the file stem).
        image: (H, W, 3) uint8 RGB.
        masks: (K, H, W) bool, one binary mask per annotated object (K >= 1), or None when the
            ground truth is a class map only.
        class_map: (H, W) integer class indices with :data:`IGNORE_INDEX` for ignored pixels, or None.
        class_names: names of the classes: indexed by class id when ``class_map`` is given, else one
            per mask in ``masks`` (may be empty when the task has no names).
        meta: provenance: ``dataset``, ``split``, ``source_image``/``source_mask`` paths for real data,
            ``original_size`` (H, W), and anything else the loader knows.
    """

    id: str
    image: np.ndarray
    masks: np.ndarray | None = None
    class_map: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        image = self.image
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f"Sample {self.id!r}: image must be an (H, W, 3) uint8 RGB array, got "
                f"{getattr(image, 'shape', type(image))} {getattr(image, 'dtype', '')}"
            )
        height, width = image.shape[:2]
        if self.masks is None and self.class_map is None:
            raise ValueError(f"Sample {self.id!r}: needs masks or a class_map")
        if self.masks is not None:
            masks = self.masks
            if masks.dtype != bool or masks.ndim != 3 or masks.shape[0] < 1:
                raise ValueError(
                    f"Sample {self.id!r}: masks must be a (K, H, W) bool array with K >= 1, got "
                    f"{masks.shape} {masks.dtype}"
                )
            if masks.shape[1:] != (height, width):
                raise ValueError(
                    f"Sample {self.id!r}: mask size {masks.shape[1:]} differs from image size {(height, width)}"
                )
        if self.class_map is not None:
            class_map = self.class_map
            if class_map.ndim != 2 or not np.issubdtype(class_map.dtype, np.integer):
                raise ValueError(
                    f"Sample {self.id!r}: class_map must be an (H, W) integer array, got "
                    f"{class_map.shape} {class_map.dtype}"
                )
            if class_map.shape != (height, width):
                raise ValueError(
                    f"Sample {self.id!r}: class_map size {class_map.shape} differs from image size {(height, width)}"
                )

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the image."""
        return self.image.shape[0], self.image.shape[1]

    @property
    def mask(self) -> np.ndarray:
        """The (H, W) bool mask of a single-object sample.

        Raises:
            ValueError: when the sample has no masks or more than one.
        """
        if self.masks is None or self.masks.shape[0] != 1:
            count = 0 if self.masks is None else self.masks.shape[0]
            raise ValueError(f"Sample {self.id!r} has {count} masks; use .masks to choose one")
        return self.masks[0]
