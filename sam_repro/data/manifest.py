"""Reading and validating ``data_manifest.yaml``: every dataset and checkpoint the five papers use.

The manifest is found at ``$SAM_REPRO_MANIFEST`` if set, else at the repository root. Its top-level
keys (each documented in the file's header comment):

``schema_version``
    1.
``papers``
    ``{key: {title, tables_file}}``: the paper keys used everywhere else (alignsam, tta, pisam, dissam,
    stablesam) and the file in ``paper_tables/`` that holds their tables.
``datasets``
    ``{name: entry}``; an entry has ``title``, ``task``, ``format`` (``folder_pairs`` | ``voc`` | ``coco`` |
    ``none`` for a benchmark with no loader here), ``homepage``, ``license``, ``terms_url``, ``citation``,
    ``manual`` + ``instructions`` (gated sources), ``storage`` (the dataset folder; another entry's name to
    share its files), ``resources`` (downloadable files, or ``{ref: file}`` into the storage entry's
    resources), ``mask_threshold`` (foreground = value > threshold) with ``mask_threshold_source``,
    ``mask_mode``, ``loader`` (extra loader options), ``splits`` (``{split: layout + count}``),
    ``used_for`` (uses outside the result tables, e.g. training), ``notes`` and ``unverified`` (names of
    fields not verified from here).
``checkpoints``
    ``{name: entry}`` with ``title``, ``file``, ``urls``, ``mirrors``, ``sha256``, ``size_bytes``, ``license``,
    ``citation``, ``released``, ``manual``/``instructions``, ``used_for``, ``notes``, ``unverified`` (true when
    the URL, hash or size was not verified from here).
``paper_table_datasets``
    one row per dataset name *as printed* in a paper table: ``{paper, tables, printed, targets, note}``;
    ``targets`` are ``dataset`` or ``dataset:split`` names (empty for rows that name no dataset, with a
    note saying why). This is the alias table that maps the irregular table names onto the manifest.

A resource is ``{file, urls, mirrors, sha256, md5, size_bytes, archive, extract_to, manual, unverified,
hash_source, notes}``: ``file`` is the name under the downloads folder, ``archive`` one of
:data:`~sam_repro.data.archive.ARCHIVE_KINDS` or null, ``extract_to`` a folder relative to the dataset
root. Values that could not be verified are null or carry ``unverified: true``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sam_repro.data.archive import ARCHIVE_KINDS
from sam_repro.data.errors import ManifestError, UnknownNameError
from sam_repro.paths import REPO_ROOT, data_dir, weights_dir

#: Environment variable that points at another manifest file.
MANIFEST_ENV = "SAM_REPRO_MANIFEST"
#: Default manifest location (repository root).
DEFAULT_MANIFEST = REPO_ROOT / "data_manifest.yaml"
#: Dataset formats with a loader in this package.
LOADER_FORMATS = ("folder_pairs", "voc", "coco")
FORMATS = (*LOADER_FORMATS, "none")
MASK_MODES = ("binary", "components", "instances")

_SPLIT_KEYS = {
    "folder_pairs": {"image_dir", "mask_dir", "image_ext", "mask_ext", "image_suffix", "mask_suffix", "include",
                     "exclude", "split_list", "unpaired_masks"},
    "voc": {"image_dir", "mask_dir", "split_list", "image_ext", "mask_ext"},
    "coco": {"annotation_file", "image_dir"},
    "none": set(),
}
_SPLIT_COMMON = {"count", "count_source", "count_unverified", "union", "notes"}
_LOADER_OPTIONS = {
    "folder_pairs": {"min_component_area", "background_value"},
    "voc": {"class_names", "ignore_index"},
    "coco": {"include_crowd", "min_area"},
    "none": set(),
}


@dataclass(frozen=True)
class Resource:
    """A downloadable file (archive or plain file). See the module docstring for the fields."""

    file: str
    urls: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()
    sha256: str | None = None
    md5: str | None = None
    size_bytes: int | None = None
    archive: str | None = None
    extract_to: str = "."
    manual: bool = False
    unverified: bool = False
    hash_source: str | None = None
    notes: str | None = None

    @property
    def all_urls(self) -> tuple[str, ...]:
        """Official URLs first, then mirrors."""
        return self.urls + self.mirrors


@dataclass(frozen=True)
class SplitLayout:
    """Where one split lives and how many samples it should have.

    Attributes:
        name: split name (``te1``, ``test``...).
        params: loader-specific layout keys (``image_dir``, ``mask_dir``, ``image_ext``... or
            ``annotation_file``); see :mod:`sam_repro.data.loaders`, :mod:`~sam_repro.data.voc`,
            :mod:`~sam_repro.data.coco`.
        union: names of other splits this split concatenates (then ``params`` is empty).
        count: expected number of samples, or None when unknown.
        count_source: where ``count`` comes from (a paper table, "dataset paper"...).
        count_unverified: True when ``count`` is recalled rather than read from a source we checked;
            a mismatch is then reported as a warning, not an error.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    union: tuple[str, ...] = ()
    count: int | None = None
    count_source: str | None = None
    count_unverified: bool = False
    notes: str | None = None


