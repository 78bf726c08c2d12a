"""Device, numeric precision, memory format, seeding and determinism for a run."""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch

from resnetlab.errors import ConfigError
from resnetlab.hardware import has_native_bf16

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class Placement:
    """Where and how a model runs: device, autocast dtype (or None), memory format and whether
    the training forward is compiled with ``torch.compile``."""

    device: torch.device
    precision: str
    channels_last: bool
    compile: bool = False

    def autocast(self):
        """Context manager for the forward pass (bf16 autocast, or nothing for fp32)."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


def resolve_device(name: str | None) -> torch.device:
    """``None``/``"auto"`` → CUDA when available, else CPU; otherwise the named device."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("a CUDA device was asked for but no GPU is visible; use --device cpu")
    return device


def placement(device: str | torch.device | None = None, precision: str | None = None,
              channels_last: bool | None = None, compile: bool = False) -> Placement:
    """Fill in per-device defaults.

    On CUDA: bf16 autocast (where supported) and channels_last, which let tensor cores run the
    convolutions. On CPU: channels_last (oneDNN's convolutions run faster than NCHW for ResNets),
    and bf16 autocast only where the CPU has native bf16 arithmetic (AVX512-BF16 or AMX): there
    it trains 1.8-2x faster than fp32, while without it bf16 is emulated and many times slower
    (both measured in docs/benchmarks.md, "Speed").
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    on_cuda = dev.type == "cuda"
    if precision is None:
        native = torch.cuda.is_bf16_supported() if on_cuda else has_native_bf16()
        precision = "bf16" if native else "fp32"
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if channels_last is None:
        channels_last = True
    return Placement(dev, precision, bool(channels_last), bool(compile))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU) RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_deterministic(enabled: bool) -> None:
    """Ask torch for deterministic kernels (bitwise-repeatable GPU runs, at some speed cost).

    CPU training in resnetlab is repeatable without it; on CUDA, cuDNN autotuning and atomics
    make runs differ unless this is on.
    """
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=False)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled and torch.cuda.is_available()
