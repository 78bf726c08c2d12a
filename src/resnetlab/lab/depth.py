"""Experiment ``depth``: the ResNet family at a glance, depth vs parameters vs MACs.

He et al. 2015, Table 1 (ImageNet) and §4.2 (CIFAR): the ImageNet nets switch from basic to
bottleneck blocks at 50 layers, which is why ResNet-50 costs barely more than ResNet-34; the
CIFAR nets keep their widths fixed (16/32/64), so their cost grows linearly with depth. All
numbers come from the model cards (:func:`resnetlab.get_card`), counted on the built models.
"""

from __future__ import annotations

import re
from pathlib import Path

from resnetlab.i18n import N_, _
from resnetlab.lab.common import LabResult
from resnetlab.lab.plotting import new_figure, save
from resnetlab.models import get_card, list_models
from resnetlab.models.registry import resolve_config

FIGURE = "depth.png"
# (family key in the cards, legend label (translated when drawn), marker, colour, label offset
# in points)
FAMILIES = (
    ("imagenet", N_("ImageNet ResNets (224×224 input)"), "o", "tab:blue", (4, -11)),
    ("cifar", N_("CIFAR ResNets (32×32 input)"), "s", "tab:red", (4, -11)),
    # above the line: pre-activation 110 sits on top of the CIFAR 110 point
    ("preact", N_("pre-activation CIFAR ResNets (32×32)"), "^", "tab:green", (-6, 6)),
)
_DEPTH = re.compile(r"^(?:preact_)?resnet(\d+)$")


def family_table() -> list[dict]:
    """One row per plain-named ResNet of the three families, by family then depth."""
    rows = []
    for name in list_models():
        match = _DEPTH.match(name)
        card = get_card(name)
        if match is None or card.family not in {f[0] for f in FAMILIES}:
            continue
        rows.append({"name": name, "family": card.family, "depth": int(match.group(1)),
                     "block": resolve_config(name).block, "params": card.params,
                     "macs": card.macs, "input_size": list(card.input_size)})
    order = [f[0] for f in FAMILIES]
    return sorted(rows, key=lambda r: (order.index(r["family"]), r["depth"]))


def _plot(rows: list[dict], path: Path) -> Path:
    fig = new_figure(figsize=(12, 5), layout="constrained")
    axes = fig.subplots(1, 2)
    for key, label, marker, color, offset in FAMILIES:
        fam = [r for r in rows if r["family"] == key]
        depths = [r["depth"] for r in fam]
        for ax, field, scale in ((axes[0], "params", 1e6), (axes[1], "macs", 1e9)):
            values = [r[field] / scale for r in fam]
            ax.plot(depths, values, marker=marker, color=color, label=_(label))
            for d, v in zip(depths, values, strict=True):
                ax.annotate(str(d), (d, v), textcoords="offset points", xytext=offset,
                            fontsize=7, color=color)
    depth_label = _("depth (weighted layers, log scale)")
    axes[0].set(xscale="log", yscale="log", xlabel=depth_label,
                ylabel=_("parameters (millions, log scale)"), title=_("parameters vs depth"))
    axes[1].set(xscale="log", yscale="log", xlabel=depth_label,
                ylabel=_("multiply-accumulates per image (GMACs, log scale)"),
                title=_("compute vs depth (at each family's input size)"))
    for ax in axes:
        ax.set_xlim(14, 2000)  # room for the labels of the end points
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(_("The ResNet family at a glance (numbers from the model cards; labels = "
                   "depth)"), fontsize=11)
    return save(fig, path)


def _ratio_line(rows: list[dict], family: str) -> str | None:
    fam = [r for r in rows if r["family"] == family]
    if len(fam) < 2:
        return None
    a, b = fam[0], fam[-1]
    return _("{family}: {first} -> {last}: params {first_params} M -> {last_params} M "
             "(x{params_ratio}), MACs {first_macs} G -> {last_macs} G (x{macs_ratio})").format(
                 family=family, first=a["name"], last=b["name"],
                 first_params=f"{a['params'] / 1e6:.2f}", last_params=f"{b['params'] / 1e6:.1f}",
                 params_ratio=f"{b['params'] / a['params']:.1f}",
                 first_macs=f"{a['macs'] / 1e9:.2f}", last_macs=f"{b['macs'] / 1e9:.1f}",
                 macs_ratio=f"{b['macs'] / a['macs']:.1f}")


def run(out_dir: Path, quick: bool = False) -> LabResult:
    """Tabulate and plot params/MACs against depth (cheap: the same in quick mode)."""
    rows = family_table()
    figure = _plot(rows, out_dir / FIGURE)
    verdict = [line for line in (_ratio_line(rows, "imagenet"), _ratio_line(rows, "cifar"))
               if line]
    by_name = {r["name"]: r for r in rows}
    if "resnet34" in by_name and "resnet50" in by_name:
        r34, r50 = by_name["resnet34"], by_name["resnet50"]
        verdict.append(_(
            "bottlenecks: resnet50 has {params_ratio}x the params and {macs_ratio}x the MACs of "
            "resnet34 with 16 more layers").format(
                params_ratio=f"{r50['params'] / r34['params']:.2f}",
                macs_ratio=f"{r50['macs'] / r34['macs']:.2f}"))
    return LabResult("depth", {"table": rows}, [figure], verdict)