@dataclass(frozen=True)
class PaperUse:
    """One use of a dataset or checkpoint by a paper: its tables (or a free-text ``use``) and splits."""

    paper: str
    tables: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    printed: str | None = None
    use: str | None = None
    note: str | None = None

    def describe(self) -> str:
        what = ",".join(self.tables) if self.tables else (self.use or "")
        splits = f" [{','.join(self.splits)}]" if self.splits else ""
        return f"{self.paper}:{what}{splits}"


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset entry of the manifest (see the module docstring)."""

    name: str
    title: str
    task: str
    format: str
    storage: str
    homepage: str | None
    license: str | None
    terms_url: str | None
    citation: str | None
    manual: bool
    instructions: str | None
    resources: tuple[Resource, ...]
    splits: Mapping[str, SplitLayout]
    mask_threshold: float | None
    mask_threshold_source: str | None
    mask_mode: str
    loader: Mapping[str, Any]
    used_for: tuple[PaperUse, ...]
    notes: str | None
    unverified: tuple[str, ...]

    kind = "dataset"

    def root(self, data_root: str | os.PathLike | None = None) -> Path:
        """The folder that holds this dataset's files: ``<data_root or data_dir()>/<storage>``."""
        return (Path(data_root) if data_root is not None else data_dir()) / self.storage

    def downloads(self, data_root: str | os.PathLike | None = None) -> Path:
        """Where downloaded archives are kept: ``<data_root or data_dir()>/_downloads/<storage>``."""
        return (Path(data_root) if data_root is not None else data_dir()) / "_downloads" / self.storage


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint entry of the manifest; its file lives in :func:`sam_repro.paths.weights_dir`."""

    name: str
    title: str
    resource: Resource
    license: str | None
    citation: str | None
    released: bool
    manual: bool
    instructions: str | None
    used_for: tuple[PaperUse, ...]
    notes: str | None

    kind = "checkpoint"

    def path(self, weights_root: str | os.PathLike | None = None) -> Path:
        """Where the checkpoint file is (or will be) stored."""
        return (Path(weights_root) if weights_root is not None else weights_dir()) / self.resource.file


@dataclass(frozen=True)
class Target:
    """A manifest dataset, optionally one split of it (written ``name`` or ``name:split``)."""

    dataset: str
    split: str | None = None

    def __str__(self) -> str:
        return f"{self.dataset}:{self.split}" if self.split else self.dataset


@dataclass(frozen=True)
class TableDataset:
    """A dataset name as printed in a paper table and the manifest entries it stands for."""

    paper: str
    tables: tuple[str, ...]
    printed: str
    targets: tuple[Target, ...]
    note: str | None = None


@dataclass(frozen=True)
class PaperInfo:
    key: str
    title: str
    tables_file: str


@dataclass
class Manifest:
    """The parsed manifest."""

    path: Path
    papers: dict[str, PaperInfo]
    datasets: dict[str, DatasetInfo]
    checkpoints: dict[str, CheckpointInfo]
    table_datasets: list[TableDataset]

    def names(self) -> list[str]:
        """All dataset and checkpoint names."""
        return sorted([*self.datasets, *self.checkpoints])

    def get(self, name: str) -> DatasetInfo | CheckpointInfo:
        """The dataset or checkpoint called ``name``.

        Raises:
            UnknownNameError: listing the known names.
        """
        if name in self.datasets:
            return self.datasets[name]
        if name in self.checkpoints:
            return self.checkpoints[name]
        raise UnknownNameError(
            f"unknown dataset or checkpoint {name!r} in {self.path}; datasets: {', '.join(sorted(self.datasets))}; "
            f"checkpoints: {', '.join(sorted(self.checkpoints))}"
        )

    def dataset(self, name: str) -> DatasetInfo:
        if name not in self.datasets:
            raise UnknownNameError(
                f"unknown dataset {name!r} in {self.path}; known: {', '.join(sorted(self.datasets))}"
            )
        return self.datasets[name]

    def uses(self, name: str) -> list[PaperUse]:
        """Every use of ``name``: the paper tables that print it (from ``paper_table_datasets``) and the
        entry's own ``used_for`` rows."""
        entry = self.get(name)
        found: list[PaperUse] = []
        for row in self.table_datasets:
            splits = tuple(t.split for t in row.targets if t.dataset == name and t.split)
            if any(t.dataset == name for t in row.targets):
                found.append(PaperUse(paper=row.paper, tables=row.tables, splits=splits, printed=row.printed,
                                      note=row.note))
        return found + list(entry.used_for)

    def resolve_printed(self, paper: str, printed: str) -> tuple[Target, ...]:
        """The targets of a dataset name as printed in a table of ``paper``.

        Raises:
            UnknownNameError: the manifest has no row for this (paper, printed) pair.
        """
        for row in self.table_datasets:
            if row.paper == paper and row.printed == printed:
                return row.targets
        raise UnknownNameError(f"{self.path}: no paper_table_datasets row for paper {paper!r}, printed {printed!r}")


