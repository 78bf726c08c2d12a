"""The embedded ``digits`` dataset: complete, faithful to its source, split deterministically."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import torch

from resnetlab.data import load
from resnetlab.data.digits import _read_asset


def test_digits_loads_all_1797_images_of_1x8x8_in_ten_classes():
    bundle = load("digits")
    assert len(bundle.train) + len(bundle.test) == 1797
    assert bundle.input_size == (1, 8, 8) and bundle.num_classes == 10
    assert bundle.train.images.dtype == torch.uint8


def test_digits_split_is_stratified_and_independent_of_the_run_seed():
    a, b = load("digits", seed=0), load("digits", seed=123)
    assert torch.equal(a.test.images, b.test.images)
    fractions = a.test.class_counts() / (a.test.class_counts() + a.train.class_counts())
    assert torch.allclose(fractions.double(), torch.full((10,), 0.2, dtype=torch.float64),
                          atol=0.01)


def test_digits_asset_matches_scikit_learn_rescaled_to_uint8():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    reference = sklearn_datasets.load_digits()
    images, labels = _read_asset()
    expected = np.rint(reference.images * (255 / 16)).astype(np.uint8)
    assert np.array_equal(images[:, 0].numpy(), expected)
    assert np.array_equal(labels.numpy(), reference.target)


def test_digits_asset_ships_with_its_licence():
    assets = resources.files("resnetlab") / "assets"
    text = (assets / "DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in text and "Alpaydin" in text


def test_digits_image_size_resizes_every_split():
    bundle = load("digits", image_size=32)
    assert bundle.input_size == (1, 32, 32)
    assert bundle.test.images.shape[1:] == (1, 32, 32)
