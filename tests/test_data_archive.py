"""Safe, atomic archive extraction: traversal, absolute paths and escaping links are refused (zip and tar)."""
from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from sam_repro.data.archive import check_archive, detect_kind, safe_extract
from sam_repro.data.errors import UnsafeArchiveError


def make_zip(path: Path, files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def make_tar(path: Path, files: dict[str, bytes], symlinks: dict[str, str] | None = None,
             hardlinks: dict[str, str] | None = None, mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for kind, links in ((tarfile.SYMTYPE, symlinks or {}), (tarfile.LNKTYPE, hardlinks or {})):
            for name, target in links.items():
                info = tarfile.TarInfo(name)
                info.type = kind
                info.linkname = target
                tf.addfile(info)
    return path


def listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


GOOD = {"DIS5K/DIS-TR/im/a.jpg": b"img", "DIS5K/DIS-TR/gt/a.png": b"mask", "README.txt": b"hi"}


@pytest.mark.parametrize("maker,suffix", [(make_zip, ".zip"), (make_tar, ".tar")])
def test_safe_archive_is_extracted(tmp_path, maker, suffix):
    archive = maker(tmp_path / f"ok{suffix}", GOOD)
    dest = tmp_path / "dest"
    created = safe_extract(archive, dest)
    assert sorted(p.name for p in created) == ["DIS5K", "README.txt"]
    assert (dest / "DIS5K/DIS-TR/gt/a.png").read_bytes() == b"mask"
    assert not [p for p in dest.iterdir() if p.name.startswith(".extracting-")]


@pytest.mark.parametrize("maker,suffix", [(make_zip, ".zip"), (make_tar, ".tar")])
@pytest.mark.parametrize("bad_name", ["../evil.txt", "sub/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt"])
def test_traversal_and_absolute_members_are_refused(tmp_path, maker, suffix, bad_name):
    archive = maker(tmp_path / f"bad{suffix}", {**GOOD, bad_name: b"pwned"})
    dest = tmp_path / "a" / "dest"
    with pytest.raises(UnsafeArchiveError) as error:
        safe_extract(archive, dest)
    assert bad_name in str(error.value) and str(archive) in str(error.value)
    assert not dest.exists()  # checked before anything is written
    assert not (tmp_path / "a" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("maker,suffix", [(make_zip, ".zip"), (make_tar, ".tar.gz")])
@pytest.mark.parametrize("target", ["../../outside", "/etc", "a/../../../x"])
def test_symlinks_pointing_out_are_refused(tmp_path, maker, suffix, target):
    kwargs = {"mode": "w:gz"} if suffix == ".tar.gz" else {}
    archive = maker(tmp_path / f"link{suffix}", GOOD, symlinks={"DIS5K/link": target}, **kwargs)
    with pytest.raises(UnsafeArchiveError, match="DIS5K/link"):
        check_archive(archive)
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_internal_symlink_is_allowed(tmp_path):
    archive = make_tar(tmp_path / "in.tar", GOOD, symlinks={"DIS5K/latest": "DIS-TR"})
    dest = tmp_path / "dest"
    safe_extract(archive, dest)
    assert os.path.islink(dest / "DIS5K/latest")
    assert (dest / "DIS5K/latest/im/a.jpg").read_bytes() == b"img"


def test_tar_hardlink_out_of_tree_is_refused(tmp_path):
    archive = make_tar(tmp_path / "hard.tar", GOOD, hardlinks={"x": "../../etc/passwd"})
    with pytest.raises(UnsafeArchiveError, match="hard link"):
        safe_extract(archive, tmp_path / "dest")


def test_tar_device_file_is_refused(tmp_path):
    path = tmp_path / "dev.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("dev/null")
        info.type = tarfile.CHRTYPE
        tf.addfile(info)
    with pytest.raises(UnsafeArchiveError, match="special file"):
        safe_extract(path, tmp_path / "dest")


def test_extraction_is_atomic_and_refuses_to_clobber(tmp_path):
    dest = tmp_path / "dest"
    (dest / "README.txt").parent.mkdir(parents=True)
    (dest / "README.txt").write_bytes(b"mine")
    archive = make_zip(tmp_path / "ok.zip", GOOD)
    before = listing(dest)
    with pytest.raises(FileExistsError, match="README.txt"):
        safe_extract(archive, dest)
    assert listing(dest) == before and (dest / "README.txt").read_bytes() == b"mine"
    safe_extract(archive, dest, overwrite=True)
    assert (dest / "README.txt").read_bytes() == b"hi" and (dest / "DIS5K/DIS-TR/im/a.jpg").exists()
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]


def test_corrupt_archive_leaves_no_partial_output(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(make_zip(tmp_path / "tmp.zip", GOOD).read_bytes()[:40])
    dest = tmp_path / "dest"
    with pytest.raises((UnsafeArchiveError, ValueError)):
        safe_extract(archive, dest)
    assert not dest.exists() or listing(dest) == []


def test_detect_kind(tmp_path):
    assert detect_kind("a.tar.gz") == "tar.gz" and detect_kind("a.TGZ") == "tar.gz" and detect_kind("b.zip") == "zip"
    unnamed = make_tar(tmp_path / "archive.bin", GOOD)
    assert detect_kind(unnamed) == "tar"
    (tmp_path / "plain.bin").write_bytes(b"nothing")
    with pytest.raises(ValueError, match="plain.bin"):
        detect_kind(tmp_path / "plain.bin")


def test_link_chain_escaping_physically_is_refused(tmp_path):
    """``l -> .`` and ``m -> l/../y`` look inside lexically, but ``m`` resolves to the staging dir's parent."""
    path = tmp_path / "chain.tar"
    with tarfile.open(path, "w") as tf:
        for name, target in (("l", "."), ("m", "l/../y")):
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
        info = tarfile.TarInfo("m/z")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"pwned"))
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError, match="'m'"):
        safe_extract(path, dest)
    assert not (dest / "y").exists() and not (tmp_path / "y").exists()
    assert listing(dest) == []


