"""The machinery every synthetic family shares: its metadata record, seeding, and the sample set.

A family is a pure function ``generate(rng, height, width) -> Generated`` plus a :class:`FamilySpec`.
:class:`SyntheticSampleSet` turns it into a :class:`~sam_repro.data.catalog.SampleSet` whose sample
``index`` is generated on demand from a numpy ``Generator`` seeded by
``SeedSequence([family key, split key, index, seed])``. Nothing touches global random state, so a
sample depends only on (family, split, index, seed, size) and :data:`GENERATOR_VERSION`.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cachetools
import numpy as np

from sam_repro.data.catalog import SampleSet
from sam_repro.data.sample import Sample

#: Bump when any generator changes its output; it enters every fingerprint.
GENERATOR_VERSION = "1"

def _sample_bytes(sample: Sample) -> int:
    return sum(a.nbytes for a in (sample.image, sample.masks, sample.class_map) if a is not None)


#: Generated samples shared by every synthetic sample set of the process, least recently used first out,
#: bounded by bytes (512 MiB: ~130 samples at 1024 px, ~2,700 at 256 px).
SAMPLE_CACHE: "cachetools.LRUCache" = cachetools.LRUCache(maxsize=512 << 20, getsizeof=_sample_bytes)

#: Size argument accepted at open time: a side length (square) or ``(height, width)``.
SizeLike = int | tuple[int, int]


@dataclass
class Generated:
    """What a family generator returns for one sample (before ids and provenance are added).

    Attributes:
        image: (H, W, 3) uint8 RGB.
        masks: (K, H, W) bool, K >= 1, or None when only ``class_map`` is given.
        class_map: (H, W) uint8 class ids with 255 = ignore, or None.
        class_names: per mask (when ``class_map`` is None) or indexed by class id.
        meta: family-specific extras (merged into :attr:`Sample.meta`).
    """

    image: np.ndarray
    masks: np.ndarray | None = None
    class_map: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


#: Signature of a family generator: ``generate(rng, height, width) -> Generated``.
GeneratorFn = Callable[..., Generated]
"""``generate(rng, height, width, **split_options) -> Generated``."""


@dataclass(frozen=True)
class FamilySpec:
    """Metadata record of one synthetic family: what it stands in for and how to open it.

    Attributes:
        name: catalog name, ``synthetic/<family>``.
        group: ``pretrain`` (the tiny SAM's pool), ``dis`` (high-resolution thin structures),
            ``alignsam`` (implicit-semantic tasks), ``semantic`` (multi-class scenes) or ``domain``
            (novel domains for test-time adaptation).
        papers: short names of the papers that use it (``alignsam``, ``tta``, ``pisam``, ``dissam``,
            ``stablesam``; ``all`` for the pre-training pool).
        stands_in_for: the real datasets it mirrors (names as in the papers).
        keeps: the property of those datasets it keeps (thin structure, implicit semantics, ...).
        target: what the masks / class map annotate.
        default_size: (H, W) used when ``size`` is not given at open time.
        min_size: smallest side length accepted at open time.
        splits: nominal number of samples per split (generation is on the fly, so any index below
            the length is valid).
        text_prompt: the text a language-prompted method uses for the target (AlignSAM's explicit
            branch), or ``""``.
        multi_object: whether a sample may carry more than one mask.
        version: per-family generator version (enters the fingerprint with :data:`GENERATOR_VERSION`).
        counterparts: catalog names of the real datasets a full-scale run opens instead (``dis5k``...).
        split_options: keyword arguments the generator gets for a split (a split missing here gets none), for
            splits drawn at another setting of the same family (``synthetic/multiclass``'s ``voc_test``).
    """

    name: str
    group: str
    papers: tuple[str, ...]
    stands_in_for: tuple[str, ...]
    keeps: str
    target: str
    default_size: tuple[int, int]
    min_size: int
    splits: Mapping[str, int]
    text_prompt: str = ""
    multi_object: bool = False
    version: str = "1"
    counterparts: tuple[str, ...] = ()
    split_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.split_options) - set(self.splits)
        if unknown:
            raise ValueError(f"{self.name}: split_options name splits it does not have: {sorted(unknown)} "
                             f"(splits: {', '.join(self.splits)})")

    @property
    def short_name(self) -> str:
        """The name without the ``synthetic/`` prefix."""
        return self.name.split("/", 1)[-1]

    def describe(self) -> str:
        """One line for catalog listings."""
        return f"stands in for {', '.join(self.stands_in_for)}; keeps {self.keeps}"


def stable_key(text: str) -> int:
    """A platform-independent 64-bit integer key of ``text`` (``hash()`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def sample_rng(family: str, split: str, index: int, seed: int) -> np.random.Generator:
    """The generator of sample ``index`` of ``family``/``split`` under ``seed``.

    Different families, splits, indices or seeds give independent streams (SeedSequence mixing).
    """
    sequence = np.random.SeedSequence([stable_key(family), stable_key(split), int(index), int(seed)])
    return np.random.Generator(np.random.PCG64(sequence))


def normalize_size(size: SizeLike | None, spec: FamilySpec) -> tuple[int, int]:
    """Check ``size`` against ``spec`` and return it as ``(height, width)``.

    Raises:
        ValueError: a side below ``spec.min_size`` or above 8192, or a malformed value.
    """
    if size is None:
        return spec.default_size
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        height = width = int(size)
    elif (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)
    ):
        height, width = int(size[0]), int(size[1])
    else:
        raise ValueError(f"{spec.name}: size must be an int or an (height, width) pair of ints, got {size!r}")
    if min(height, width) < spec.min_size:
        raise ValueError(
            f"{spec.name}: size {(height, width)} is too small; this family needs sides >= {spec.min_size} "
            f"(default {spec.default_size})"
        )
    if max(height, width) > 8192:
        raise ValueError(f"{spec.name}: size {(height, width)} is too large (max side 8192)")
    return height, width


class SyntheticSampleSet(SampleSet):
    """One split of a synthetic family, generated on the fly.

    Args:
        spec: the family's metadata record.
        generate: the family generator ``generate(rng, height, width) -> Generated``.
        split: one of ``spec.splits``.
        seed: non-negative int; a different seed gives a different (equally distributed) split.
        size: side length or ``(height, width)``; default ``spec.default_size``.
        length: number of samples; default the nominal ``spec.splits[split]``.

    Raises:
        KeyError: unknown split.
        ValueError: bad seed, size or length.
    """

    def __init__(
        self,
        spec: FamilySpec,
        generate: GeneratorFn,
        split: str,
        seed: int = 0,
        size: SizeLike | None = None,
        length: int | None = None,
    ) -> None:
        if split not in spec.splits:
            raise KeyError(f"dataset {spec.name!r} has no split {split!r}; splits: {', '.join(spec.splits)}")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"{spec.name}: seed must be a non-negative int, got {seed!r}")
        if length is None:
            length = spec.splits[split]
        if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 1:
            raise ValueError(f"{spec.name}: length must be a positive int, got {length!r}")
        self.spec = spec
        self.name = spec.name
        self.split = split
        self.seed = int(seed)
        self.size = normalize_size(size, spec)
        self._length = int(length)
        self._generate = generate

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        return (
            f"SyntheticSampleSet({self.name!r}, split={self.split!r}, seed={self.seed}, size={self.size}, "
            f"length={self._length})"
        )

    def load(self, index: int) -> Sample:
        """Sample ``index``: same (family, split, index, seed, size) -> identical arrays.

        A generated sample is kept in a bounded cache shared by every sample set of the process
        (:data:`SAMPLE_CACHE`), so a run that visits a sample under several protocols or rows generates it once;
        its arrays are read-only (copy before changing them).
        """
        if not isinstance(index, (int, np.integer)) or not 0 <= index < self._length:
            raise IndexError(f"{self.name}/{self.split}: index {index!r} out of range for {self._length} samples")
        index = int(index)
        key = (self.name, f"{GENERATOR_VERSION}.{self.spec.version}", self.split, self.seed, self.size, index)
        cached = SAMPLE_CACHE.get(key)
        if cached is not None:
            return cached
        sample = self._generate_sample(index)
        for array in (sample.image, sample.masks, sample.class_map):
            if array is not None:
                array.setflags(write=False)
        SAMPLE_CACHE[key] = sample
        return sample

    def _generate_sample(self, index: int) -> Sample:
        height, width = self.size
        rng = sample_rng(self.name, self.split, index, self.seed)
        out = self._generate(rng, height, width, **self.spec.split_options.get(self.split, {}))
        if out.masks is not None and not out.masks.reshape(len(out.masks), -1).any(axis=1).all():
            where = f"{self.name}/{self.split}[{index}] (seed {self.seed}, size {self.size})"
            raise RuntimeError(f"{where}: the generator produced an empty mask; this is a bug in the family")
        meta: dict[str, Any] = {
            "dataset": self.name,
            "split": self.split,
            "index": index,
            "seed": self.seed,
            "original_size": (height, width),
            "synthetic": True,
            "generator_version": f"{GENERATOR_VERSION}.{self.spec.version}",
            "stands_in_for": self.spec.stands_in_for,
        }
        if self.spec.text_prompt:
            meta["text_prompt"] = self.spec.text_prompt
        meta.update(out.meta)
        return Sample(
            id=f"{self.spec.short_name.replace('/', '-')}-{self.split}-s{self.seed}-{index:06d}",
            image=out.image,
            masks=out.masks,
            class_map=out.class_map,
            class_names=tuple(out.class_names),
            meta=meta,
        )

    def fingerprint(self) -> str:
        """sha256 of (family name, generator version, split, seed, size, length)."""
        payload = {
            "name": self.name,
            "version": f"{GENERATOR_VERSION}.{self.spec.version}",
            "split": self.split,
            "seed": self.seed,
            "size": list(self.size),
            "length": self._length,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def finish_masks(masks: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """Stack a list of (H, W) masks into a (K, H, W) bool array (K >= 1 is the caller's duty)."""
    if not masks:
        raise RuntimeError("a synthetic generator produced no mask; this is a bug in the family")
    return np.stack([np.asarray(m, dtype=bool) for m in masks]).reshape(len(masks), height, width)
