"""PNG figures of a run: loss/error curves and confusion matrices.

Drawn on bare :class:`~matplotlib.figure.Figure` objects, never through pyplot: pyplot would
need a backend, and choosing one (``matplotlib.use("Agg")``) at import would switch off the
inline figures of a Jupyter notebook that trains a model. ``savefig`` renders PNGs by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure


def plot_curves(rows: Sequence[dict], path: Path, title: str = "") -> Path:
    """Loss and error (%) per epoch for train / val / test, side by side, saved to ``path``."""
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_err = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in rows]
    for split, style in (("train", "-"), ("val", "-."), ("test", "--")):
        losses = [r.get(f"{split}_loss") for r in rows]
        accs = [r.get(f"{split}_acc") for r in rows]
        if any(v is not None for v in losses):
            ax_loss.plot(epochs, losses, style, label=split)
        if any(v is not None for v in accs):
            errs = [None if a is None else 100.0 * (1.0 - a) for a in accs]
            ax_err.plot(epochs, errs, style, label=split)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_err.set(xlabel="epoch", ylabel="error (%)", title="top-1 error")
    for ax in (ax_loss, ax_err):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)


def plot_confusion(confusion: torch.Tensor, classes: Sequence[str], path: Path,
                   title: str = "") -> Path:
    """Row-normalised confusion matrix (true class per row) with counts in the cells."""
    k = len(classes)
    counts = confusion.to(torch.float64)
    rates = counts / counts.sum(dim=1, keepdim=True).clamp_min(1)
    size = max(4.0, 0.45 * k + 2)
    fig = Figure(figsize=(size, size))
    ax = fig.subplots()
    ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    if k <= 30:
        ax.set_xticks(range(k), labels=list(classes), rotation=90)
        ax.set_yticks(range(k), labels=list(classes))
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if rates[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)
