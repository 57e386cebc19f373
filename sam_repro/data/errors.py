"""Exceptions of the real-data layer (manifest, fetch, archives, loaders).

Every message names the file, directory or manifest key concerned and says what was expected.
"""
from __future__ import annotations


class DataError(Exception):
    """Base class of the errors raised by the real-data layer."""


class ManifestError(DataError, ValueError):
    """``data_manifest.yaml`` is missing, unparsable, or an entry does not follow the schema."""


class UnknownNameError(DataError, KeyError):
    """A dataset or checkpoint name that the manifest does not know."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


class LayoutError(DataError):
    """Files on disk do not match the expected layout: a missing directory, a missing pair, duplicate ids."""


class DatasetNotPresentError(LayoutError, FileNotFoundError):
    """A dataset's directory does not exist yet (it has not been fetched or placed there)."""


class SampleReadError(DataError):
    """A file could not be read as an image/mask, or a mask does not fit its image.

    Attributes:
        path: the offending file when known (also named in the message).
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ChecksumMismatchError(DataError):
    """A file's digest or size differs from the one recorded in the manifest."""


class FetchError(DataError):
    """A download failed (no network, refused, timeout, HTTP error, checksum)."""


class ManualDownloadRequired(FetchError):
    """The source is gated (a form, a Google Drive quota, Kaggle) or has no URL: the user must place files."""


class UnsafeArchiveError(DataError):
    """An archive member would be written outside the target directory, or is a device/special file."""
