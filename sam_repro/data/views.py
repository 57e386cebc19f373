"""Views of a sample set that change what its ground truth says, not its images.

:class:`ObjectBackgroundMaps` turns instance masks into a two-class map (0 background, 1 object), how Stable-SAM's
MESS evaluation reads the embedded domain stand-ins (rooftops, polyps, boulders...): their real counterparts in MESS
are semantic maps of one class of interest against the rest.
"""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from sam_repro.data.catalog import SampleSet
from sam_repro.data.sample import Sample


class ObjectBackgroundMaps(SampleSet):
    """``dataset`` with each sample's ``class_map`` set to 1 where any object mask is set and 0 elsewhere, and
    ``class_names`` ``("background", <name>)``. Samples that already carry a class map are refused (a map would be
    overwritten).

    Args:
        dataset: a set whose samples have instance masks.
        object_name: the name of class 1 (default: the dataset's family name).
    """

    def __init__(self, dataset: SampleSet, object_name: str | None = None):
        self.base = dataset
        self.name, self.split = f"{dataset.name}+object_map", dataset.split
        self.object_name = object_name or dataset.name.rsplit("/", 1)[-1]

    def __len__(self) -> int:
        return len(self.base)

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.base.fingerprint()}+object_map".encode()).hexdigest()

    def load(self, index: int) -> Sample:
        sample = self.base[index]
        if sample.masks is None:
            raise ValueError(f"{self.base.name} sample {sample.id!r} has no object masks to turn into a map")
        if sample.class_map is not None:
            raise ValueError(f"{self.base.name} sample {sample.id!r} already has a class map; use it as it is")
        class_map = sample.masks.any(axis=0).astype(np.int64)
        return dataclasses.replace(sample, class_map=class_map, class_names=("background", self.object_name))
