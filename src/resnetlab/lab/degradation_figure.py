"""The figure of ``lab degradation``, laid out as He et al. 2015's Figure 6.

One panel for the plain nets, one for the residual ones; iterations on x; per net the training
error thin and dashed, the test error bold, one colour per depth. With several seeds the lines
are the seeds' mean and the shaded band their range.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from resnetlab.i18n import _
from resnetlab.lab.plotting import depth_color, new_figure, save


def _curves(histories: list[list[dict]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and per-seed error curves (%) of ``key`` (seeds log at the same steps)."""
    steps = np.array([r["step"] for r in histories[0]])
    errors = np.array([[100 * (1 - r[key]) for r in h] for h in histories])
    return steps, errors


def plot(histories: dict[str, list[list[dict]]], title: str, subtitle: str, path: Path) -> Path:
    """Draw and save the two panels; ``histories`` maps a net to its per-seed histories."""
    fig = new_figure(figsize=(12, 5.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    panels = {True: axes[0], False: axes[1]}
    for name, runs in histories.items():
        plain = name.startswith("plain")
        depth = int(name.removeprefix("plain").removeprefix("resnet"))
        label = f"{'plain' if plain else 'ResNet'}-{depth}"
        ax = panels[plain]
        for key, style, what in (("train_acc", dict(lw=1.0, ls="--"), _("train")),
                                 ("test_acc", dict(lw=2.4, ls="-"), _("test"))):
            steps, errors = _curves(runs, key)
            few = len(steps) <= 20  # a short run: dots, or a lone point would not show
            ax.plot(steps, errors.mean(axis=0), color=depth_color(depth),
                    label=f"{label} ({what})", marker="o" if few else None, ms=4, **style)
            if len(runs) > 1:
                ax.fill_between(steps, errors.min(axis=0), errors.max(axis=0),
                                color=depth_color(depth), alpha=0.15, lw=0)
    axes[0].set(title=_("plain networks"), ylabel=_("error (%)"))
    axes[1].set(title=_("residual networks (ResNet)"))
    axes[1].tick_params(labelleft=True)
    for ax in axes:
        ax.set_xlabel(_("iteration (SGD step)"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(title=_("dashed: training error, bold: test error"), title_fontsize=8,
                  fontsize=9)
    # The subtitle lists every scaling; wrapped, so a long one is not cut at the edges.
    fig.suptitle(f"{title}\n" + textwrap.fill(subtitle, 150), fontsize=10)
    return save(fig, path)
