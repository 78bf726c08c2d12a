"""The batchnorm lab's verdict follows the lab's noise rule (lab/noise.py): "sooner" only when one
curve's running mean passes 70 % before the other's first point does, the final accuracies
compared against their end-of-run noise; curves that flicker around the threshold are
"inconclusive"."""

from __future__ import annotations

import random

import pytest

from resnetlab.lab.batchnorm import final_accuracies, speedup_verdict
from resnetlab.lab.noise import Crossing, crossing, sooner


def curve(accs: list[float]) -> dict:
    """A curve as train_curve records it (only what the verdict reads)."""
    passed = crossing(accs, 0.7)
    return {"test_accuracy": accs, "first_iteration_above_70": passed.first,
            "steady_iteration_above_70": passed.steady, "steady_window": passed.window}


def ramp(up_at: int, n: int = 200, top: float = 0.8, jitter: float = 0.0, seed: int = 0):
    """Chance level for ``up_at`` iterations, then ``top``, with uniform jitter of ±``jitter``."""
    rng = random.Random(seed)
    return [(0.1 if i < up_at else top) + rng.uniform(-jitter, jitter) for i in range(n)]


def test_a_crossing_is_its_first_point_above_and_where_its_running_mean_is():
    spike = [0.1] * 10 + [0.9] + [0.1] * 9 + [0.8] * 20  # one lucky point, then for real
    assert crossing(spike, 0.7) == Crossing(first=11, steady=25, window=5)  # 5 x 0.8 from 21
    assert crossing([0.8] * 10, 0.7) == Crossing(first=1, steady=5, window=5)
    assert crossing([0.1] * 300 + [0.9] * 100, 0.7).window == 8  # 2 % of the run
    assert crossing([0.1, 0.8, 0.6, 0.1, 0.2], 0.7) == Crossing(2, None, 5)  # a blip only
    assert crossing([0.1, 0.2], 0.7) == Crossing(None, None, 5)


@pytest.mark.parametrize(("a", "b", "answer"), [
    (Crossing(5, 8, 5), Crossing(20, 25, 5), True),    # a's mean passes before b's first point
    (Crossing(20, 25, 5), Crossing(5, 8, 5), False),
    (Crossing(5, 30, 5), Crossing(20, 25, 5), None),   # the stretches overlap
    (Crossing(5, 8, 5), Crossing(None, None, 5), True),  # b never gets there
    (Crossing(5, None, 5), Crossing(None, None, 5), None),  # a only blipped above
])
def test_sooner_answers_only_outside_the_crossings_noise(a, b, answer):
    assert sooner(a, b) is answer


def test_a_clear_head_start_is_called_sooner_and_equal_ends_the_same():
    bn, plain = curve(ramp(20)), curve(ramp(150, jitter=0.02, seed=1))
    line = speedup_verdict({"bn": bn, "plain": plain})
    assert line.startswith("BatchNorm reached 70 % 7.2x sooner (21 vs 151 iterations)")
    assert "final accuracy the same within the noise" in line
    assert final_accuracies(bn, plain).answer is None


def test_curves_flickering_around_70_are_inconclusive_not_sooner():
    # both hover at 70 % ± 5 points from the start: first passes a few iterations apart
    bn, plain = curve(ramp(0, top=0.7, jitter=0.05, seed=2)), curve(ramp(0, top=0.7,
                                                                       jitter=0.05, seed=3))
    assert bn["first_iteration_above_70"] != plain["first_iteration_above_70"]
    line = speedup_verdict({"bn": bn, "plain": plain})
    assert "inconclusive" in line and "sooner" not in line


def test_a_higher_end_beyond_its_noise_is_called_higher():
    bn, plain = curve(ramp(20, top=0.9, jitter=0.01)), curve(ramp(20, top=0.8, jitter=0.01))
    comparison = final_accuracies(bn, plain)
    assert comparison.answer is True and comparison.difference == pytest.approx(0.1, abs=0.01)
    assert "BatchNorm ends higher" in speedup_verdict({"bn": bn, "plain": plain})


def test_a_short_run_cannot_measure_the_end_of_run_noise():
    bn, plain = curve(ramp(2, n=20)), curve(ramp(15, n=20))
    assert "too few iterations to measure its noise" in speedup_verdict({"bn": bn, "plain": plain})
