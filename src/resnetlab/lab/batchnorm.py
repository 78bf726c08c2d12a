"""Experiment ``batchnorm``: how much faster does a network train with BatchNorm?

Ioffe & Szegedy 2015 (arXiv:1502.03167), §4.1 (their MNIST experiment) and "Dive into Deep
Learning" §8.5: LeNet-5 with sigmoid activations, plain SGD at learning rate 1.0 and batch 100,
with and without BatchNorm after every conv/linear layer (before the sigmoid). BatchNorm is
what lets the 20–110-layer nets of He et al. 2015 train from scratch (§3.4: "We adopt batch
normalization right after each convolution and before activation").

The test accuracy is measured after every iteration, so the figure shows how soon each network
starts to learn; results.json gives the first iteration above 50 % and 70 % and the first at
which the curve's running mean is above (:func:`resnetlab.lab.noise.crossing`). The verdict
follows :mod:`resnetlab.lab.noise`: "sooner" only when one net's running mean passes 70 % before
the other's first point does, and the final accuracies compared against their end-of-run noise.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from resnetlab.data import InMemoryLoader, normalize
from resnetlab.hardware import resolve_device
from resnetlab.i18n import N_, _, ngettext
from resnetlab.lab.common import LabResult
from resnetlab.lab.inputs import load_lab_data
from resnetlab.lab.lenet import lenet5
from resnetlab.lab.noise import Comparison, Crossing, crossing, final_value, sooner
from resnetlab.lab.plotting import new_figure, save
from resnetlab.train.step import train_step

FIGURE = "batchnorm.png"
THRESHOLDS = (0.5, 0.7)
# (name, with BatchNorm): the names are results.json keys, translated only where shown.
VARIANTS = ((N_("LeNet-5 + BatchNorm"), True), (N_("LeNet-5 (no BatchNorm)"), False))


@torch.no_grad()
def _accuracy(model, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()  # BatchNorm uses its running statistics, as at deployment
    acc = float((model(x).argmax(dim=1) == y).float().mean())
    model.train()
    return acc


def train_curve(model, loader: InMemoryLoader, test_x: torch.Tensor, test_y: torch.Tensor,
                iterations: int, lr: float) -> dict:
    """Plain SGD for ``iterations`` steps; test accuracy after every step (so the loss is
    read after every step too: the curve needs it)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    accs: list[float] = []
    losses: list[float] = []
    epoch = 0
    model.train()
    while len(accs) < iterations:
        for x, y in loader.iter_from(epoch):
            loss, _ = train_step(model, optimizer, x, y)
            losses.append(float(loss))
            accs.append(_accuracy(model, test_x, test_y))
            if len(accs) == iterations or not math.isfinite(losses[-1]):
                break
        if not math.isfinite(losses[-1]):
            break
        epoch += 1
    firsts = {}
    for t in THRESHOLDS:
        passed = crossing(accs, t)
        firsts[f"first_iteration_above_{int(t * 100)}"] = passed.first
        firsts[f"steady_iteration_above_{int(t * 100)}"] = passed.steady
        firsts["steady_window"] = passed.window
    return {"test_accuracy": accs, "train_loss": losses, **firsts,
            "final_test_accuracy": accs[-1], "best_test_accuracy": max(accs),
            "diverged": not math.isfinite(losses[-1])}


def _plot(curves: dict[str, dict], title: str, path: Path) -> Path:
    fig = new_figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    for (name, curve), color in zip(curves.items(), ("tab:green", "tab:gray"), strict=True):
        accs = [100 * a for a in curve["test_accuracy"]]
        ax.plot(range(1, len(accs) + 1), accs, color=color, lw=1.2, label=_(name))
        for t, marker in zip(THRESHOLDS, ("o", "s"), strict=True):
            it = curve[f"first_iteration_above_{int(t * 100)}"]
            if it is not None:
                ax.plot(it, accs[it - 1], marker, color=color, ms=7, mfc="none")
    for t in THRESHOLDS:
        ax.axhline(100 * t, color="black", lw=0.6, ls=":")
        ax.text(1.005, 100 * t, f"{int(t * 100)} %", transform=ax.get_yaxis_transform(),
                va="center", fontsize=8)
    ax.set(xlabel=_("training iteration (one SGD step on a batch)"),
           ylabel=_("test accuracy (%)"), title=title, ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right",
              title=_("markers: first iteration above 50 % (o) / 70 % (□)"),
              title_fontsize=8, fontsize=9)
    return save(fig, path)


