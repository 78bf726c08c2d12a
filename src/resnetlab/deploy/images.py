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
from resnetlab.data.images import list_images, read_image
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


# How many bad files a summary names before it says "and N more".
NAMES_SHOWN = 5


def expand_images(paths: Sequence[str | Path]) -> list[Path]:
    """The image files named by ``paths``: a file as given, a folder as every image under it
    (sorted, :func:`~resnetlab.data.images.list_images`; one without images is a DataError)."""
    found: list[Path] = []
    for path in map(Path, paths):
        found += list_images(path) if path.expanduser().is_dir() else [path.expanduser()]
    return found


def read_images(paths: Sequence[str | Path], channels: int, *, strict: bool = False
                ) -> tuple[list[torch.Tensor], list[Path], list[tuple[Path, str]]]:
    """Decode every file in ``paths``: ``(images, kept, skipped)``, the one bad-file policy.

    A file that cannot be decoded (corrupt, not an image, too large) is skipped and listed in
    ``skipped`` with the reason; ``strict`` stops at the first instead (its :class:`DataError`).
    A file that does not exist is always an error: a path someone typed is a mistake to fix,
    not a file to pass over. Whether no readable file at all is an error is the caller's call.
    """
    images, kept, skipped = [], [], []
    for path in map(Path, paths):
        if not path.is_file():
            raise DataError(f"image {path} does not exist; check the path")
        try:
            images.append(read_image(path, channels))
        except DataError as exc:
            if strict:
                raise
            skipped.append((path, _reason(str(exc))))
            continue
        kept.append(path)
    return images, kept, skipped


def _reason(message: str) -> str:
    """The why of a reader's one-line message: ``cannot read X (truncated); fix`` → truncated."""
    start, end = message.find("("), message.rfind(")")
    return message[start + 1:end] if 0 <= start < end else message.split(";")[0]


def skipped_summary(skipped: Sequence[tuple[Path, str]]) -> str:
    """One line for the end of a command: how many were skipped, and the first few with why."""
    shown = "; ".join(f"{path} ({why})" for path, why in skipped[:NAMES_SHOWN])
    more = f"; and {len(skipped) - NAMES_SHOWN} more" if len(skipped) > NAMES_SHOWN else ""
    noun = "image" if len(skipped) == 1 else "images"
    return f"skipped {len(skipped)} unreadable {noun}: {shown}{more}"


def load_images(paths: Sequence[Path], meta: Mapping[str, Any], *, require_any: bool = True,
                strict: bool = False) -> tuple[torch.Tensor | None, list[Path]]:
    """The model input for every readable file in ``paths`` and the files it holds.

    Unreadable files are skipped with one warning (:func:`read_images`; ``strict`` stops at the
    first), so the returned list says which row is which. When none is readable:
    :class:`DataError`, or ``(None, [])`` if not ``require_any``.
    """
    images, kept, skipped = read_images(paths, int(meta["input_size"][0]), strict=strict)
    if skipped:
        log.warning(skipped_summary(skipped))
    if not images and not require_any:
        return None, []
    if not images:
        raise DataError("none of the images could be read; pass a folder of valid image files")
    return preprocess(images, meta), kept