@pytest.mark.parametrize("maker,suffix", [(make_zip, ".zip"), (make_tar, ".tar")])
def test_link_chain_through_a_later_link_is_refused(tmp_path, maker, suffix):
    """``a -> b/..`` then ``b -> .``: each looks inside when written, yet ``a`` ends at the target's parent."""
    archive = maker(tmp_path / f"chain{suffix}", GOOD, symlinks={"a": "b/..", "b": "."})
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError, match=r"'a': link target 'b/\.\.' contains a '\.\.' component"):
        safe_extract(archive, dest)
    assert not os.path.lexists(dest / "a") and not os.path.lexists(dest / "b")


@pytest.mark.parametrize("maker,suffix", [(make_zip, ".zip"), (make_tar, ".tar")])
def test_link_to_a_link_is_refused_but_a_link_to_a_folder_is_not(tmp_path, maker, suffix):
    chained = maker(tmp_path / f"l2l{suffix}", GOOD, symlinks={"DIS5K/b": "DIS-TR", "DIS5K/a": "b/im"})
    with pytest.raises(UnsafeArchiveError, match=r"'DIS5K/a'.*passes through the link 'DIS5K/b'"):
        check_archive(chained)
    plain = maker(tmp_path / f"plain{suffix}", GOOD, symlinks={"DIS5K/b": "DIS-TR"})
    safe_extract(plain, tmp_path / "dest")
    assert (tmp_path / "dest/DIS5K/b/gt/a.png").read_bytes() == b"mask"


def test_the_final_tree_is_checked_even_if_a_link_slips_past_the_member_checks(tmp_path, monkeypatch):
    """Second line of defence: with the member checks of links switched off, the chain is still caught
    once the whole tree exists, and nothing is moved into ``dest``."""
    import sam_repro.data.archive as archive_module

    monkeypatch.setattr(archive_module, "_link_escapes", lambda *args, **kwargs: None)
    archive = make_tar(tmp_path / "chain.tar", {"x.txt": b"x"}, symlinks={"a": "b/..", "b": "."})
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError, match=r"link 'a' resolves outside the target"):
        safe_extract(archive, dest)
    assert listing(dest) == []


@pytest.mark.parametrize("suffix", [".zip", ".tar"])
def test_duplicate_member_names_are_refused_by_name(tmp_path, suffix):
    path = tmp_path / f"dup{suffix}"
    if suffix == ".zip":
        import warnings

        with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as zf:
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate we write on purpose
            zf.writestr("DIS5K/x.png", b"1")
            zf.writestr("DIS5K//x.png", b"2")
    else:
        make_tar(path, {"DIS5K/x.png": b"1", "./DIS5K/x.png": b"2"})
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError, match=r"x\.png.*duplicate member name") as error:
        safe_extract(path, dest)
    assert ".extracting-" not in str(error.value) and str(path) in str(error.value)
    assert not dest.exists()


