"""Safe, atomic extraction of zip and tar archives.

Safety: every member is checked *before* anything is written, and the whole archive is refused
(:class:`~sam_repro.data.errors.UnsafeArchiveError`, naming the archive and each offending member) if a
member

* has an absolute path (``/x``, ``\\x``, ``C:x``), a ``..`` component, or a NUL byte;
* has the same name as an earlier member (after removing ``.`` components and repeated or trailing
  separators) and is not a directory listed twice: which copy would win is unclear;
* lies below another member that is not a directory: below a symbolic link of the archive (``l -> D``
  then ``l/x.png``: written through the link, onto ``D/x.png`` if that is a member too) or below a file
  (``x`` then ``x/y``), whatever the order of the two;
* is a symbolic link whose target is absolute, leads outside the target directory, contains a ``..``
  component, points at the folder that holds it (``b -> .``: a loop, ``b/b/b/...``), or is (or passes
  through) another symbolic link of the archive. Chains are refused because a link's meaning depends on
  links created later: ``a -> b/..`` then ``b -> .`` each look inside, yet ``a`` ends at the parent of
  the target directory. Links inside the tree without ``..`` that point at files or directories
  (``latest -> DIS-TR``) are allowed;
* is a hard link to a path outside the archive tree or to a symbolic link;
* is a device, FIFO or other special file.

While writing, the real path of every file, directory and link is checked again against the staging
directory, and once everything is written every link of the final tree is resolved once more (a second
line of defence against link tricks, for zip and tar alike). Permissions, owners and set-uid bits from
the archive are not applied. An ``OSError`` while writing (a full disk, a permission) keeps its errno but
names the archive and the member instead of the staging path, which is deleted by then.

Atomicity: the archive is extracted into a fresh staging directory *inside* ``dest`` (same file
system), then each top-level entry is moved into ``dest`` with one ``os.replace``: each top-level entry
appears complete or not at all, and a failed extraction leaves ``dest`` as it was.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sam_repro.data.errors import UnsafeArchiveError

#: Archive kinds understood by :func:`safe_extract`.
ARCHIVE_KINDS = ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz")

_SUFFIXES = (
    (".tar.gz", "tar.gz"), (".tgz", "tar.gz"), (".tar.bz2", "tar.bz2"), (".tbz2", "tar.bz2"),
    (".tar.xz", "tar.xz"), (".txz", "tar.xz"), (".tar", "tar"), (".zip", "zip"),
)
_DRIVE = re.compile(r"^[A-Za-z]:")


def detect_kind(path: str | os.PathLike) -> str:
    """The archive kind of ``path`` from its name, else from its content.

    Raises:
        ValueError: neither the name nor the content is a zip or tar archive.
    """
    name = Path(path).name.lower()
    for suffix, kind in _SUFFIXES:
        if name.endswith(suffix):
            return kind
    if zipfile.is_zipfile(path):
        return "zip"
    if tarfile.is_tarfile(path):
        return "tar"
    raise ValueError(f"{path} is not a zip or tar archive (expected one of {', '.join(ARCHIVE_KINDS)})")


@dataclass(frozen=True)
class Member:
    """One archive entry: ``type`` is ``file``, ``dir``, ``symlink``, ``hardlink`` or ``special``."""

    name: str
    type: str
    link: str = ""


def _members(archive: Path, kind: str) -> list[Member]:
    members = []
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver stored no Unix type
                if file_type == stat.S_IFLNK:
                    members.append(Member(info.filename, "symlink", zf.read(info).decode("utf-8", "replace")))
                elif info.is_dir():
                    members.append(Member(info.filename, "dir"))
                elif file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
                    members.append(Member(info.filename, "special"))
                else:
                    members.append(Member(info.filename, "file"))
        return members
    with tarfile.open(archive, mode="r:*") as tf:
        for info in tf.getmembers():
            if info.issym():
                members.append(Member(info.name, "symlink", info.linkname))
            elif info.islnk():
                members.append(Member(info.name, "hardlink", info.linkname))
            elif info.isdir():
                members.append(Member(info.name, "dir"))
            elif info.isfile():
                members.append(Member(info.name, "file"))
            else:
                members.append(Member(info.name, "special"))
    return members


def _unsafe_path(name: str) -> str | None:
    """Why ``name`` may not be written inside the target directory, or None when it is safe."""
    if not name or "\x00" in name:
        return "empty name or NUL byte"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute path"
    parts = re.split(r"[\\/]+", name)
    if ".." in parts:
        return "'..' component escapes the target directory"
    return None


def _parts(name: str) -> tuple[str, ...]:
    """The components of a member name or link target, without empty and ``.`` components."""
    return tuple(p for p in re.split(r"[\\/]+", name) if p not in ("", "."))


def _link_escapes(member_name: str, target: str, links: frozenset[tuple[str, ...]] = frozenset()) -> str | None:
    """Why the symbolic link ``member_name -> target`` is refused, or None; ``links`` are the (normalised)
    names of every symbolic link of the archive."""
    if not target or target.startswith(("/", "\\")) or _DRIVE.match(target):
        return f"link to absolute path {target!r}"
    depth = len([p for p in PurePosixPath(member_name.replace("\\", "/")).parent.parts if p not in ("", ".")])
    for part in re.split(r"[\\/]+", target):
        if part in ("", "."):
            continue
        depth = depth - 1 if part == ".." else depth + 1
        if depth < 0:
            return f"link target {target!r} points outside the target directory"
    if ".." in re.split(r"[\\/]+", target):
        # what '..' climbs out of depends on links extracted later (a -> b/.. with b -> .): refuse it
        return f"link target {target!r} contains a '..' component"
    if not _parts(target):
        return f"link target {target!r} is the folder that holds the link (a loop)"
    resolved = _parts(member_name)[:-1] + _parts(target)
    through = next((resolved[:k] for k in range(1, len(resolved) + 1) if resolved[:k] in links), None)
    if through is not None:
        return f"link target {target!r} is or passes through the link {'/'.join(through)!r} (link chain)"
    return None


def _below_another_member(key: tuple[str, ...], by_name: dict[tuple[str, ...], Member]) -> str | None:
    """Why the member whose normalised name is ``key`` may not be written below another member of the
    archive (``by_name``: the first member of each normalised name), or None: a folder of its path is a
    symbolic link (the member would be written through the link) or a file, hard link or special file."""
    for depth in range(1, len(key)):
        above = by_name.get(key[:depth])
        if above is None or above.type == "dir":
            continue
        if above.type == "symlink":
            return (f"written through the symbolic link {above.name!r} (a member may not be written through a "
                    "link of its archive: it could land on another member)")
        return f"lies under the {above.type} member {above.name!r}, which is not a folder"
    return None


def check_archive(archive: str | os.PathLike, kind: str | None = None) -> list[Member]:
    """Check every member of ``archive`` (see the module docstring) and return them.

    Raises:
        UnsafeArchiveError: naming the archive and every offending member.
        ValueError: not a zip/tar archive.
    """
    archive = Path(archive)
    kind = kind or detect_kind(archive)
    if kind not in ARCHIVE_KINDS:
        raise ValueError(f"unknown archive kind {kind!r}; expected one of {', '.join(ARCHIVE_KINDS)}")
    try:
        members = _members(archive, kind)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as error:
        raise UnsafeArchiveError(f"cannot read {kind} archive {archive}: {error}") from error
    problems = []
    links = frozenset(_parts(m.name) for m in members if m.type == "symlink")
    by_name: dict[tuple[str, ...], Member] = {}
    for member in members:
        by_name.setdefault(_parts(member.name), member)
    seen: set[tuple[str, ...]] = set()
    for member in members:
        reason = _unsafe_path(member.name)
        key = _parts(member.name)
        earlier = by_name[key] if key in seen else None
        if reason is None and earlier is not None and not (earlier.type == member.type == "dir"):
            reason = f"duplicate member name (an earlier {earlier.type} member is also called {earlier.name!r})"
        seen.add(key)
        if reason is None:
            reason = _below_another_member(key, by_name)
        if reason is None and member.type == "symlink":
            reason = _link_escapes(member.name, member.link, links)
        elif reason is None and member.type == "hardlink":
            reason = _unsafe_path(member.link)
            reason = f"hard link to {member.link!r}: {reason}" if reason else None
            if reason is None and _parts(member.link) in links:
                reason = f"hard link to the symbolic link {member.link!r}"
        elif reason is None and member.type == "special":
            reason = "device, FIFO or other special file"
        if reason:
            problems.append(f"{member.name!r}: {reason}")
    if problems:
        raise UnsafeArchiveError(
            f"refusing to extract {archive}: {len(problems)} unsafe member(s):\n  " + "\n  ".join(problems)
        )
    return members


def _inside(path: Path, root: Path) -> bool:
    real = os.path.realpath(path)
    return real == str(root) or real.startswith(str(root) + os.sep)


def _target(staging: Path, real_staging: Path, name: str, archive: Path) -> Path:
    path = staging.joinpath(*[p for p in re.split(r"[\\/]+", name) if p not in ("", ".")])
    if not _inside(path.parent if path.parent != staging else staging, real_staging):
        raise UnsafeArchiveError(f"refusing to extract {archive}: member {name!r} resolves outside the target")
    return path


@contextlib.contextmanager
def _writing(archive: Path, name: str) -> Iterator[None]:
    """Re-raise an ``OSError`` met while writing member ``name`` of ``archive`` (a full disk, a permission)
    naming the archive and the member rather than the staging path, which is deleted afterwards. The errno
    is kept, and with it the subclass (``OSError(errno.ENOSPC, ...)``, ``FileExistsError``...)."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        message = f"extracting {archive}: cannot write member {name!r}: {reason}"
        raise (OSError(error.errno, message) if error.errno is not None else OSError(message)) from error


