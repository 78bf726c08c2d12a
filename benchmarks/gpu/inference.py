"""Inference images/s of one network on one device at several batch sizes.

Three engines, each fed a float32 NCHW batch already on the device (as preprocessing leaves
it): torchvision's model eager in fp32 (the stock way), resnetlab's model with bf16 autocast
and channels_last (``resnetlab predict``'s GPU placement), and that with BatchNorm folded and
``torch.compile`` (one static graph per batch size). Weights and BN statistics are shared
(:func:`resnetlab.bench.suite.shared_weights`), so the engines compute the same function.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from benchmarks.gpu.budget import Budget, peak_bytes, skipped
from resnetlab.bench.suite import shared_weights
from resnetlab.bench.timing import alternate, speedup
from resnetlab.deploy import fold_batchnorm
from resnetlab.hardware import Placement

Run = Callable[[torch.Tensor], torch.Tensor]


def _runner(model: nn.Module, where: Placement) -> Run:
    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), where.autocast():
            return model(x.contiguous(memory_format=where.memory_format))

    return run


def engines(name: str, image_size: int, device: torch.device, backend: str,
            precision: str) -> tuple[dict[str, Run], str]:
    """``({engine: run}, baseline label)``; the compiled engine compiles on its first call."""
    baseline, model, label = shared_weights(name, image_size, seed=0)
    fast = Placement(device, precision, True)
    folded = fold_batchnorm(model).to(device, memory_format=torch.channels_last).eval()
    runs = {"eager fp32": _runner(baseline.to(device), Placement(device, "fp32", False)),
            f"{precision} + channels_last": _runner(model.to(device, memory_format=
                                                              torch.channels_last), fast),
            "compiled": _runner(torch.compile(folded, backend=backend, dynamic=False), fast)}
    return runs, label


def bench_batches(name: str, image_size: int, batches: tuple[int, ...], device: torch.device,
                  budget: Budget, *, backend: str, precision: str, repeats: int,
                  min_seconds: float, log: Callable[[str], None]) -> dict[str, Any]:
    """Rows per batch size: img/s, latency, speed-up over eager fp32, peak memory."""
    runs, label = engines(name, image_size, device, backend, precision)
    out: dict[str, Any] = {"model": name, "image_size": image_size, "baseline": label,
                           "batches": []}
    generator = torch.Generator().manual_seed(1)
    for size in batches:
        x = torch.randn(size, 3, image_size, image_size, generator=generator).to(device)
        row: dict[str, Any] = {"batch_size": size, "engines": {}}
        cases = {}
        for engine, run in runs.items():
            if engine == "compiled" and not budget.can_compile():
                row["engines"][engine] = skipped(f"time budget: {budget.left():.0f} s left")
                continue
            started = time.perf_counter()
            peak = peak_bytes(lambda run=run, x=x: run(x), device)  # compiles at this size
            if engine == "compiled":
                budget.compile_costs.append(time.perf_counter() - started)
            row["engines"][engine] = {"peak_bytes": peak}
            cases[engine] = lambda run=run, x=x: run(x)
        timings_left = repeats * len(cases) * (len(batches) - len(out["batches"]))
        min_s = budget.timing_seconds(timings_left, min_seconds)
        log(f"inference {name}: batch {size}, {len(cases)} engines, {min_s:.2f} s per timing")
        seconds = alternate(cases, repeats=repeats, min_seconds=min_s, warmup=1, device=device)
        for engine, stats in seconds.items():
            row["engines"][engine].update({
                "images_per_second": stats.inverse(size).to_dict(),
                "latency_ms": stats.scaled(1000.0).to_dict(),
                "speedup": speedup(seconds["eager fp32"], stats).to_dict()})
        out["batches"].append(row)
    return out
