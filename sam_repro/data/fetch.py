"""Fetching datasets and checkpoints listed in the manifest, with pooch as the download/checksum layer.

Where files go (``SAM_REPRO_DATA`` / ``SAM_REPRO_WEIGHTS`` move them, see :mod:`sam_repro.paths`):

* archives: ``<data_dir>/_downloads/<storage>/<file>`` (kept, so ``verify`` can re-check their hashes);
* extracted datasets: ``<data_dir>/<storage>/`` (:meth:`DatasetInfo.root`), with a completion marker
  ``<root>/.sam-repro/<file>.done`` per extracted archive;
* checkpoints: ``<weights_dir>/<file>``.

Downloads go through ``pooch.retrieve`` (temporary file + rename, checksum when the manifest records
one) with a short connect timeout, after a pre-flight name resolution and TCP connect that is also
bounded by that timeout, so that a machine without network fails in seconds with a message naming the
URL and the exact path where the file should be put by hand. Gated sources (a form, Google Drive,
Kaggle) are never downloaded: :class:`ManualDownloadRequired` says what to download and where to put it;
once the file is there, ``fetch`` checks and extracts it.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sam_repro.data.archive import safe_extract
from sam_repro.data.checksums import check_file, require_match
from sam_repro.data.errors import ChecksumMismatchError, FetchError, ManualDownloadRequired
from sam_repro.data.manifest import CheckpointInfo, DatasetInfo, Manifest, Resource, load_manifest

#: Default seconds to wait for a connection (and for name resolution) before giving up.
CONNECT_TIMEOUT = 5.0
#: Default seconds to wait between received chunks once connected.
READ_TIMEOUT = 60.0

#: ``download(url, path, resource, connect_timeout, read_timeout)`` writes ``url`` to ``path`` or raises.
Downloader = Callable[[str, Path, Resource, float, float], None]


@dataclass
class FetchResult:
    """What :func:`fetch` did: ``status`` is ``present`` (nothing to do), ``fetched`` or ``extracted``;
    ``path`` the dataset folder or checkpoint file; ``messages`` one line per action."""

    name: str
    status: str
    path: Path
    messages: list[str] = field(default_factory=list)


def _resolve_host(host: str, port: int, timeout: float) -> None:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True, name=f"resolve-{host}")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise OSError(f"name resolution of {host} did not finish within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]


def _proxied(url: str) -> bool:
    """True when requests would reach ``url`` through a proxy (then a direct pre-flight connect would lie)."""
    import urllib.request

    parsed = urlparse(url)
    proxies = urllib.request.getproxies()
    if parsed.scheme not in proxies and "all" not in proxies:
        return False
    return not urllib.request.proxy_bypass(parsed.hostname or "")


def preflight(url: str, timeout: float) -> None:
    """Resolve the host of ``url`` and open a TCP connection to it, both within ``timeout`` seconds.

    Raises:
        OSError: unresolvable host, refused/unreachable connection, or timeout.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise OSError(f"not an http(s) URL: {url}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    _resolve_host(parsed.hostname, port, timeout)
    with socket.create_connection((parsed.hostname, port), timeout=timeout):
        pass


def pooch_download(url: str, path: Path, resource: Resource, connect_timeout: float, read_timeout: float) -> None:
    """Download ``url`` to ``path`` with ``pooch.retrieve`` (atomic write; checks ``sha256``/``md5`` when the
    manifest records one, raising ``ValueError`` on a mismatch)."""
    import pooch

    known_hash = f"sha256:{resource.sha256}" if resource.sha256 else (f"md5:{resource.md5}" if resource.md5 else None)
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=(connect_timeout, read_timeout))
    pooch.retrieve(url, known_hash=known_hash, fname=path.name, path=path.parent, downloader=downloader)


