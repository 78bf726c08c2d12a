"""Fetching official dataset archives, only when the user asked for it (``download=True``).

Every download is checked against the MD5 the dataset's authors publish (the same values
torchvision uses) before anything is extracted, and a failure of any kind turns into one
:class:`DataError` that says where to put the files by hand.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from resnetlab.errors import DataError

log = logging.getLogger(__name__)

_TIMEOUT_S = 60
_BLOCK = 1 << 20


def md5sum(path: Path) -> str:
    """Hex MD5 of a file, read in blocks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def missing_error(
    title: str, directory: Path, expected: Sequence[str], url: str, reason: str = ""
) -> DataError:
    """The one-line error for data that is not on disk (and could not be downloaded)."""
    why = f" ({reason})" if reason else ""
    return DataError(
        f"{title} not found in {directory}{why}: expected {', '.join(expected)}; pass --download "
        f"(download=True) to fetch {url}, or put the files in {directory} yourself"
    )


def download(url: str, dest: Path, md5: str) -> Path:
    """Download ``url`` to ``dest`` (atomically) and verify its MD5; returns ``dest``.

    An existing ``dest`` with the right checksum is reused, so an interrupted extraction does not
    cost a second download.
    """
    if dest.is_file() and md5sum(dest) == md5:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s to %s", url, dest)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:
            for block in iter(lambda: resp.read(_BLOCK), b""):
                out.write(block)
        actual = md5sum(tmp)
        if actual != md5:
            raise DataError(
                f"download of {url} is corrupt (md5 {actual}, expected {md5}); try again later "
                f"or place the verified file at {dest}"
            )
        tmp.replace(dest)
    except OSError as exc:  # URLError, timeouts and disk errors are all OSError
        raise DataError(
            f"could not download {url} ({exc}); check the connection, or download it by hand "
            f"to {dest}"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def extract_tar(archive: Path, dest_dir: Path) -> None:
    """Extract a .tar.gz refusing members that would land outside ``dest_dir``."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest_dir, filter="data")
                return
            root = dest_dir.resolve()
            for member in tar.getmembers():
                target = (root / member.name).resolve()
                if not (member.isfile() or member.isdir()) or not target.is_relative_to(root):
                    raise DataError(
                        f"{archive} contains an unsafe entry {member.name!r}; delete the "
                        "archive and download it again"
                    )
            tar.extractall(dest_dir)  # noqa: S202 - every member was checked above
    except (tarfile.TarError, OSError) as exc:
        raise DataError(
            f"could not extract {archive} ({exc}); delete it and download it again"
        ) from exc
