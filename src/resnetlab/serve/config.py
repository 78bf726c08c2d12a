"""What ``resnetlab serve`` was asked for: models, limits, security, batching, in one value.

The command line fills a :class:`ServeConfig`; ``uvicorn --factory resnetlab.serve.app:create_app``
(several workers) has no command line, so :meth:`ServeConfig.from_env` reads the same fields from
``RESNETLAB_SERVE_<FIELD>`` variables (``RESNETLAB_TOKEN`` for the token, as for the command).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from resnetlab.deploy.engines import ENGINES
from resnetlab.errors import ConfigError

TOKEN_ENV = "RESNETLAB_TOKEN"
ENV_PREFIX = "RESNETLAB_SERVE_"
DEFAULT_RUNS = Path("runs")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServeConfig:
    """Every setting of a server (the defaults are those of ``resnetlab serve``).

    ``sources`` are run directories, weights files, published tags or ``untrained:NAME``;
    ``runs`` a folder whose every finished run is served; with neither, the newest run under
    ``./runs``. ``model`` names the architecture of raw weights. ``max_pixels`` refuses images
    whose header announces more pixels (decompression bombs), ``max_queue`` bounds the requests
    waiting for a batch (beyond it: 503). ``graceful_seconds`` is how long a stopping server
    lets in-flight requests finish.
    """

    sources: tuple[str, ...] = ()
    runs: Path | None = None
    model: str | None = None
    engine: str = "eager"
    device: str | None = None
    threads: int | None = None
    max_batch: int = 16
    batch_wait_ms: float = 5.0
    max_queue: int = 256
    max_upload_mb: float = 10.0
    max_pixels: int = Image.MAX_IMAGE_PIXELS or 89_478_485
    token: str | None = None
    cors: tuple[str, ...] = ()
    graceful_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown engine {self.engine!r}; choose {', '.join(ENGINES)}")
        for name in ("max_batch", "max_queue"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got "
                                  f"{getattr(self, name)}")
        for name in ("batch_wait_ms", "max_upload_mb", "graceful_seconds"):
            if getattr(self, name) < 0 or (name == "max_upload_mb" and self.max_upload_mb == 0):
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got "
                                  f"{getattr(self, name)}")
        if self.token is not None and not self.token.strip():
            raise ConfigError("the token is empty; pass a non-empty --token (or RESNETLAB_TOKEN)")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServeConfig:
        """The config that ``RESNETLAB_SERVE_SOURCES="runs/a untrained:resnet20"``,
        ``RESNETLAB_SERVE_MAX_BATCH=8``, ``RESNETLAB_TOKEN=...`` ... describe (lists are
        space-separated, shell-quoted; unset fields keep their defaults)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            text = env.get(TOKEN_ENV if f.name == "token" else ENV_PREFIX + f.name.upper())
            if text is None:
                continue
            kind = str(f.type)
            try:
                if "tuple" in kind:
                    values[f.name] = tuple(shlex.split(text))
                elif "Path" in kind:
                    values[f.name] = Path(text)
                elif kind.startswith("int"):
                    values[f.name] = int(text)
                elif kind.startswith("float"):
                    values[f.name] = float(text)
                else:
                    values[f.name] = text
            except ValueError:
                raise ConfigError(f"{ENV_PREFIX}{f.name.upper()}={text!r} is not a valid "
                                  f"{kind}; fix that environment variable") from None
        return cls(**values)
