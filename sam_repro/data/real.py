"""Real datasets in the catalog: one :class:`~sam_repro.data.catalog.CatalogEntry` per manifest dataset
that has a loader (formats ``folder_pairs``, ``voc``, ``coco``).

Importing this module registers them (the catalog imports it lazily). ``open_dataset("dis5k", "te1")``
then reads ``<SAM_REPRO_DATA>/dis5k`` through :func:`open_real`; loader options (``on_error``,
``validate``, ``fingerprint_mode``, ``data_root``) pass through as keyword arguments.
"""
from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import Any

from sam_repro.data.catalog import CatalogEntry, SampleSet, register
from sam_repro.data.coco import CocoInstanceSet
from sam_repro.data.errors import DataError, DatasetNotPresentError, ManifestError
from sam_repro.data.loaders import ConcatSampleSet, FolderPairSet
from sam_repro.data.manifest import LOADER_FORMATS, DatasetInfo, Manifest, load_manifest
from sam_repro.data.voc import VOCSegmentationSet

_LOADER_KEYS = ("on_error", "validate", "fingerprint_mode")


def make_split(info: DatasetInfo, split: str, root: str | os.PathLike, **options: Any) -> SampleSet:
    """Build the loader of ``split`` of ``info`` reading files under ``root``.

    ``options``: ``on_error``, ``validate``, ``fingerprint_mode`` and any layout/loader key to override
    the manifest's (e.g. ``mask_threshold``).

    Raises:
        KeyError: unknown split. DataError: the dataset has no loader (format ``none``).
        LayoutError: see the loaders.
    """
    if split not in info.splits:
        raise KeyError(f"dataset {info.name!r} has no split {split!r}; splits: {', '.join(info.splits)}")
    layout = info.splits[split]
    if layout.union:
        return ConcatSampleSet(info.name, split, [make_split(info, part, root, **options) for part in layout.union])
    root = Path(root)
    if info.format == "folder_pairs":
        kwargs: dict[str, Any] = {"mask_mode": info.mask_mode, **dict(info.loader), **dict(layout.params)}
        if info.mask_threshold is not None:
            kwargs["mask_threshold"] = info.mask_threshold
        kwargs.update(options)
        return FolderPairSet(info.name, split, root, **kwargs)
    if info.format == "voc":
        kwargs = {**dict(info.loader), **dict(layout.params), **options}
        if "class_names" in kwargs:
            kwargs["class_names"] = tuple(kwargs["class_names"])
        return VOCSegmentationSet(info.name, split, root, **kwargs)
    if info.format == "coco":
        return CocoInstanceSet(info.name, split, root, **{**dict(info.loader), **dict(layout.params), **options})
    raise DataError(f"dataset {info.name!r} (format {info.format!r}) has no loader in this package; see its notes "
                    "in data_manifest.yaml")


def open_real(name: str, split: str, *, manifest: Manifest | None = None,
              data_root: str | os.PathLike | None = None, **options: Any) -> SampleSet:
    """Open ``split`` of the manifest dataset ``name`` from ``<data_root or SAM_REPRO_DATA>/<storage>``.

    Raises:
        DatasetNotPresentError: the dataset folder does not exist (the message says how to get it).
        KeyError / LayoutError / DataError: see :func:`make_split`.
    """
    manifest = manifest or load_manifest()
    info = manifest.dataset(name)
    root = info.root(data_root)
    if not root.is_dir():
        how = "it is gated: `sam-repro data fetch {0}` prints what to download and where" if info.manual else \
            "run `sam-repro data fetch {0}`"
        raise DatasetNotPresentError(
            f"dataset {name!r} is not present: {root} does not exist (data folder: set SAM_REPRO_DATA to move it); "
            + how.format(name)
        )
    return make_split(info, split, root, **options)


def catalog_entries(manifest: Manifest) -> list[CatalogEntry]:
    """One catalog entry per loadable dataset of ``manifest``."""
    entries = []
    for info in manifest.datasets.values():
        if info.format not in LOADER_FORMATS:
            continue
        papers = tuple(use.describe() for use in manifest.uses(info.name))
        entries.append(CatalogEntry(
            name=info.name, kind="real", splits=tuple(info.splits),
            opener=functools.partial(open_real, info.name, manifest=manifest), papers=papers,
            description=info.title, extra={"manifest": info},
        ))
    return entries


def _register_builtin() -> None:
    try:
        manifest = load_manifest()
    except ManifestError as error:
        warnings.warn(f"real datasets are not in the catalog: {error}", stacklevel=2)
        return
    for entry in catalog_entries(manifest):
        register(entry)


_register_builtin()
