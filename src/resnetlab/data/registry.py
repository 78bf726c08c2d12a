"""``load(name, ...)``: every dataset by name, as a :class:`DataBundle` of in-memory splits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from resnetlab.data.cifar import load_cifar10, load_cifar100
from resnetlab.data.dataset import DataBundle, ImageDataset, channel_stats, stratified_split
from resnetlab.data.digits import load_digits
from resnetlab.data.folder import load_folder_splits
from resnetlab.data.mnist import load_fashion_mnist, load_mnist
from resnetlab.data.resize import fit_batch
from resnetlab.errors import ConfigError, DataError

DATASETS = ("cifar10", "cifar100", "mnist", "fashion-mnist", "folder", "digits")

_FILE_LOADERS: dict[str, Callable[..., tuple[ImageDataset, ImageDataset]]] = {
    "cifar10": load_cifar10,
    "cifar100": load_cifar100,
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
}


def canonical_name(name: str) -> str:
    """The registry spelling of ``name`` (case and ``_``/``-`` are forgiven)."""
    key = name.strip().lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar-100": "cifar100"}.get(
        key, key
    )
    if key not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return key


def _resized(
    train: ImageDataset, test: ImageDataset, size: int | tuple[int, int]
) -> tuple[ImageDataset, ImageDataset]:
    """Both splits at ``size``, with statistics recomputed from the resized training images."""
    images = fit_batch(train.images, size)
    mean, std = channel_stats(images)
    return (
        replace(train, images=images, mean=mean, std=std),
        replace(test, images=fit_batch(test.images, size), mean=mean, std=std),
    )


def load(
    name: str,
    root: str | Path | None = None,
    *,
    val_size: int | float = 0,
    download: bool = False,
    strict: bool = False,
    image_size: int | tuple[int, int] | None = None,
    seed: int = 0,
    val_dir: str | Path | None = None,
) -> DataBundle:
    """Load dataset ``name`` (one of :data:`DATASETS`) into memory.

    ``root`` is the data directory (unused by ``digits``); ``download=True`` fetches a missing
    official archive (checksum-verified). ``val_size`` (count or fraction) holds out a
    validation set stratified by class with ``seed``, e.g. 5000 for the paper's CIFAR 45k/5k;
    the bundle's mean/std stay those of the full training set. ``image_size`` resizes every split
    (shorter side, centre crop). ``strict`` and ``val_dir`` apply to ``folder`` only.
    """
    key = canonical_name(name)
    val: ImageDataset | None = None
    if key == "digits":
        train, test = load_digits(image_size)
    else:
        if root is None:
            raise DataError(
                f"dataset {key!r} is read from disk: pass its directory with --data-dir DIR "
                "(root=DIR in Python)"
            )
        if key == "folder":
            train, test, val = load_folder_splits(
                root, val_dir=val_dir, image_size=image_size, strict=strict
            )
        else:
            train, test = _FILE_LOADERS[key](root, download=download)
            if image_size is not None:
                train, test = _resized(train, test, image_size)
    if val_size:
        if val is not None:
            raise ConfigError(
                f"{key} already has a validation folder; drop val_size (--val-size) or the folder"
            )
        train, val = stratified_split(train, val_size, seed)
    source = {"name": key, "root": str(Path(root).expanduser().resolve()) if root else None,
              "image_size": image_size, "val_size": val_size, "seed": seed,
              "val_dir": str(Path(val_dir).expanduser().resolve()) if val_dir else None,
              "strict": strict}
    return DataBundle(name=key, train=train, test=test, val=val, source=source)
