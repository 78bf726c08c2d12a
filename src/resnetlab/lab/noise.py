"""When a lab verdict may say "yes" or "no": a difference larger than the noise measured with it.

Two nets' final errors always differ a little; a short run or an unlucky seed can flip the
sign. So every comparison in the lab is made against the noise of the same experiment:

* **end-of-run noise** — a net's final value is the mean of the points logged in the last
  :data:`WINDOW` of its iterations and their standard deviation is its noise ``σ``; fewer
  than :data:`MIN_POINTS` points there (a run of under ~30 logged epochs) cannot measure it;
  the difference of two nets is noise below ``2 * sqrt(σa² + σb²)`` (about a 95 % band if
  the points were independent);
* **seed-to-seed noise** — with several seeds, the per-seed differences must all have the
  sign of their mean.

A claim is answered only when both hold; otherwise it is "inconclusive" — always so for a run
too short to measure its noise (a 2-minute degradation run logs one point per net).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

WINDOW = 0.1  # share of the run whose logged points make the final value
MIN_POINTS = 3
BAND = 2.0  # noise band, in standard deviations of the difference


@dataclass(frozen=True)
class FinalValue:
    """A curve's final value (mean of its last points) and the spread of those points."""

    mean: float
    std: float | None  # None: too few points to measure it
    points: int


def final_value(steps: Sequence[int], values: Sequence[float]) -> FinalValue:
    """The mean and standard deviation of the points logged in the last :data:`WINDOW`
    (``std=None`` when there are fewer than :data:`MIN_POINTS`; the mean is then the last
    point)."""
    if not values:
        raise ValueError("no logged points")
    last = steps[-1]
    start = last - WINDOW * last
    tail = [v for s, v in zip(steps, values, strict=True) if s > start]
    if len(tail) < MIN_POINTS:  # a short run: its end is not flat enough to measure
        return FinalValue(float(values[-1]), None, len(tail))
    return FinalValue(statistics.fmean(tail), statistics.stdev(tail), len(tail))


@dataclass
class Comparison:
    """Is ``a`` larger than ``b``? Values per seed, answered against their measured noise."""

    a: list[FinalValue]
    b: list[FinalValue]
    differences: list[float] = field(init=False)

    def __post_init__(self) -> None:
        if not self.a or len(self.a) != len(self.b):
            raise ValueError("one final value per seed on each side")
        self.differences = [x.mean - y.mean for x, y in zip(self.a, self.b, strict=True)]

    @property
    def difference(self) -> float:
        """Mean over seeds of ``a - b``."""
        return statistics.fmean(self.differences)

    @property
    def band(self) -> float:
        """The end-of-run noise band of the difference (``inf`` when it cannot be measured)."""
        if any(v.std is None for v in (*self.a, *self.b)):
            return math.inf
        var_a = statistics.fmean(v.std ** 2 for v in self.a) / len(self.a)
        var_b = statistics.fmean(v.std ** 2 for v in self.b) / len(self.b)
        return BAND * math.sqrt(var_a + var_b)

    @property
    def seeds_agree(self) -> bool:
        """Every seed's difference has the sign of the mean difference."""
        sign = math.copysign(1.0, self.difference)
        return all(d * sign > 0 for d in self.differences)

    @property
    def answer(self) -> bool | None:
        """``True`` (a > b), ``False`` (a < b) or ``None``: inside the noise."""
        if abs(self.difference) <= self.band or not self.seeds_agree:
            return None
        return self.difference > 0

    def to_dict(self) -> dict:
        """JSON fields: means, the per-seed differences, the band and the answer."""
        return {
            "a_mean": statistics.fmean(v.mean for v in self.a),
            "b_mean": statistics.fmean(v.mean for v in self.b),
            "difference": self.difference, "per_seed_differences": self.differences,
            "noise_band": None if math.isinf(self.band) else self.band,
            "seeds_agree": self.seeds_agree, "answer": self.answer,
        }


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """``(mean, min, max)`` of per-seed values (docs: "mean ± range")."""
    return statistics.fmean(values), min(values), max(values)


# A crossing's conservative estimate: the first time the mean of this share of the run (and at
# least STEADY_MIN points) is above the threshold. A single lucky point makes the optimistic one.
STEADY_SHARE = 0.02
STEADY_MIN = 5


@dataclass(frozen=True)
class Crossing:
    """When a noisy curve passes a threshold (1-based iterations): ``first``, the first point
    above it (optimistic), and ``steady``, the first iteration at which the mean of the last
    ``window`` points is above it (conservative; ``None``: never). The true crossing lies
    between the two: that stretch is the crossing's own noise."""

    first: int | None
    steady: int | None
    window: int


def crossing(values: Sequence[float], threshold: float) -> Crossing:
    """The :class:`Crossing` of ``values`` over ``threshold``."""
    window = max(STEADY_MIN, round(STEADY_SHARE * len(values)))
    first = next((i + 1 for i, v in enumerate(values) if v > threshold), None)
    steady = None
    if first is not None:
        total = math.fsum(values[:window - 1])
        for i in range(window - 1, len(values)):
            total += values[i]
            if total / window > threshold:
                steady = i + 1
                break
            total -= values[i - window + 1]
    return Crossing(first, steady, window)


def sooner(a: Crossing, b: Crossing) -> bool | None:
    """Does ``a`` cross before ``b``, beyond the noise? ``True`` when ``a``'s conservative
    crossing comes before ``b``'s optimistic one (or ``b`` never crosses), ``False`` for the
    reverse, ``None`` when the two stretches overlap or the crossing never holds: inconclusive."""
    if a.steady is not None and (b.first is None or a.steady < b.first):
        return True
    if b.steady is not None and (a.first is None or b.steady < a.first):
        return False
    return None