def _download_any(name: str, resource: Resource, path: Path, download: Downloader, connect_timeout: float,
                  read_timeout: float) -> str:
    """Try the resource's URLs then mirrors; return the URL that worked or raise :class:`FetchError`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in resource.all_urls:
        started = time.monotonic()
        try:
            if download is pooch_download and not _proxied(url):
                preflight(url, connect_timeout)
            download(url, path, resource, connect_timeout, read_timeout)
            return url
        except Exception as error:  # requests/pooch/socket raise many types; all are reported by name
            elapsed = time.monotonic() - started
            failures.append(f"{url}: {type(error).__name__}: {error} (after {elapsed:.1f} s)")
            if path.exists() and not path.is_dir():
                path.unlink()
    raise FetchError(
        f"could not download {resource.file} for {name} (connect timeout {connect_timeout:g} s):\n  "
        + "\n  ".join(failures)
        + f"\nNo network? Download the file by hand from one of the URLs above, save it as {path}, and run "
        f"`sam-repro data fetch {name}` again (it checks the file and finishes the installation)."
    )


def install_marker(root: Path, resource: Resource) -> Path:
    """The file whose presence records that ``resource`` was checked and extracted into ``root``."""
    return root / ".sam-repro" / f"{resource.file}.done"


def _write_marker(marker: Path, text: str) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, marker)


def layout_present(info: DatasetInfo, root: Path) -> bool:
    """True when every plain split's image folder (or annotation file) exists under ``root``."""
    checks = []
    for split in info.splits.values():
        if split.union:
            continue
        params = split.params
        if "annotation_file" in params:
            checks.append(root / params["annotation_file"])
        elif "image_dir" in params:
            checks.append(root / params["image_dir"])
        elif info.format == "voc":
            checks.append(root / "VOCdevkit/VOC2012/JPEGImages")
    return bool(checks) and all(path.exists() for path in checks)


def _example_path(info: DatasetInfo, root: Path) -> Path | None:
    for split in info.splits.values():
        for key in ("image_dir", "annotation_file"):
            if key in split.params:
                return root / split.params[key]
    return None


def manual_instructions(info: DatasetInfo | CheckpointInfo, missing: list[Resource], downloads: Path,
                        root: Path) -> str:
    """The message of :class:`ManualDownloadRequired`: what to download, from where, where to save it."""
    lines = [f"{info.name} ({info.title}) must be downloaded by hand."]
    if isinstance(info, CheckpointInfo) and not info.released:
        lines = [f"{info.name} ({info.title}) has no public release."]
    step = 1
    for resource in missing:
        sources = ", ".join(resource.all_urls) if resource.all_urls else "(no public URL recorded; see the notes below)"
        lines.append(f"  {step}. Download {resource.file} from {sources}")
        lines.append(f"     and save it as {downloads / resource.file}")
        step += 1
    if isinstance(info, DatasetInfo):
        if missing:
            lines.append(f"  {step}. Run `sam-repro data fetch {info.name}` again: it checks the file(s) and extracts "
                         f"them into {root}")
        example = _example_path(info, root)
        where = f" so that {example} exists" if example else ""
        lines.append(f"Or place the extracted files yourself under {root}{where}, then run "
                     f"`sam-repro data verify {info.name}`.")
        if info.terms_url or info.license:
            lines.append(f"Terms: {info.license or ''} {info.terms_url or ''}".rstrip())
    else:
        lines.append(f"Put the checkpoint at {root} and run `sam-repro data verify {info.name}`.")
    if info.instructions:
        lines.append("Notes: " + " ".join(info.instructions.split()))
    return "\n".join(lines)


def _install_plain(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, destination)


