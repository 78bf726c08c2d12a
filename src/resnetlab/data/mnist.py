"""MNIST and Fashion-MNIST from their IDX files, plain or gzipped.

IDX is a tiny format (big-endian header: two zero bytes, a type code, the number of dimensions,
then one uint32 per dimension, then the raw array), so we parse it with NumPy directly and check
every size: a truncated file must fail loudly, never turn into a shorter dataset.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from resnetlab.data.dataset import ImageDataset, channel_stats
from resnetlab.data.download import download, missing_error
from resnetlab.errors import DataError

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT").
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_SIDE = 28


@dataclass(frozen=True)
class MnistSpec:
    """Where an MNIST-like set lives (torchvision's ``<folder>/raw`` layout) and its names."""

    name: str
    title: str
    folder: str
    mirrors: tuple[str, ...]
    md5: dict[str, str]  # md5 of each official ``<file>.gz``
    classes: tuple[str, ...]


# Mirrors and MD5s of the official .gz files, as listed by torchvision.datasets.MNIST/FashionMNIST.
MNIST = MnistSpec(
    name="mnist",
    title="MNIST",
    folder="MNIST",
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    md5={
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    classes=tuple(str(d) for d in range(10)),
)
FASHION_MNIST = MnistSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    folder="FashionMNIST",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    md5={
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    # Xiao et al. 2017, https://github.com/zalandoresearch/fashion-mnist#labels
    classes=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
)


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(
            f"{path} cannot be read ({exc}); delete it and download the dataset again"
        ) from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (``.gz`` allowed) into an array, validating the magic and every size."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'missing'}); "
            "re-download the dataset"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated inside its header; re-download the dataset")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        state = "truncated" if len(raw) - header < expected else "longer than its header says"
        raise DataError(
            f"{path} is {state} ({len(raw) - header} data bytes for shape {dims}, expected "
            f"{expected}); re-download the dataset"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _raw_dir(root: Path, spec: MnistSpec, allow_download: bool) -> Path:
    """The folder with the IDX files: ``root``, ``root/raw`` or ``root/<folder>/raw``."""
    probe = _SPLIT_FILES["train"][0]
    for candidate in (root, root / "raw", root / spec.folder / "raw", root / spec.folder):
        if _find(candidate, probe) is not None:
            return candidate
    if root.name == "raw":
        target = root
    elif root.name == spec.folder:
        target = root / "raw"
    else:
        target = root / spec.folder / "raw"
    expected = [f"{stem}[.gz]" for stem in spec.md5]
    if not allow_download:
        raise missing_error(spec.title, target, expected, spec.mirrors[0])
    for stem, md5 in spec.md5.items():
        _download_from_mirrors(spec, f"{stem}.gz", target, md5)
    return target


def _download_from_mirrors(spec: MnistSpec, filename: str, target: Path, md5: str) -> None:
    errors = []
    for mirror in spec.mirrors:
        try:
            download(mirror + filename, target / filename, md5)
            return
        except DataError as exc:
            errors.append(str(exc))
    raise DataError(" / ".join(errors))


def _load_split(directory: Path, spec: MnistSpec, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    paths = []
    for stem in _SPLIT_FILES[split]:
        path = _find(directory, stem)
        if path is None:
            raise missing_error(spec.title, directory, [f"{stem}[.gz]"], spec.mirrors[0])
        paths.append(path)
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (_SIDE, _SIDE):
        raise DataError(
            f"{paths[0]} holds {images.dtype} images of shape {images.shape}, expected uint8 "
            f"(N, {_SIDE}, {_SIDE}); it is not an {spec.title} image file"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{paths[1]} has {labels.shape} labels for {images.shape[0]} images in {paths[0]}; "
            "the two files do not belong together, re-download the dataset"
        )
    if labels.size and int(labels.max()) >= len(spec.classes):
        raise DataError(f"{paths[1]} has labels above {len(spec.classes) - 1}; re-download it")
    return (
        torch.from_numpy(images.copy()).unsqueeze(1),
        torch.from_numpy(labels.astype(np.int64)),
    )


def load_mnist_like(
    spec: MnistSpec, root: str | Path, *, download: bool = False
) -> tuple[ImageDataset, ImageDataset]:
    """``(train, test)`` of an MNIST-like set as 1 x 28 x 28 uint8 images."""
    directory = _raw_dir(Path(root).expanduser(), spec, download)
    train_x, train_y = _load_split(directory, spec, "train")
    test_x, test_y = _load_split(directory, spec, "test")
    mean, std = channel_stats(train_x)
    classes = list(spec.classes)
    return (
        ImageDataset(train_x, train_y, classes, mean, std, spec.name),
        ImageDataset(test_x, test_y, list(classes), mean, std, spec.name),
    )


def load_mnist(root: str | Path, *, download: bool = False) -> tuple[ImageDataset, ImageDataset]:
    """MNIST ``(train, test)``; ``root`` is the ``raw`` folder, ``MNIST`` or its parent."""
    return load_mnist_like(MNIST, root, download=download)


def load_fashion_mnist(
    root: str | Path, *, download: bool = False
) -> tuple[ImageDataset, ImageDataset]:
    """Fashion-MNIST ``(train, test)``; ``root`` is ``raw``, ``FashionMNIST`` or its parent."""
    return load_mnist_like(FASHION_MNIST, root, download=download)
