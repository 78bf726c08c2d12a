"""What the CPU can do, read from ``/proc/cpuinfo`` (what the operating system exposes, which in
a VM can be less than the chip has): used to pick per-machine defaults
(:func:`resnetlab.train.device.placement`) and to describe the machine in benchmarks."""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path


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
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))
