"""Synthetic task families: the embedded world's data, generated on the fly and registered in the catalog.

Every family is a deterministic generator of :class:`~sam_repro.data.sample.Sample` objects: sample
``index`` of ``split`` under ``seed`` is always the same (numpy ``Generator`` seeded by
``SeedSequence([family, split, index, seed])``), nothing is stored on disk, and the family is opened
like any real dataset::

    from sam_repro.data import open_dataset
    pool = open_dataset("synthetic/generic", "train")             # 100,000 virtual samples, 256x256
    dis = open_dataset("synthetic/thin", "test", size=1024)       # DIS-like, one mask per image
    voc = open_dataset("synthetic/multiclass", "test", seed=1)    # class map with 255 borders

Families (see each module's docstring and :data:`SPECS` for what they stand in for):

========================  ==============================  =========================================
name                      stands in for                   property kept
========================  ==============================  =========================================
synthetic/generic         SA-1B (pre-training pool)       many objects, occlusion, nested parts
synthetic/thin            DIS5K, ThinObject-5K            >= 1024 px, thin/meshed/holed structures
synthetic/salient         DUTS, HRSOD                     implicit semantics (conspicuity)
synthetic/shadow          SBU, ISTD                       implicit semantics (darkened ground)
synthetic/blur            CUHK defocus                    implicit semantics (defocus)
synthetic/glass           MSD                             implicit semantics (see-through panes)
synthetic/multiclass      PASCAL VOC 2012                 13 named classes, 255 ignore borders
synthetic/camouflage      CAMO                            domain shift (TTA)
synthetic/polyp           Kvasir-SEG, CVC-ClinicDB        domain shift (TTA, medical)
synthetic/glands          GlaS                            domain shift (TTA, medical)
synthetic/underwater      TrashCan                        domain shift (TTA)
synthetic/rooftops        Rooftop                         domain shift (TTA)
synthetic/leaf_lesion     LeafDisease                     domain shift (TTA), small targets
synthetic/boulders        DOORS                           domain shift (TTA)
synthetic/timber          TimberSeg                       domain shift (TTA), touching objects
========================  ==============================  =========================================
"""
from __future__ import annotations

import functools
from typing import Any

from sam_repro.data.catalog import CatalogEntry, register
from sam_repro.data.synthetic import domains, generic, multiclass, semantic, thin, thin_multi
from sam_repro.data.synthetic.base import (
    GENERATOR_VERSION,
    FamilySpec,
    Generated,
    GeneratorFn,
    SyntheticSampleSet,
    sample_rng,
)

#: (spec, generator) of every family, in listing order.
FAMILIES: tuple[tuple[FamilySpec, GeneratorFn], ...] = (
    (generic.SPEC, generic.generate),
    (thin.SPEC, thin.generate),
    (thin_multi.SPEC, thin_multi.generate),
    (semantic.SALIENT_SPEC, semantic.generate_salient),
    (semantic.SHADOW_SPEC, semantic.generate_shadow),
    (semantic.BLUR_SPEC, semantic.generate_blur),
    (semantic.GLASS_SPEC, semantic.generate_glass),
    (multiclass.SPEC, multiclass.generate),
    *domains.DOMAINS,
)

#: Family name -> metadata record.
SPECS: dict[str, FamilySpec] = {spec.name: spec for spec, _ in FAMILIES}
_GENERATORS: dict[str, GeneratorFn] = {spec.name: fn for spec, fn in FAMILIES}


def family_names(group: str | None = None) -> list[str]:
    """Names of the registered families, optionally only one ``group`` (``pretrain``, ``dis``,
    ``alignsam``, ``semantic``, ``domain``)."""
    return [spec.name for spec, _ in FAMILIES if group is None or spec.group == group]


def open_family(
    name: str, split: str, seed: int = 0, size: int | tuple[int, int] | None = None, length: int | None = None
) -> SyntheticSampleSet:
    """Open ``split`` of family ``name`` (same as ``open_dataset(name, split, ...)``).

    Args:
        seed: non-negative int selecting an independent draw of the split.
        size: side length or (height, width); default the family's ``default_size``.
        length: number of samples; default the family's nominal split length.

    Raises:
        KeyError: unknown family or split.
        ValueError: bad seed, size or length.
    """
    if name not in SPECS:
        raise KeyError(f"unknown synthetic family {name!r}; known: {', '.join(SPECS)}")
    return SyntheticSampleSet(SPECS[name], _GENERATORS[name], split, seed=seed, size=size, length=length)


def _opener(name: str, split: str, **params: Any) -> SyntheticSampleSet:
    unknown = set(params) - {"seed", "size", "length"}
    if unknown:
        raise TypeError(f"{name}: unknown parameter(s) {sorted(unknown)}; accepted: seed, size, length")
    return open_family(name, split, **params)


def _register_all() -> None:
    for spec, _ in FAMILIES:
        register(
            CatalogEntry(
                name=spec.name,
                kind="synthetic",
                splits=tuple(spec.splits),
                opener=functools.partial(_opener, spec.name),
                papers=spec.papers,
                description=spec.describe(),
                extra={
                    "spec": spec,
                    "default_size": spec.default_size,
                    "text_prompt": spec.text_prompt,
                    "counterparts": spec.counterparts,
                },
            )
        )


_register_all()

__all__ = [
    "FAMILIES",
    "GENERATOR_VERSION",
    "FamilySpec",
    "Generated",
    "SPECS",
    "SyntheticSampleSet",
    "family_names",
    "open_family",
    "sample_rng",
]
