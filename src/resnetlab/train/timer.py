"""The one step timer: wall time of work queued on a device, for the loop, the lab and the bench.

On CUDA the host only queues kernels and returns; a clock read right after a step measures the
queueing, not the work. :class:`StepTimer` therefore waits for the device
(``torch.cuda.synchronize``) before each reading, and nowhere else: the training loop reads it
once per log interval, where it reads its statistics anyway, so its steps never wait; a
benchmark reads it around each call. On the CPU a call returns when its work is done and
nothing waits. Every reading goes through :func:`resnetlab.train.pace.now`, the loop's clock,
which tests replace with a virtual one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from resnetlab.train.pace import now


def synchronize(device: str | torch.device | None) -> None:
    """Wait until the work queued on ``device`` is done (CUDA only; elsewhere it is done)."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


class StepTimer:
    """Seconds of device work since :meth:`restart`; each reading waits for ``device`` first."""

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = device
        self.started = now()

    def restart(self) -> None:
        """Start timing from here (work queued before is waited for and not counted)."""
        synchronize(self.device)
        self.started = now()

    def elapsed(self) -> float:
        """Seconds from the last :meth:`restart` until the work queued so far is done."""
        synchronize(self.device)
        return now() - self.started

    def time(self, fn: Callable[[], object]) -> float:
        """Seconds one call of ``fn`` takes, its device work included."""
        self.restart()
        fn()
        return self.elapsed()

    def per_call(self, fn: Callable[[], object], min_seconds: float) -> float:
        """Seconds per call of ``fn``, calling it until ``min_seconds`` have passed (at least
        once): repeated calls average over the scheduler's time slices."""
        calls = 0
        self.restart()
        while True:
            fn()
            calls += 1
            elapsed = self.elapsed()
            if elapsed >= min_seconds:
                return elapsed / calls
