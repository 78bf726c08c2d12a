"""Wall-clock budgets: the GPU check must end inside a device lease whatever speed it gets.

A :class:`Budget` is a deadline; sections take a part of what is left, and every timing loop
and compilation asks it first, so a slow machine measures less instead of running over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from resnetlab.bench.memory import peak_call_bytes


@dataclass
class Budget:
    """Seconds until a deadline, and what compiling has cost so far (to predict the next)."""

    seconds: float
    compile_guess: float = 45.0
    deadline: float = field(init=False)
    compile_costs: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.deadline = time.perf_counter() + self.seconds

    def left(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())

    def part(self, fraction: float, keep: float = 0.0) -> Budget:
        """A budget of ``fraction`` of what is left after ``keep`` seconds are set aside."""
        child = Budget(max(0.0, self.left() - keep) * fraction, self.compile_guess)
        child.compile_costs = self.compile_costs  # one history: compiles cost alike everywhere
        return child

    def expected_compile(self) -> float:
        """Seconds the next compilation should take: the slowest seen, else the guess."""
        return max(self.compile_costs, default=self.compile_guess)

    def can_compile(self) -> bool:
        """Whether a compilation and a little timing still fit."""
        return self.left() > 1.2 * self.expected_compile() + 5.0

    def timing_seconds(self, calls: int, most: float, least: float = 0.05) -> float:
        """``min_seconds`` per timed call so that ``calls`` timings fit in what is left."""
        return max(least, min(most, 0.8 * self.left() / max(1, calls)))


def skipped(reason: str) -> dict[str, str]:
    """The entry of a case left out, with why."""
    return {"skipped": reason}


def peak_bytes(fn: Callable[[], object], device: torch.device) -> int | None:
    """GPU memory ``fn()`` allocates at its peak above what was allocated before; None (and
    nothing measured) off CUDA, where the check reports no memory."""
    if device.type != "cuda":
        fn()
        return None
    return peak_call_bytes(fn, device)
