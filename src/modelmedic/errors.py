"""The exception hierarchy: every error a user can cause derives from :class:`ModelmedicError`.

The CLI prints such an error in one line and exits non-zero; the service answers 4xx.
"""

from __future__ import annotations


class ModelmedicError(Exception):
    """Root of all modelmedic errors. The message tells the user what to do."""

    exit_code: int = 1


class ConfigError(ModelmedicError):
    """A setting or a command-line option has an invalid value."""

    exit_code = 2


class DataError(ModelmedicError):
    """A data set is missing, corrupt, or does not match its schema."""


class DownloadError(DataError):
    """The data set could not be downloaded."""


class ChecksumError(DataError):
    """A file does not have the expected SHA-256."""


class ModelNotFoundError(ModelmedicError):
    """No trained model is available where one was expected."""


class UntrustedModelError(ModelmedicError):
    """A model is stored in a format whose loader can run code, and loading it was not allowed."""


class ModelRejectedError(ModelmedicError):
    """A model loaded but failed its proof (no ``predict``, wrong shape, non-finite values).

    Attributes:
        reason: A short label of the failure (``no_predict``, ``shape``, ``non_finite``…).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TrackingError(ModelmedicError):
    """The MLflow tracking store cannot be reached or refused an operation."""


class DriftError(ModelmedicError):
    """A drift test cannot be computed on the given data."""


class MissingExtraError(ModelmedicError):
    """A command needs an optional part of modelmedic that is not installed."""
