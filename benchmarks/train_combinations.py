"""Training levers combined: which precision x memory format x compile is fastest on this CPU?

``resnetlab bench --levers`` times each lever alone; this script times their combinations (and a
pure-bf16 model: bf16 weights and activations, no autocast casts) with the bench's own
``bench_step`` and ``alternate`` (one process, cases alternated, median of the repeats). It is
what decided ``resnetlab train``'s CPU defaults (docs/benchmarks.md, "Speed")::

    .venv/bin/python benchmarks/train_combinations.py [--compile]
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F

from resnetlab.bench.suite import build_model
from resnetlab.bench.timing import alternate
from resnetlab.bench.training import STOCK, bench_step

# (model, image size, batch, threads): CIFAR training at 2 threads, the digits Quickstart at 1.
CASES = (("resnet20", 32, 128, 2), ("resnet56", 32, 128, 2), ("resnet20", 16, 64, 1))


def pure_bf16_step(model: torch.nn.Module, batch: int, size: int):
    """One SGD step of a model held entirely in bf16 (channels_last)."""
    model = copy.deepcopy(model).to(dtype=torch.bfloat16, memory_format=torch.channels_last)
    model.train()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=g).to(torch.bfloat16)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), generator=g)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile", action="store_true", help="also bf16 + channels_last + "
                        "torch.compile (compiles for a minute)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cpu = torch.device("cpu")
    for name, size, batch, threads in CASES:
        torch.set_num_threads(threads)
        model = build_model(name, 10, 0)
        paths = {"stock": STOCK,
                 "fp32+cl": STOCK.with_levers("fp32+cl", channels_last=True),
                 "bf16": STOCK.with_levers("bf16", precision="bf16"),
                 "bf16+cl": STOCK.with_levers("bf16+cl", precision="bf16", channels_last=True)}
        if args.compile:
            paths["bf16+cl+compile"] = STOCK.with_levers(
                "bf16+cl+compile", precision="bf16", channels_last=True, compile=True)
        steps = {k: bench_step(copy.deepcopy(model), p, batch_size=batch, image_size=size,
                               num_classes=10, device=cpu) for k, p in paths.items()}
        steps["pure bf16+cl"] = pure_bf16_step(model, batch, size)
        seconds = alternate(steps, repeats=args.repeats, min_seconds=1.0, warmup=2)
        base = batch / seconds["stock"].median
        cells = ", ".join(f"{k} {batch / s.median:.0f} img/s ({batch / s.median / base:.2f}x)"
                          for k, s in seconds.items())
        print(f"{name} {size}px batch {batch}, {threads} thread(s): {cells}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
