"""Bringing uint8 images to one size: scale to cover the target, then crop the centre.

This is the usual evaluation transform (resize the shorter side, centre crop) generalised to a
non-square target, applied once at load time so that training never pays for it again.
"""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import functional as TF

from resnetlab.errors import ConfigError

# Resizing in chunks bounds the float working memory torchvision needs for antialiasing.
_CHUNK = 1024


def as_size(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``(height, width)`` from an int (square) or a pair; rejects sizes below one pixel."""
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or any(not isinstance(v, int) or v < 1 for v in pair):
        raise ConfigError(f"image size {size!r} is not valid; pass a positive int such as 32")
    return int(pair[0]), int(pair[1])


def fit(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize ``... x H x W`` uint8 images to cover ``size`` and centre-crop them to it."""
    height, width = as_size(size)
    in_h, in_w = images.shape[-2:]
    if (in_h, in_w) == (height, width):
        return images
    scale = max(height / in_h, width / in_w)
    covering = [max(height, round(in_h * scale)), max(width, round(in_w * scale))]
    out = TF.resize(images, covering, antialias=True)
    return TF.center_crop(out, [height, width])


def fit_batch(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """:func:`fit` over an ``N x C x H x W`` batch, chunked to keep memory bounded."""
    height, width = as_size(size)
    if tuple(images.shape[-2:]) == (height, width):
        return images
    if len(images) == 0:
        return images.new_empty((0, *images.shape[1:-2], height, width))
    return torch.cat([fit(images[i : i + _CHUNK], size) for i in range(0, len(images), _CHUNK)])
