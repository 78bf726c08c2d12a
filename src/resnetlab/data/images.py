"""The one image reader: files (and uploaded bytes) to uint8 ``C x H x W`` tensors, with PIL.

Used by image folders (training data), prediction, embedding, calibration, the lab and the
server. :func:`read_image` (a file) and :func:`decode_image` (bytes, e.g. an upload) share one
conversion, so a file and the same file uploaded to ``resnetlab serve`` give the same tensor:
EXIF orientation applied, palette/alpha/CMYK converted by PIL, 16-bit scaled to 8 bits. Anything
PIL cannot decode raises a one-line :class:`~resnetlab.errors.DataError` naming the image:
:class:`ImageFormatError` when it is no image format PIL knows (a text file named ``.png``),
:class:`ImageTooLargeError` for a decompression bomb, plain ``DataError`` for a truncated or
corrupt file.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from resnetlab.errors import DataError

IMAGE_EXTENSIONS = (
    ".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp",
)
_FORMATS = "a PNG, JPEG, BMP, GIF, TIFF or WebP file"
_UNREADABLE = (OSError, ValueError, SyntaxError, EOFError)
# 16-bit and 32-bit integer modes: PIL's convert("L") clips them at 255 (a 16-bit scan turns
# white), so they are scaled to 8 bits here instead.
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class ImageFormatError(DataError):
    """Bytes that are no image format PIL knows (or a mode it cannot convert)."""


class ImageTooLargeError(DataError):
    """An image whose header announces more pixels than allowed (a decompression bomb)."""


def _why(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:100] if str(exc) else ""
    return text or type(exc).__name__


def _to_uint8(image: Image.Image, channels: int) -> np.ndarray:
    """A decoded PIL image as an ``H x W`` (grey) or ``H x W x 3`` uint8 array."""
    image = ImageOps.exif_transpose(image)  # phones store the rotation apart from the pixels
    if image.mode in _WIDE_MODES:
        wide = np.asarray(image, dtype=np.int64)
        grey = np.clip(np.rint(wide * (255 / 65535)), 0, 255).astype(np.uint8)
        image = Image.fromarray(grey, mode="L")
    return np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)


def _decode(stream: IO[bytes], channels: int, label: str, fix: str,
            max_pixels: int | None) -> torch.Tensor:
    """Open, check the size announced by the header (before any pixel is decoded), convert.

    ``max_pixels=None`` means PIL's own ``Image.MAX_IMAGE_PIXELS`` (read at each call, so a
    user who raises or clears it is obeyed). PIL alone only *warns* between 1x and 2x that
    limit and then decodes, which can take gigabytes; here anything above it is refused."""
    if max_pixels is None:
        max_pixels = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():  # the size is judged below, in one error, not a warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream)
        with image:
            width, height = image.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageTooLargeError(
                    f"{label} is {width} x {height} = {width * height:,} pixels, more than the "
                    f"{max_pixels:,} allowed; use a smaller image")
            array = _to_uint8(image, channels)
    except UnidentifiedImageError:
        raise ImageFormatError(f"cannot read {label} (not an image PIL can read); {fix}") from None
    except Image.DecompressionBombError:
        limit = Image.MAX_IMAGE_PIXELS or 0
        raise ImageTooLargeError(f"{label} announces more than {limit:,} pixels (a decompression "
                                 "bomb?); use a smaller image, or raise PIL.Image.MAX_IMAGE_PIXELS"
                                 ) from None
    except _UNREADABLE as exc:
        kind = ImageFormatError if "conversion" in str(exc) else DataError  # unsupported mode
        raise kind(f"cannot read {label} ({_why(exc)}); {fix}") from None
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if tensor.dim() == 2 else tensor.permute(2, 0, 1).contiguous()


def read_image(path: str | Path, channels: int = 3) -> torch.Tensor:
    """``C x H x W`` uint8 tensor of an image file, as RGB (``channels=3``) or grey (``1``).

    EXIF orientation is applied; palette, alpha and CMYK images are converted by PIL
    (``convert("RGB"/"L")``), 16-bit ones scaled to 8 bits. An image whose header announces
    more than ``PIL.Image.MAX_IMAGE_PIXELS`` pixels raises :class:`ImageTooLargeError` before
    anything is decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} does not exist; check the path")
    with open(path, "rb") as stream:
        return _decode(stream, channels, f"image {path}", f"pass {_FORMATS}, or remove this one",
                       None)


def decode_image(data: bytes, channels: int = 3, *, max_pixels: int | None = None,
                 label: str = "the image") -> torch.Tensor:
    """:func:`read_image` for bytes in memory (an upload): the same conversion, the same tensor.

    ``max_pixels`` (default: ``PIL.Image.MAX_IMAGE_PIXELS``) refuses larger images from their
    header, before decoding (:class:`ImageTooLargeError`); ``label`` names the image in error
    messages.
    """
    if not data:
        raise DataError(f"{label} is empty; send {_FORMATS}")
    return _decode(io.BytesIO(data), channels, label, f"send {_FORMATS}", max_pixels)


def image_files(directory: str | Path) -> list[Path]:
    """Image files under ``directory`` (recursive, links followed but each real folder once,
    hidden entries skipped), in sorted order (folders sorted too, so the order does not depend
    on the file system)."""
    found, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        # A link back to a parent (a loop) would repeat every image below it, level after
        # level until the path gets too long: each real folder is walked once.
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
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
