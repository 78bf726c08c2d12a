"""Evaluate a classifier on an :class:`~resnetlab.data.ImageDataset`: top-1/top-5, loss,
per-class accuracy and the confusion matrix, optionally with horizontal-flip TTA."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.data import fit_batch, normalize
from resnetlab.errors import ConfigError
from resnetlab.hardware import Placement, placement
from resnetlab.models.hub.loader import load_model


@dataclass
class Evaluation:
    """Metrics of one model on one dataset (accuracies are fractions in [0, 1])."""

    top1: float
    top5: float
    loss: float
    n: int
    classes: list[str]
    per_class: dict[str, float]
    confusion: torch.Tensor = field(repr=False)
    tta: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, the confusion matrix as nested lists (rows = true class)."""
        return {
            "top1": self.top1, "top5": self.top5, "loss": self.loss, "n": self.n,
            "tta_flip": self.tta, "per_class": self.per_class,
            "classes": list(self.classes), "confusion": self.confusion.tolist(),
        }

    def save_confusion_png(self, path: str | Path, title: str = "") -> Path:
        from resnetlab.train.plots import plot_confusion  # matplotlib: only when drawing

        return plot_confusion(self.confusion, self.classes, Path(path), title=title)


def normalized_batches(images: torch.Tensor, batch_size: int, mean: Sequence[float],
                       std: Sequence[float], where: Placement,
                       size: tuple[int, int] | None = None) -> Iterator[torch.Tensor]:
    """uint8 ``N x C x H x W`` → normalized float batches on ``where.device``, in order,
    resized (cover + centre crop, as at load time) when ``size`` differs."""

    for start in range(0, images.shape[0], batch_size):
        x = images[start:start + batch_size]
        if size is not None:
            x = fit_batch(x, size)
        x = normalize(x.to(where.device, non_blocking=True), mean, std)
        yield x.contiguous(memory_format=where.memory_format)


@torch.no_grad()
def predict_logits(model: nn.Module, batches: Iterator[torch.Tensor], where: Placement,
                   tta_flip: bool = False) -> torch.Tensor:
    """Float32 logits for every batch, concatenated on the CPU; flip TTA averages the logits
    of each image and its mirror image."""
    was_training = model.training
    model.eval()
    out = []
    for x in batches:
        with where.autocast():
            logits = model(x).float()
            if tta_flip:
                logits = 0.5 * (logits + model(torch.flip(x, dims=(3,))).float())
        out.append(logits.cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def metrics_from_logits(logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[str],
                        tta: bool = False) -> Evaluation:
    """Top-1/top-5, mean cross-entropy, per-class accuracy and confusion matrix."""
    k = len(classes)
    n = int(labels.shape[0])
    if logits.shape[1] != k:
        raise ConfigError(
            f"the model predicts {logits.shape[1]} classes but the data has {k}; "
            "evaluate on the dataset the model was trained for"
        )
    pred = logits.argmax(dim=1)
    topk = logits.topk(min(5, k), dim=1).indices
    confusion = torch.bincount(labels * k + pred, minlength=k * k).view(k, k)
    per_class_total = confusion.sum(dim=1)
    per_class = {
        str(c): (float(confusion[i, i]) / float(per_class_total[i]) if per_class_total[i] else 0.0)
        for i, c in enumerate(classes)
    }
    return Evaluation(
        top1=float((pred == labels).float().mean()) if n else 0.0,
        top5=float((topk == labels[:, None]).any(dim=1).float().mean()) if n else 0.0,
        loss=float(F.cross_entropy(logits, labels)) if n else 0.0,
        n=n, classes=list(classes), per_class=per_class, confusion=confusion, tta=tta,
    )


def evaluate(model_or_source: nn.Module | str | Path, dataset, *,
             meta: Mapping[str, Any] | None = None, batch_size: int = 500,
             device: str | torch.device | None = None, precision: str | None = None,
             tta_flip: bool | None = None) -> Evaluation:
    """Evaluate a model: an ``nn.Module`` or any source :func:`load_model` takes.

    A saved model is fed with the normalization statistics and image size stored in its
    ``model.json`` (``meta``, read by :func:`load_model` or passed with a loaded module), and
    uses flip TTA if its recipe did (``tta_flip`` overrides that); a bare ``nn.Module`` is fed
    with the dataset's own statistics.
    """
    where = placement(device, precision, channels_last=False)
    if isinstance(model_or_source, nn.Module):
        model = model_or_source.to(where.device)
    else:
        model, meta = load_model(model_or_source, device=where.device)
    if meta is None:
        mean, std, size = dataset.mean, dataset.std, None
        tta = bool(tta_flip)
    else:
        mean, std = meta["mean"], meta["std"]
        size = tuple(meta["input_size"][1:])
        if int(meta["input_size"][0]) != dataset.images.shape[1]:
            raise ConfigError(
                f"the model expects {meta['input_size'][0]}-channel images but "
                f"{dataset.name} has {dataset.images.shape[1]}; evaluate on the data it was "
                "trained for"
            )
        recipe_tta = bool((meta.get("recipe") or {}).get("tta_flip", False))
        tta = recipe_tta if tta_flip is None else bool(tta_flip)
    batches = normalized_batches(dataset.images, batch_size, mean, std, where, size)
    logits = predict_logits(model, batches, where, tta_flip=tta)
    return metrics_from_logits(logits, dataset.labels, dataset.classes, tta=tta)
