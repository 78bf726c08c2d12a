"""Image folders: one sub-folder per class (torchvision ``ImageFolder`` layout), read into memory.

Every image is decoded with PIL, converted to RGB and brought to one size once, then the whole
set is held as one uint8 tensor, so an epoch costs no decoding. That suits the small and medium
sets this project fine-tunes on (10k images at 224 x 224 take about 1.5 GB); a set that does not
fit in memory needs a streaming loader instead.

Layouts accepted by :func:`load_folder_splits`::

    ROOT/train/<class>/*  [ROOT/test/<class>/*]  [ROOT/val/<class>/*]
    ROOT/<class>/*        (a test part is then held out, stratified, with a fixed seed)
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

import torch

from resnetlab.data.dataset import ImageDataset, channel_stats, holdout_test
from resnetlab.data.images import IMAGE_EXTENSIONS, image_files, read_image
from resnetlab.data.resize import as_size, fit
from resnetlab.errors import DataError

log = logging.getLogger(__name__)

# ImageNet-style models expect 224 x 224; used when the images do not share one size.
DEFAULT_IMAGE_SIZE = 224
# The test part held out of a folder without train/test sub-folders; fixed so that runs with
# different seeds are evaluated on the same images.
HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 0
_NAMES_SHOWN = 5


def find_classes(directory: Path) -> list[str]:
    """Sorted names of the non-hidden sub-folders of ``directory``."""
    if not directory.is_dir():
        raise DataError(f"image folder {directory} does not exist; pass the folder that holds "
                        "one sub-folder per class")
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir() and e.name[0] != ".")
    if not classes:
        raise DataError(f"{directory} has no class sub-folders; put the images of each class in "
                        f"{directory}/<class_name>/")
    return classes


def _decode_all(
    items: list[tuple[Path, int]], size: tuple[int, int] | None, strict: bool
) -> tuple[list[torch.Tensor], list[int], list[Path]]:
    images, labels, skipped = [], [], []
    for path, label in items:
        try:
            image = read_image(path)
        except DataError:
            if strict:
                raise
            skipped.append(path)
            continue
        images.append(fit(image, size) if size is not None else image)
        labels.append(label)
    return images, labels, skipped


def load_image_folder(
    directory: str | Path,
    *,
    image_size: int | tuple[int, int] | None = None,
    strict: bool = False,
    classes: list[str] | None = None,
    name: str = "folder",
) -> ImageDataset:
    """All images under ``directory/<class>/`` as one in-memory :class:`ImageDataset`.

    ``image_size=None`` keeps the images' own size when they all share one, else uses 224.
    Unreadable files are skipped with one warning (count and first names); ``strict=True``
    raises on the first instead. ``classes`` fixes the class list (e.g. a test folder must use
    the training folder's); by default it is the sorted sub-folder names.
    """
    directory = Path(directory).expanduser()
    found = find_classes(directory)
    classes = list(classes) if classes is not None else found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise DataError(f"{directory} has classes {unknown} that the training folder lacks; "
                        "use the same class sub-folders in every split")
    size = None if image_size is None else as_size(image_size)
    items = [(p, classes.index(c)) for c in found for p in image_files(directory / c)]
    images, labels, skipped = _decode_all(items, size, strict)
    if skipped:
        shown = ", ".join(p.name for p in skipped[:_NAMES_SHOWN])
        more = ", ..." if len(skipped) > _NAMES_SHOWN else ""
        log.warning("skipped %d unreadable image(s) in %s: %s%s (a strict load stops at the first)",
                    len(skipped), directory, shown, more)
    if not images:
        raise DataError(f"no readable images ({', '.join(IMAGE_EXTENSIONS)}) under {directory}; "
                        "put the images in one sub-folder per class")
    if size is None and len({tuple(im.shape[-2:]) for im in images}) > 1:
        log.info("images in %s differ in size; resizing to %d", directory, DEFAULT_IMAGE_SIZE)
        images = [fit(im, DEFAULT_IMAGE_SIZE) for im in images]
    stacked = torch.stack(images)
    mean, std = channel_stats(stacked)
    return ImageDataset(stacked, torch.tensor(labels, dtype=torch.int64), classes, mean, std, name)


def load_folder_splits(
    root: str | Path,
    *,
    val_dir: str | Path | None = None,
    image_size: int | tuple[int, int] | None = None,
    strict: bool = False,
) -> tuple[ImageDataset, ImageDataset, ImageDataset | None]:
    """``(train, test, val)`` of an image-folder dataset (see the module doc for layouts).

    With ``ROOT/train`` the test part is ``ROOT/test``, or ``ROOT/val`` when there is no test
    folder (the ImageNet convention); ``val`` is ``val_dir``, or ``ROOT/val`` when ``ROOT/test``
    also exists, else ``None`` (the caller may split one off the training set). Every split is
    brought to the training images' size and normalized with the training statistics.
    """
    root = Path(root).expanduser()
    if (root / "train").is_dir():
        train = load_image_folder(root / "train", image_size=image_size, strict=strict)
        test_dir = root / "test" if (root / "test").is_dir() else root / "val"
        if not test_dir.is_dir():
            raise DataError(f"{root} has train/ but neither test/ nor val/; add one, or put the "
                            "class sub-folders directly in the root to hold out a test part")
        if val_dir is None and test_dir.name == "test" and (root / "val").is_dir():
            val_dir = root / "val"
    else:
        everything = load_image_folder(root, image_size=image_size, strict=strict)
        if len(everything) * HOLDOUT_FRACTION < 1:
            raise DataError(f"{root} has only {len(everything)} image(s), too few to hold out a "
                            "test part; add images or provide train/ and test/ sub-folders")
        train, test = holdout_test(everything, HOLDOUT_FRACTION, HOLDOUT_SEED)
        test_dir = None

    def follow(directory: Path) -> ImageDataset:
        ds = load_image_folder(directory, image_size=tuple(train.images.shape[-2:]),
                               strict=strict, classes=train.classes)
        return replace(ds, mean=train.mean, std=train.std)

    test = follow(test_dir) if test_dir is not None else test
    val = follow(Path(val_dir).expanduser()) if val_dir is not None else None
    return train, test, val
