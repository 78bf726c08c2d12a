"""Errors a user can cause: each message names the problem and the fix.

The CLI prints them on one line (``error: ...``) and exits non-zero, without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class ResnetlabError(Exception):
    """Base class of every error caused by user input; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class UnknownModelError(ResnetlabError, KeyError):
    """A model name that is not in the registry."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(ResnetlabError, ValueError):
    """A bad option value (zero epochs, negative batch size, unknown recipe field...)."""

    exit_code = 2


class DataError(ResnetlabError):
    """Missing, truncated or malformed data."""


class CheckpointError(ResnetlabError):
    """A missing, corrupt or incompatible checkpoint / weights file."""


class DiskError(ResnetlabError):
    """A file could not be written: the disk is full, read-only or failing (exit 1).

    ``path`` is the file, ``reason`` the cause in words, ``errno`` the OS error number; the
    message also says what was kept (atomic writes never leave a torn file)."""

    def __init__(self, message: str, path: Path, reason: str, errno_: int | None) -> None:
        super().__init__(message)
        self.path, self.reason, self.errno = path, reason, errno_
