"""Weights from URLs: a local cache, SHA-256 checks, and one clear error when offline.

Files land in ``$RESNETLAB_CACHE/checkpoints`` (default ``~/.cache/resnetlab/checkpoints``).
The expected hash comes from the table of published weights or, as with torch hub, from the
file name: ``resnet50-0676ba61.pth`` must have a SHA-256 starting ``0676ba61``. A file already
downloaded by torch hub (``~/.cache/torch/hub/checkpoints``) is reused rather than fetched again.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from pathlib import Path

from resnetlab.downloads import download_to, file_digest
from resnetlab.errors import CheckpointError
from resnetlab.models.hub.zoo import by_url

log = logging.getLogger(__name__)

# torch hub's convention: "<name>-<first hex digits of the sha256>.<ext>".
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")


def cache_dir() -> Path:
    """Where downloaded weights are kept: ``$RESNETLAB_CACHE`` or ``~/.cache/resnetlab``."""
    root = os.environ.get("RESNETLAB_CACHE") or Path.home() / ".cache" / "resnetlab"
    return Path(root).expanduser() / "checkpoints"


def is_url(source: str) -> bool:
    return urllib.parse.urlparse(str(source)).scheme in ("http", "https", "file")


def sha256sum(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    return file_digest(path, "sha256")


def expected_hash(url: str) -> str | None:
    """The SHA-256 (prefix) ``url``'s file must have, if it is known."""
    known = by_url(url)
    if known is not None:
        return known.sha256_prefix
    match = _HASH_IN_NAME.search(url_filename(url))
    return match.group(1) if match else None


def url_filename(url: str) -> str:
    name = Path(urllib.parse.urlparse(url).path).name
    return name or "weights.bin"


def _verify(path: Path, url: str, prefix: str | None) -> None:
    if prefix is None:
        return
    actual = sha256sum(path)
    if not actual.startswith(prefix):
        raise CheckpointError(
            f"{path} (from {url}) has SHA-256 {actual[:16]}..., expected {prefix}...; "
            "the file is corrupt or not the published one: delete it and download again"
        )


def _torch_hub_copy(filename: str) -> Path | None:
    try:
        import torch.hub

        path = Path(torch.hub.get_dir()) / "checkpoints" / filename
    except (ImportError, OSError, RuntimeError):
        return None
    return path if path.is_file() else None


def fetch(url: str, sha256: str | None = None) -> Path:
    """A local copy of ``url`` (downloaded into :func:`cache_dir` once), hash-checked.

    ``sha256`` (full hash or prefix) pins a file whose name carries no hash. A failed download
    raises a one-line :class:`CheckpointError` naming the URL and where to put the file by hand.
    """
    prefix = (sha256 or expected_hash(url) or "").lower() or None
    dest = cache_dir() / url_filename(url)
    for candidate in (dest, _torch_hub_copy(dest.name)):
        if candidate is not None and candidate.is_file():
            _verify(candidate, url, prefix)
            return candidate

    def verify(tmp: Path) -> None:
        _verify(tmp, url, prefix)
        if prefix is None:
            log.warning("%s has no published hash; downloaded unverified (sha256 %s)",
                        url, sha256sum(tmp))

    def on_error(exc: OSError) -> CheckpointError:
        reason = getattr(exc, "reason", None) or exc
        return CheckpointError(f"cannot download {url} ({reason}); when offline, copy the file "
                               f"to {dest} or pass a local path instead")

    download_to(url, dest, verify, on_error)
    return dest
