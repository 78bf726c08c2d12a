"""Classify image files: :func:`resnetlab.models.hub.loader.load_model` (any weights source),
:func:`resnetlab.data.images.read_image`, the model's own preprocessing, softmax."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from resnetlab.data.images import read_image
from resnetlab.deploy.images import preprocess
from resnetlab.hardware import placement
from resnetlab.models.hub.loader import load_model
from resnetlab.train.evaluate import predict_logits

BATCH = 256


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


def predict_files(source: str | Path, images: Sequence[str | Path], top_k: int = 5, *,
                  model_name: str | None = None, device: str | None = None
                  ) -> list[Prediction]:
    """Top-``top_k`` predictions for each image file under the model at ``source``.

    ``source`` is anything :func:`load_model` takes (run dir, saved model, ``.pth``, URL, tag
    with ``model_name``). Images get the model's evaluation transform (``model.json``: size,
    ImageNet resize/crop, mean/std) and flip TTA when its recipe used it.
    """
    where = placement(device, "fp32", channels_last=False)
    model, meta = load_model(source, model_name, device=where.device)
    channels = int(meta["input_size"][0])
    batch = preprocess([read_image(p, channels) for p in images], meta)
    tta = bool((meta.get("recipe") or {}).get("tta_flip", False))
    chunks = (batch[i:i + BATCH].to(where.device) for i in range(0, len(batch), BATCH))
    probs = predict_logits(model, chunks, where, tta_flip=tta).softmax(dim=1)
    k = max(1, min(top_k, probs.shape[1]))
    values, indices = probs.topk(k, dim=1)
    classes = meta["classes"]
    return [
        Prediction(str(p), [(str(classes[i]), float(v)) for v, i in zip(vs, ids, strict=True)])
        for p, vs, ids in zip(images, values.tolist(), indices.tolist(), strict=True)
    ]
