"""Streaming a URL to a file atomically, and hashing files: shared by dataset downloads
(:mod:`resnetlab.data.download`, MD5) and weight downloads (:mod:`resnetlab.models.hub.fetch`,
SHA-256), which differ only in how they verify the file and which error they raise."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

TIMEOUT_S = 60
BLOCK = 1 << 20


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest (``"md5"``, ``"sha256"``…) of a file, read in blocks."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_to(url: str, dest: Path, verify: Callable[[Path], None],
                on_error: Callable[[OSError], Exception]) -> Path:
    """Stream ``url`` into a temporary file beside ``dest``, ``verify`` it (it raises to reject
    the file), then rename it to ``dest``; an ``OSError`` (no network, timeout, full disk)
    becomes ``on_error(exc)``. Nothing half-written is ever left at ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s to %s", url, dest)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            for block in iter(lambda: resp.read(BLOCK), b""):
                out.write(block)
        verify(tmp)
        tmp.replace(dest)
    except OSError as exc:  # URLError, timeouts and disk errors are all OSError
        raise on_error(exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest
