"""The stock PyTorch way to feed and optimise a CIFAR ResNet, as the tutorials write it.

Data: a ``torch.utils.data.DataLoader`` over the uint8 images, torchvision transforms applied
per image on the CPU (random crop with 4 px padding, horizontal flip, scaling and
normalisation), pinned batches copied to the GPU as they come. Optimiser: SGD lr 0.1,
momentum 0.9, weight decay 5e-4 (kuangliu/pytorch-cifar, as in benchmarks/recipe_vs_stock.py).
resnetlab's alternative keeps the whole set on the device and augments a batch at a time
(:class:`resnetlab.data.InMemoryLoader`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from torch import nn

STOCK_LR, STOCK_MOMENTUM, STOCK_WEIGHT_DECAY = 0.1, 0.9, 5e-4


class TransformedImages(torch.utils.data.Dataset):
    """``(transform(image), label)`` pairs of an :class:`~resnetlab.data.ImageDataset`."""

    def __init__(self, dataset, pad: int = 4) -> None:
        from torchvision.transforms import v2

        self.images, self.labels = dataset.images, dataset.labels
        size = tuple(dataset.images.shape[2:])
        self.transform = v2.Compose([
            v2.RandomCrop(size, padding=pad), v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True), v2.Normalize(dataset.mean, dataset.std)])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(self.images[i]), self.labels[i]


def host_batches(dataset, batch_size: int, device: torch.device, *, workers: int,
                 seed: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless augmented batches from CPU workers, copied to ``device`` (the stock data path)."""
    loader = torch.utils.data.DataLoader(
        TransformedImages(dataset), batch_size=batch_size, shuffle=True, drop_last=True,
        num_workers=workers, pin_memory=device.type == "cuda", persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed))
    for x, y in itertools.chain.from_iterable(itertools.repeat(loader)):
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def device_batches(loader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches of a :class:`~resnetlab.data.InMemoryLoader`, epoch after epoch."""
    for epoch in itertools.count():
        yield from loader.iter_from(epoch, 0)


def stock_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=STOCK_LR, momentum=STOCK_MOMENTUM,
                           weight_decay=STOCK_WEIGHT_DECAY)
