"""The measured speed of a run, for re-planning a time budget while it trains.

:class:`Pace` keeps the wall time of the recent steps (each with the bookkeeping and any
checkpoint written after it), of the last evaluation and checkpoint write,
and how much of the budget is used. Its state goes into every checkpoint with the plan, so a
resumed run re-plans from the same figures. Every reading goes through :func:`now`, which a
test may replace with a virtual clock.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from typing import Any

# Steps whose mean time predicts the next ones: long enough to average out one slow step,
# short enough to follow a machine that changes speed within a few seconds.
WINDOW = 16


# The clock every reading uses; tests replace it (``monkeypatch.setattr(pace, "CLOCK", fake)``)
# to run a budgeted schedule on virtual time.
CLOCK = time.perf_counter


def now() -> float:
    """The clock of the training loop (seconds; monotonic)."""
    return CLOCK()


class Pace:
    """Budget use and recent timings of one run."""

    def __init__(self, used_before: float = 0.0, started: float | None = None) -> None:
        self.used_before = used_before
        self.started = now() if started is None else started
        self.steps: deque[float] = deque(maxlen=WINDOW)
        self.eval_s = 0.0
        self.save_s = 0.0
        self.plot_s = 0.0
        self.final_eval_s = 0.0

    def used(self) -> float:
        """Seconds of the budget used so far (over every resume of the run)."""
        return self.used_before + now() - self.started

    def add_step(self, seconds: float) -> None:
        """Record one step's wall time."""
        self.steps.append(seconds)

    def record_eval(self, seconds: float, images: int, test_images: int, tta: bool) -> None:
        """An evaluation of ``images`` took ``seconds``: the per-epoch cost, and from it the
        final one (the test split alone, twice with flip TTA)."""
        self.eval_s = seconds
        self.final_eval_s = seconds * (2 if tta else 1) * test_images / max(1, images)

    def step_seconds(self, fallback: float) -> float:
        """Mean wall time of the recent steps (``fallback`` before there are any)."""
        return statistics.fmean(self.steps) if self.steps else fallback

    def final_seconds(self) -> float:
        """Estimated time of the end of the run: final evaluation, export and plot."""
        # + closing the TensorBoard writer and the rest of the bookkeeping, measured ~0.1 s
        return self.final_eval_s + 2 * self.save_s + self.plot_s + 0.1

    def state_dict(self) -> dict[str, Any]:
        return {"used": self.used(), "steps": list(self.steps), "eval_s": self.eval_s,
                "save_s": self.save_s, "plot_s": self.plot_s,
                "final_eval_s": self.final_eval_s}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if not state:
            return
        self.used_before = float(state["used"])
        self.steps = deque((float(s) for s in state["steps"]), maxlen=WINDOW)
        for key in ("eval_s", "save_s", "plot_s", "final_eval_s"):
            setattr(self, key, float(state[key]))
