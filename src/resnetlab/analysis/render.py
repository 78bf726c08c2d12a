"""Pictures of what the analysis finds, shared by the lab (files) and the server (PNG bytes).

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``, no pyplot), which
keeps no global state: the server draws them from several threads at once. For the same reason
the text they draw is translated into an explicit ``lang`` when one is given (else the current
language of :mod:`resnetlab.i18n`, English by default).
"""

from __future__ import annotations

import io

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from PIL import Image

from resnetlab.analysis.gradcam import overlay
from resnetlab.analysis.residual import BlockAnatomy
from resnetlab.i18n import gettext

DPI = 100
OVERLAY_SIDE = 256  # a Grad-CAM overlay PNG is upscaled to this many pixels
_MIN_TILE = 48  # channel tiles are upscaled (nearest) to at least this many pixels


def image_for_display(pixels: torch.Tensor) -> np.ndarray:
    """uint8 C×H×W → H×W (grey) or H×W×3 array for ``imshow``."""
    array = pixels.detach().cpu().numpy()
    return array[0] if array.shape[0] == 1 else np.transpose(array[:3], (1, 2, 0))


def shape_text(t: torch.Tensor) -> str:
    """``64×56×56`` for a (1×)C×H×W tensor."""
    dims = t.shape[1:] if t.dim() == 4 else t.shape
    return "×".join(str(int(d)) for d in dims)


def png_bytes(array: np.ndarray, side: int | None = None) -> bytes:
    """uint8 H×W or H×W×3 array → PNG bytes, resized (bilinear) to ``side × side`` if given."""
    image = Image.fromarray(np.ascontiguousarray(array))
    if side is not None:
        image = image.resize((side, side), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def figure_png(fig: Figure) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def overlay_png(pixels: torch.Tensor, cam: torch.Tensor, side: int = OVERLAY_SIDE) -> bytes:
    """A Grad-CAM map blended over the uint8 C×H×W image it explains, as a PNG."""
    return png_bytes(overlay(image_for_display(pixels), cam), side)


def channel_grid(activations: torch.Tensor, count: int = 16, columns: int = 8) -> np.ndarray:
    """The first ``count`` channels of a (1×)C×H×W activation as one uint8 H×W×3 grid.

    Each channel is scaled to its own range and coloured with viridis (as the lab's feature-map
    figure), tiles are upscaled to at least 48 pixels and separated by a 2-pixel white line.
    """
    maps = activations.detach().float().cpu()
    maps = maps[0] if maps.dim() == 4 else maps
    maps = maps[:max(1, count)]
    low = maps.amin(dim=(1, 2), keepdim=True)
    span = (maps.amax(dim=(1, 2), keepdim=True) - low).clamp_min(1e-12)
    scaled = ((maps - low) / span).numpy()
    tiles = colormaps["viridis"](scaled)[..., :3]  # C×H×W×3 in [0, 1]
    factor = max(1, -(-_MIN_TILE // max(scaled.shape[1:])))
    tiles = tiles.repeat(factor, axis=1).repeat(factor, axis=2)
    n, h, w = tiles.shape[:3]
    cols = min(columns, n)
    rows = -(-n // cols)
    gap = 2
    grid = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap, 3))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    return (grid * 255).round().astype(np.uint8)


def _panels(anatomy: BlockAnatomy, lang: str | None) -> list[tuple[str, torch.Tensor | None]]:
    def _(message: str) -> str:
        return gettext(message, lang=lang)

    post = "ReLU" if anatomy.post_name == "ReLU" else _("identity")
    if anatomy.shortcut is not None:
        shortcut, total = _("S(x) shortcut"), "F(x) + S(x)"
    else:
        shortcut, total = _("no shortcut (plain block)"), _("F(x) (nothing added)")
    return [(_("x: block input"), anatomy.x), (_("F(x): residual branch"), anatomy.residual),
            (shortcut, anatomy.shortcut), (total, anatomy.total),
            (_("output = {post}(sum)").format(post=post), anatomy.output)]


def plot_anatomy(anatomy: BlockAnatomy, channels: int, title: str, *,
                 lang: str | None = None) -> Figure:
    """Rows = channels, columns = x, F, S, sum, output; one symmetric colour scale for all.

    ``title`` is drawn as given; the panel and axis labels are in ``lang`` (default: the
    current language of :mod:`resnetlab.i18n`).
    """
    panels = _panels(anatomy, lang)
    shown = [t for _, t in panels if t is not None]
    limit = max(float(t.abs().max()) for t in shown) or 1.0
    cols = len(panels)
    fig = Figure(figsize=(2.2 * cols + 1.2, 2.0 * channels + 1.2), layout="constrained")
    axes = fig.subplots(channels, cols, squeeze=False)
    image = None
    for col, (name, tensor) in enumerate(panels):
        head = name if tensor is None else f"{name}\n{shape_text(tensor)}"
        axes[0, col].set_title(head, fontsize=9)
        for row in range(channels):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(gettext("channel {index}", lang=lang).format(index=row),
                              fontsize=9)
            if tensor is None or row >= tensor.shape[1]:
                ax.text(0.5, 0.5, "—", ha="center", va="center", transform=ax.transAxes)
                continue
            image = ax.imshow(tensor[0, row].cpu().numpy(), cmap="RdBu_r", vmin=-limit,
                              vmax=limit, interpolation="nearest")
    fig.suptitle(title, fontsize=11)
    if image is not None:
        bar = fig.colorbar(image, ax=axes, shrink=0.8, location="right")
        bar.set_label(gettext("activation (shared scale, BN-normalized units)", lang=lang))
    return fig