# -- parsing --------------------------------------------------------------------------------------------

class _Node:
    """A mapping from the YAML file with its key path, for error messages that name the key."""

    def __init__(self, data: Any, where: str, source: Path) -> None:
        if not isinstance(data, Mapping):
            raise ManifestError(f"{source}: {where} must be a mapping, got {type(data).__name__}")
        self.data = data
        self.where = where
        self.source = source

    def error(self, key: str, message: str) -> ManifestError:
        return ManifestError(f"{self.source}: {self.where}.{key}: {message}")

    def check_keys(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.data) - allowed)
        if unknown:
            raise ManifestError(f"{self.source}: {self.where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")

    def str(self, key: str, default: Any = None, required: bool = False) -> Any:
        value = self.data.get(key, default)
        if value is None:
            if required:
                raise self.error(key, "is required (a string)")
            return None
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {type(value).__name__} {value!r:.60}")
        return value

    def bool(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r:.60}")
        return value

    def int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(key, f"must be a non-negative integer or null, got {value!r:.60}")
        return value

    def number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"must be a number or null, got {value!r:.60}")
        return value

    def strs(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"must be a string or a list of strings, got {value!r:.80}")
        return tuple(value)

    def hexdigest(self, key: str, length: int) -> str | None:
        value = self.str(key)
        if value is None:
            return None
        value = value.lower()
        if len(value) != length or any(c not in "0123456789abcdef" for c in value):
            raise self.error(key, f"must be {length} hex digits or null, got {value!r}")
        return value

    def child(self, key: str) -> _Node:
        return _Node(self.data.get(key) or {}, f"{self.where}.{key}", self.source)


