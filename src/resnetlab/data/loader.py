"""Batches from an in-memory dataset, already on the training device, resumable mid-epoch.

The dataset is copied to the device once (as uint8); each batch is an index gather plus the
batched augmentation, with no worker processes. Randomness is counter-based: the epoch's order
is a function of ``(seed, epoch)`` and a batch's augmentation a function of
``(seed, epoch, batch)``, so resuming at batch ``k`` of epoch ``e`` reproduces exactly what
an uninterrupted run would have seen, with no RNG state in the checkpoint.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import torch

from resnetlab.data.augment import Augment, normalize
from resnetlab.data.dataset import ImageDataset
from resnetlab.errors import ConfigError

_MASK64 = (1 << 64) - 1
# Stream tags keep the permutation and augmentation seeds of the same (seed, epoch) apart.
_ORDER_STREAM = 0
_AUGMENT_STREAM = 1


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def mix_seed(*values: int) -> int:
    """A well-spread 63-bit seed from integers (SplitMix64 chained over ``values``).

    Plain arithmetic such as ``seed * K + epoch`` lets seed 0 epoch K equal seed 1 epoch 0;
    hashing keeps every ``(seed, epoch, batch)`` its own stream.
    """
    state = 0
    for value in values:
        state = _splitmix64(state ^ (value & _MASK64))
    return state >> 1


class InMemoryLoader:
    """Iterate ``(x, y)`` batches: ``x`` normalized float32 ``N x C x H x W``, ``y`` int64.

    ``augment`` (training) applies :class:`Augment` with the dataset's mean/std unless it has its
    own; without it the batch is only normalized (evaluation). ``rank``/``world_size`` give each
    distributed process an equal slice of the one shared permutation (see :meth:`shard`). Call
    :meth:`set_epoch` before each epoch, as with ``DistributedSampler``.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        batch_size: int,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        device: str | torch.device = "cpu",
        augment: Augment | None = None,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        if len(dataset) == 0:
            raise ConfigError(f"dataset {dataset.name!r} is empty; there is nothing to iterate")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.device = torch.device(device)
        if augment is not None and augment.mean is None:
            augment = augment.with_stats(dataset.mean, dataset.std)
        self.augment = augment
        self.epoch = epoch
        self._check_shard(rank, world_size)
        self.rank, self.world_size = rank, world_size
        # One copy on the device for the whole run; batches are gathers from it.
        self.images = dataset.images.to(self.device)
        self.labels = dataset.labels.to(self.device)

    def _check_shard(self, rank: int, world_size: int) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is not valid for world size {world_size}")
        if self.drop_last and world_size > len(self.dataset):
            raise ConfigError(
                f"{len(self.dataset)} images cannot be shared by {world_size} processes"
            )

    def shard(self, rank: int, world_size: int) -> InMemoryLoader:
        """The same loader restricted to process ``rank`` of ``world_size`` (shares device data).

        Every rank gets the same number of batches (DDP needs that): the permutation is cut to a
        multiple of ``world_size`` with ``drop_last``, else padded by repeating its start.
        """
        self._check_shard(rank, world_size)
        other = copy.copy(self)
        other.rank, other.world_size = rank, world_size
        return other

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and augmentation :meth:`__iter__` produces."""
        self.epoch = epoch

    def indices(self, epoch: int) -> torch.Tensor:
        """The dataset indices this rank visits in ``epoch``, in order (CPU int64)."""
        order = self._global_order(epoch)
        return order[self.rank :: self.world_size] if self.world_size > 1 else order

    def _global_order(self, epoch: int) -> torch.Tensor:
        """The permutation every rank shares, cut or padded to a multiple of ``world_size``."""
        n = len(self.dataset)
        if self.shuffle:
            # CPU generator: the order must not depend on the device (CPU vs CUDA runs agree).
            generator = torch.Generator().manual_seed(mix_seed(self.seed, epoch, _ORDER_STREAM))
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        if self.world_size > 1:
            if self.drop_last:
                order = order[: n - n % self.world_size]
            else:
                total = math.ceil(n / self.world_size) * self.world_size
                order = order.repeat(math.ceil(total / n))[:total]
        return order

    @property
    def num_samples(self) -> int:
        """Images this rank sees per epoch (before ``drop_last`` trims the final batch)."""
        n = len(self.dataset)
        if self.world_size == 1:
            return n
        if self.drop_last:
            return n // self.world_size
        return math.ceil(n / self.world_size)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.iter_from(self.epoch, 0)

    def iter_from(
        self, epoch: int, start_batch: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches ``start_batch, start_batch + 1, ...`` of ``epoch``, identical to that tail of
        a full pass, for resuming a run interrupted mid-epoch."""
        if not 0 <= start_batch <= len(self):
            raise ConfigError(
                f"cannot resume at batch {start_batch}: an epoch has {len(self)} batches"
            )
        if self.augment is not None and self.world_size > 1:
            return self._rows_of_global_batches(epoch, start_batch)
        return self._batches(epoch, start_batch)

    def _batches(
        self, epoch: int, start_batch: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.indices(epoch).to(self.device)
        for b in range(start_batch, len(self)):
            index = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield self._make_batch(self.images[index], epoch, b), self.labels[index]

    def _rows_of_global_batches(
        self, epoch: int, start_batch: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's rows of each augmented global batch (all ranks' batch ``b`` together).

        Rank ``r``'s batch ``b`` is rows ``r::world_size`` of the global batch ``b`` that one
        process with ``batch_size * world_size`` would draw. Augmenting that whole global batch
        with the one-process seed and keeping these rows gives every image the crop, flip and
        cutout it gets in a one-process run, so the rank split never changes what is trained
        on; the price is augmenting ``world_size`` times more images (cheap batched ops).
        """
        order = self._global_order(epoch).to(self.device)
        size = self.batch_size * self.world_size
        for b in range(start_batch, len(self)):
            index = order[b * size : (b + 1) * size]
            mine = slice(self.rank, None, self.world_size)
            yield self._make_batch(self.images[index], epoch, b)[mine], self.labels[index[mine]]

    def _make_batch(self, images: torch.Tensor, epoch: int, batch: int) -> torch.Tensor:
        if self.augment is None:
            return normalize(images, self.dataset.mean, self.dataset.std)
        # 0 stands where the rank once was: seeds stay those of earlier one-process runs.
        seed = mix_seed(self.seed, epoch, _AUGMENT_STREAM, batch, 0)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        return self.augment(images, generator)