def fetch_dataset(info: DatasetInfo, *, data_root: str | os.PathLike | None = None,
                  connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT,
                  download: Downloader = pooch_download, overwrite: bool = False) -> FetchResult:
    """Download (or pick up hand-placed) archives of ``info``, check them and extract them.

    Raises:
        ManualDownloadRequired: gated files are not in the downloads folder yet (message says where).
        FetchError: a download failed (message names every URL tried and where to put the file).
        ChecksumMismatchError: a file differs from the manifest's size/digest.
        UnsafeArchiveError: an archive member would escape the dataset folder.
    """
    root = info.root(data_root)
    downloads = info.downloads(data_root)
    result = FetchResult(info.name, "present", root)
    if not overwrite and layout_present(info, root):
        result.messages.append(f"{info.name}: already present at {root}; run `sam-repro data verify {info.name}`")
        return result
    if not info.resources:
        raise ManualDownloadRequired(manual_instructions(info, [], downloads, root))
    missing: list[Resource] = []
    for resource in info.resources:
        marker = install_marker(root, resource)
        if marker.exists() and not overwrite:
            result.messages.append(f"{resource.file}: already installed ({marker})")
            continue
        path = downloads / resource.file
        downloaded = False
        if not path.exists():
            if resource.manual or info.manual or not resource.all_urls:
                missing.append(resource)
                continue
            url = _download_any(info.name, resource, path, download, connect_timeout, read_timeout)
            result.messages.append(f"{resource.file}: downloaded from {url}")
            result.status = "fetched"
            downloaded = True
        check = check_file(path, resource)
        try:
            require_match(check, resource)
        except ChecksumMismatchError:
            if downloaded:
                path.unlink()  # a fresh download that fails its check is not kept
            raise
        if check.unrecorded:
            result.messages.append(f"{resource.file}: sha256 {check.sha256} (the manifest records no digest; "
                                   "nothing to check it against)")
        if resource.archive:
            created = safe_extract(path, root / resource.extract_to, kind=resource.archive, overwrite=overwrite)
            result.messages.append(f"{resource.file}: extracted {', '.join(p.name for p in created)} into "
                                   f"{root / resource.extract_to}")
        else:
            _install_plain(path, root / resource.extract_to / resource.file)
            result.messages.append(f"{resource.file}: installed into {root / resource.extract_to}")
        _write_marker(marker, f"sha256 {check.sha256}\nsize {check.size}\n")
        result.status = "extracted"
    if missing:
        raise ManualDownloadRequired(manual_instructions(info, missing, downloads, root))
    return result


def fetch_checkpoint(info: CheckpointInfo, *, weights_root: str | os.PathLike | None = None,
                     connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT,
                     download: Downloader = pooch_download) -> FetchResult:
    """Download a checkpoint into the weights folder (or check the one already there).

    Raises:
        ManualDownloadRequired, FetchError, ChecksumMismatchError: as for :func:`fetch_dataset`.
    """
    path = info.path(weights_root)
    resource = info.resource
    result = FetchResult(info.name, "present", path)
    if path.exists():
        require_match(check_file(path, resource), resource)
        result.messages.append(f"{info.name}: already present at {path}")
        return result
    if not info.released or resource.manual or not resource.all_urls:
        raise ManualDownloadRequired(manual_instructions(info, [resource] if info.released else [], path.parent, path))
    url = _download_any(info.name, resource, path, download, connect_timeout, read_timeout)
    check = check_file(path, resource)
    try:
        require_match(check, resource)
    except ChecksumMismatchError:
        path.unlink()
        raise
    result.status = "fetched"
    result.messages.append(f"{info.name}: downloaded from {url} to {path} (sha256 {check.sha256})")
    return result


def fetch(name: str, *, manifest: Manifest | None = None, **options: Any) -> FetchResult:
    """Fetch the dataset or checkpoint ``name`` of the manifest (options as for :func:`fetch_dataset` /
    :func:`fetch_checkpoint`)."""
    manifest = manifest or load_manifest()
    info = manifest.get(name)
    if isinstance(info, CheckpointInfo):
        options.pop("data_root", None)
        options.pop("overwrite", None)
        return fetch_checkpoint(info, **options)
    options.pop("weights_root", None)
    return fetch_dataset(info, **options)
