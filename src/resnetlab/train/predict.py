"""Classify image files with a trained model: decode with PIL, resize, normalize, softmax."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from resnetlab.errors import DataError


@dataclass
class Prediction:
    """Top-k ``(label, probability)`` pairs for one image, best first."""

    path: str
    top: list[tuple[str, float]]

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def probability(self) -> float:
        return self.top[0][1]


def read_image(path: str | Path, channels: int) -> torch.Tensor:
    """uint8 ``C x H x W`` tensor of an image file (grayscale for 1 channel, else RGB)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} does not exist; check the path")
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            array = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(
            f"{path} is not an image PIL can read ({type(exc).__name__}); pass PNG, JPEG, "
            "BMP, GIF or TIFF files"
        ) from None
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def predict_files(weights_or_run: str | Path, images: Sequence[str | Path], top_k: int = 5,
                  device: str | None = None) -> list[Prediction]:
    """Top-``top_k`` predictions for each image file, with the model's stored preprocessing."""
    from resnetlab.data import fit_batch
    from resnetlab.hardware import placement
    from resnetlab.train.artifacts import load_trained
    from resnetlab.train.evaluate import normalized_batches, predict_logits

    where = placement(device, "fp32", channels_last=False)
    model, meta = load_trained(weights_or_run, device=where.device)
    channels, height, width = (int(v) for v in meta["input_size"])
    batch = torch.stack([fit_batch(read_image(p, channels)[None], (height, width))[0]
                         for p in images])
    tta = bool((meta.get("recipe") or {}).get("tta_flip", False))
    logits = predict_logits(model, normalized_batches(batch, 256, meta["mean"], meta["std"],
                                                      where), where, tta_flip=tta)
    probs = logits.softmax(dim=1)
    k = max(1, min(top_k, probs.shape[1]))
    values, indices = probs.topk(k, dim=1)
    classes = meta["classes"]
    return [
        Prediction(str(p), [(str(classes[i]), float(v)) for v, i in zip(vs, ids, strict=True)])
        for p, vs, ids in zip(images, values.tolist(), indices.tolist(), strict=True)
    ]
