"""Exponential moving average of a model's weights (Polyak averaging).

Evaluating the averaged weights smooths out the noise of the last SGD steps; with short
schedules it is worth about as much as a longer decay phase. Buffers (BatchNorm running
statistics) are averaged too, so the EMA model can be evaluated as it is.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEma:
    """Keeps ``module``, a frozen copy of a model whose tensors track the live model's.

    The effective decay ramps up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so
    the average is not dominated by the random initial weights in a short run.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step towards ``model``'s current weights."""
        self.updates += 1
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        ema_tensors = list(self.module.state_dict().values())
        live_tensors = list(model.state_dict().values())
        floats = [(e, t) for e, t in zip(ema_tensors, live_tensors, strict=True)
                  if e.dtype.is_floating_point]
        if floats:
            ema_f, live_f = zip(*floats, strict=True)
            torch._foreach_lerp_(list(ema_f), list(live_f), 1.0 - d)
        for e, t in zip(ema_tensors, live_tensors, strict=True):
            if not e.dtype.is_floating_point:  # e.g. BatchNorm's num_batches_tracked
                e.copy_(t)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
        self.decay = float(state["decay"])
