"""Benchmark: resnetlab's ``fast`` recipe against a stock PyTorch recipe at equal wall time.

For each configuration (model on a dataset) and seed, the *stock* recipe below trains for N
epochs (N in ``--budgets``) and its wall time T_N is measured; then ``resnetlab.train`` gets
``time_budget=T_N`` with its default recipe, in the same process, right after. Both report
top-1 on the test split. With 30 in ``--budgets`` a last fast run gets T_30 / 4, to check that
``fast`` reaches stock's 30-epoch accuracy in a quarter of its time. Ratios measured side by
side are what count; absolute times depend on the machine. Results go to docs/benchmarks.md::

    .venv/bin/python benchmarks/recipe_vs_stock.py --out runs/recipe-vs-stock.json

The stock recipe is what a PyTorch user writes from the tutorials (kuangliu/pytorch-cifar's
settings): SGD lr 0.1, momentum 0.9, weight decay 5e-4, batch 128, cosine annealing over the
run, random crop (4 px padding) + horizontal flip, fp32, NCHW, one evaluation at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CONFIGS = {
    "resnet20-cifar10": ("resnet20", "cifar10", SHARED / "cifar10-subset"),
    "resnet56-cifar10": ("resnet56", "cifar10", SHARED / "cifar10-subset"),
    "resnet20-fashion-mnist": ("resnet20", "fashion-mnist", SHARED / "fashion-mnist-subset"),
}


def stock_run(model_name: str, bundle, epochs: int, seed: int) -> tuple[float, float]:
    """Train with the stock recipe; returns ``(test top-1, wall seconds)``."""
    import torch
    import torch.nn.functional as F

    from resnetlab.models import create_model

    started = time.perf_counter()
    torch.manual_seed(seed)
    train, test = bundle.train, bundle.test
    model = create_model(model_name, num_classes=bundle.num_classes,
                         in_chans=bundle.input_size[0])
    mean = torch.tensor(train.mean).view(1, -1, 1, 1)
    std = torch.tensor(train.std).view(1, -1, 1, 1)
    batch, pad = 128, 4
    steps = epochs * math.ceil(len(train) / batch)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    images, labels = train.images, train.labels
    h, w = images.shape[2:]
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(train))
        for i in range(0, len(train), batch):
            idx = order[i:i + batch]
            x = F.pad(images[idx].float() / 255, (pad,) * 4)
            dx, dy = torch.randint(0, 2 * pad + 1, (2, len(idx)))
            x = torch.stack([x[j, :, dy[j]:dy[j] + h, dx[j]:dx[j] + w] for j in range(len(idx))])
            flip = torch.rand(len(idx)) < 0.5
            x[flip] = x[flip].flip(3)
            loss = F.cross_entropy(model((x - mean) / std), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test), 500):
            x = (test.images[i:i + 500].float() / 255 - mean) / std
            correct += int((model(x).argmax(1) == test.labels[i:i + 500]).sum())
    return correct / len(test), time.perf_counter() - started


def fast_run(model_name: str, bundle, budget: float, seed: int) -> tuple[float, float, int]:
    """``resnetlab.train`` with its defaults inside ``budget`` s; ``(top-1, wall s, epochs)``.

    A budget too short to train at all counts as a loss (accuracy 0)."""
    import resnetlab
    from resnetlab.errors import ConfigError

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        try:
            run = resnetlab.train(model_name, bundle, out_dir=Path(tmp) / "run",
                                  time_budget=budget, seed=seed, quiet=True)
        except ConfigError as exc:
            print(f"fast run could not train in {budget:.1f} s: {exc}", flush=True)
            return 0.0, time.perf_counter() - started, 0
        wall = time.perf_counter() - started
    return run.metrics["test_top1"], wall, run.metrics["epochs"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--budgets", nargs="+", type=int, default=[1, 3, 10, 30],
                        help="stock epochs whose wall time is the fast run's budget")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/recipe-vs-stock.json"))
    args = parser.parse_args()

    import torch

    from resnetlab.data import load

    # Warm both paths up first (imports, first allocations), so that neither pays them inside
    # a measured budget: the 1-epoch Fashion-MNIST budget is only a few seconds.
    warm = load("digits", image_size=16)
    stock_run("resnet20", warm, 1, 0)
    fast_run("resnet20", warm, 20.0, 0)
    rows = []
    for key in args.configs:
        model_name, data, root = CONFIGS[key]
        bundle = load(data, root)
        for seed in args.seeds:
            stock30 = None
            for epochs in args.budgets:
                s_acc, s_wall = stock_run(model_name, bundle, epochs, seed)
                f_acc, f_wall, f_epochs = fast_run(model_name, bundle, s_wall, seed)
                rows.append({"config": key, "seed": seed, "stock_epochs": epochs,
                             "budget_s": s_wall, "stock_top1": s_acc, "fast_top1": f_acc,
                             "fast_wall_s": f_wall, "fast_epochs": f_epochs})
                print(json.dumps(rows[-1]), flush=True)
                if epochs == 30:
                    stock30 = (s_acc, s_wall)
            if stock30 is not None:
                f_acc, f_wall, f_epochs = fast_run(model_name, bundle, stock30[1] / 4, seed)
                rows.append({"config": key, "seed": seed, "stock_epochs": "30/4",
                             "budget_s": stock30[1] / 4, "stock_top1": stock30[0],
                             "fast_top1": f_acc, "fast_wall_s": f_wall, "fast_epochs": f_epochs})
                print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'config':24s} {'budget':>6s} {'seconds':>8s} {'stock %':>8s} {'fast %':>8s} "
          f"{'fast/B':>6s} {'wins':>5s}")
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["config"], str(r["stock_epochs"])), []).append(r)
    summary = []
    for (key, epochs), rs in groups.items():
        s = statistics.fmean(r["stock_top1"] for r in rs)
        f = statistics.fmean(r["fast_top1"] for r in rs)
        use = statistics.fmean(r["fast_wall_s"] / r["budget_s"] for r in rs)
        sec = statistics.fmean(r["budget_s"] for r in rs)
        summary.append({"config": key, "stock_epochs": epochs, "seeds": len(rs),
                        "budget_s": sec, "stock_top1": s, "fast_top1": f, "wall_over_budget": use})
        print(f"{key:24s} {epochs:>6s} {sec:8.1f} {100 * s:8.2f} {100 * f:8.2f} {use:6.3f} "
              f"{'yes' if f > s else 'NO':>5s}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"), "rows": rows,
        "summary": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
