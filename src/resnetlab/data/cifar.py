"""CIFAR-10 and CIFAR-100 from the official "python version" batch files (Krizhevsky, 2009).

The official distribution *is* a set of Python pickles, so reading it means unpickling by design.
We unpickle with an allow-list that only lets NumPy rebuild plain arrays: a tampered file can then
fail to load but cannot run code.

Any number of ``data_batch_*`` files is accepted (at least one), so partial copies such as the
4-batch test subset load as they are; checksums are not enforced on files already on disk for the
same reason. Only a fresh download is verified against the published archive MD5.
"""

from __future__ import annotations

import codecs
import io
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from resnetlab.data.dataset import ImageDataset, channel_stats
from resnetlab.data.download import download, extract_tar, missing_error
from resnetlab.errors import DataError

_IMAGE_SHAPE = (3, 32, 32)
_PIXELS = 3 * 32 * 32
# The callable NumPy pickles arrays with: numpy.core (NumPy 1) or numpy._core (NumPy 2).
_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """``codecs.encode`` as Python 3 pickles bytes (always latin-1): any other codec named by
    a tampered file (zlib, rot13, an unknown one) is refused instead of run."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"unexpected bytes encoding {str(encoding)[:20]!r}")
    return codecs.encode(text, encoding)


_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    # Protocol-2 pickles written by Python 3 store bytes objects through codecs.encode.
    ("_codecs", "encode"): _latin1,
}


@dataclass(frozen=True)
class CifarSpec:
    """Where one CIFAR variant lives and how its batch files name things."""

    name: str
    title: str
    folder: str
    url: str
    md5: str
    meta_file: str
    names_key: bytes
    labels_key: bytes
    train_glob: str
    test_file: str
    num_classes: int

    @property
    def archive(self) -> str:
        return self.url.rsplit("/", 1)[-1]


# URLs and archive MD5s as published on https://www.cs.toronto.edu/~kriz/cifar.html
CIFAR10 = CifarSpec(
    name="cifar10",
    title="CIFAR-10",
    folder="cifar-10-batches-py",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    meta_file="batches.meta",
    names_key=b"label_names",
    labels_key=b"labels",
    train_glob="data_batch_*",
    test_file="test_batch",
    num_classes=10,
)
CIFAR100 = CifarSpec(
    name="cifar100",
    title="CIFAR-100",
    folder="cifar-100-python",
    url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85",
    meta_file="meta",
    names_key=b"fine_label_names",
    labels_key=b"fine_labels",
    train_glob="train",
    test_file="test",
    num_classes=100,
)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}") from None


def _read_pickle(path: Path) -> dict:
    try:
        # From memory, not the open file: a length field claiming 2**63 bytes then fails as
        # "truncated" instead of making the unpickler allocate that much up front.
        data = path.read_bytes()
        obj = _ArrayOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            LookupError, MemoryError, OSError) as exc:
        why = str(exc).splitlines()[0][:100] if str(exc).strip() else "no detail"
        raise DataError(
            f"{path} is truncated or corrupt ({type(exc).__name__}: {why}); delete it and "
            "download the dataset again (--download)"
        ) from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path} is not a CIFAR batch file (no dict inside); re-download it")
    return obj


def _expected_files(spec: CifarSpec) -> list[str]:
    train = "data_batch_1..data_batch_5" if spec.train_glob.endswith("*") else spec.train_glob
    return [spec.meta_file, train, spec.test_file]


def _batch_dir(root: Path, spec: CifarSpec, allow_download: bool) -> Path:
    """The directory holding the batch files: ``root`` itself or ``root/<official folder>``."""
    for candidate in (root, root / spec.folder):
        if (candidate / spec.meta_file).is_file():
            return candidate
    parent = root.parent if root.name == spec.folder else root
    target = parent / spec.folder
    if not allow_download:
        raise missing_error(spec.title, target, _expected_files(spec), spec.url)
    archive = download(spec.url, parent / spec.archive, spec.md5)
    extract_tar(archive, parent)
    if not (target / spec.meta_file).is_file():
        raise missing_error(
            spec.title, target, _expected_files(spec), spec.url, "archive had no such folder"
        )
    return target


def _train_files(directory: Path, spec: CifarSpec) -> list[Path]:
    def batch_number(path: Path) -> int:
        digits = re.findall(r"\d+", path.name)
        return int(digits[-1]) if digits else 0

    files = sorted(
        (p for p in directory.glob(spec.train_glob) if p.is_file()), key=batch_number
    )
    if not files:
        reason = "no training batch"
        raise missing_error(spec.title, directory, _expected_files(spec), spec.url, reason)
    return files


def _read_batch(path: Path, spec: CifarSpec) -> tuple[np.ndarray, np.ndarray]:
    batch = _read_pickle(path)
    data, labels = batch.get(b"data"), batch.get(spec.labels_key)
    if not isinstance(data, np.ndarray) or labels is None:
        raise DataError(
            f"{path} lacks b'data' or {spec.labels_key!r}; it is not a {spec.title} batch file"
        )
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (ValueError, TypeError, OverflowError):  # text, nested lists, huge numbers
        raise DataError(f"{path} has labels that are not whole numbers; it is not a "
                        f"{spec.title} batch file") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _PIXELS:
        raise DataError(
            f"{path} holds {data.dtype} data of shape {data.shape}, expected uint8 (N, {_PIXELS}); "
            "re-download the dataset"
        )
    if labels.shape != (data.shape[0],):
        raise DataError(
            f"{path} has {data.shape[0]} images but {labels.size} labels; re-download the dataset"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= spec.num_classes):
        raise DataError(
            f"{path} has labels outside 0..{spec.num_classes - 1}; it is not {spec.title} data"
        )
    return data, labels


def _class_names(directory: Path, spec: CifarSpec) -> list[str]:
    meta_path = directory / spec.meta_file
    names = _read_pickle(meta_path).get(spec.names_key)
    if not isinstance(names, list) or len(names) != spec.num_classes:
        raise DataError(
            f"{meta_path} does not list {spec.num_classes} class names under {spec.names_key!r}; "
            "re-download the dataset"
        )
    # a damaged name is shown garbled rather than refusing the whole dataset
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]


def _to_tensors(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    data = np.concatenate([p[0] for p in parts]).reshape(-1, *_IMAGE_SHAPE)
    labels = np.concatenate([p[1] for p in parts])
    return torch.from_numpy(data), torch.from_numpy(labels)


def load_cifar(
    spec: CifarSpec, root: str | Path, *, download: bool = False
) -> tuple[ImageDataset, ImageDataset]:
    """``(train, test)`` of a CIFAR variant; ``root`` is the batch folder or its parent."""
    directory = _batch_dir(Path(root).expanduser(), spec, download)
    classes = _class_names(directory, spec)
    test_path = directory / spec.test_file
    if not test_path.is_file():
        raise missing_error(spec.title, directory, _expected_files(spec), spec.url, "no test batch")
    train_x, train_y = _to_tensors([_read_batch(p, spec) for p in _train_files(directory, spec)])
    test_x, test_y = _to_tensors([_read_batch(test_path, spec)])
    mean, std = channel_stats(train_x)
    train = ImageDataset(train_x, train_y, classes, mean, std, spec.name)
    test = ImageDataset(test_x, test_y, list(classes), mean, std, spec.name)
    return train, test


def load_cifar10(root: str | Path, *, download: bool = False) -> tuple[ImageDataset, ImageDataset]:
    """CIFAR-10 ``(train, test)`` from ``cifar-10-batches-py`` (or its parent folder)."""
    return load_cifar(CIFAR10, root, download=download)


def load_cifar100(
    root: str | Path, *, download: bool = False
) -> tuple[ImageDataset, ImageDataset]:
    """CIFAR-100 ``(train, test)`` with the 100 fine labels, from ``cifar-100-python``."""
    return load_cifar(CIFAR100, root, download=download)
