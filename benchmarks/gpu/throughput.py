"""Training images/s on one device, from the stock loop to resnetlab's, one lever at a time.

Each rung of :data:`LADDER` adds one lever to the rung above, so the step from one row to the
next is what that lever is worth here. A timed call is one whole batch: fetching it (the stock
rung from CPU workers, the others from the on-device loader) and one optimiser step. The last
rung is the trainer step ``resnetlab train --compile`` runs (:func:`resnetlab.train.probe
.probe_trainer`: the ``fast`` recipe fitted to the data, label smoothing, weight EMA), fed by
the trainer's own loader. All rungs are timed alternately (:func:`resnetlab.bench.alternate`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from benchmarks.gpu.budget import Budget, peak_bytes, skipped
from benchmarks.gpu.stock import device_batches, host_batches, stock_optimizer
from resnetlab.bench.timing import alternate, speedup
from resnetlab.bench.training import STOCK, TrainPath
from resnetlab.data import Augment, InMemoryLoader
from resnetlab.hardware import Placement, placement
from resnetlab.models import create_model
from resnetlab.train.probe import probe_trainer
from resnetlab.train.step import train_step


@dataclass(frozen=True)
class Rung:
    """One row of the ladder: the step's levers and where its batches come from."""

    path: TrainPath
    device_data: bool


def ladder(device: torch.device) -> tuple[Rung, ...]:
    """The rungs on ``device``; the precision lever is resnetlab's default there (bf16 on a
    GPU; on a CPU without native bf16, fp32, since emulated bf16 is many times slower)."""
    fast = placement(device).precision
    on_device = STOCK.with_levers("+ data on the device")
    layout = on_device.with_levers("+ channels_last", channels_last=True)
    precision = layout.with_levers(f"+ {fast} autocast" if fast == "bf16"
                                   else "+ fp32 (no native bf16 here)", precision=fast)
    compiled = precision.with_levers("+ torch.compile", compile=True)
    trainer = compiled.with_levers("resnetlab trainer step", trainer=True)
    return (Rung(STOCK.with_levers("stock: CPU workers, eager fp32 NCHW"), False),
            Rung(on_device, True), Rung(layout, True), Rung(precision, True),
            Rung(compiled, True), Rung(trainer, True))


@dataclass
class Setup:
    """What every rung of one model shares."""

    bundle: Any
    batch_size: int
    device: torch.device
    workers: int
    backend: str  # torch.compile backend: "inductor", or "eager" to smoke-test on a CPU
    warmup: int = 3  # the first calls allocate, pick cuDNN kernels and (compile rungs) compile
    seed: int = 0


def _stock_call(model: nn.Module, rung: Rung, s: Setup) -> Callable[[], object]:
    path = rung.path
    where = Placement(s.device, path.precision, path.channels_last)
    model = model.to(s.device, memory_format=where.memory_format).train()
    net = torch.compile(model, backend=s.backend) if path.compile else model
    optimizer = stock_optimizer(model)
    if rung.device_data:
        loader = InMemoryLoader(s.bundle.train, s.batch_size, shuffle=True, drop_last=True,
                                seed=s.seed, device=s.device, augment=Augment(pad=4, flip=True))
        batches: Iterator = device_batches(loader)
    else:
        batches = host_batches(s.bundle.train, s.batch_size, s.device, workers=s.workers,
                               seed=s.seed)
    return lambda: train_step(net, optimizer, *next(batches), where=where)


def trainer_for(model: nn.Module, path: TrainPath, s: Setup):
    """The trainer of ``resnetlab train`` with ``path``'s levers on ``s.bundle``; with a
    non-inductor backend its forward is compiled here instead (what Trainer does itself)."""
    inductor = path.compile and s.backend == "inductor"
    trainer = probe_trainer(model, s.bundle, batch_size=s.batch_size, device=s.device,
                            precision=path.precision, channels_last=path.channels_last,
                            compile=inductor, seed=s.seed)
    if path.compile and not inductor:
        trainer.net = torch.compile(trainer.net, backend=s.backend)
    return trainer


def _trainer_call(model: nn.Module, rung: Rung, s: Setup) -> Callable[[], object]:
    trainer = trainer_for(model, rung.path, s)
    batches = device_batches(trainer.loader)
    return lambda: trainer.train_step(*next(batches), 0)  # step 1's learning rate, each time


def _build(model: nn.Module, rung: Rung, s: Setup) -> Callable[[], object]:
    make = _trainer_call if rung.path.trainer else _stock_call
    call = make(copy.deepcopy(model), rung, s)
    for _ in range(s.warmup):
        call()
    return call


def bench_model(name: str, s: Setup, budget: Budget, *, repeats: int, min_seconds: float,
                log: Callable[[str], None]) -> dict[str, Any]:
    """The ladder's img/s, speed-up over the stock rung, build time and peak memory."""
    torch.manual_seed(s.seed)
    model = create_model(name, num_classes=s.bundle.num_classes)
    calls: dict[str, Callable[[], object]] = {}
    row: dict[str, Any] = {"model": name, "batch_size": s.batch_size,
                           "image_size": s.bundle.input_size[1], "rungs": {}}
    for rung in ladder(s.device):
        label = rung.path.label
        if rung.path.compile and not budget.can_compile():
            row["rungs"][label] = skipped(f"time budget: {budget.left():.0f} s left, a "
                                          f"compile takes ~{budget.expected_compile():.0f} s")
            continue
        log(f"training {name}: building {label}")
        started, box = time.perf_counter(), []
        peak = peak_bytes(lambda rung=rung, box=box: box.append(_build(model, rung, s)),
                          s.device)
        seconds = time.perf_counter() - started
        if rung.path.compile:
            budget.compile_costs.append(seconds)
        calls[label] = box[0]
        row["rungs"][label] = {"build_seconds": seconds, "peak_bytes": peak}
    min_s = budget.timing_seconds(repeats * len(calls), min_seconds)
    log(f"training {name}: timing {len(calls)} rungs, {repeats} x {min_s:.2f} s each")
    timed = alternate(calls, repeats=repeats, min_seconds=min_s, warmup=0, device=s.device)
    base = timed[ladder(s.device)[0].path.label]
    for label, stats in timed.items():
        row["rungs"][label]["images_per_second"] = stats.inverse(s.batch_size).to_dict()
        row["rungs"][label]["speedup"] = speedup(base, stats).to_dict()
    return row
