"""Weight EMA: resnetlab's ModelEma against torch's AveragedModel, in one process.

Times one training step of resnet20 on a CIFAR-sized batch (the one step of
:mod:`resnetlab.train.step`, channels_last fp32) with each EMA and without one, and the EMA
update alone, all cases alternated (median of the repeats). The reasons written in
``resnetlab/train/ema.py`` come from this script. Not part of CI::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/ema_update.py --repeats 5 --threads 1
"""

from __future__ import annotations

import argparse
import copy

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from resnetlab.bench.timing import alternate
from resnetlab.hardware import placement
from resnetlab.models import create_model
from resnetlab.train.ema import ModelEma
from resnetlab.train.step import train_step


class _Averaged:
    """AveragedModel behind ModelEma's ``update(model)``."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.module = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay),
                                    use_buffers=True)

    def update(self, model: torch.nn.Module) -> None:
        self.module.update_parameters(model)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    where = placement("cpu", "fp32", True)
    torch.manual_seed(0)
    base = create_model(args.model, num_classes=10)
    x = torch.randn(args.batch, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (args.batch,), generator=torch.Generator().manual_seed(2))
    emas = {"none": None, "ModelEma": ModelEma, "AveragedModel": _Averaged}
    steps, updates = {}, {}
    for name, kind in emas.items():
        model = copy.deepcopy(base).to(memory_format=where.memory_format)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        ema = kind(model, 0.999) if kind else None
        steps[f"step, EMA {name}"] = (lambda m=model, o=optimizer, e=ema:
                                      train_step(m, o, x, y, where=where, label_smoothing=0.1,
                                                 ema=e))
        if ema is not None:
            updates[f"update alone, {name}"] = lambda m=model, e=ema: e.update(m)
    for cases, scale, unit in ((steps, 1e3, "ms per step"), (updates, 1e3, "ms per update")):
        seconds = alternate(cases, repeats=args.repeats, min_seconds=args.min_seconds,
                            warmup=2)
        for name, stats in seconds.items():
            s = stats.scaled(scale)
            print(f"{name}: {s.median:.3f} {unit} ({s.lo:.3f}-{s.hi:.3f}), threads "
                  f"{torch.get_num_threads()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