_RESOURCE_KEYS = {"file", "urls", "mirrors", "sha256", "md5", "size_bytes", "archive", "extract_to", "manual",
                  "unverified", "hash_source", "notes"}


def _resource(node: _Node) -> Resource:
    node.check_keys(_RESOURCE_KEYS)
    archive = node.str("archive")
    if archive is not None and archive not in ARCHIVE_KINDS:
        raise node.error("archive", f"must be one of {list(ARCHIVE_KINDS)} or null, got {archive!r}")
    extract_to = node.str("extract_to", ".")
    if extract_to.startswith("/") or ".." in Path(extract_to).parts:
        raise node.error("extract_to", f"must be a relative path inside the dataset folder, got {extract_to!r}")
    return Resource(
        file=node.str("file", required=True), urls=node.strs("urls"), mirrors=node.strs("mirrors"),
        sha256=node.hexdigest("sha256", 64), md5=node.hexdigest("md5", 32), size_bytes=node.int("size_bytes"),
        archive=archive, extract_to=extract_to, manual=node.bool("manual"), unverified=node.bool("unverified"),
        hash_source=node.str("hash_source"), notes=node.str("notes"),
    )


def _uses(node: _Node, key: str, papers: Mapping[str, PaperInfo]) -> tuple[PaperUse, ...]:
    rows = node.data.get(key) or []
    if not isinstance(rows, list):
        raise node.error(key, "must be a list of {paper, use, tables, splits, note}")
    uses = []
    for index, row in enumerate(rows):
        child = _Node(row, f"{node.where}.{key}[{index}]", node.source)
        child.check_keys({"paper", "use", "tables", "splits", "note"})
        paper = child.str("paper", required=True)
        if paper not in papers:
            raise child.error("paper", f"unknown paper {paper!r}; known: {sorted(papers)}")
        uses.append(PaperUse(paper=paper, tables=child.strs("tables"), splits=child.strs("splits"),
                             use=child.str("use"), note=child.str("note")))
    return tuple(uses)


_DATASET_KEYS = {"title", "task", "format", "storage", "homepage", "license", "terms_url", "citation", "manual",
                 "instructions", "resources", "splits", "mask_threshold", "mask_threshold_source", "mask_mode",
                 "loader", "used_for", "notes", "unverified"}


