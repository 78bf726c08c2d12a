"""Fetching official dataset archives, only when the user asked for it (``download=True``).

Every download is checked against the MD5 the dataset's authors publish (the same values
torchvision uses) before anything is extracted, and a failure of any kind turns into one
:class:`DataError` that says where to put the files by hand.
"""

from __future__ import annotations

import logging
import tarfile
from collections.abc import Sequence
from pathlib import Path

from resnetlab.downloads import download_to, file_digest
from resnetlab.errors import DataError

log = logging.getLogger(__name__)


def md5sum(path: Path) -> str:
    """Hex MD5 of a file, read in blocks."""
    return file_digest(path, "md5")


def missing_error(
    title: str, directory: Path, expected: Sequence[str], url: str, reason: str = ""
) -> DataError:
    """The one-line error for data that is not on disk (and could not be downloaded)."""
    why = f" ({reason})" if reason else ""
    return DataError(
        f"{title} not found in {directory}{why}: expected {', '.join(expected)}; pass --download "
        f"(download=True in Python) to fetch {url}, or put the files in {directory} yourself"
    )


def download(url: str, dest: Path, md5: str) -> Path:
    """Download ``url`` to ``dest`` (atomically) and verify its MD5; returns ``dest``.

    An existing ``dest`` with the right checksum is reused, so an interrupted extraction does not
    cost a second download.
    """
    if dest.is_file() and md5sum(dest) == md5:
        return dest

    def verify(tmp: Path) -> None:
        actual = md5sum(tmp)
        if actual != md5:
            raise DataError(
                f"download of {url} is corrupt (md5 {actual}, expected {md5}); try again later "
                f"or place the verified file at {dest}"
            )

    def on_error(exc: OSError) -> DataError:
        return DataError(f"could not download {url} ({exc}); check the connection, or download "
                         f"it by hand to {dest}")

    download_to(url, dest, verify, on_error)
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