def _extract_all(archive: Path, kind: str, members: list[Member], staging: Path) -> None:
    real_staging = Path(os.path.realpath(staging))
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            for info, member in zip(zf.infolist(), members):
                with _writing(archive, member.name):
                    _write_zip_member(zf, info, member, staging, real_staging, archive)
        return
    with tarfile.open(archive, mode="r:*") as tf:
        for info in tf.getmembers():
            with _writing(archive, info.name):
                _write_tar_member(tf, info, staging, real_staging, archive)


def _write_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, member: Member, staging: Path,
                      real_staging: Path, archive: Path) -> None:
    """Write one checked zip member (folder, symbolic link or file) under ``staging``."""
    path = _target(staging, real_staging, member.name, archive)
    if member.type == "dir":
        path.mkdir(parents=True, exist_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_parent(path, real_staging, member.name, archive)
    if member.type == "symlink":
        os.symlink(member.link, path)
        _check_link(path, real_staging, member.name, archive)
        return
    with zf.open(info) as source, open(path, "xb") as target:
        shutil.copyfileobj(source, target, 1 << 20)


def _write_tar_member(tf: tarfile.TarFile, info: tarfile.TarInfo, staging: Path, real_staging: Path,
                      archive: Path) -> None:
    """Write one checked tar member (folder, symbolic link, hard link as a copy, or file) under ``staging``."""
    path = _target(staging, real_staging, info.name, archive)
    if info.isdir():
        path.mkdir(parents=True, exist_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_parent(path, real_staging, info.name, archive)
    if info.issym():
        os.symlink(info.linkname, path)
        _check_link(path, real_staging, info.name, archive)
    elif info.islnk():
        source_path = _target(staging, real_staging, info.linkname, archive)
        if not _inside(source_path, real_staging) or not source_path.is_file():
            raise UnsafeArchiveError(
                f"refusing to extract {archive}: hard link {info.name!r} -> {info.linkname!r}: its target is not a "
                "regular file extracted before it"
            )
        shutil.copyfile(source_path, path)
    else:
        source = tf.extractfile(info)
        if source is None:
            raise UnsafeArchiveError(f"refusing to extract {archive}: member {info.name!r} has no data")
        with source, open(path, "xb") as target:
            shutil.copyfileobj(source, target, 1 << 20)


def _check_parent(path: Path, real_staging: Path, name: str, archive: Path) -> None:
    if not _inside(path.parent, real_staging):
        raise UnsafeArchiveError(
            f"refusing to extract {archive}: member {name!r} would be written through a link outside the target"
        )


def _check_link(path: Path, real_staging: Path, name: str, archive: Path) -> None:
    if not _inside(path, real_staging):
        path.unlink()
        raise UnsafeArchiveError(f"refusing to extract {archive}: link {name!r} resolves outside the target")


def _check_tree(staging: Path, real_staging: Path, archive: Path) -> None:
    """Resolve every link of the extracted tree once all of it exists: a link's target can change meaning
    when a later member is written, so the checks made while writing are not enough on their own."""
    for directory, dirnames, filenames in os.walk(staging):  # does not follow links
        for entry in (*dirnames, *filenames):
            path = Path(directory, entry)
            if path.is_symlink() and not _inside(path, real_staging):
                name = path.relative_to(staging).as_posix()
                raise UnsafeArchiveError(
                    f"refusing to extract {archive}: link {name!r} resolves outside the target once the archive "
                    "is extracted"
                )


def safe_extract(
    archive: str | os.PathLike, dest: str | os.PathLike, *, kind: str | None = None, overwrite: bool = False
) -> list[Path]:
    """Extract ``archive`` into ``dest`` safely and atomically (see the module docstring).

    Args:
        archive: a zip or tar (optionally gz/bz2/xz) file.
        dest: the directory to extract into (created if missing).
        kind: one of :data:`ARCHIVE_KINDS`; detected from the name/content when None.
        overwrite: replace top-level entries that already exist in ``dest`` (else refuse).

    Returns:
        The top-level paths created in ``dest``.

    Raises:
        UnsafeArchiveError: an unsafe member (nothing is written).
        FileExistsError: a top-level entry already exists in ``dest`` and ``overwrite`` is False
            (nothing is moved).
    """
    archive = Path(archive)
    dest = Path(dest)
    kind = kind or detect_kind(archive)
    members = check_archive(archive, kind)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=dest))
    try:
        try:
            _extract_all(archive, kind, members, staging)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError) as error:
            raise UnsafeArchiveError(f"cannot extract {kind} archive {archive}: {error}") from error
        _check_tree(staging, Path(os.path.realpath(staging)), archive)
        tops = sorted(staging.iterdir())
        existing = [dest / top.name for top in tops if os.path.lexists(dest / top.name)]
        if existing and not overwrite:
            raise FileExistsError(
                f"extracting {archive} into {dest}: {', '.join(str(p) for p in existing)} already exist(s); "
                "remove them or extract with overwrite"
            )
        created = []
        for top in tops:
            final = dest / top.name
            if os.path.lexists(final):
                aside = staging / f".replaced-{top.name}"
                os.replace(final, aside)
            os.replace(top, final)
            created.append(final)
        return created
    finally:
        shutil.rmtree(staging, ignore_errors=True)
