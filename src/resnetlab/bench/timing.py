"""Timing several implementations of one task fairly on a busy machine.

Cases are run *alternately*: every repeat times each case once, in a rotated order, so a burst
of load from another process hits all cases alike instead of whichever ran during it. Each
timing keeps calling the case until ``min_seconds`` have passed (at least once), to average
over the scheduler's time slices; it is the project's one step timer
(:class:`resnetlab.train.timer.StepTimer`, which waits for a GPU before reading). A speed-up is
the median of the per-repeat ratios: the two timings of one repeat are seconds apart, so their
ratio cancels most of the load drift that would widen the spread of a ratio of medians.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from resnetlab.train.timer import StepTimer, synchronize


@dataclass(frozen=True)
class Stats:
    """Repeated measurements of one quantity: median, extremes and relative spread."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def lo(self) -> float:
        return min(self.samples)

    @property
    def hi(self) -> float:
        return max(self.samples)

    @property
    def spread(self) -> float:
        """``(max - min) / median``: 0.1 means the repeats span 10 % of the median."""
        return (self.hi - self.lo) / self.median if self.median else float("inf")

    def scaled(self, factor: float) -> Stats:
        """Every sample times ``factor``."""
        return Stats(tuple(s * factor for s in self.samples))

    def inverse(self, numerator: float = 1.0) -> Stats:
        """``numerator / sample`` for each sample (seconds per call -> items per second)."""
        return Stats(tuple(numerator / s for s in self.samples))

    def to_dict(self) -> dict[str, float | list[float]]:
        return {"median": self.median, "min": self.lo, "max": self.hi, "spread": self.spread,
                "samples": list(self.samples)}


def time_calls(fn: Callable[[], object], min_seconds: float,
               device: torch.device | None = None) -> float:
    """Seconds per call of ``fn``, calling it until ``min_seconds`` have passed (at least once)."""
    return StepTimer(device).per_call(fn, min_seconds)


def alternate(cases: Mapping[str, Callable[[], object]], *, repeats: int,
              min_seconds: float = 0.0, warmup: int = 1,
              device: torch.device | None = None) -> dict[str, Stats]:
    """Seconds per call of every case, measured ``repeats`` times in rotating order.

    ``warmup`` untimed calls per case come first (lazy initialisation, kernel selection,
    compilation).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    names = list(cases)
    for name in names:
        for _ in range(warmup):
            cases[name]()
        synchronize(device)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(time_calls(cases[name], min_seconds, device))
    return {name: Stats(tuple(values)) for name, values in samples.items()}


def speedup(baseline: Stats, other: Stats) -> Stats:
    """Per-repeat ``baseline / other`` of two seconds-per-call series timed by :func:`alternate`
    (> 1 means ``other`` is faster)."""
    return Stats(tuple(b / o for b, o in zip(baseline.samples, other.samples, strict=True)))