def _dataset(name: str, node: _Node, papers: Mapping[str, PaperInfo]) -> tuple[DatasetInfo, list[tuple[int, str]]]:
    node.check_keys(_DATASET_KEYS)
    fmt = node.str("format", required=True)
    if fmt not in FORMATS:
        raise node.error("format", f"must be one of {list(FORMATS)}, got {fmt!r}")
    mask_mode = node.str("mask_mode", "binary")
    if mask_mode not in MASK_MODES:
        raise node.error("mask_mode", f"must be one of {list(MASK_MODES)}, got {mask_mode!r}")
    threshold = node.number("mask_threshold")
    if fmt == "folder_pairs" and mask_mode != "instances" and threshold is None:
        raise node.error("mask_threshold", "is required for binary/component masks (foreground = value > threshold)")
    loader = node.child("loader")
    loader.check_keys(_LOADER_OPTIONS[fmt])

    resources: list[Resource] = []
    refs: list[tuple[int, str]] = []
    raw_resources = node.data.get("resources") or []
    if not isinstance(raw_resources, list):
        raise node.error("resources", "must be a list")
    for index, raw in enumerate(raw_resources):
        child = _Node(raw, f"{node.where}.resources[{index}]", node.source)
        if "ref" in child.data:
            child.check_keys({"ref"})
            refs.append((index, child.str("ref", required=True)))
            resources.append(Resource(file=child.str("ref", required=True)))  # placeholder, resolved later
        else:
            resources.append(_resource(child))

    splits: dict[str, SplitLayout] = {}
    split_nodes = node.data.get("splits") or {}
    if not isinstance(split_nodes, Mapping):
        raise node.error("splits", "must be a mapping of split name -> layout")
    for split_name, raw in split_nodes.items():
        child = _Node(raw, f"{node.where}.splits.{split_name}", node.source)
        child.check_keys(_SPLIT_KEYS[fmt] | _SPLIT_COMMON)
        union = child.strs("union")
        params = {k: v for k, v in child.data.items() if k in _SPLIT_KEYS[fmt]}
        if fmt in LOADER_FORMATS and not union:
            required = {"folder_pairs": ("image_dir", "mask_dir"), "voc": (),
                        "coco": ("annotation_file", "image_dir")}[fmt]
            for key in required:
                child.str(key, required=True)
        splits[str(split_name)] = SplitLayout(
            name=str(split_name), params=params, union=union, count=child.int("count"),
            count_source=child.str("count_source"), count_unverified=child.bool("count_unverified"),
            notes=child.str("notes"),
        )
    for split in splits.values():
        for part in split.union:
            if part not in splits or splits[part].union:
                raise ManifestError(
                    f"{node.source}: {node.where}.splits.{split.name}.union: {part!r} is not a plain split of {name}"
                )

    info = DatasetInfo(
        name=name, title=node.str("title", required=True), task=node.str("task", ""), format=fmt,
        storage=node.str("storage", name), homepage=node.str("homepage"), license=node.str("license"),
        terms_url=node.str("terms_url"), citation=node.str("citation"), manual=node.bool("manual"),
        instructions=node.str("instructions"), resources=tuple(resources), splits=splits,
        mask_threshold=threshold, mask_threshold_source=node.str("mask_threshold_source"), mask_mode=mask_mode,
        loader=dict(loader.data), used_for=_uses(node, "used_for", papers), notes=node.str("notes"),
        unverified=node.strs("unverified"),
    )
    if info.manual and not info.instructions:
        raise node.error("instructions", "is required when manual is true (say exactly what to download and where)")
    return info, refs


_CHECKPOINT_KEYS = (_RESOURCE_KEYS - {"archive", "extract_to"}) | {"title", "license", "citation", "released",
                                                                    "instructions", "used_for"}


def _checkpoint(name: str, node: _Node, papers: Mapping[str, PaperInfo]) -> CheckpointInfo:
    node.check_keys(_CHECKPOINT_KEYS)
    resource_data = {k: v for k, v in node.data.items() if k in _RESOURCE_KEYS}
    resource = _resource(_Node(resource_data, node.where, node.source))
    released = node.bool("released", True)
    manual = resource.manual
    info = CheckpointInfo(
        name=name, title=node.str("title", required=True), resource=resource, license=node.str("license"),
        citation=node.str("citation"), released=released, manual=manual, instructions=node.str("instructions"),
        used_for=_uses(node, "used_for", papers), notes=node.str("notes"),
    )
    if (manual or not released) and not info.instructions:
        raise node.error("instructions", "is required for manual or unreleased checkpoints")
    return info


def _parse_target(text: str, where: str, source: Path, datasets: Mapping[str, DatasetInfo]) -> Target:
    name, _, split = text.partition(":")
    if name not in datasets:
        raise ManifestError(f"{source}: {where}: target {text!r} names no dataset of the manifest")
    if split and split not in datasets[name].splits:
        raise ManifestError(f"{source}: {where}: target {text!r}: {name} has no split {split!r} "
                            f"(splits: {', '.join(datasets[name].splits)})")
    return Target(name, split or None)


