"""One catalog of named datasets, real and synthetic, so every notebook can name either.

A dataset is opened per split as a :class:`SampleSet` (a sequence of :class:`Sample`). Real datasets
register a factory that reads the layout described in ``data_manifest.yaml``; synthetic families
register a factory that generates samples on the fly.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sam_repro.data.sample import Sample


class SampleSet(ABC, Sequence[Sample]):
    """An indexable split of a dataset.

    Subclasses implement ``__len__``, ``load(index)`` and ``fingerprint``.
    """

    name: str
    split: str

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def load(self, index: int) -> Sample:
        """Return sample ``index`` (0 <= index < len(self))."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A content hash (hex) that changes whenever any sample of this split would change."""

    def __getitem__(self, index: int) -> Sample:  # type: ignore[override]
        if not isinstance(index, int):
            raise TypeError(f"{self.name}/{self.split}: index must be an int, got {type(index).__name__}")
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"{self.name}/{self.split}: index {index} out of range for {len(self)} samples")
        return self.load(index)

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self)):
            yield self.load(index)


@dataclass(frozen=True)
class CatalogEntry:
    """A dataset the catalog can open.

    Attributes:
        name: catalog name (``dis5k``, ``synthetic/thin``...).
        kind: ``"real"`` or ``"synthetic"``.
        splits: the split names.
        opener: ``opener(split, **params) -> SampleSet``.
        papers: which papers/tables use it (free text list).
        description: one line for listings.
    """

    name: str
    kind: str
    splits: tuple[str, ...]
    opener: Callable[..., SampleSet]
    papers: tuple[str, ...] = ()
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_CATALOG: dict[str, CatalogEntry] = {}


def register(entry: CatalogEntry) -> CatalogEntry:
    """Add ``entry`` to the catalog; a second entry with the same name is an error."""
    if entry.name in _CATALOG and _CATALOG[entry.name] is not entry:
        raise ValueError(f"dataset {entry.name!r} is already registered")
    _CATALOG[entry.name] = entry
    return entry


def entries() -> list[CatalogEntry]:
    """All registered entries, sorted by name."""
    _load_builtin_entries()
    return [_CATALOG[name] for name in sorted(_CATALOG)]


def get_entry(name: str) -> CatalogEntry:
    _load_builtin_entries()
    try:
        return _CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(_CATALOG))}") from None


def open_dataset(name: str, split: str, **params: Any) -> SampleSet:
    """Open split ``split`` of dataset ``name``.

    Raises:
        KeyError: unknown dataset name or split (the message lists the known ones).
    """
    entry = get_entry(name)
    if split not in entry.splits:
        raise KeyError(f"dataset {name!r} has no split {split!r}; splits: {', '.join(entry.splits)}")
    return entry.opener(split, **params)


def open_evaluation_set(spec: str, seed: int = 0) -> SampleSet:
    """Open ``"NAME:SPLIT"`` or ``"NAME"`` (then its ``test`` split, else ``all``, else its first) for
    evaluation, the same line for both worlds: ``seed`` reaches synthetic families (whose samples it
    draws) and not real datasets (whose openers take no seed).

    Raises:
        KeyError: unknown dataset or split (the message lists the known ones).
    """
    if not isinstance(spec, str) or not spec:
        raise KeyError(f"evaluation set must be 'NAME' or 'NAME:SPLIT', got {spec!r}")
    name, _, split = spec.partition(":")
    entry = get_entry(name)
    if not split:
        split = "test" if "test" in entry.splits else "all" if "all" in entry.splits else entry.splits[0]
    return open_dataset(name, split, **({"seed": seed} if entry.kind == "synthetic" else {}))


_BUILTINS_LOADED = False


def _load_builtin_entries() -> None:
    """Import the modules that register the built-in datasets (deferred to keep imports light)."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    import importlib

    for module in ("sam_repro.data.synthetic", "sam_repro.data.real"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
