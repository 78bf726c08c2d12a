"""What the machine can do: CPU instruction sets read from ``/proc/cpuinfo`` (what the operating
system exposes, which in a VM can be less than the chip has) and the C++ compiler that
``torch.compile`` needs on CPU. Used to pick per-machine defaults
(:func:`resnetlab.train.device.placement`), to refuse ``--compile`` early, and to describe the
machine in benchmarks."""

from __future__ import annotations

import logging
import os
import platform
import shutil
from functools import cache
from pathlib import Path

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
