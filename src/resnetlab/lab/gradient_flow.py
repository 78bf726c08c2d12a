"""Experiment ``gradient-flow``: per-layer gradient norms of plain and residual nets.

The question of He et al. 2015, §4.1: is the degradation of deep plain nets a vanishing-gradient
problem? The paper argues not ("plain networks are trained with BN, which ensures forward
propagated signals to have non-zero variances ... backward propagated gradients exhibit healthy
norms"). Measured here on one batch, with BN in training mode as during training:

- at initialization the gradients of a deep *plain* BN net do not vanish, they **explode**
  toward the input (Yang et al. 2019, "A Mean Field Theory of Batch Normalization",
  arXiv:1902.08129), while residual nets keep them within about an order of magnitude;
- after a few SGD steps those exploded first layers have grown large weights; a conv followed
  by BN is scale invariant, so its gradient shrinks as 1/||W|| and the plain net's first-layer
  gradient **collapses** by orders of magnitude, while the residual nets' stays near the last's.

Both views are recorded: the gradient w.r.t. each conv's weights and the gradient w.r.t. each
block's output.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from resnetlab.analysis.gradients import GradientReport, gradient_norms
from resnetlab.data import InMemoryLoader, normalize
from resnetlab.i18n import _, ngettext
from resnetlab.lab.common import LabResult, sci
from resnetlab.lab.inputs import load_lab_data
from resnetlab.lab.plotting import depth_color, new_figure, save
from resnetlab.models import create_model
from resnetlab.train.step import train_step

FIGURE = "gradient_flow.png"


def _net_name(plain: bool, depth: int) -> str:
    return f"{'plain' if plain else 'resnet'}-{depth}"


def _train_steps(model, loader: InMemoryLoader, steps: int, lr: float) -> float:
    """``steps`` SGD steps of the paper's optimizer (momentum 0.9, weight decay 1e-4); the
    last loss (each is read, to stop at the first that is not finite)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    done, epoch, loss = 0, 0, float("nan")
    while done < steps:
        for x, y in loader.iter_from(epoch):
            out, _ = train_step(model, optimizer, x, y)
            loss, done = float(out), done + 1
            if done == steps or not math.isfinite(loss):
                return loss
        epoch += 1
    return loss


def _plot(nets: list[dict], steps: int, title: str, path: Path) -> Path:
    phases = [("init", _("at initialization"))]
    if steps:
        phases.append(("after", ngettext("after {steps} SGD step", "after {steps} SGD steps",
                                         steps).format(steps=steps)))
    fig = new_figure(figsize=(6.2 * len(phases), 8.4), layout="constrained")
    axes = fig.subplots(2, len(phases), squeeze=False)
    for col, (key, label) in enumerate(phases):
        top, bottom = axes[0, col], axes[1, col]
        for net in nets:
            report: GradientReport = net[key]
            style = dict(color=depth_color(net["depth"]), lw=1.4,
                         ls="--" if net["plain"] else "-", label=net["name"])
            top.plot(range(1, len(report.conv_grad_norms) + 1), report.conv_grad_norms, **style)
            bottom.plot(range(1, len(report.block_grad_rms) + 1), report.block_grad_rms, **style)
        top.set(yscale="log", xlabel=_("conv layer index (1 = next to the input)"),
                ylabel=_("||dL/dW|| (L2 norm of the weight gradient)"),
                title=_("weight gradients {phase}").format(phase=label))
        bottom.set(yscale="log", xlabel=_("residual block index (1 = next to the input)"),
                   ylabel=_("RMS of dL/dx at the block output"),
                   title=_("gradient reaching each block {phase}").format(phase=label))
        for ax in (top, bottom):
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8, ncol=2, title=_("dashed: plain, solid: residual"),
                      title_fontsize=8)
    fig.suptitle(title, fontsize=11)
    return save(fig, path)


