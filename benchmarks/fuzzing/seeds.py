"""Valid seed files, made from real data: the shared CIFAR/Fashion-MNIST subsets, images written
by PIL, and a tiny run trained by ``resnetlab train`` itself (weights, model.json, checkpoint).
"""

from __future__ import annotations

import io
import pickle
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.fuzzing.hostile import png_bomb

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CIFAR_DIR = SHARED / "cifar10-subset" / "cifar-10-batches-py"
FASHION_DIR = SHARED / "fashion-mnist-subset" / "FashionMNIST" / "raw"
_KEEP = 24  # images kept per seed batch: small files mutate and parse fast


@dataclass
class Seeds:
    """Paths of the seed files, grouped by surface; ``blobs`` are their bytes for splicing."""

    root: Path
    images: dict[str, bytes] = field(default_factory=dict)
    cifar: dict[str, bytes] = field(default_factory=dict)
    idx: dict[str, bytes] = field(default_factory=dict)
    run: Path | None = None


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def exif_rotated_jpeg(base: Image.Image, orientation: int = 6) -> bytes:
    """``base`` as a JPEG whose EXIF says ``orientation`` (6: rotate 90 degrees clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(base, "JPEG", quality=95, exif=exif)


def image_seeds() -> dict[str, bytes]:
    """One small image per format and mode PIL writes, plus 1x1 and 30,000 x 30,000 headers."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (20, 28, 3), dtype=np.uint8), "RGB")
    wide = Image.fromarray(rng.integers(0, 65535, (12, 10), dtype=np.uint16).astype(np.int32),
                           "I").convert("I;16")
    out = {
        "rgb.png": _encode(rgb, "PNG"), "rgba.png": _encode(rgb.convert("RGBA"), "PNG"),
        "grey.png": _encode(rgb.convert("L"), "PNG"), "wide.png": _encode(wide, "PNG"),
        "palette.png": _encode(rgb.convert("P"), "PNG"), "rgb.jpg": _encode(rgb, "JPEG"),
        "cmyk.jpg": _encode(rgb.convert("CMYK"), "JPEG"), "anim.gif": _encode(rgb, "GIF"),
        "rgb.webp": _encode(rgb, "WEBP"), "rgb.bmp": _encode(rgb, "BMP"),
        "rgb.tif": _encode(rgb, "TIFF"), "exif6.jpg": exif_rotated_jpeg(rgb),
        "one.png": _encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"),
        "bomb.png": png_bomb(30_000, 30_000), "text.jpg": b"hello, I am not a JPEG\n",
        "empty.png": b"",
    }
    return out


def cifar_seeds() -> dict[str, bytes]:
    """Small CIFAR-10 batches cut from the shared subset (same keys, dtypes, pickle protocol)."""
    def small(name: str) -> bytes:
        with open(CIFAR_DIR / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")  # our own trusted shared copy
        keep = {k: (v[:_KEEP] if isinstance(v, np.ndarray | list) and k != b"batch_label" else v)
                for k, v in batch.items()}
        return pickle.dumps(keep, protocol=2)
    return {"batches.meta": (CIFAR_DIR / "batches.meta").read_bytes(),
            "data_batch_1": small("data_batch_1"), "test_batch": small("test_batch")}


def _small_idx(path: Path) -> bytes:
    raw = path.read_bytes()
    ndim = raw[3]
    dims = list(struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim]))
    per_item = int(np.prod(dims[1:], dtype=np.int64))
    dims[0] = min(dims[0], _KEEP)
    header = raw[:4] + struct.pack(f">{ndim}I", *dims)
    start = 4 + 4 * ndim
    return header + raw[start:start + dims[0] * per_item]


def idx_seeds() -> dict[str, bytes]:
    """The four Fashion-MNIST IDX files, cut to a few items with consistent headers."""
    return {p.name: _small_idx(p) for p in sorted(FASHION_DIR.iterdir())}


def train_run(root: Path) -> Path:
    """A tiny real run (``resnetlab train --data digits``, one epoch): weights, model.json,
    checkpoints/last.pt, as a user would have them."""
    run = root / "run"
    if not (run / "model.safetensors").is_file():
        subprocess.run([sys.executable, "-m", "resnetlab", "train", "--data", "digits",
                        "--epochs", "1", "--quiet", "--threads", "1", "--out", str(run)],
                       check=True, capture_output=True, timeout=300)
    return run


def make_seeds(root: Path) -> Seeds:
    """Write every seed under ``root`` (kept read-only by convention) and return them."""
    root.mkdir(parents=True, exist_ok=True)
    seeds = Seeds(root, image_seeds(), cifar_seeds(), idx_seeds(), train_run(root))
    import torch  # a .pth twin of the run's weights, as torchvision users have them

    from resnetlab.models.hub.statedict import read_file
    pth = root / "weights.pth"
    if not pth.is_file():
        torch.save(read_file(seeds.run / "model.safetensors"), pth)
    return seeds
