"""The standard ImageNet evaluation preset and class names, shipped with the package.

Preprocessing (torchvision's ``IMAGENET1K_V1`` transforms): resize the shorter side to 256,
centre-crop 224, scale to [0, 1] and standardise with the ImageNet mean/std below. The 1000
labels in ``assets/imagenet_classes.txt`` are torchvision's ``meta["categories"]``, in class
index order.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_RESIZE = 256
IMAGENET_CROP = 224


@cache
def _classes() -> tuple[str, ...]:
    text = resources.files("resnetlab").joinpath("assets/imagenet_classes.txt").read_text()
    return tuple(line for line in text.splitlines() if line)


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k labels in class-index order (``0`` is ``"tench"``)."""
    return list(_classes())


def imagenet_meta(model_name: str, resize_size: int = IMAGENET_RESIZE,
                  source: str | None = None) -> dict[str, Any]:
    """``model.json``-style metadata for an ImageNet-1k classifier with the standard preset."""
    meta: dict[str, Any] = {
        "model": model_name, "model_kwargs": {}, "num_classes": 1000, "in_chans": 3,
        "input_size": [3, IMAGENET_CROP, IMAGENET_CROP], "resize_size": int(resize_size),
        "classes": imagenet_classes(), "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
    }
    if source is not None:
        meta["source"] = source
    return meta
