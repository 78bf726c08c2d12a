"""The one image reader: files to uint8 ``C x H x W`` tensors, with PIL.

Used by image folders (training data), prediction, embedding, calibration, the lab and the
server. Anything PIL cannot decode (a truncated file, a text file named ``.png``, a
decompression bomb) raises one-line :class:`~resnetlab.errors.DataError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from resnetlab.errors import DataError

IMAGE_EXTENSIONS = (
    ".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp",
)
_UNREADABLE = (UnidentifiedImageError, OSError, ValueError, SyntaxError,
               Image.DecompressionBombError)


def read_image(path: str | Path, channels: int = 3) -> torch.Tensor:
    """``C x H x W`` uint8 tensor of an image file, as RGB (``channels=3``) or grey (``1``).

    Palette, alpha and 16-bit images are converted by PIL (``convert("RGB"/"L")``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} does not exist; check the path")
    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except _UNREADABLE as exc:
        why = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise DataError(f"cannot read image {path} ({why}); pass a PNG, JPEG, BMP, GIF, TIFF "
                        "or WebP file, or remove this one") from None
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if tensor.dim() == 2 else tensor.permute(2, 0, 1).contiguous()


def image_files(directory: str | Path) -> list[Path]:
    """Image files under ``directory`` (recursive, links followed, hidden entries skipped),
    in sorted order (folders sorted too, so the order does not depend on the file system)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath, f) for f in sorted(filenames)
                  if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)]
    return found


def list_images(directory: str | Path) -> list[Path]:
    """Every image file under ``directory``; a missing or image-less folder is a DataError."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise DataError(f"image folder {directory} does not exist; pass a folder of images")
    found = image_files(directory)
    if not found:
        raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {directory}; "
                        "pass a folder that holds image files")
    return sorted(found)
