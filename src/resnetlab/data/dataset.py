"""In-memory image datasets: uint8 tensors plus the facts a model needs (classes, mean/std).

Every loader in :mod:`resnetlab.data` returns these containers, so training, evaluation and export
code never care where the pixels came from. Images stay uint8 on the CPU until a loader moves
them to the training device once; a float copy of CIFAR-10 would take four times the memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from resnetlab.errors import ConfigError, DataError

# Statistics are accumulated in chunks of about this many values (128 MiB as float64), so that
# a large uint8 set is never copied whole to float.
_STATS_VALUES = 1 << 24


@dataclass
class ImageDataset:
    """Images as a uint8 ``N x C x H x W`` CPU tensor with int64 labels ``N``.

    ``mean``/``std`` are per-channel statistics in [0, 1] units; they are the statistics used to
    normalize this set (for a validation/test set: those of its training set).
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    name: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise DataError(
                f"{self.name}: images must be a uint8 N x C x H x W tensor, got "
                f"{self.images.dtype} {tuple(self.images.shape)}; convert the data to uint8 first"
            )
        self.labels = self.labels.to(torch.int64)
        if self.labels.shape != (self.images.shape[0],):
            raise DataError(
                f"{self.name}: {self.images.shape[0]} images but labels of shape "
                f"{tuple(self.labels.shape)}; the data files are inconsistent, re-create them"
            )
        channels = self.images.shape[1]
        if len(self.mean) != channels or len(self.std) != channels:
            raise DataError(
                f"{self.name}: mean/std need {channels} values (one per channel), got "
                f"{len(self.mean)}/{len(self.std)}"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def input_size(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_counts(self) -> torch.Tensor:
        """Number of images per class (int64, length ``num_classes``)."""
        return torch.bincount(self.labels, minlength=self.num_classes)

    def subset(self, index: torch.Tensor | slice) -> ImageDataset:
        """The images selected by ``index`` (indices, boolean mask or slice); stats are kept."""
        return ImageDataset(
            images=self.images[index],
            labels=self.labels[index],
            classes=list(self.classes),
            mean=self.mean,
            std=self.std,
            name=self.name,
        )


@dataclass
class DataBundle:
    """The splits of one dataset; ``classes``, ``mean`` and ``std`` default to the train set's.

    ``source`` is how :func:`resnetlab.data.load` made it (``name``, ``root``, ``image_size``,
    ``val_size``, ``seed``, ``val_dir``, ``strict``): a run records it in ``config.json`` so
    that resuming needs nothing else. Bundles built by hand have ``source=None``.
    """

    name: str
    train: ImageDataset
    test: ImageDataset
    val: ImageDataset | None = None
    classes: list[str] = field(default_factory=list)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    source: dict | None = None

    def __post_init__(self) -> None:
        self.classes = list(self.classes) or list(self.train.classes)
        self.mean = tuple(self.mean) or self.train.mean
        self.std = tuple(self.std) or self.train.std

    @property
    def input_size(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return self.train.input_size

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def splits(self) -> dict[str, ImageDataset]:
        """The splits that exist, by name (``train``, ``val``, ``test``)."""
        out = {"train": self.train}
        if self.val is not None:
            out["val"] = self.val
        out["test"] = self.test
        return out


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 images, in [0, 1] units."""
    if images.shape[0] == 0:
        raise DataError("cannot compute mean/std of an empty image set; check the data source")
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    step = max(1, _STATS_VALUES // images[0].numel())
    for start in range(0, images.shape[0], step):
        chunk = images[start : start + step].to(torch.float64).div_(255.0)
        total += chunk.sum(dim=(0, 2, 3))
        total_sq += chunk.square().sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(0.0).sqrt()
    # A constant channel (e.g. synthetic data) would divide by zero when normalizing.
    std = std.clamp_min(1e-6)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def _split_counts(class_sizes: torch.Tensor, holdout: int) -> torch.Tensor:
    """Per-class hold-out counts proportional to class sizes, summing exactly to ``holdout``."""
    total = int(class_sizes.sum())
    exact = class_sizes.to(torch.float64) * holdout / total
    counts = exact.floor().to(torch.int64)
    # Largest-remainder rounding keeps both the total and every class proportion as exact as
    # integers allow.
    remainder = holdout - int(counts.sum())
    if remainder:
        order = torch.argsort(exact - counts, descending=True, stable=True)
        counts[order[:remainder]] += 1
    return torch.minimum(counts, class_sizes)


def stratified_split(
    ds: ImageDataset, val_size: int | float, seed: int = 0
) -> tuple[ImageDataset, ImageDataset]:
    """Split ``ds`` into ``(train, val)`` keeping the class proportions of ``ds`` in both parts.

    ``val_size`` is a number of images (int >= 1) or a fraction (0 < float < 1); the paper's
    CIFAR-10 protocol is ``val_size=5000`` (45k/5k, He et al. 2016, sec. 4.2). Both parts keep the
    order of ``ds`` and its mean/std, so the normalization does not depend on the seed.
    """
    n = len(ds)
    holdout = 0
    if isinstance(val_size, float) and 0 < val_size < 1:
        holdout = round(val_size * n)
    elif isinstance(val_size, int) and not isinstance(val_size, bool):
        holdout = val_size
    if not 0 < holdout < n:
        raise ConfigError(
            f"val_size={val_size!r} is not valid for {n} images; pass a count between 1 and "
            f"{n - 1} or a fraction between 0 and 1"
        )
    sizes = torch.bincount(ds.labels, minlength=ds.num_classes)
    counts = _split_counts(sizes, holdout)
    generator = torch.Generator().manual_seed(seed)
    is_val = torch.zeros(n, dtype=torch.bool)
    for label in range(len(sizes)):
        members = torch.nonzero(ds.labels == label).flatten()
        pick = torch.randperm(len(members), generator=generator)[: int(counts[label])]
        is_val[members[pick]] = True
    return ds.subset(~is_val), ds.subset(is_val)


def holdout_test(
    ds: ImageDataset, fraction: float, seed: int
) -> tuple[ImageDataset, ImageDataset]:
    """Split a set without its own test part into ``(train, test)``, stratified by class.

    Unlike :func:`stratified_split` the statistics are recomputed from the new training part and
    given to both, so nothing of the test images leaks into the normalization.
    """
    train, test = stratified_split(ds, fraction, seed)
    mean, std = channel_stats(train.images)
    return replace(train, mean=mean, std=std), replace(test, mean=mean, std=std)