def parse_manifest(data: Any, source: Path) -> Manifest:
    """Validate the parsed YAML ``data`` and build a :class:`Manifest`.

    Raises:
        ManifestError: naming the file and the key path of the first problem.
    """
    root = _Node(data, "<root>", source)
    root.check_keys({"schema_version", "papers", "datasets", "checkpoints", "paper_table_datasets"})
    if root.data.get("schema_version") != 1:
        raise root.error("schema_version", f"must be 1, got {root.data.get('schema_version')!r}")
    papers = {}
    for key, raw in root.child("papers").data.items():
        node = _Node(raw, f"papers.{key}", source)
        node.check_keys({"title", "tables_file"})
        papers[str(key)] = PaperInfo(str(key), node.str("title", required=True), node.str("tables_file", required=True))

    datasets: dict[str, DatasetInfo] = {}
    pending_refs: dict[str, list[tuple[int, str]]] = {}
    for name, raw in root.child("datasets").data.items():
        info, refs = _dataset(str(name), _Node(raw, f"datasets.{name}", source), papers)
        datasets[str(name)] = info
        pending_refs[str(name)] = refs
    for name, refs in pending_refs.items():
        info = datasets[name]
        if info.storage != name and info.storage not in datasets:
            raise ManifestError(f"{source}: datasets.{name}.storage: {info.storage!r} names no dataset")
        if not refs:
            continue
        owner = datasets[info.storage]
        resources = list(info.resources)
        for index, file in refs:
            match = [r for r in owner.resources if r.file == file]
            if not match:
                raise ManifestError(
                    f"{source}: datasets.{name}.resources[{index}].ref: {owner.name} has no resource {file!r}"
                )
            resources[index] = match[0]
        datasets[name] = _replace(info, resources=tuple(resources))

    checkpoints = {
        str(name): _checkpoint(str(name), _Node(raw, f"checkpoints.{name}", source), papers)
        for name, raw in root.child("checkpoints").data.items()
    }
    clash = sorted(set(datasets) & set(checkpoints))
    if clash:
        raise ManifestError(f"{source}: names used both as dataset and checkpoint: {clash}")

    rows = root.data.get("paper_table_datasets") or []
    if not isinstance(rows, list):
        raise root.error("paper_table_datasets", "must be a list of {paper, tables, printed, targets, note}")
    table_datasets = []
    for index, raw in enumerate(rows):
        node = _Node(raw, f"paper_table_datasets[{index}]", source)
        node.check_keys({"paper", "tables", "printed", "targets", "note"})
        paper = node.str("paper", required=True)
        if paper not in papers:
            raise node.error("paper", f"unknown paper {paper!r}; known: {sorted(papers)}")
        targets = tuple(_parse_target(t, f"{node.where}.targets", source, datasets) for t in node.strs("targets"))
        if not targets and not node.str("note"):
            raise node.error("note", "is required when targets is empty (say why the row names no dataset)")
        table_datasets.append(TableDataset(paper, node.strs("tables"), node.str("printed", required=True), targets,
                                           node.str("note")))
    return Manifest(path=source, papers=papers, datasets=datasets, checkpoints=checkpoints,
                    table_datasets=table_datasets)


def _replace(info: DatasetInfo, **changes: Any) -> DatasetInfo:
    from dataclasses import replace

    return replace(info, **changes)


def manifest_path() -> Path:
    """``$SAM_REPRO_MANIFEST`` if set, else the repository's ``data_manifest.yaml``."""
    override = os.environ.get(MANIFEST_ENV)
    return Path(override).expanduser() if override else DEFAULT_MANIFEST


_CACHE: dict[tuple[str, int, int], Manifest] = {}


def load_manifest(path: str | os.PathLike | None = None) -> Manifest:
    """Read and validate a manifest (default: :func:`manifest_path`); cached per (path, mtime, size).

    Raises:
        ManifestError: missing file, YAML syntax error, or schema violation (naming the key).
    """
    path = Path(path) if path is not None else manifest_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ManifestError(
            f"data manifest {path} does not exist (set {MANIFEST_ENV} to point at data_manifest.yaml)"
        ) from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ManifestError(f"cannot parse {path}: {error}") from error
        _CACHE[key] = parse_manifest(data, path)
    return _CACHE[key]
