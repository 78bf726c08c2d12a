"""One training step to time: the stock baseline, a stock step with levers, or resnetlab's.

The stock baseline is the textbook PyTorch step, written out here on purpose: eager mode,
fp32, default (NCHW) memory format, plain cross-entropy, Nesterov SGD. resnetlab's path is
the trainer's own step (:meth:`resnetlab.train.trainer.Trainer.train_step`) on the trainer
``resnetlab train --data cifar10`` builds (:func:`resnetlab.train.probe.probe_trainer`):
placement defaults for the device, the ``fast`` recipe fitted to a CIFAR-10 run, its optimizer
with the no-decay group, label smoothing, weight EMA and scheduled learning rate. The
benchmark follows what ``train`` does rather than restating it. All paths train the same
architecture and weights on a fixed batch of random images, because the data path is measured
on its own (see :mod:`resnetlab.bench.suite`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.data import DataBundle, ImageDataset
from resnetlab.hardware import placement, require_compiler
from resnetlab.train.probe import first_batch, probe_trainer

# The training set resnetlab's path is fitted to: CIFAR-10's (its size sets the fitted
# recipe's EMA horizon and label smoothing, as in ``resnetlab train --data cifar10``).
CIFAR_NAME, CIFAR_TRAIN_IMAGES = "cifar10", 50_000


@dataclass(frozen=True)
class TrainPath:
    """The levers of one way to run a training step; ``trainer``: resnetlab's trainer step
    (with what ``train`` configures) instead of the stock one."""

    label: str
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    trainer: bool = False

    def with_levers(self, label: str, **levers) -> TrainPath:
        """A copy with some levers changed and a new label."""
        return replace(self, label=label, **levers)


STOCK = TrainPath("stock eager fp32")


def resnetlab_path(device: torch.device) -> TrainPath:
    """The path ``resnetlab train`` takes on ``device`` with its default options."""
    where = placement(device)
    levers = [where.precision] + (["channels_last"] if where.channels_last else [])
    return TrainPath("resnetlab " + " + ".join(levers), where.precision, where.channels_last,
                     trainer=True)


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def bench_step(model: nn.Module, path: TrainPath, *, batch_size: int, image_size: int,
               num_classes: int, device: torch.device, seed: int = 0,
               in_chans: int = 3) -> Callable[[], object]:
    """A closure running one training step of ``model`` on a fixed random batch along ``path``.

    ``model`` is moved to ``device`` (and channels_last if asked) and trained in place.
    """
    if path.trainer:
        trainer = resnetlab_trainer(model, path, batch_size=batch_size, image_size=image_size,
                                    num_classes=num_classes, device=device, seed=seed,
                                    in_chans=in_chans)
        x, y = first_batch(trainer)
        return lambda: trainer.train_step(x, y, 0)  # the learning rate of step 1, each time
    return _stock_step(model, path, batch_size=batch_size, image_size=image_size,
                       num_classes=num_classes, device=device, seed=seed, in_chans=in_chans)


def resnetlab_trainer(model: nn.Module, path: TrainPath, *, batch_size: int, image_size: int,
                      num_classes: int, device: torch.device, seed: int = 0,
                      in_chans: int = 3):
    """The :class:`~resnetlab.train.trainer.Trainer` behind resnetlab's path: the one
    ``resnetlab train --data cifar10 --batch-size B`` builds, with ``path``'s levers, on random
    images of CIFAR-10's shape and number."""
    generator = torch.Generator().manual_seed(seed)
    # One random image repeated (expand: no memory), so the set has CIFAR-10's length.
    image = torch.randint(0, 256, (1, in_chans, image_size, image_size), dtype=torch.uint8,
                          generator=generator)
    images = image.expand(CIFAR_TRAIN_IMAGES, -1, -1, -1)
    labels = torch.randint(0, num_classes, (CIFAR_TRAIN_IMAGES,), generator=generator)
    classes = [str(i) for i in range(num_classes)]
    stats = (0.5,) * in_chans, (0.25,) * in_chans
    train = ImageDataset(images, labels, classes, *stats, "random")
    bundle = DataBundle(CIFAR_NAME, train=train, test=train.subset(slice(0, batch_size)))
    return probe_trainer(model, bundle, batch_size=batch_size, device=device,
                         precision=path.precision, channels_last=path.channels_last,
                         compile=path.compile, seed=seed)


def _stock_step(model: nn.Module, path: TrainPath, *, batch_size: int, image_size: int,
                num_classes: int, device: torch.device, seed: int,
                in_chans: int) -> Callable[[], None]:
    """The textbook step, with ``path``'s levers (precision, memory format, compile)."""
    if path.compile:
        require_compiler(device)
    memory_format = torch.channels_last if path.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, in_chans, image_size, image_size, generator=generator)
    x = x.to(device).contiguous(memory_format=memory_format)
    y = torch.randint(0, num_classes, (batch_size,), generator=generator).to(device)
    # The recipes' optimizer (Nesterov SGD with weight decay).
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
