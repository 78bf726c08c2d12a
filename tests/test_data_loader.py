"""InMemoryLoader: deterministic, resumable mid-epoch, shardable, correctly normalized."""

from __future__ import annotations

import pytest
import torch

from resnetlab.data import Augment, ImageDataset, InMemoryLoader, normalize
from resnetlab.errors import ConfigError


def _indexed_dataset(n: int = 103) -> ImageDataset:
    """Image i is filled with i % 256 and labelled i, so batches reveal which images they hold."""
    images = (torch.arange(n) % 256).to(torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4)
    return ImageDataset(images.contiguous(), torch.arange(n), [str(i) for i in range(n)],
                        (0.5,), (0.25,), "indexed")


def _collect(batches) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x.clone(), y.clone()) for x, y in batches]


def _same(a, b) -> bool:
    return len(a) == len(b) and all(
        torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b, strict=True)
    )


def _loader(ds, **kw) -> InMemoryLoader:
    options = {"shuffle": True, "seed": 7, "augment": Augment(pad=1, flip=True, cutout=1)}
    return InMemoryLoader(ds, 16, **(options | kw))


def test_same_seed_and_epoch_give_identical_batches():
    ds = _indexed_dataset()
    a, b = _loader(ds), _loader(ds)
    a.set_epoch(3)
    b.set_epoch(3)
    assert _same(_collect(a), _collect(b))


def test_epochs_and_seeds_change_the_order():
    ds = _indexed_dataset()
    base = _loader(ds).indices(0)
    assert not torch.equal(base, _loader(ds).indices(1))
    assert not torch.equal(base, _loader(ds, seed=8).indices(0))


def test_iter_from_equals_the_tail_of_a_full_epoch():
    loader = _loader(_indexed_dataset())
    loader.set_epoch(2)
    full = _collect(loader)
    assert _same(_collect(loader.iter_from(2, 4)), full[4:])
    fresh = _loader(_indexed_dataset())  # a new process resuming needs no state but (e, k)
    assert _same(_collect(fresh.iter_from(2, 4)), full[4:])


def test_an_epoch_visits_every_image_once():
    loader = InMemoryLoader(_indexed_dataset(), 10, shuffle=True, seed=1)
    labels = torch.cat([y for _, y in loader])
    assert torch.equal(labels.sort().values, torch.arange(103))
    assert len(loader) == 11


def test_drop_last_drops_the_partial_batch():
    loader = InMemoryLoader(_indexed_dataset(), 10, drop_last=True)
    sizes = [len(y) for _, y in loader]
    assert len(loader) == len(sizes) == 10 and set(sizes) == {10}


def test_shards_split_one_permutation_into_equal_parts():
    ds = _indexed_dataset(100)
    base = InMemoryLoader(ds, 8, shuffle=True, seed=3)
    parts = [base.shard(r, 4).indices(5) for r in range(4)]
    assert all(len(p) == 25 for p in parts)
    assert torch.equal(torch.cat(parts).sort().values, torch.arange(100))
    assert len({len(base.shard(r, 4)) for r in range(4)}) == 1


def test_uneven_shards_are_padded_so_every_rank_has_the_same_batches():
    ds = _indexed_dataset(103)
    lengths = {len(InMemoryLoader(ds, 8, rank=r, world_size=4)) for r in range(4)}
    sizes = {len(InMemoryLoader(ds, 8, rank=r, world_size=4).indices(0)) for r in range(4)}
    assert len(lengths) == 1 and sizes == {26}


def test_evaluation_batches_are_normalized_in_order():
    ds = _indexed_dataset()
    x, y = next(iter(InMemoryLoader(ds, 16)))
    assert torch.equal(y, torch.arange(16))
    assert torch.equal(x, normalize(ds.images[:16], ds.mean, ds.std))


def test_augment_uses_dataset_statistics_when_it_has_none():
    ds = _indexed_dataset()
    loader = _loader(ds, augment=Augment(pad=0, flip=False))
    assert loader.augment.mean == ds.mean
    x, _ = next(iter(loader))
    assert torch.equal(x, normalize(ds.images[loader.indices(0)[:16]], ds.mean, ds.std))


def test_bad_arguments_are_config_errors():
    ds = _indexed_dataset()
    with pytest.raises(ConfigError):
        InMemoryLoader(ds, 0)
    with pytest.raises(ConfigError):
        InMemoryLoader(ds, 8, rank=2, world_size=2)
    with pytest.raises(ConfigError, match="resume"):
        next(InMemoryLoader(ds, 8).iter_from(0, 99))
