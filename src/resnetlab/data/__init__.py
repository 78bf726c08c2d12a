"""Datasets as in-memory uint8 tensors, and batched augmentation on the training device.

>>> from resnetlab import data
>>> bundle = data.load("digits")                       # embedded, works offline
>>> loader = data.InMemoryLoader(bundle.train, 128, shuffle=True, augment=data.Augment(pad=1))
>>> x, y = next(iter(loader))                          # float32 normalized, int64
"""

from resnetlab.data.augment import (
    Augment,
    crop_and_flip,
    cutout,
    normalize,
    random_crop,
    random_flip,
)
from resnetlab.data.cifar import load_cifar10, load_cifar100
from resnetlab.data.dataset import (
    DataBundle,
    ImageDataset,
    channel_stats,
    holdout_test,
    stratified_split,
)
from resnetlab.data.digits import load_digits
from resnetlab.data.folder import load_folder_splits, load_image_folder
from resnetlab.data.images import IMAGE_EXTENSIONS, decode_image, list_images, read_image
from resnetlab.data.loader import InMemoryLoader, mix_seed
from resnetlab.data.mnist import load_fashion_mnist, load_mnist, read_idx
from resnetlab.data.registry import DATASETS, canonical_name, load
from resnetlab.data.resize import fit, fit_batch

__all__ = [
    "DATASETS",
    "IMAGE_EXTENSIONS",
    "Augment",
    "DataBundle",
    "ImageDataset",
    "InMemoryLoader",
    "canonical_name",
    "channel_stats",
    "crop_and_flip",
    "cutout",
    "decode_image",
    "fit",
    "fit_batch",
    "holdout_test",
    "load",
    "load_cifar10",
    "load_cifar100",
    "load_digits",
    "load_fashion_mnist",
    "load_image_folder",
    "load_folder_splits",
    "list_images",
    "load_mnist",
    "mix_seed",
    "normalize",
    "random_crop",
    "random_flip",
    "read_idx",
    "read_image",
    "stratified_split",
]
