"""Matplotlib conventions shared by the lab figures (Agg backend, one save function); the
pictures the server draws too live in :mod:`resnetlab.analysis.render`."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from resnetlab.analysis.render import DPI, image_for_display  # noqa: E402

# One colour per depth, shared by gradient-flow and degradation so figures read alike.
DEPTH_COLORS = {20: "tab:blue", 32: "tab:cyan", 44: "tab:olive", 56: "tab:red",
                110: "tab:purple"}


def depth_color(depth: int) -> str:
    """The colour of a network depth (stable across figures)."""
    return DEPTH_COLORS.get(depth, "tab:gray")


def save(fig: plt.Figure, path: Path) -> Path:
    """Save ``fig`` as PNG and free it."""
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)


def show_image(ax: plt.Axes, pixels: torch.Tensor, title: str = "") -> None:
    """An image without ticks (grey images in grey)."""
    array = image_for_display(pixels)
    ax.imshow(array, cmap="gray" if array.ndim == 2 else None, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
