"""One training step (forward, loss, backward, SGD update) to time, stock or with levers.

The stock baseline is the textbook PyTorch step: eager mode, fp32, default (NCHW) memory
format. resnetlab's path is whatever :func:`resnetlab.hardware.placement` picks for the
device, i.e. exactly what ``resnetlab train`` runs, so the benchmark follows the defaults
rather than restating them. Both use the same architecture, weights, optimizer and batch; the
batch is fixed random data, because the data path is measured on its own (see
:mod:`resnetlab.bench.suite`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.hardware import require_compiler


@dataclass(frozen=True)
class TrainPath:
    """The levers of one way to run a training step."""

    label: str
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False

    def with_levers(self, label: str, **levers) -> TrainPath:
        """A copy with some levers changed and a new label."""
        return replace(self, label=label, **levers)


STOCK = TrainPath("stock eager fp32")


def resnetlab_path(device: torch.device) -> TrainPath:
    """The path ``resnetlab train`` takes on ``device`` with its default options."""
    from resnetlab.hardware import placement

    where = placement(device)
    levers = [where.precision] + (["channels_last"] if where.channels_last else [])
    return TrainPath("resnetlab " + " + ".join(levers), where.precision, where.channels_last)


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(model: nn.Module, path: TrainPath, *, batch_size: int, image_size: int,
               num_classes: int, device: torch.device, seed: int = 0,
               in_chans: int = 3) -> Callable[[], None]:
    """A closure running one SGD step of ``model`` on a fixed random batch along ``path``.

    ``model`` is moved to ``device`` (and channels_last if asked) and trained in place.
    """
    if path.compile:
        require_compiler(device)
    memory_format = torch.channels_last if path.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, in_chans, image_size, image_size, generator=generator)
    x = x.to(device).contiguous(memory_format=memory_format)
    y = torch.randint(0, num_classes, (batch_size,), generator=generator).to(device)
    # The recipes' optimizer (Nesterov SGD with weight decay), for both paths alike.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    forward = torch.compile(model) if path.compile else model

    def step() -> None:
        with _autocast(device, path.precision):
            logits = forward(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step
