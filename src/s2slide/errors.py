"""Errors raised by s2slide.

Every error derives from :class:`S2SlideError` *and* from the built-in exception that
fits, so ``except ValueError`` works as well as ``except S2SlideError``.
Every message says what went wrong and how to fix it.
"""

from __future__ import annotations


class S2SlideError(Exception):
    """Base class of every error raised by s2slide."""


class InvalidInputError(S2SlideError, ValueError):
    """An array or argument has the wrong shape, dtype, range or value."""


class ShapeMismatchError(InvalidInputError):
    """Two arrays that must share a grid have different shapes."""


class CRSMismatchError(InvalidInputError):
    """Two rasters that must share a grid have different CRS or transforms."""


class MissingBandError(S2SlideError, KeyError):
    """A requested Sentinel-2 band is not in the data."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NoValidDataError(InvalidInputError):
    """All (or too many) pixels are NaN, nodata or cloud."""


class CloudCoverError(NoValidDataError):
    """The window is (almost) entirely covered by cloud or cloud shadow."""


class SettingError(S2SlideError, ValueError):
    """An ``S2SLIDE_*`` environment variable holds a value that cannot be used (a folder that is a
    file or cannot be created, a flag that is neither on nor off, a scheduler that is no address)."""


class SceneNotFoundError(S2SlideError, LookupError):
    """No scene matches the requested name, dates or area."""


class NetworkUnavailableError(S2SlideError, ConnectionError):
    """A live data source cannot be reached."""


class AuthenticationError(S2SlideError, PermissionError):
    """Credentials are missing, wrong or expired."""


class DataFileError(S2SlideError, OSError):
    """A data file is truncated, corrupt, or not in the format expected."""


class MissingFileError(DataFileError, FileNotFoundError):
    """A data file that should exist is not there."""


class DownloadError(S2SlideError, OSError):
    """A download failed or was cut short; nothing partial was kept."""


class ChecksumError(DownloadError):
    """A file does not match its registered SHA-256 checksum."""


class ConvergenceError(S2SlideError, RuntimeError):
    """An iterative method (ECC alignment, training) did not converge."""


class TrainingError(S2SlideError, RuntimeError):
    """Model training failed (empty data, NaN loss, ...)."""
