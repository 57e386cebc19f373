"""Views of a sample set that change what its ground truth says, not its images.

:class:`ForegroundMask` unites the instance masks into one (the binary tasks of AlignSAM).
:class:`ObjectBackgroundMaps` turns instance masks into a two-class map (0 background, 1 object), how Stable-SAM's
MESS evaluation reads the embedded domain stand-ins (rooftops, polyps, boulders...): their real counterparts in MESS
are semantic maps of one class of interest against the rest. :class:`ClassUnionMasks` merges the instances of each
class into one mask (Pi-SAM's BIG stand-in) and :class:`SampleSubset` keeps some samples (Pi-SAM's hardest images).
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


class ClassUnionMasks(SampleSet):
    """``dataset`` with each sample's instance masks replaced by one mask per class: the union of the instances of
    that class (BIG's ground truth, a semantic dataset: one mask per class, often several discrete objects; Pi-SAM
    Table 4 prompts each with the box around all of it).

    A sample whose ``meta["instance_classes"]`` names each mask's class id (``synthetic/multiclass``) gets masks
    ``(C, H, W)``, one per distinct class id in increasing order, and ``meta["mask_classes"]`` those ids; its image,
    class map and class names are kept. A sample without that key (a real BIG image: one binary mask already) is
    returned as it is.
    """

    def __init__(self, dataset: SampleSet):
        self.base = dataset
        self.name, self.split = f"{dataset.name}+class_unions", dataset.split

    def __len__(self) -> int:
        return len(self.base)

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.base.fingerprint()}+class_unions".encode()).hexdigest()

    def load(self, index: int) -> Sample:
        sample = self.base[index]
        classes = sample.meta.get("instance_classes")
        if classes is None or sample.masks is None:
            return sample
        classes = np.asarray(classes, dtype=np.int64)
        if classes.shape != (sample.masks.shape[0],):
            raise ValueError(f"{self.base.name} sample {sample.id!r}: {classes.size} instance classes for "
                             f"{sample.masks.shape[0]} masks")
        ids = np.unique(classes)
        masks = np.stack([sample.masks[classes == c].any(axis=0) for c in ids])
        meta = {**sample.meta, "mask_classes": tuple(int(c) for c in ids)}
        return dataclasses.replace(sample, masks=masks, meta=meta)


class SampleSubset(SampleSet):
    """Some samples of ``dataset``, in the given order (e.g. the hardest images of a test set, Pi-SAM Table 2).

    Sample ids stay those of ``dataset`` (so per-object results pair with the full set's); ``base_index(i)`` is the
    index in ``dataset`` of sample ``i``; the fingerprint covers the base set's and the indices.
    """

    def __init__(self, dataset: SampleSet, indices, label: str = "subset"):
        self.base = dataset
        self.indices = tuple(int(i) for i in indices)
        for i in self.indices:
            if not 0 <= i < len(dataset):
                raise IndexError(f"{dataset.name}/{dataset.split}: index {i} out of range for {len(dataset)} samples")
        if len(set(self.indices)) != len(self.indices):
            raise ValueError("indices must not repeat")
        self.label = label
        self.name, self.split = f"{dataset.name}[{label}]", dataset.split

    def __len__(self) -> int:
        return len(self.indices)

    def base_index(self, index: int) -> int:
        return self.indices[index]

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.base.fingerprint()}[{self.label}:{','.join(map(str, self.indices))}]".encode()
                              ).hexdigest()

    def load(self, index: int) -> Sample:
        return self.base[self.indices[index]]


class ForegroundMask(SampleSet):
    """``dataset`` with each sample's instance masks replaced by their union: one (1, H, W) foreground mask (the
    ground truth of a binary task such as shadow, glass, blur or salient-object detection, where the target is
    everything of the kind in the image, not one instance). Samples whose masks are None are refused."""

    def __init__(self, dataset: SampleSet):
        self.base = dataset
        self.name, self.split = f"{dataset.name}+foreground", dataset.split

    def __len__(self) -> int:
        return len(self.base)

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.base.fingerprint()}+foreground".encode()).hexdigest()

    def load(self, index: int) -> Sample:
        sample = self.base[index]
        if sample.masks is None:
            raise ValueError(f"{self.base.name} sample {sample.id!r} has no object masks to unite")
        return dataclasses.replace(sample, masks=sample.masks.any(axis=0)[None])