def run(out_dir: Path, quick: bool = False, *, depths: tuple[int, ...] = (20, 56, 110),
        steps: int | None = None, batch_size: int | None = None, lr: float = 0.1,
        data: str = "digits", data_dir: str | None = None, seed: int = 0) -> LabResult:
    """Gradient norms at init (and after ``steps`` SGD steps) of plain/residual nets."""
    steps = (1 if quick else 20) if steps is None else steps
    batch_size = batch_size or (8 if quick else 64)
    lab_data = load_lab_data(data, data_dir, quick, image_size=None if quick else 32)
    train = lab_data.bundle.train
    images = train.images[:batch_size]
    x = normalize(images, train.mean, train.std)
    y = train.labels[:batch_size]
    loader = InMemoryLoader(train, batch_size, shuffle=True, drop_last=True, seed=seed)

    nets = []
    for plain in (True, False):
        for depth in depths:
            torch.manual_seed(seed)  # same init draw for every network
            model = create_model("plain20" if plain else "resnet20", depth=depth,
                                 num_classes=lab_data.bundle.num_classes,
                                 in_chans=train.input_size[0]).train()
            net = {"name": _net_name(plain, depth), "depth": depth, "plain": plain,
                   "init": gradient_norms(model, x, y)}
            if steps:
                net["train_loss"] = _train_steps(model, loader, steps, lr)
                net["after"] = gradient_norms(model, x, y)
            nets.append(net)

    title = _("Gradient flow in plain vs residual CIFAR nets ({data} batch of {batch}, BN in "
              "training mode, seed {seed})").format(data=lab_data.name, batch=batch_size,
                                                    seed=seed)
    figure = _plot(nets, steps, title, out_dir / FIGURE)
    results = {
        "data": lab_data.name, "batch_size": batch_size, "steps": steps, "lr": lr,
        "seed": seed, "depths": list(depths),
        "measurement": "L2 norm of dL/dW for every main-path conv (shortcut projections "
                       "excluded) and RMS of dL/dx at every block output, BN in training mode, "
                       "one fixed batch",
        "networks": {
            n["name"]: {
                "depth": n["depth"], "plain": n["plain"],
                "first_last_ratio_init": n["init"].first_last_ratio,
                "first_last_ratio_after": n["after"].first_last_ratio if steps else None,
                "block_first_last_ratio_init": n["init"].block_first_last_ratio,
                "block_first_last_ratio_after": (n["after"].block_first_last_ratio
                                                 if steps else None),
                "train_loss_after": n.get("train_loss"),
                "init": n["init"].to_dict(),
                "after": n["after"].to_dict() if steps else None,
            } for n in nets},
    }
    results["verdict_facts"] = _facts(results["networks"], depths, steps)
    verdict = _verdict(results["networks"], results["verdict_facts"], steps)
    if lab_data.note:
        verdict.append(lab_data.note)
    return LabResult("gradient-flow", results, [figure], verdict)


def _orders(ratio: float | None) -> float | None:
    """Orders of magnitude away from 1 (|log10 ratio|)."""
    return abs(math.log10(ratio)) if ratio and ratio > 0 and math.isfinite(ratio) else None


def _facts(networks: dict, depths, steps: int) -> dict:
    deepest = max(depths)
    plain, res = networks[_net_name(True, deepest)], networks[_net_name(False, deepest)]
    facts = {
        "deepest": deepest,
        "plain_orders_init": _orders(plain["first_last_ratio_init"]),
        "residual_orders_init": _orders(res["first_last_ratio_init"]),
        "residual_max_orders_init": max(
            _orders(networks[_net_name(False, d)]["first_last_ratio_init"]) or 0 for d in depths),
    }
    if steps:
        facts["plain_orders_after"] = _orders(plain["first_last_ratio_after"])
        facts["residual_orders_after"] = _orders(res["first_last_ratio_after"])
    return facts


def _verdict(networks: dict, facts: dict, steps: int) -> list[str]:
    def row(key: str) -> str:
        return ", ".join(f"{n} {sci(v[key])}" for n, v in networks.items())

    deepest = facts["deepest"]
    plain = networks[_net_name(True, deepest)]
    direction = (_("explodes toward the input") if plain["first_last_ratio_init"] > 1
                 else _("vanishes"))
    lines = [_("first/last conv gradient ratio at init: {ratios}").format(
                 ratios=row("first_last_ratio_init")),
             _("at init the plain-{depth} gradient {direction} ({orders} orders of magnitude); "
               "the residual nets stay within {residual_orders}").format(
                 depth=deepest, direction=direction,
                 orders=f"{facts['plain_orders_init']:.1f}",
                 residual_orders=f"{facts['residual_max_orders_init']:.1f}")]
    if steps:
        lines.append(ngettext("after {steps} SGD step: {ratios}",
                              "after {steps} SGD steps: {ratios}", steps).format(
                                  steps=steps, ratios=row("first_last_ratio_after")))
    return lines