def test_a_folder_listed_twice_is_not_a_duplicate(tmp_path):
    path = tmp_path / "dirs.tar"
    with tarfile.open(path, "w") as tf:
        for _ in range(2):
            info = tarfile.TarInfo("DIS5K")
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
        info = tarfile.TarInfo("DIS5K/a.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"a"))
    safe_extract(path, tmp_path / "dest")
    assert (tmp_path / "dest/DIS5K/a.txt").read_bytes() == b"a"


def test_tar_hardlink_to_a_symlink_is_refused(tmp_path):
    archive = make_tar(tmp_path / "h.tar", GOOD, symlinks={"DIS5K/l": "DIS-TR"}, hardlinks={"h": "DIS5K/l"})
    with pytest.raises(UnsafeArchiveError, match=r"'h': hard link to the symbolic link 'DIS5K/l'"):
        check_archive(archive)


# -- members that alias or shadow one another: refused by name before anything is written (issue 21) --------
def make_ordered_tar(path: Path, entries: list[tuple[str, str, str | bytes]]) -> Path:
    """A tar whose members come in the given order: ``(name, "file" | "symlink", data or link target)``."""
    with tarfile.open(path, "w") as tf:
        for name, kind, value in entries:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, str(value)
                tf.addfile(info)
            else:
                info.size = len(value)
                tf.addfile(info, io.BytesIO(value))
    return path


def make_ordered_zip(path: Path, entries: list[tuple[str, str, str | bytes]]) -> Path:
    """The zip counterpart of :func:`make_ordered_tar`."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, kind, value in entries:
            info = zipfile.ZipInfo(name)
            if kind == "symlink":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, value)
    return path


@pytest.mark.parametrize("maker,suffix", [(make_ordered_zip, ".zip"), (make_ordered_tar, ".tar")])
@pytest.mark.parametrize("entries,member,reason", [
    # ``l/x.png`` is written through the archive's own link into ``D/x.png``, which is also a member: the
    # copy that wins depends on the order, and extraction used to fail on the staging path
    ([("D/x.png", "file", b"1"), ("l", "symlink", "D"), ("l/x.png", "file", b"2")],
     "l/x.png", "written through the symbolic link 'l'"),
    ([("l", "symlink", "D"), ("l/new.png", "file", b"2"), ("D/y.png", "file", b"1")],
     "l/new.png", "written through the symbolic link 'l'"),
    ([("x", "file", b"1"), ("x/y", "file", b"2")], "x/y", "lies under the file member 'x'"),
    ([("x/y", "file", b"2"), ("x", "file", b"1")], "x/y", "lies under the file member 'x'"),
], ids=["alias-of-a-member", "through-a-link", "file-then-child", "child-then-file"])
def test_a_member_under_a_link_or_a_file_is_refused_by_name(tmp_path, maker, suffix, entries, member, reason):
    archive = maker(tmp_path / f"shadow{suffix}", entries)
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError) as error:
        safe_extract(archive, dest)
    message = str(error.value)
    assert f"{member!r}: {reason}" in message and str(archive) in message, message
    assert ".extracting-" not in message
    assert not dest.exists()  # refused before anything is written


@pytest.mark.parametrize("maker,suffix", [(make_zip, ".zip"), (make_tar, ".tar")])
@pytest.mark.parametrize("target", [".", "./", "sub/.."])
def test_a_link_to_its_own_folder_is_refused(tmp_path, maker, suffix, target):
    """``b -> .`` (the second half of the issue's chain) makes ``b/b/b/...`` an endless folder."""
    archive = maker(tmp_path / f"loop{suffix}", GOOD, symlinks={"DIS5K/b": target})
    with pytest.raises(UnsafeArchiveError, match=r"'DIS5K/b': link target"):
        check_archive(archive)


def test_a_write_error_names_the_member_not_the_staging_folder(tmp_path, monkeypatch):
    """A disk that fills up mid-extraction: the OSError keeps its errno but names archive and member."""
    import errno
    import shutil

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "dest/.extracting-x/DIS5K/a.jpg"))

    monkeypatch.setattr(shutil, "copyfileobj", full)
    archive = make_tar(tmp_path / "ok.tar", GOOD)
    dest = tmp_path / "dest"
    with pytest.raises(OSError) as error:
        safe_extract(archive, dest)
    message = str(error.value)
    assert error.value.errno == errno.ENOSPC and "No space left on device" in message
    assert str(archive) in message and "'DIS5K/DIS-TR/im/a.jpg'" in message and ".extracting-" not in message
    assert listing(dest) == []
