"""Classify images: :func:`resnetlab.models.hub.loader.load_model` (any weights source),
:func:`resnetlab.data.images.read_image`, the model's own preprocessing, softmax.

:func:`predict_tensors` is the one prediction path: ``resnetlab predict`` (through
:func:`predict_paths`) and ``resnetlab serve`` both call it, so a file and the same file uploaded
to the server get the same top-k.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.deploy.engines import cpu_engine_device, model_runner
from resnetlab.deploy.images import expand_images, preprocess, read_images, skipped_summary
from resnetlab.errors import DataError
from resnetlab.hardware import Placement, placement
from resnetlab.train.evaluate import predict_logits

log = logging.getLogger(__name__)

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


def predict_paths(source: str | Path, images: Sequence[str | Path], top_k: int = 5, *,
                  model_name: str | None = None, device: str | None = None,
                  strict: bool = False, engine: str = "eager"
                  ) -> tuple[list[Prediction], list[tuple[Path, str]]]:
    """Top-``top_k`` predictions for each image file under the model at ``source``, and the
    files skipped as unreadable with why (``strict``: the first one raises instead).

    ``source`` is anything :func:`load_model` takes (run dir, saved model, ``.pth``, URL, tag
    with ``model_name``) or a file exported by ``resnetlab export`` (``.onnx``, ``.xml``: run
    on its own engine, :func:`~resnetlab.deploy.engines.model_runner`); ``images`` are files
    or folders (every image under them, :func:`~resnetlab.deploy.images.expand_images`), read by
    :func:`~resnetlab.deploy.images.read_images` and classified by :func:`predict_tensors`.
    A missing path, or no readable image at all, is a :class:`DataError`: the first is checked
    before the model is loaded, the second (decoding needs the model's channel count) right
    after, before an ``engine`` export. ``engine`` (eager, onnx, openvino) runs the model, see
    :mod:`resnetlab.deploy.engines`.
    """
    paths = expand_images(images)
    for path in paths:  # a typo should not wait for the weights to download
        if not path.is_file():
            raise DataError(f"image {path} does not exist; check the path")
    where = placement(cpu_engine_device(source, engine, device), "fp32", channels_last=False)
    read: dict[str, Any] = {}

    def read_all(meta: dict[str, Any]) -> None:  # once the channels are known, before export
        tensors, kept, skipped = read_images(paths, int(meta["input_size"][0]), strict=strict)
        if not tensors:
            which = ("the image could not be read" if len(paths) == 1
                     else f"none of the {len(paths)} images could be read")
            raise DataError(f"{which} ({skipped[0][0]}: {skipped[0][1]}); pass valid image "
                            "files")
        read.update(tensors=tensors, kept=kept, skipped=skipped)

    with model_runner(source, model_name, device=where.device, engine=engine,
                      before=read_all) as (runner, meta):
        guesses = predict_tensors(runner, meta, read["tensors"], top_k, where=where)
    return ([Prediction(str(p), [(g.label, g.probability) for g in top])
             for p, top in zip(read["kept"], guesses, strict=True)], read["skipped"])


def predict_files(source: str | Path, images: Sequence[str | Path], top_k: int = 5, *,
                  model_name: str | None = None, device: str | None = None,
                  strict: bool = False, engine: str = "eager") -> list[Prediction]:
    """:func:`predict_paths` without the skipped list: unreadable files are skipped with one
    logged warning (or, with ``strict``, the first one raises)."""
    predictions, skipped = predict_paths(source, images, top_k, model_name=model_name,
                                         device=device, strict=strict, engine=engine)
    if skipped:
        log.warning(skipped_summary(skipped))
    return predictions
