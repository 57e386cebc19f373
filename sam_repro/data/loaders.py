"""Loaders for real dataset layouts on disk, as :class:`~sam_repro.data.catalog.SampleSet` subclasses.

* :class:`FolderPairSet`: an image folder and a mask folder (possibly the same folder) paired by file
  name, with extension lists and name suffixes (``x_im.jpg`` / ``x_gt.png``), optional glob filters and
  an optional split list. Masks are binary (thresholded), split into connected components, or label
  maps of instance ids. This covers DIS5K, HRSOD, UHRSD, ThinObject-5K, COIFT, BIG, HQSeg-44K, DUTS,
  SBU, CUHK, MSD, ISTD, CAMO, Kvasir, CVC-ClinicDB, GlaS, PPDLS...
* :class:`ConcatSampleSet`: several splits read as one (e.g. the HQSeg-44K training union).
* PASCAL VOC and COCO live in :mod:`sam_repro.data.voc` and :mod:`sam_repro.data.coco`; they share the
  :class:`FileSampleSet` base defined here.

Error handling (``on_error``):

* ``"raise"`` (default): any problem found while indexing the split (a missing partner file, an
  unreadable header, a mask whose size differs from its image, duplicate ids, a bad annotation) raises
  :class:`~sam_repro.data.errors.LayoutError` naming the files; a file that fails to decode later makes
  ``load`` raise :class:`~sam_repro.data.errors.SampleReadError` naming it.
* ``"skip"``: such items are left out and recorded in ``skipped`` (a list of :class:`Problem`);
  ``load(i)`` still raises for a file that only fails when decoded, while iteration skips it and
  appends it to ``skipped``. Never a silently wrong pair.

Fingerprints (:meth:`FileSampleSet.fingerprint`): a sha256 over the loader configuration (class,
dataset, split, binarisation settings) and, in sample order, every file that defines a sample: its path
relative to the dataset root plus either its size and modification time in nanoseconds
(``fingerprint_mode="stat"``, the default: fast, changes when a file is rewritten or copied elsewhere
with new mtimes) or the sha256 of its content (``fingerprint_mode="content"``: slow on large sets, equal
across machines for identical files; use it for provenance that must match between machines).
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import warnings
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from sam_repro.hashing import sha256_file  # noqa: F401  (re-exported)
from sam_repro.data.catalog import SampleSet
from sam_repro.data.errors import LayoutError, SampleReadError
from sam_repro.data.image_io import (MaskEncodingWarning, binarize_mask, image_size, read_image, read_label_map,
                                     read_mask_values)
from sam_repro.data.sample import Sample

OnError = Literal["raise", "skip"]
FingerprintMode = Literal["stat", "content"]
MaskMode = Literal["binary", "components", "instances"]

#: Problem kinds that remove an item from a split (the others, like ``extra_file``, are only reported).
FATAL_KINDS = frozenset(
    {"missing_image", "missing_mask", "unreadable", "size_mismatch", "duplicate_id", "bad_annotation", "bad_value"}
)


@dataclass(frozen=True)
class Problem:
    """One problem found in a split.

    Attributes:
        kind: ``missing_image`` (a mask or listed id without its image), ``missing_mask`` (an image or
            listed id without its mask), ``unreadable``, ``size_mismatch``, ``duplicate_id``,
            ``bad_annotation``, ``bad_value`` (label values outside the allowed set) or ``extra_file``
            (a file in a data folder that belongs to no sample; reported, never fatal).
        path: the file (or, for a listed id with no file at all, the expected path) concerned.
        detail: what was expected and what was found.
    """

    kind: str
    path: str
    detail: str

    @property
    def fatal(self) -> bool:
        return self.kind in FATAL_KINDS

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}"


def read_split_list(path: str | os.PathLike) -> list[str]:
    """Read a split list: one sample id per line (blank lines and ``#`` comments ignored; for lines with
    several whitespace-separated fields, as in VOC's ``ImageSets/Main``, the first field is the id).

    Raises:
        LayoutError: the file does not exist or is not UTF-8 text.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LayoutError(f"split list {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LayoutError(f"cannot read split list {path}: {error}") from error
    ids = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.append(line.split()[0])
    return ids


def _format_problems(problems: Sequence[Problem], limit: int = 10) -> str:
    shown = "\n  ".join(str(p) for p in problems[:limit])
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"\n  {shown}{more}"


class FileSampleSet(SampleSet):
    """Base of the loaders that read files under a dataset root.

    Subclasses implement :meth:`_scan` (index the split, return items and problems), optionally
    :meth:`_check_item` (cheap header checks of one item), :meth:`_load_item` and :meth:`_item_files`.
    """

    def __init__(
        self,
        name: str,
        split: str,
        root: str | os.PathLike,
        *,
        on_error: OnError = "raise",
        validate: bool = True,
        fingerprint_mode: FingerprintMode = "stat",
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if fingerprint_mode not in ("stat", "content"):
            raise ValueError(f"fingerprint_mode must be 'stat' or 'content', got {fingerprint_mode!r}")
        self.name = name
        self.split = split
        self.root = Path(root)
        self.on_error: OnError = on_error
        self.validate = validate
        self.fingerprint_mode: FingerprintMode = fingerprint_mode
        self.skipped: list[Problem] = []
        self.extras: list[Problem] = []
        self._fingerprint: str | None = None

        items, problems = self._scan()
        if validate:
            kept = []
            for item in items:
                item_problems = self._check_item(item)
                problems.extend(item_problems)
                if not any(p.fatal for p in item_problems):
                    kept.append(item)
            items = kept
        fatal = [p for p in problems if p.fatal]
        self.extras = [p for p in problems if not p.fatal]
        if fatal and on_error == "raise":
            raise LayoutError(
                f"{name}/{split} under {self.root}: {len(fatal)} problem(s); pass on_error='skip' to leave "
                f"these samples out:{_format_problems(fatal)}"
            )
        self.skipped = fatal
        self._items: list[Any] = items

    # -- subclass hooks -------------------------------------------------------------------------------
    @abstractmethod
    def _scan(self) -> tuple[list[Any], list[Problem]]:
        """Index the split: the items (in sample order) and the problems found."""

    def _check_item(self, item: Any) -> list[Problem]:
        """Cheap checks of one item (file headers, sizes); default none."""
        return []

    @abstractmethod
    def _load_item(self, item: Any) -> Sample:
        """Read one item into a :class:`Sample` (raising :class:`SampleReadError` naming the file)."""

    @abstractmethod
    def _item_files(self, item: Any) -> list[Path]:
        """The files that define one item (for the fingerprint)."""

    def _config(self) -> dict[str, Any]:
        """Loader settings that change the samples (part of the fingerprint)."""
        return {}

    def _shared_files(self) -> list[Path]:
        """Files every sample depends on (split lists, annotation JSON), fingerprinted first."""
        return []

    # -- SampleSet ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._items)

    def load(self, index: int) -> Sample:
        return self._load_item(self._items[index])

    def __iter__(self) -> Iterator[Sample]:
        for item in self._items:
            try:
                yield self._load_item(item)
            except SampleReadError as error:
                if self.on_error == "raise":
                    raise
                files = self._item_files(item)
                path = error.path or (str(files[0]) if files else "?")
                problem = Problem("unreadable", path, str(error))
                if problem not in self.skipped:
                    self.skipped.append(problem)

    @property
    def ids(self) -> list[str]:
        """Sample ids in order."""
        return [self._item_id(item) for item in self._items]

    def _item_id(self, item: Any) -> str:
        return str(item[0])

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256()
            config = {"loader": type(self).__name__, "dataset": self.name, "split": self.split, **self._config()}
            digest.update(json.dumps(config, sort_keys=True, default=str).encode())
            digest.update(f"\nmode={self.fingerprint_mode}\n".encode())
            files = list(self._shared_files())
            for item in self._items:
                files.extend(self._item_files(item))
            for path in files:
                digest.update(self._file_token(path).encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def _file_token(self, path: Path) -> str:
        try:
            relative = path.relative_to(self.root).as_posix()
        except ValueError:
            relative = path.as_posix()
        if self.fingerprint_mode == "content":
            return f"{relative}\0{sha256_file(path)}\n"
        stat = path.stat()
        return f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n"

    def _meta(self, **extra: Any) -> dict[str, Any]:
        return {"dataset": self.name, "split": self.split, **extra}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.split!r}, root={str(self.root)!r}, n={len(self)})"


def _normalise_exts(exts: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(exts, str):
        exts = (exts,)
    normalised = []
    for ext in exts:
        ext = ext.lower()
        normalised.append(ext if ext.startswith(".") else f".{ext}")
    return tuple(normalised)


def _list_dir(directory: Path) -> list[str]:
    return sorted(entry.name for entry in os.scandir(directory) if entry.is_file() and not entry.name.startswith("."))


def _split_name(filename: str, exts: tuple[str, ...], suffix: str) -> str | None:
    """The sample id of ``filename`` if it has one of ``exts`` and its stem ends with ``suffix``."""
    lower = filename.lower()
    for ext in exts:
        if lower.endswith(ext) and len(filename) > len(ext):
            stem = filename[: -len(ext)]
            if suffix and not stem.endswith(suffix):
                return None
            stem = stem[: -len(suffix)] if suffix else stem
            return stem or None
    return None


class FolderPairSet(FileSampleSet):
    """Image/mask pairs in two folders (or one), matched by file name.

    The id of an image ``<id><image_suffix><ext>`` (``ext`` in ``image_ext``, case-insensitive) pairs with
    the mask ``<id><mask_suffix><ext>`` (``ext`` in ``mask_ext``). ``include``/``exclude`` are globs on
    image file names (e.g. GlaS ``train_*``); when both live in one folder, files recognised as masks are
    never taken as images. With ``split_list`` (a text file of ids, relative to ``root``), only the
    listed ids form the split and each must have both files. A mask without its image is a
    ``missing_image`` problem unless ``unpaired_masks="ignore"`` (for a mask folder shared by several
    splits, as in CAMO's ``GT/``).

    Masks (``mask_mode``):
        ``binary``: one mask, ``value > mask_threshold`` (:func:`~sam_repro.data.image_io.read_mask_values`);
        ``components``: the binary mask split into 8-connected components, one mask each (components
            smaller than ``min_component_area`` pixels are dropped);
        ``instances``: a label map, one mask per distinct non-zero value (``background_value`` excepted).
        A mask with no foreground gives a single all-False mask (``meta["empty"] = True``).
        In ``binary`` and ``components`` modes a mask file stored as 0/1 (maximum exactly 1) while the
        threshold is >= 1 (a 0/255 convention, under which it would read as empty) is read as binary,
        ``value >= 1``, with ``meta["mask_values"] = "0/1"``; the first such file of a loader is named in a
        :class:`~sam_repro.data.image_io.MaskEncodingWarning` (once per loader, not once per sample).

    Sample ``meta``: dataset, split, ``source_image``, ``source_mask``, ``original_size`` (H, W).
    """

    def __init__(
        self,
        name: str,
        split: str,
        root: str | os.PathLike,
        *,
        image_dir: str,
        mask_dir: str,
        image_ext: str | Sequence[str] = (".jpg",),
        mask_ext: str | Sequence[str] = (".png",),
        image_suffix: str = "",
        mask_suffix: str = "",
        include: str | Sequence[str] = "*",
        exclude: str | Sequence[str] = (),
        split_list: str | None = None,
        unpaired_masks: Literal["error", "ignore"] = "error",
        mask_mode: MaskMode = "binary",
        mask_threshold: float = 128,
        min_component_area: int = 0,
        background_value: int = 0,
        on_error: OnError = "raise",
        validate: bool = True,
        fingerprint_mode: FingerprintMode = "stat",
    ) -> None:
        if mask_mode not in ("binary", "components", "instances"):
            raise ValueError(f"mask_mode must be 'binary', 'components' or 'instances', got {mask_mode!r}")
        if unpaired_masks not in ("error", "ignore"):
            raise ValueError(f"unpaired_masks must be 'error' or 'ignore', got {unpaired_masks!r}")
        self.unpaired_masks = unpaired_masks
        self.image_dir = Path(root) / image_dir
        self.mask_dir = Path(root) / mask_dir
        self.image_ext = _normalise_exts(image_ext)
        self.mask_ext = _normalise_exts(mask_ext)
        self.image_suffix = image_suffix
        self.mask_suffix = mask_suffix
        self.include = (include,) if isinstance(include, str) else tuple(include)
        self.exclude = (exclude,) if isinstance(exclude, str) else tuple(exclude)
        self.split_list = Path(root) / split_list if split_list else None
        self.mask_mode: MaskMode = mask_mode
        self.mask_threshold = mask_threshold
        self.min_component_area = int(min_component_area)
        self.background_value = int(background_value)
        self._warned_zero_one = False  # a 0/1-stored mask has been named in a warning (once per loader)
        super().__init__(name, split, root, on_error=on_error, validate=validate, fingerprint_mode=fingerprint_mode)

    def _config(self) -> dict[str, Any]:
        return {
            "mask_mode": self.mask_mode,
            "mask_threshold": self.mask_threshold,
            "min_component_area": self.min_component_area,
            "background_value": self.background_value,
        }

    def _shared_files(self) -> list[Path]:
        return [self.split_list] if self.split_list else []

    def _wanted_image(self, filename: str) -> bool:
        return any(fnmatch.fnmatch(filename, pattern) for pattern in self.include) and not any(
            fnmatch.fnmatch(filename, pattern) for pattern in self.exclude
        )

    def _scan(self) -> tuple[list[Any], list[Problem]]:
        for directory, role in ((self.image_dir, "image"), (self.mask_dir, "mask")):
            if not directory.is_dir():
                raise LayoutError(
                    f"{self.name}/{self.split}: {role} directory {directory} does not exist "
                    f"(expected under the dataset root {self.root})"
                )
        problems: list[Problem] = []
        same_dir = self.image_dir.resolve() == self.mask_dir.resolve()
        mask_files = _list_dir(self.mask_dir)
        image_files = mask_files if same_dir else _list_dir(self.image_dir)

        masks: dict[str, Path] = {}
        mask_names: set[str] = set()
        for filename in mask_files:
            sample_id = _split_name(filename, self.mask_ext, self.mask_suffix)
            if sample_id is None:
                continue
            if same_dir and not self.mask_suffix and _split_name(filename, self.image_ext, self.image_suffix):
                continue  # same folder, no suffix: a file with an image extension is an image
            mask_names.add(filename)
            if sample_id in masks:
                problems.append(Problem("duplicate_id", str(self.mask_dir / filename),
                                        f"id {sample_id!r} also has mask {masks[sample_id].name}"))
                continue
            masks[sample_id] = self.mask_dir / filename

        images: dict[str, Path] = {}
        image_names: set[str] = set()
        for filename in image_files:
            if same_dir and filename in mask_names:
                continue
            sample_id = _split_name(filename, self.image_ext, self.image_suffix)
            if sample_id is None:
                continue
            image_names.add(filename)
            if not self._wanted_image(filename):
                continue
            if sample_id in images:
                problems.append(Problem("duplicate_id", str(self.image_dir / filename),
                                        f"id {sample_id!r} also has image {images[sample_id].name}"))
                continue
            images[sample_id] = self.image_dir / filename

        if self.split_list is not None:
            ids = list(dict.fromkeys(read_split_list(self.split_list)))
        else:
            ids = sorted(images)
            lowered_images = {n.lower() for n in image_names}
            orphans = sorted(set(masks) - set(images)) if self.unpaired_masks == "error" else []
            for sample_id in orphans:
                mask_path = masks[sample_id]
                # a mask whose image exists but was filtered out by include/exclude belongs to another split
                if not any(f"{sample_id}{self.image_suffix}{ext}".lower() in lowered_images for ext in self.image_ext):
                    problems.append(Problem("missing_image", str(mask_path),
                                            f"no image {sample_id}{self.image_suffix}{{{','.join(self.image_ext)}}} "
                                            f"in {self.image_dir}"))

        items = []
        for sample_id in ids:
            image_path = images.get(sample_id)
            mask_path = masks.get(sample_id)
            if image_path is None:
                expected = self.image_dir / f"{sample_id}{self.image_suffix}{self.image_ext[0]}"
                extensions = ", ".join(self.image_ext)
                problems.append(Problem("missing_image", str(expected),
                                        f"listed id {sample_id!r} has no image (extensions {extensions})"))
                continue
            if mask_path is None:
                wanted = f"{sample_id}{self.mask_suffix}{{{','.join(self.mask_ext)}}}"
                problems.append(Problem("missing_mask", str(image_path), f"no mask {wanted} in {self.mask_dir}"))
                continue
            items.append((sample_id, image_path, mask_path))

        # files that belong to no sample: wrong extension/suffix (reported, not fatal)
        known = image_names | mask_names
        for directory, files in ((self.image_dir, image_files), (self.mask_dir, [] if same_dir else mask_files)):
            for filename in files:
                if filename not in known:
                    problems.append(Problem("extra_file", str(directory / filename),
                                            "neither an image nor a mask of this layout (extension/suffix)"))
        return items, problems

    def _check_item(self, item: Any) -> list[Problem]:
        sample_id, image_path, mask_path = item
        try:
            image_hw = image_size(image_path)
        except SampleReadError as error:
            return [Problem("unreadable", str(image_path), str(error))]
        try:
            mask_hw = image_size(mask_path)
        except SampleReadError as error:
            return [Problem("unreadable", str(mask_path), str(error))]
        if image_hw != mask_hw:
            return [Problem("size_mismatch", str(mask_path),
                            f"mask is {mask_hw[0]}x{mask_hw[1]} (HxW) but image {image_path.name} is "
                            f"{image_hw[0]}x{image_hw[1]}")]
        return []

    def _item_files(self, item: Any) -> list[Path]:
        return [item[1], item[2]]

    def _load_item(self, item: Any) -> Sample:
        sample_id, image_path, mask_path = item
        image = read_image(image_path)
        masks, zero_one = self._read_masks(mask_path)
        if masks.shape[1:] != image.shape[:2]:
            raise SampleReadError(
                f"mask {mask_path} is {masks.shape[1]}x{masks.shape[2]} (HxW) but image {image_path} is "
                f"{image.shape[0]}x{image.shape[1]}", path=str(mask_path)
            )
        meta = self._meta(source_image=str(image_path), source_mask=str(mask_path), original_size=image.shape[:2])
        if not masks.any():
            meta["empty"] = True
        if zero_one:
            meta["mask_values"] = "0/1"
        return Sample(id=sample_id, image=image, masks=masks, meta=meta)

    def _read_masks(self, mask_path: Path) -> tuple[np.ndarray, bool]:
        """The (K, H, W) bool masks of one file and whether it was a 0/1-stored binary mask."""
        if self.mask_mode == "instances":
            labels = read_label_map(mask_path)
            values = [v for v in np.unique(labels).tolist() if v != self.background_value]
            if not values:
                return np.zeros((1, *labels.shape), dtype=bool), False
            return np.stack([labels == v for v in values]), False
        foreground, zero_one = binarize_mask(read_mask_values(mask_path), self.mask_threshold)
        if zero_one and not self._warned_zero_one:
            self._warned_zero_one = True  # one warning per loader: a whole split is usually stored alike
            warnings.warn(
                f"mask {mask_path} is stored as 0/1 (maximum 1) but {self.name}/{self.split} thresholds at "
                f"value > {self.mask_threshold} (0/255 masks), which would read it as empty: reading it as binary "
                "(value >= 1); other 0/1 masks of this split are read the same way (meta['mask_values'] = '0/1')",
                MaskEncodingWarning, stacklevel=3,
            )
        if self.mask_mode == "binary":
            return foreground[None], zero_one
        count, labels = cv2.connectedComponents(foreground.astype(np.uint8), connectivity=8)
        components = [labels == k for k in range(1, count)]
        components = [c for c in components if int(c.sum()) >= self.min_component_area]
        if not components:
            return np.zeros((1, *foreground.shape), dtype=bool), zero_one
        return np.stack(components), zero_one


class ConcatSampleSet(SampleSet):
    """Several sample sets read one after the other as one split (ids stay those of the parts)."""

    def __init__(self, name: str, split: str, parts: Sequence[SampleSet]) -> None:
        if not parts:
            raise ValueError(f"{name}/{split}: a concatenation needs at least one part")
        self.name = name
        self.split = split
        self.parts = tuple(parts)
        self._offsets = np.cumsum([0, *[len(p) for p in self.parts]])

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def load(self, index: int) -> Sample:
        part = int(np.searchsorted(self._offsets, index, side="right") - 1)
        return self.parts[part].load(index - int(self._offsets[part]))

    def __iter__(self) -> Iterator[Sample]:
        for part in self.parts:
            yield from part  # each part applies its own on_error policy

    @property
    def skipped(self) -> list[Problem]:
        return [p for part in self.parts for p in getattr(part, "skipped", [])]

    def fingerprint(self) -> str:
        digest = hashlib.sha256(f"concat:{self.name}:{self.split}\n".encode())
        for part in self.parts:
            digest.update(f"{part.name}/{part.split}:{part.fingerprint()}\n".encode())
        return digest.hexdigest()
