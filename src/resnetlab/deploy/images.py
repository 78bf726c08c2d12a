"""Image files to model inputs, following a model's ``model.json`` (files are decoded by
:func:`resnetlab.data.images.read_image`, the one image reader).

``preprocess`` applies the evaluation transform a model was made for: with ``resize_size`` (the
ImageNet preset: 256) the shorter side goes to that size and the centre ``input_size`` crop is
taken; without it, images are scaled to cover ``input_size`` and centre-cropped (the rule the
data layer uses at load time). Then they are standardised with ``mean``/``std``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torchvision.transforms.v2 import functional as TF

from resnetlab.data import fit, fit_batch, normalize
from resnetlab.data.images import read_image
from resnetlab.errors import DataError

log = logging.getLogger(__name__)


def fit_to_input(images: torch.Tensor | Sequence[torch.Tensor],
                 meta: Mapping[str, Any]) -> torch.Tensor:
    """uint8 images (a batch or a list of any sizes) → a uint8 batch at the model's input size,
    resized and cropped as :func:`preprocess` does (what the model sees, before normalizing)."""
    size = [int(s) for s in meta["input_size"][1:]]
    resize = meta.get("resize_size")
    if resize:  # shorter side to ``resize``, then a pure centre crop (no second scaling)
        if isinstance(images, torch.Tensor):
            batch = TF.center_crop(fit_batch(images, int(resize)), size)
        else:
            batch = torch.stack([TF.center_crop(fit(im, int(resize)), size) for im in images])
    elif isinstance(images, torch.Tensor):
        batch = fit_batch(images, tuple(size))
    else:
        batch = torch.stack([fit(im, tuple(size)) for im in images])
    if batch.shape[1] != int(meta["input_size"][0]):
        raise DataError(f"the model expects {meta['input_size'][0]}-channel images, got "
                        f"{batch.shape[1]}; use images like those it was trained on")
    return batch


def preprocess(images: torch.Tensor | Sequence[torch.Tensor],
               meta: Mapping[str, Any]) -> torch.Tensor:
    """uint8 images (a batch or a list of any sizes) → the normalized float32 model input."""
    return normalize(fit_to_input(images, meta), meta["mean"], meta["std"])


def load_images(paths: Sequence[Path], meta: Mapping[str, Any], *, require_any: bool = True
                ) -> tuple[torch.Tensor | None, list[Path]]:
    """The model input for every readable file in ``paths`` and the files it holds.

    Unreadable files are skipped with one warning, so the returned list says which row is which.
    When none is readable: :class:`DataError`, or ``(None, [])`` if not ``require_any``.
    """
    channels = int(meta["input_size"][0])
    images, kept, skipped = [], [], []
    for path in paths:
        try:
            images.append(read_image(path, channels))
            kept.append(Path(path))
        except DataError:
            skipped.append(Path(path).name)
    if skipped:
        log.warning("skipped %d unreadable image(s): %s", len(skipped), ", ".join(skipped[:5]))
    if not images and not require_any:
        return None, []
    if not images:
        raise DataError("none of the images could be read; pass a folder of valid image files")
    return preprocess(images, meta), kept
