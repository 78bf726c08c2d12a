"""IDX parsing and MNIST / Fashion-MNIST loading (plain and gzipped, every root layout)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets.mnist import read_image_file, read_label_file

from resnetlab.data import load
from resnetlab.data.mnist import FASHION_MNIST, load_fashion_mnist, read_idx
from resnetlab.errors import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FASHION_ROOT = SHARED / "fashion-mnist-subset"
RAW = FASHION_ROOT / "FashionMNIST" / "raw"
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@pytest.fixture(scope="module")
def fashion():
    assert RAW.is_dir(), f"shared test data missing: {RAW}"
    return load_fashion_mnist(RAW)


def _copy_raw(dest: Path, compress: bool = False) -> Path:
    dest.mkdir(parents=True)
    for name in FILES:
        if compress:
            with open(RAW / name, "rb") as src, gzip.open(dest / f"{name}.gz", "wb") as out:
                shutil.copyfileobj(src, out)
        else:
            shutil.copy(RAW / name, dest / name)
    return dest


def test_fashion_subset_loads_1003_train_and_test_images_of_1x28x28(fashion):
    train, test = fashion
    assert train.images.shape == (1003, 1, 28, 28)
    assert test.images.shape == (1003, 1, 28, 28)
    assert train.images.dtype == torch.uint8
    assert train.classes == list(FASHION_MNIST.classes) and len(train.classes) == 10


def test_idx_parser_matches_torchvision_reader(fashion):
    train, _ = fashion
    reference = read_image_file(str(RAW / FILES[0]))
    assert torch.equal(train.images[:, 0], reference)
    assert torch.equal(train.labels, read_label_file(str(RAW / FILES[1])).long())


@pytest.mark.parametrize("relative", ["FashionMNIST/raw", "FashionMNIST", "."])
def test_root_may_be_raw_dir_dataset_dir_or_parent(fashion, relative):
    train, _ = load_fashion_mnist(FASHION_ROOT / relative)
    assert torch.equal(train.images, fashion[0].images)


def test_gzipped_files_load_to_the_same_tensors(fashion, tmp_path):
    raw = _copy_raw(tmp_path / "raw", compress=True)
    train, test = load_fashion_mnist(raw)
    assert torch.equal(train.images, fashion[0].images)
    assert torch.equal(test.labels, fashion[1].labels)


def test_registry_loads_fashion_mnist_by_name(fashion):
    bundle = load("fashion-mnist", FASHION_ROOT)
    assert bundle.input_size == (1, 28, 28) and bundle.num_classes == 10
    assert torch.equal(bundle.test.images, fashion[1].images)


def test_bad_magic_number_is_rejected_naming_the_file(tmp_path):
    raw = _copy_raw(tmp_path / "raw")
    data = bytearray((raw / FILES[0]).read_bytes())
    data[2] = 0x42
    (raw / FILES[0]).write_bytes(bytes(data))
    with pytest.raises(DataError, match=f"{FILES[0]}.*magic"):
        load_fashion_mnist(raw)


@pytest.mark.parametrize("cut", [3, 10, 1000])
def test_truncated_idx_file_is_rejected(tmp_path, cut):
    path = tmp_path / "images-idx3-ubyte"
    data = (RAW / FILES[0]).read_bytes()
    path.write_bytes(data[: len(data) - cut] if cut > 16 else data[:cut])
    with pytest.raises(DataError, match="images-idx3-ubyte"):
        read_idx(path)


def test_truncated_gzip_stream_is_rejected(tmp_path):
    raw = _copy_raw(tmp_path / "raw", compress=True)
    gz = raw / f"{FILES[2]}.gz"
    gz.write_bytes(gz.read_bytes()[:5000])
    with pytest.raises(DataError, match=FILES[2]):
        load_fashion_mnist(raw)


def test_idx_reads_big_endian_multibyte_types(tmp_path):
    values = (np.arange(6).reshape(2, 3) * 70_000).astype(">i4")
    header = bytes([0, 0, 0x0C, 2]) + np.array([2, 3], dtype=">u4").tobytes()
    path = tmp_path / "ints.idx"
    path.write_bytes(header + values.tobytes())
    assert np.array_equal(read_idx(path), values)


def test_label_count_must_match_image_count(tmp_path):
    raw = _copy_raw(tmp_path / "raw")
    labels = np.zeros(5, dtype=np.uint8)
    header = bytes([0, 0, 8, 1]) + np.array([5], dtype=">u4").tobytes()
    (raw / FILES[1]).write_bytes(header + labels.tobytes())
    with pytest.raises(DataError, match="do not belong together"):
        load_fashion_mnist(raw)


def test_missing_files_error_names_directory_and_url(tmp_path):
    with pytest.raises(DataError) as err:
        load("mnist", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "https://" in message and "train-images-idx3-ubyte" in message
