"""Matplotlib conventions shared by the lab figures (one way to make and save them); the
pictures the server draws too live in :mod:`resnetlab.analysis.render`.

Figures are bare :class:`~matplotlib.figure.Figure` objects (:func:`new_figure`), never pyplot's:
no backend is chosen at import, so a notebook that runs an experiment keeps its inline plots.

Every lab figure goes through :func:`save`, so :func:`record_figures` can hand the drawn
:class:`~matplotlib.figure.Figure` objects to whoever asks (tests read their titles and labels,
a notebook can show them again) without the experiments returning them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from resnetlab.analysis.render import DPI, image_for_display

# One colour per depth, shared by gradient-flow and degradation so figures read alike.
DEPTH_COLORS = {20: "tab:blue", 32: "tab:cyan", 44: "tab:olive", 56: "tab:red",
                110: "tab:purple"}

# The open record_figures blocks, innermost last.
_recorders: list[dict[Path, Figure]] = []


def depth_color(depth: int) -> str:
    """The colour of a network depth (stable across figures)."""
    return DEPTH_COLORS.get(depth, "tab:gray")


@contextlib.contextmanager
def record_figures() -> Iterator[dict[Path, Figure]]:
    """Collect ``{path: Figure}`` of every figure :func:`save` writes inside the block.

    The figures stay readable after they are saved:
    ``fig.texts``, ``ax.get_title()``, ``ax.get_xlabel()``, legends...
    """
    figures: dict[Path, Figure] = {}
    _recorders.append(figures)
    try:
        yield figures
    finally:
        _recorders.remove(figures)


def new_figure(**settings: Any) -> Figure:
    """A figure that belongs to no pyplot window (``settings``: ``figsize``, ``layout``...)."""
    return Figure(**settings)


def save(fig: Figure, path: Path) -> Path:
    """Save ``fig`` as PNG (and hand it to any :func:`record_figures`); nothing global keeps
    it, so it is freed when the caller lets go of it."""
    path = Path(path)
    fig.savefig(path, dpi=DPI)
    for figures in _recorders:
        figures[path] = fig
    return path


def show_image(ax: Axes, pixels: torch.Tensor, title: str = "") -> None:
    """An image without ticks (grey images in grey)."""
    array = image_for_display(pixels)
    ax.imshow(array, cmap="gray" if array.ndim == 2 else None, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
