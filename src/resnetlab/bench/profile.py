"""Where the time goes: the operators that take the most self time in a few calls."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile


def top_ops(fn: Callable[[], object], *, calls: int = 2, rows: int = 8) -> list[dict[str, Any]]:
    """The ``rows`` operators with the most self CPU time over ``calls`` calls of ``fn``.

    Each row: ``name``, ``calls``, ``self_seconds`` (per call of ``fn``) and ``share`` of the
    total self time. Call ``fn`` once before, so start-up work is not profiled.
    """
    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    # Kineto logs its start/stop and a missing-GPU notice at warning level; they are noise here.
    # Its C++ logger reads KINETO_LOG_LEVEL when it first starts (5: fatal only), which hides
    # the "gpuGetDeviceCount failed" line of CUDA builds on CPU-only machines.
    logging.getLogger("torch.profiler").setLevel(logging.ERROR)
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")
    with profile(activities=activities) as prof:
        for _ in range(calls):
            fn()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [{"name": e.key, "calls": e.count // calls,
             "self_seconds": e.self_cpu_time_total / 1e6 / calls,
             "share": e.self_cpu_time_total / total} for e in events[:rows]]
