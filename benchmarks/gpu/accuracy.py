"""Test accuracy after the same wall time: the stock recipe against resnetlab's ``fast``.

The stock run is the tutorial loop (:mod:`benchmarks.gpu.stock`: CPU workers, eager fp32
NCHW, SGD 0.1 / 0.9 / 5e-4, batch 128, crop + flip) with cosine annealing over the budget:
having no planner, it anneals by elapsed time and stops when the budget is spent. The fast
run is ``resnetlab.train`` with its defaults for the device and ``time_budget`` the same
seconds (it plans, and re-plans, its schedule to end inside the budget). Each wall time counts
from the start of the run to its test accuracy, evaluation included.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.gpu.budget import skipped
from benchmarks.gpu.stock import STOCK_LR, host_batches, stock_optimizer
from resnetlab.errors import ConfigError
from resnetlab.models import create_model
from resnetlab.train import evaluate, train
from resnetlab.train.optim import set_lr
from resnetlab.train.step import train_step

STOCK_BATCH = 128


def stock_run(name: str, bundle, seconds: float, device: torch.device, *, workers: int,
              seed: int = 0) -> dict[str, Any]:
    """Train with the stock recipe for ``seconds``; test top-1, wall time and steps."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    model = create_model(name, num_classes=bundle.num_classes).to(device).train()
    optimizer = stock_optimizer(model)
    batch = min(STOCK_BATCH, len(bundle.train))
    batches = host_batches(bundle.train, batch, device, workers=workers, seed=seed)
    steps = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        set_lr(optimizer, STOCK_LR * 0.5 * (1.0 + math.cos(math.pi * elapsed / seconds)))
        train_step(model, optimizer, *next(batches))
        steps += 1
    result = evaluate(model.eval(), bundle.test, device=device, precision="fp32",
                      tta_flip=False)
    return {"test_top1": result.top1, "wall_seconds": time.perf_counter() - started,
            "steps": steps, "epochs": steps * batch / len(bundle.train)}


def fast_run(name: str, bundle, seconds: float, device: torch.device,
             seed: int = 0) -> dict[str, Any]:
    """``resnetlab.train`` with its defaults on ``device`` inside ``seconds`` (a budget too
    short to train at all is reported as skipped, with train's reason)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        try:
            run = train(name, bundle, out_dir=Path(tmp) / "run", time_budget=seconds,
                        device=device, seed=seed, quiet=True)
        except ConfigError as exc:
            return skipped(str(exc))
        wall = time.perf_counter() - started
    m = run.metrics
    return {"test_top1": m["test_top1"], "test_top1_no_tta": m.get("test_top1_no_tta"),
            "wall_seconds": wall, "steps": m["steps"], "epochs": m["epochs"]}


def compare(name: str, bundle, seconds: float, device: torch.device, *,
            workers: int) -> dict[str, Any]:
    """Both runs at the same budget, stock first."""
    stock = stock_run(name, bundle, seconds, device, workers=workers)
    fast = fast_run(name, bundle, seconds, device)
    return {"model": name, "budget_seconds": seconds, "train_images": len(bundle.train),
            "test_images": len(bundle.test), "stock": stock, "fast": fast,
            "fast_minus_stock": None if "skipped" in fast
            else fast["test_top1"] - stock["test_top1"]}
