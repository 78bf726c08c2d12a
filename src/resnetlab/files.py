"""Files written atomically: a temp file beside the target, fsynced, then renamed.

A process killed at any moment leaves either the previous file or the new one, never a torn
one. Checkpoints, saved models, metrics and configs all go through here, and so does their
error handling: a full, read-only or failing disk raises one :class:`DiskError` that names the
file, the reason and what was kept, instead of an ``OSError`` traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from resnetlab.errors import DiskError  # raised here; defined with the other user errors

TMP_PREFIX = ".tmp-"

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "an I/O error (a failing disk or a lost network file system)",
}


def reason(exc: OSError) -> str:
    """An ``OSError`` in words: "the disk is full", "permission denied", ..."""
    return _REASONS.get(exc.errno or 0, exc.strerror or str(exc) or type(exc).__name__)


def disk_error(path: Path, exc: OSError, kept: str) -> DiskError:
    """The :class:`DiskError` for ``exc`` raised while writing ``path``; ``kept`` says what
    survived ("the previous X is unchanged")."""
    why = reason(exc)
    return DiskError(f"cannot write {path}: {why}; {kept}", Path(path), why, exc.errno)


def _kept(paths: list[Path]) -> str:
    old = [p.name for p in paths if p.exists()]
    if not old:
        return "nothing was written"
    return f"the previous {' and '.join(old)} {'is' if len(old) == 1 else 'are'} unchanged"


def atomic_write_files(writers: Mapping[Path, Callable[[IO[bytes]], object]]) -> None:
    """Atomically replace several files: each ``writer(file_object)`` fills a temp file beside
    its path, all are fsynced, and only then are they renamed into place.

    A full disk shows up while writing or fsyncing, never at the rename, so a failure leaves
    every target as it was (no new file beside an old one); the temp files are removed and a
    :class:`DiskError` is raised."""
    temps: dict[Path, str] = {}
    current = Path()
    try:
        for path, write in writers.items():
            current = path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temps[path] = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".",
                                               dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
        for path, tmp in list(temps.items()):
            current = path
            os.replace(tmp, path)
            del temps[path]  # renamed: nothing to clean up for this one
    except OSError as exc:
        raise disk_error(current, exc, _kept([Path(p) for p in writers])) from None
    finally:
        for tmp in temps.values():
            with contextlib.suppress(OSError):  # on a failing disk even this may fail
                os.unlink(tmp)


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(file_object)`` on a temp file beside ``path``, fsync it, then rename it."""
    atomic_write_files({Path(path): write})


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    atomic_write(path, lambda fh: fh.write(data))


def remove_stale_temp_files(directory: Path) -> None:
    """Delete temp files left by a process killed in the middle of :func:`atomic_write`."""
    if Path(directory).is_dir():
        for tmp in Path(directory).glob(TMP_PREFIX + "*"):
            tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text`` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))
