"""Classify images: :func:`resnetlab.models.hub.loader.load_model` (any weights source),
:func:`resnetlab.data.images.read_image`, the model's own preprocessing, softmax.

:func:`predict_tensors` is the one prediction path: ``resnetlab predict`` (through
:func:`predict_files`) and ``resnetlab serve`` both call it, so a file and the same file uploaded
to the server get the same top-k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.data.images import read_image
from resnetlab.deploy.images import preprocess
from resnetlab.hardware import Placement, placement
from resnetlab.models.hub.loader import load_model
from resnetlab.train.evaluate import predict_logits

BATCH = 256


@dataclass(frozen=True)
class Guess:
    """One class of a top-k: its index in ``meta["classes"]``, its label and probability."""

    index: int
    label: str
    probability: float


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


def predict_tensors(model: nn.Module, meta: Mapping[str, Any],
                    images: Sequence[torch.Tensor], top_k: int = 5, *,
                    where: Placement | None = None) -> list[list[Guess]]:
    """Top-``top_k`` guesses for each uint8 ``C x H x W`` image (any sizes), best first.

    Images get the model's evaluation transform (``meta``: size, ImageNet resize/crop,
    mean/std, see :func:`resnetlab.deploy.images.preprocess`) and flip TTA when its recipe used
    it; they are run in chunks of :data:`BATCH` on ``where`` (default: the CPU, fp32).
    """
    where = where or placement("cpu", "fp32", channels_last=False)
    batch = preprocess(list(images), meta)
    tta = bool((meta.get("recipe") or {}).get("tta_flip", False))
    chunks = (batch[i:i + BATCH].to(where.device) for i in range(0, len(batch), BATCH))
    probs = predict_logits(model, chunks, where, tta_flip=tta).softmax(dim=1)
    k = max(1, min(top_k, probs.shape[1]))
    values, indices = probs.topk(k, dim=1)
    classes = meta["classes"]
    return [[Guess(int(i), str(classes[i]), float(v)) for v, i in zip(vs, ids, strict=True)]
            for vs, ids in zip(values.tolist(), indices.tolist(), strict=True)]


def predict_files(source: str | Path, images: Sequence[str | Path], top_k: int = 5, *,
                  model_name: str | None = None, device: str | None = None
                  ) -> list[Prediction]:
    """Top-``top_k`` predictions for each image file under the model at ``source``.

    ``source`` is anything :func:`load_model` takes (run dir, saved model, ``.pth``, URL, tag
    with ``model_name``); the images are read with :func:`read_image` and classified by
    :func:`predict_tensors`.
    """
    where = placement(device, "fp32", channels_last=False)
    model, meta = load_model(source, model_name, device=where.device)
    channels = int(meta["input_size"][0])
    guesses = predict_tensors(model, meta, [read_image(p, channels) for p in images], top_k,
                              where=where)
    return [Prediction(str(p), [(g.label, g.probability) for g in top])
            for p, top in zip(images, guesses, strict=True)]
