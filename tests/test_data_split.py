"""Stratified splits, the dataset containers and the registry's name handling."""

from __future__ import annotations

import pytest
import torch

from resnetlab.data import (
    DATASETS,
    DataBundle,
    ImageDataset,
    canonical_name,
    load,
    stratified_split,
)
from resnetlab.errors import ConfigError, DataError


def _imbalanced(sizes=(100, 50, 10)) -> ImageDataset:
    labels = torch.cat([torch.full((s,), i) for i, s in enumerate(sizes)])
    n = len(labels)
    images = torch.arange(n).remainder(256).to(torch.uint8).view(n, 1, 1, 1).expand(n, 3, 2, 2)
    return ImageDataset(images.contiguous(), labels, ["a", "b", "c"], (0.5,) * 3, (0.2,) * 3, "t")


def test_stratified_split_keeps_class_proportions():
    train, val = stratified_split(_imbalanced(), 0.2, seed=0)
    assert val.class_counts().tolist() == [20, 10, 2]
    assert train.class_counts().tolist() == [80, 40, 8]


def test_split_parts_are_disjoint_and_cover_the_set():
    ds = _imbalanced()
    train, val = stratified_split(ds, 32, seed=1)
    keys = torch.cat([train.images[:, 0, 0, 0], val.images[:, 0, 0, 0]]).long()
    # each image's first pixel is its index mod 256 and the set has 160 < 256 images
    assert torch.equal(keys.sort().values, torch.arange(160))
    assert train.mean == ds.mean and val.std == ds.std


def test_split_depends_on_the_seed_only():
    ds = _imbalanced()
    a, b, c = (stratified_split(ds, 0.25, seed=s)[1] for s in (4, 4, 5))
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)


@pytest.mark.parametrize("bad", [0, 160, -1, 1.0, 0.0, True])
def test_invalid_val_size_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        stratified_split(_imbalanced(), bad, seed=0)


def test_cifar_style_holdout_through_load_is_stratified():
    bundle = load("digits", val_size=200, seed=3)
    assert len(bundle.val) == 200
    share = bundle.val.class_counts().double() / 200
    overall = bundle.train.class_counts().double() + bundle.val.class_counts()
    assert torch.allclose(share, overall / overall.sum(), atol=0.01)


def test_bundle_exposes_input_size_classes_and_stats_of_train():
    ds = _imbalanced()
    bundle = DataBundle("t", train=ds, test=ds.subset(slice(0, 10)))
    assert bundle.input_size == (3, 2, 2) and bundle.num_classes == 3
    assert bundle.classes == ds.classes and bundle.mean == ds.mean and bundle.val is None


def test_dataset_rejects_non_uint8_images():
    with pytest.raises(DataError, match="uint8"):
        ImageDataset(torch.zeros(2, 1, 2, 2), torch.zeros(2), ["a"], (0.0,), (1.0,), "x")


def test_unknown_dataset_name_lists_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        load("imagenet")
    assert all(name in str(err.value) for name in DATASETS)


def test_dataset_names_forgive_case_and_underscores():
    assert load("DIGITS").name == "digits"
    assert canonical_name("Fashion_MNIST") == canonical_name("fashionmnist") == "fashion-mnist"


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "mnist", "fashion-mnist", "folder"])
def test_file_datasets_without_root_ask_for_data_dir(name):
    with pytest.raises(DataError, match="--data-dir"):
        load(name)
