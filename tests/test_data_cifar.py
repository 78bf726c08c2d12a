"""CIFAR batch-file loading: the shared subset, partial copies, corrupt files, downloads."""

from __future__ import annotations

import dataclasses
import io
import pickle
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from resnetlab.data.cifar import CIFAR10, load_cifar, load_cifar10
from resnetlab.data.download import md5sum
from resnetlab.errors import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CIFAR_DIR = SHARED / "cifar10-subset" / "cifar-10-batches-py"


@pytest.fixture(scope="module")
def cifar():
    assert CIFAR_DIR.is_dir(), f"shared test data missing: {CIFAR_DIR}"
    return load_cifar10(CIFAR_DIR)


def _copy_subset(dest: Path, batches=("data_batch_1",)) -> Path:
    dest.mkdir(parents=True)
    for name in ("batches.meta", "test_batch", *batches):
        shutil.copy(CIFAR_DIR / name, dest / name)
    return dest


def test_shared_subset_loads_all_four_batches_with_cifar_shapes(cifar):
    train, test = cifar
    assert train.images.shape == (4 * 1017, 3, 32, 32)
    assert test.images.shape == (1017, 3, 32, 32)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert int(train.labels.min()) >= 0 and int(train.labels.max()) < 10


def test_class_names_come_from_batches_meta(cifar):
    with open(CIFAR_DIR / "batches.meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    assert cifar[0].classes == meta["label_names"] == cifar[1].classes
    assert cifar[0].num_classes == 10


def test_images_are_the_batch_rows_in_channel_major_order(cifar):
    with open(CIFAR_DIR / "data_batch_2", "rb") as f:
        batch = pickle.load(f, encoding="latin1")
    first = torch.from_numpy(batch["data"][0].reshape(3, 32, 32))
    assert torch.equal(cifar[0].images[1017], first)
    assert cifar[0].labels[1017] == batch["labels"][0]


def test_mean_std_are_the_training_pixel_statistics(cifar):
    train, test = cifar
    pixels = train.images.double() / 255
    assert np.allclose(train.mean, pixels.mean(dim=(0, 2, 3)).numpy())
    assert np.allclose(train.std, pixels.std(dim=(0, 2, 3), unbiased=False).numpy())
    assert test.mean == train.mean and test.std == train.std


def test_root_may_be_the_batch_folder_or_its_parent(tmp_path):
    copy = _copy_subset(tmp_path / "cifar-10-batches-py")
    via_dir, _ = load_cifar10(copy)
    via_parent, _ = load_cifar10(tmp_path)
    assert torch.equal(via_dir.images, via_parent.images)


def test_whichever_data_batches_exist_are_read(tmp_path):
    copy = _copy_subset(tmp_path / "b", batches=("data_batch_1", "data_batch_3"))
    train, _ = load_cifar10(copy)
    assert len(train) == 2 * 1017


def test_truncated_batch_file_names_the_file_and_suggests_redownload(tmp_path):
    copy = _copy_subset(tmp_path / "b")
    data = (copy / "data_batch_1").read_bytes()
    (copy / "data_batch_1").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="data_batch_1.*download"):
        load_cifar10(copy)


def test_batch_of_wrong_shape_is_rejected(tmp_path):
    copy = _copy_subset(tmp_path / "b")
    bad = {b"data": np.zeros((4, 100), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
    (copy / "data_batch_1").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DataError, match="data_batch_1.*shape"):
        load_cifar10(copy)


class _Payload:
    def __reduce__(self):
        return (shutil.rmtree, ("/definitely/not/here",))


def test_pickle_with_code_references_is_refused(tmp_path):
    copy = _copy_subset(tmp_path / "b")
    (copy / "data_batch_1").write_bytes(pickle.dumps({b"data": _Payload()}, protocol=2))
    with pytest.raises(DataError, match="rmtree"):
        load_cifar10(copy)


def test_missing_directory_error_names_directory_files_and_url(tmp_path):
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path / "nowhere")
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "nowhere") in message
    assert "data_batch_1" in message and "test_batch" in message
    assert CIFAR10.url in message


def test_failed_download_becomes_data_error_with_url(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="cifar-10-python.tar.gz"):
        load_cifar10(tmp_path, download=True)


def _serve(monkeypatch, payload: bytes) -> None:
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout: io.BytesIO(payload)
    )


def test_download_with_wrong_checksum_is_rejected_and_not_kept(tmp_path, monkeypatch):
    _serve(monkeypatch, b"not the archive")
    with pytest.raises(DataError, match="md5"):
        load_cifar10(tmp_path, download=True)
    assert not any(tmp_path.iterdir())


def test_download_verifies_extracts_and_loads_the_archive(tmp_path, monkeypatch):
    source = _copy_subset(tmp_path / "src" / "cifar-10-batches-py")
    archive = tmp_path / "archive.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(source, arcname="cifar-10-batches-py")
    spec = dataclasses.replace(CIFAR10, md5=md5sum(archive))
    _serve(monkeypatch, archive.read_bytes())
    train, test = load_cifar(spec, tmp_path / "root", download=True)
    assert len(train) == 1017 and len(test) == 1017
    assert (tmp_path / "root" / "cifar-10-python.tar.gz").is_file()