def run(out_dir: Path, quick: bool = False, *, data: str = "fashion-mnist",
        data_dir: str | None = None, iterations: int | None = None, lr: float = 1.0,
        batch_size: int = 100, seed: int = 0, device: str | None = None) -> LabResult:
    """Train both LeNets with the same data order; record per-iteration test accuracy."""
    where = resolve_device(device)
    iterations = iterations or (40 if quick else 1500)
    lab_data = load_lab_data(data, data_dir, quick, image_size=28)
    bundle = lab_data.bundle
    test = bundle.test
    test_x = normalize(test.images, test.mean, test.std).to(where)
    test_y = test.labels.to(where)
    curves, seconds = {}, {}
    for name, use_bn in VARIANTS:
        torch.manual_seed(seed)
        model = lenet5(bundle.num_classes, bundle.input_size[0], use_bn,
                       bundle.input_size[1]).to(where)
        loader = InMemoryLoader(bundle.train, batch_size, shuffle=True, drop_last=True,
                                seed=seed, device=where)
        started = time.perf_counter()
        curves[name] = train_curve(model, loader, test_x, test_y, iterations, lr)
        seconds[name] = round(time.perf_counter() - started, 2)

    title = _("LeNet-5 (sigmoid) with and without BatchNorm\n{data}: {train} train / {test} "
              "test images, SGD lr {lr}, batch {batch}").format(
                  data=lab_data.name, train=len(bundle.train), test=len(test), lr=f"{lr:g}",
                  batch=batch_size)
    figure = _plot(curves, title, out_dir / FIGURE)
    results = {
        "data": lab_data.name, "train_images": len(bundle.train), "test_images": len(test),
        "iterations": iterations, "lr": lr, "batch_size": batch_size, "seed": seed,
        "device": str(where), "train_seconds": seconds,
        "models": {name: {"batchnorm": bn, **curves[name]} for name, bn in VARIANTS},
    }
    bn_curve, plain_curve = (curves[name] for name, _bn in VARIANTS)
    results["reached_70_sooner_with_batchnorm"] = sooner(_crossing(bn_curve),
                                                         _crossing(plain_curve))
    results["final_accuracy_comparison"] = final_accuracies(bn_curve, plain_curve).to_dict()
    verdict = [_variant_line(name, curves[name]) for name, _bn in VARIANTS]
    verdict.append(speedup_verdict(curves))
    if lab_data.note:
        verdict.append(lab_data.note)
    return LabResult("batchnorm", results, [figure], verdict)


def _variant_line(name: str, curve: dict) -> str:
    """``LeNet-5 + BatchNorm: >50 % at iteration 24, ...; final 79.7 % after 1500 iterations``."""
    hits = []
    for t in THRESHOLDS:
        first = curve[f"first_iteration_above_{int(t * 100)}"]
        text = (_(">{threshold} % at iteration {iteration}") if first
                else _(">{threshold} % at iteration never"))
        hits.append(text.format(threshold=int(t * 100), iteration=first))
    count = len(curve["test_accuracy"])
    line = ngettext("{name}: {hits}; final {accuracy} % after {count} iteration",
                    "{name}: {hits}; final {accuracy} % after {count} iterations", count).format(
                        name=_(name), hits=", ".join(hits), count=count,
                        accuracy=f"{100 * curve['final_test_accuracy']:.1f}")
    return line + (_(" (diverged)") if curve["diverged"] else "")


def speedup_verdict(curves: dict[str, dict]) -> str:
    """The two claims, each against its own noise: does BatchNorm reach 70 % sooner, and does
    it end higher?"""
    return f"{_sooner(*curves.values())}; {_final(*curves.values())}"


def _crossing(curve: dict) -> Crossing:
    return Crossing(curve["first_iteration_above_70"], curve["steady_iteration_above_70"],
                    curve["steady_window"])


def _sooner(bn: dict, plain: dict) -> str:
    """VARIANTS order: with BatchNorm first."""
    a, b = _crossing(bn), _crossing(plain)
    answer = sooner(a, b)
    if a.first and b.first and answer is not None:
        text = (_("BatchNorm reached 70 % {factor}x sooner ({with_bn} vs {without} iterations)")
                if answer else _("BatchNorm reached 70 % later ({with_bn} vs {without} "
                                 "iterations): it did not help here"))
        return text.format(factor=f"{b.first / a.first:.1f}", with_bn=a.first, without=b.first)
    if a.first and b.first:
        return _("the nets first pass 70 %, at iterations {with_bn} and {without}, too close "
                 "for their noise: their means over {window} iterations pass it at {with_steady} "
                 "and {without_steady}; inconclusive").format(
                     with_bn=a.first, without=b.first, window=a.window,
                     with_steady=a.steady or "—", without_steady=b.steady or "—")
    if a.first or b.first:
        count = len(bn["test_accuracy"])
        if answer is None:
            return _("only one net went above 70 %, and only briefly (its mean over {window} "
                     "iterations never did): inconclusive").format(window=a.window)
        return (_("only the BatchNorm net reached 70 % within {count} iterations") if a.first
                else _("only the net without BatchNorm reached 70 %: BatchNorm did not help "
                       "here")).format(count=count)
    return _("neither net reached 70 %: train longer (--iterations)")


def final_accuracies(bn: dict, plain: dict) -> Comparison:
    """With vs without BatchNorm: the final test accuracy (the mean over the last tenth of
    the iterations) and its end-of-run noise (:func:`resnetlab.lab.noise.final_value`)."""
    return Comparison(*([final_value(range(1, len(c["test_accuracy"]) + 1), c["test_accuracy"])]
                        for c in (bn, plain)))


def _final(bn: dict, plain: dict) -> str:
    compared = final_accuracies(bn, plain)
    numbers = {"with_bn": f"{100 * compared.a[0].mean:.1f}",
               "without": f"{100 * compared.b[0].mean:.1f}", "band": f"{100 * compared.band:.1f}"}
    if math.isinf(compared.band):
        return _("final accuracy (mean over the last tenth of the iterations) {with_bn} % vs "
                 "{without} %: too few iterations to measure its noise").format(**numbers)
    if compared.answer is None:
        return _("final accuracy the same within the noise (mean over the last tenth of the "
                 "iterations {with_bn} % vs {without} %, ±{band} points)").format(**numbers)
    return (_("BatchNorm ends higher (mean over the last tenth of the iterations {with_bn} % vs "
              "{without} %, noise ±{band} points)") if compared.answer else
            _("BatchNorm ends lower (mean over the last tenth of the iterations {with_bn} % vs "
              "{without} %, noise ±{band} points)")).format(**numbers)
