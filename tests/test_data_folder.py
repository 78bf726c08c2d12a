"""Image folders: decoding to RGB, sizing, unreadable files, split layouts."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from resnetlab.data import load, load_folder_splits, load_image_folder
from resnetlab.errors import ConfigError, DataError


def _save(path: Path, pixels: np.ndarray, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    if mode != image.mode:
        image = image.convert(mode)
    image.save(path)


def _make_folder(root: Path, per_class: int = 5, size=(12, 10), seed: int = 0) -> dict:
    """Two classes of random RGB PNGs; returns {path: pixels (H, W, 3)} as written."""
    rng = np.random.default_rng(seed)
    written = {}
    for name in ("cat", "dog"):
        for i in range(per_class):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            path = root / name / f"{i:02d}.png"
            _save(path, pixels)
            written[path] = pixels
    return written


def test_folder_loads_classes_labels_and_exact_pixels(tmp_path):
    written = _make_folder(tmp_path)
    ds = load_image_folder(tmp_path)
    assert ds.classes == ["cat", "dog"]
    assert ds.images.shape == (10, 3, 12, 10) and ds.images.dtype == torch.uint8
    assert ds.labels.tolist() == [0] * 5 + [1] * 5
    first = torch.from_numpy(written[tmp_path / "cat" / "00.png"]).permute(2, 0, 1)
    assert torch.equal(ds.images[0], first)


def test_grey_palette_and_alpha_images_become_rgb(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    for mode in ("L", "P", "RGBA", "RGB"):
        _save(tmp_path / "a" / f"{mode}.png", pixels, mode)
    ds = load_image_folder(tmp_path)
    assert ds.images.shape == (4, 3, 8, 8)
    grey = ds.images[0]  # "L.png" sorts first
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])


def test_corrupt_file_is_skipped_counted_and_named_in_warning(tmp_path, caplog):
    _make_folder(tmp_path)
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    with caplog.at_level(logging.WARNING, logger="resnetlab.data.folder"):
        ds = load_image_folder(tmp_path)
    assert len(ds) == 10
    assert "skipped 1 unreadable" in caplog.text and "broken.png" in caplog.text


def test_strict_loading_raises_naming_the_corrupt_file(tmp_path):
    _make_folder(tmp_path)
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png"):
        load_image_folder(tmp_path, strict=True)


def test_non_image_files_are_ignored(tmp_path):
    _make_folder(tmp_path)
    (tmp_path / "cat" / "README.txt").write_text("notes")
    assert len(load_image_folder(tmp_path)) == 10


def test_mixed_sizes_default_to_224_and_image_size_overrides(tmp_path):
    _make_folder(tmp_path / "a", per_class=1, size=(20, 30))
    _save(tmp_path / "a" / "cat" / "big.png", np.zeros((40, 24, 3), dtype=np.uint8))
    assert load_image_folder(tmp_path / "a").images.shape[1:] == (3, 224, 224)
    assert load_image_folder(tmp_path / "a", image_size=16).images.shape[1:] == (3, 16, 16)


def test_missing_or_empty_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(tmp_path / "nope")
    with pytest.raises(DataError, match="no class sub-folders"):
        load_image_folder(tmp_path)
    (tmp_path / "cat").mkdir()
    with pytest.raises(DataError, match="no readable images"):
        load_image_folder(tmp_path)


def test_train_test_layout_shares_classes_size_and_training_stats(tmp_path):
    _make_folder(tmp_path / "train", per_class=4, size=(16, 16))
    _make_folder(tmp_path / "test", per_class=2, size=(32, 32), seed=1)
    train, test, val = load_folder_splits(tmp_path)
    assert val is None and len(train) == 8 and len(test) == 4
    assert test.images.shape[1:] == (3, 16, 16)
    assert test.mean == train.mean and test.classes == train.classes


def test_test_folder_with_unknown_class_is_rejected(tmp_path):
    _make_folder(tmp_path / "train", per_class=2)
    _save(tmp_path / "test" / "bird" / "0.png", np.zeros((12, 10, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="bird"):
        load_folder_splits(tmp_path)


def test_flat_folder_holds_out_a_stratified_test_part(tmp_path):
    _make_folder(tmp_path, per_class=10)
    bundle = load("folder", tmp_path)
    assert len(bundle.train) == 16 and len(bundle.test) == 4
    assert bundle.test.class_counts().tolist() == [2, 2]
    assert bundle.val is None


def test_val_dir_is_loaded_and_conflicts_with_val_size(tmp_path):
    _make_folder(tmp_path / "train", per_class=4)
    _make_folder(tmp_path / "test", per_class=2, seed=1)
    _make_folder(tmp_path / "val", per_class=3, seed=2)
    bundle = load("folder", tmp_path)
    assert len(bundle.val) == 6
    with pytest.raises(ConfigError, match="val"):
        load("folder", tmp_path, val_size=2)
