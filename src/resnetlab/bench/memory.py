"""Peak memory of one call: activations, gradients and library workspaces.

On CUDA, PyTorch's allocator keeps exact peak statistics. On CPU there is no such counter (and
onnxruntime allocates outside PyTorch altogether), so the operating system is asked instead:
Linux resets a process's peak resident size (``VmHWM``) when ``5`` is written to
``/proc/self/clear_refs``. The working memory of a call is then its peak resident size minus the
resident size just before it; freed heap memory is handed back to the system first
(``malloc_trim``) so that memory a previous case left cached does not hide this one's needs.
What was resident before the call (the weights of a model built earlier) is not counted; to
include them, build inside the measured call (:func:`with_peak`).
"""

from __future__ import annotations

import ctypes
import gc
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _trim_heap() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim, figures only less exact
        pass


def _reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_call_bytes(fn: Callable[[], object], device: torch.device | None = None) -> int | None:
    """Bytes of memory ``fn()`` needs above what is resident before it, or None if unknown."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    _trim_heap()
    before = _status_kib("VmRSS")
    if before is None or not _reset_peak():
        fn()
        return None
    fn()
    peak = _status_kib("VmHWM")
    return None if peak is None else max(0, peak - before) * 1024


def with_peak(fn: Callable[[], T], device: torch.device | None = None) -> tuple[T, int | None]:
    """``(fn(), bytes it needed above what was resident before)``, e.g. to build an engine."""
    box: list[T] = []
    peak = peak_call_bytes(lambda: box.append(fn()), device)
    return box[0], peak


def param_bytes(model: nn.Module) -> int:
    """Bytes of a module's parameters and buffers."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)
