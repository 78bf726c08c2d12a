"""What the machine can do and where a model runs on it.

CPU instruction sets are read from ``/proc/cpuinfo`` (what the operating system exposes, which in
a VM can be less than the chip has), and the C++ compiler that ``torch.compile`` needs on CPU is
looked up. From these come the per-machine defaults of :func:`placement` (device, precision,
memory format), the early refusal of ``--compile``, and the machine description of benchmarks.
Seeding and determinism live here too: every layer that runs a model uses them."""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import random
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from resnetlab.errors import ConfigError


@cache
def cpuinfo() -> tuple[str, frozenset[str]]:
    """``(model name, instruction-set flags)`` of the first CPU; empty flags when unknown."""
    path = Path("/proc/cpuinfo")
    name, flags = platform.processor() or platform.machine(), frozenset()
    if not path.is_file():
        return name, flags
    for line in path.read_text(errors="replace").splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and value.strip():
            name = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return name, flags


def has_native_bf16(flags: frozenset[str] | set[str] | None = None) -> bool:
    """Whether the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX-BF16).

    With it, bf16 autocast trains a CIFAR ResNet 1.8-2x faster than fp32 (Zen 4, measured in
    docs/benchmarks.md, "Speed"); without it bf16 products fall back to slow emulation, tens of
    times slower than fp32 on an AVX2-only CPU.
    """
    flags = cpuinfo()[1] if flags is None else flags
    return not flags.isdisjoint({"avx512_bf16", "amx_bf16"})


def cxx_compiler() -> str | None:
    """Path of the C++ compiler inductor would use (``$CXX``, g++, c++, clang++), or None."""
    for candidate in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


def require_compiler(device) -> None:
    """``torch.compile`` on CPU writes and builds C++; refuse early, with the fix, without one."""
    # Its build helper warns on every CPU-only machine that no CUDA runtime exists.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    if device.type == "cpu" and cxx_compiler() is None:
        raise ConfigError("torch.compile on CPU needs a C++ compiler and none was found (g++, "
                          "c++, clang++ or $CXX); install one or leave out --compile")


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
