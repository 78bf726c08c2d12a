"""Where the time goes: torch.profiler's top operators for training and inference steps.

For each training model, one SGD step at batch 128 along the stock path and resnetlab's path;
for each inference model, one batch through eager fp32 (NCHW) and channels_last. Also prints
the share of convolution time (forward and backward), the part no elementwise fusion can
remove. Not part of CI; results go to docs/benchmarks.md, "Speed"::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/speed_profile.py
"""

from __future__ import annotations

import argparse
import copy

import torch

from resnetlab.bench import STOCK, bench_step, build_engine, resnetlab_path
from resnetlab.bench.profile import top_ops
from resnetlab.bench.report import profile_table
from resnetlab.bench.suite import build_model, num_classes_for, shared_weights

CONV_OPS = ("convolution", "conv2d")


def conv_share(fn, calls: int) -> float:
    """Fraction of self CPU time spent in convolution kernels (forward and backward)."""
    ops = top_ops(fn, calls=calls, rows=10_000)
    return sum(o["share"] for o in ops if any(k in o["name"] for k in CONV_OPS))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-models", nargs="*", default=["resnet20", "resnet56"])
    parser.add_argument("--infer-models", nargs="*", default=["resnet50:224"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--infer-batch", type=int, default=16)
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args()
    cpu = torch.device("cpu")

    for name in args.train_models:
        model = build_model(name, 10, 0)
        for path in (STOCK, resnetlab_path(cpu)):
            step = bench_step(copy.deepcopy(model), path, batch_size=args.batch, image_size=32,
                              num_classes=10, device=cpu)
            step()
            step()
            print(f"\n### {name} training step, batch {args.batch}, {path.label}: "
                  f"convolutions {100 * conv_share(step, 2):.0f} % of self time\n")
            print(profile_table(top_ops(step, calls=2, rows=args.rows)))
    for spec in args.infer_models:
        name, _, size = spec.partition(":")
        size = int(size or 224)
        baseline, model, label = shared_weights(name, size, 0)
        x = torch.randn(args.infer_batch, 3, size, size)
        for engine_name, net in (("eager", baseline), ("channels_last", model)):
            engine = build_engine(engine_name, net, x)
            call = lambda engine=engine, x=x: engine.run(x)  # noqa: E731
            print(f"\n### {name} inference {size}px, batch {args.infer_batch}, {engine_name} "
                  f"({num_classes_for(size)} classes): convolutions "
                  f"{100 * conv_share(call, 1):.0f} % of self time\n")
            print(profile_table(top_ops(call, calls=1, rows=args.rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
