"""``digits``: the embedded default dataset, so every command works offline with no download.

1,797 real 8 x 8 handwritten digits (UCI "optdigits", Alpaydin & Kaynak 1998, CC BY 4.0; see
``resnetlab/assets/DIGITS_LICENSE.txt``) as shipped by scikit-learn. The asset was made once,
with scikit-learn as a build-time tool only::

    d = sklearn.datasets.load_digits()
    images = np.rint(d.images * (255 / 16)).astype(np.uint8)[:, None]   # 0..16 -> 0..255
    np.savez_compressed("digits.npz", images=images, labels=d.target.astype(np.uint8))

The train/test split is stratified 80/20 with a fixed seed, so every run (whatever its own seed)
is evaluated on the same 359 images.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import torch

from resnetlab.data.dataset import ImageDataset, channel_stats, holdout_test
from resnetlab.data.resize import fit_batch
from resnetlab.errors import DataError

ASSET = "digits.npz"
CLASSES = tuple(str(d) for d in range(10))
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def _read_asset() -> tuple[torch.Tensor, torch.Tensor]:
    asset = resources.files("resnetlab") / "assets" / ASSET
    try:
        with asset.open("rb") as f, np.load(f, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(
            f"the embedded digits asset is missing or damaged ({exc}); reinstall resnetlab"
        ) from exc
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def load_digits(
    image_size: int | tuple[int, int] | None = None,
) -> tuple[ImageDataset, ImageDataset]:
    """``(train, test)`` of the embedded digits: 1 x 8 x 8 uint8, or resized to ``image_size``.

    Upsampling (e.g. to 32) lets models with several stride-2 stages run on these tiny images.
    """
    images, labels = _read_asset()
    if image_size is not None:
        images = fit_batch(images, image_size)
    mean, std = channel_stats(images)
    everything = ImageDataset(images, labels, list(CLASSES), mean, std, "digits")
    return holdout_test(everything, TEST_FRACTION, SPLIT_SEED)
