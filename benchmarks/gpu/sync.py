"""Does resnetlab's training step make the host wait for the device?

A step that reads a device value on the host (``.item()``, ``bool(tensor)``, a blocking copy)
stalls the CPU until the GPU has caught up, so the host can no longer queue the next kernels
ahead: small models then run at the speed of the Python loop. PyTorch can raise at every such
synchronisation (``torch.cuda.set_sync_debug_mode("error")``); the check runs steady-state
steps under it, once the bare step on a fixed batch and once with the trainer's on-device
loader in the loop, and reports where the first synchronisation came from.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.gpu.stock import device_batches

STEADY_STEPS = 5


def _origin(exc: BaseException) -> str:
    """``file:line in function`` of the project's innermost frame that led to ``exc``."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "resnetlab" in f.filename or "benchmarks" in f.filename]
    frame = (ours or frames)[-1]
    return f"{frame.filename.rsplit('/src/', 1)[-1]}:{frame.lineno} in {frame.name}"


def syncs_in(call: Callable[[], object], device: torch.device,
             steps: int = STEADY_STEPS) -> dict[str, Any]:
    """``{"status": "pass" | "fail", ...}`` for ``steps`` calls under the sync debug mode,
    after warm-up calls outside it; ``"n/a on cpu"`` off CUDA (a CPU never waits)."""
    if device.type != "cuda":
        return {"status": "n/a on cpu"}
    for _ in range(3):
        call()
    torch.cuda.synchronize(device)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(steps):
            call()
    except RuntimeError as exc:
        return {"status": "fail", "steps": steps, "error": str(exc).splitlines()[0],
                "where": _origin(exc)}
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize(device)
    return {"status": "pass", "steps": steps}


def check_trainer(trainer, device: torch.device) -> dict[str, Any]:
    """The trainer's step alone (one fixed batch) and with its loader feeding it."""
    batches = device_batches(trainer.loader)
    x, y = next(batches)
    return {"step": syncs_in(lambda: trainer.train_step(x, y, 0), device),
            "step_with_loader": syncs_in(lambda: trainer.train_step(*next(batches), 0), device)}
