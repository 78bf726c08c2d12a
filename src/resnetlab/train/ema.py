"""Exponential moving average of a model's weights (Polyak averaging).

Evaluating the averaged weights smooths out the noise of the last SGD steps; with short
schedules it is worth about as much as a longer decay phase. Buffers (BatchNorm running
statistics) are averaged too, so the EMA model can be evaluated as it is.

Why not ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn`` and
``use_buffers=True`` (issue 12; measured on the 2-core development CPU with
``benchmarks/ema_update.py`` and the same cases alternated in one run, median of 5 repeats,
``OMP_WAIT_POLICY=PASSIVE``, 1 thread, channels_last fp32):

* its ``update_parameters`` reads its ``n_averaged`` counter on the host twice per call
  (``bool(n_averaged == 0)``, ``if n_averaged > 0``) and hands it to the average as
  ``n_averaged.to(device)``: on a GPU those reads, or that copy, wait for the device at every
  step, which the training step must never do (:mod:`resnetlab.train.step`; the reads are
  counted by ``tests/test_train_step.py``, which fails once torch stops making them);
* one update costs 1.65 ms on resnet20 (5.16 ms on resnet56) against 0.175 ms (0.59 ms)
  here; this class took 1.04 ms (3.46 ms) before it kept its tensor lists. A whole resnet20
  step at CIFAR batch 128 (about 555 ms on one thread) cannot tell them apart (553 ms with
  AveragedModel, 557 ms with this class, 558 ms without EMA: run-to-run noise is 3 %), a GPU
  step of a few milliseconds would;
* it has no warm-up: the first update copies the weights, then the decay is fixed, so the
  evaluation after epoch 1 of a 30-epoch CIFAR-10 run would lean half on the weights of step 1
  (``0.99829 ** 390``); here the decay ramps up (below);
* it averages integer buffers (BatchNorm's ``num_batches_tracked``) and truncates the result
  instead of copying them.

The checkpoint format is therefore unchanged (``module``, ``updates``, ``decay``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def _split(module: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``module``'s saved tensors (parameters and persistent buffers, in ``state_dict``
    order) as ``(floating point, other)``; the tensors themselves, not copies."""
    tensors = list(module.state_dict(keep_vars=True).values())
    return ([t for t in tensors if t.dtype.is_floating_point],
            [t for t in tensors if not t.dtype.is_floating_point])


class ModelEma:
    """Keeps ``module``, a frozen copy of a model whose tensors track the live model's.

    The effective decay ramps up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so
    the average is not dominated by the random initial weights in a short run.

    The tensors of both models are listed once (walking a model's modules costs more than
    the average itself): the live model's tensors must be updated in place, as optimizers
    and ``load_state_dict`` do; a model moved to another device needs a new ``ModelEma``.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self._mine = _split(self.module)
        self._live: tuple[nn.Module, tuple[list[torch.Tensor], list[torch.Tensor]]] | None = None

    def _tensors_of(self, model: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if self._live is None or self._live[0] is not model:
            self._live = (model, _split(model))
        return self._live[1]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step towards ``model``'s current weights (nothing waits for
        the device)."""
        self.updates += 1
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        (ema_floats, ema_others), (live_floats, live_others) = self._mine, self._tensors_of(model)
        if ema_floats:
            torch._foreach_lerp_(ema_floats, live_floats, 1.0 - d)
        for e, t in zip(ema_others, live_others, strict=True):  # e.g. num_batches_tracked
            e.copy_(t)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
        self.decay = float(state["decay"])
