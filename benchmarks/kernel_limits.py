"""What one training step of a CIFAR ResNet could cost at best on this CPU, kernel by kernel.

Issue 16 asks training to reach 2.6x stock eager fp32 or to show the kernel-level limit that
stops it. This script times, alone and alternately with a 512x512 GEMM (so both see the same
load), every *kind* of kernel a resnet20/resnet56 step runs, in the precision of resnetlab's
path on this CPU (bf16 where it is native, else fp32; channels_last):

* each convolution shape of the net: forward, input gradient and weight gradient
  (``aten.convolution_backward`` with one output at a time), as GFLOP/s and as a share of the
  GEMM's rate — how close oneDNN gets on 16-64 channels;
* the element-wise work of one BatchNorm + ReLU per shape, forward and backward, against a plain
  copy of the same tensor (the memory-bound floor: a fused BN + ReLU cannot do better than about
  one read and one write forward, two reads and one write backward);

and adds them up the way the net uses them, next to the measured step of the trainer.
Run on a quiet machine::

    .venv/bin/python benchmarks/kernel_limits.py --model resnet20 [--threads 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.bench.roofline import gemm_call
from resnetlab.bench.timing import alternate
from resnetlab.bench.training import STOCK, bench_step, resnetlab_path
from resnetlab.models import create_model

CL = torch.channels_last


def conv_shapes(model: nn.Module, batch: int, size: int) -> Counter:
    """(in, out, kernel, stride, input side) of every convolution, counted, from a forward."""
    shapes: Counter = Counter()

    def hook(module, inputs, _output):
        x = inputs[0]
        shapes[(module.in_channels, module.out_channels, module.kernel_size[0],
                module.stride[0], x.shape[-1])] += 1

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return shapes


def norm_shapes(model: nn.Module, size: int) -> Counter:
    """(channels, side) of every BatchNorm's input, counted."""
    shapes: Counter = Counter()
    handles = [m.register_forward_hook(
        lambda m, i, o: shapes.update([(m.num_features, i[0].shape[-1])]))
        for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return shapes


def conv_cases(shape, batch: int, dtype: torch.dtype) -> tuple[dict, float]:
    """Forward / input-gradient / weight-gradient calls of one conv shape, and its FLOPs."""
    cin, cout, k, stride, side = shape
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cin, side, side, generator=g).to(dtype).contiguous(memory_format=CL)
    w = torch.randn(cout, cin, k, k, generator=g).to(dtype).contiguous(memory_format=CL)
    pad = k // 2
    y = F.conv2d(x, w, stride=stride, padding=pad)
    dy = torch.randn(y.shape, generator=g).to(dtype).contiguous(memory_format=CL)
    flops = 2.0 * y.numel() * cin * k * k

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            dy, x, w, None, [stride, stride], [pad, pad], [1, 1], False, [0, 0], 1, mask)

    return {"forward": lambda: F.conv2d(x, w, stride=stride, padding=pad),
            "input grad": backward([True, False, False]),
            "weight grad": backward([False, True, False])}, flops


def norm_cases(channels: int, side: int, batch: int, dtype: torch.dtype) -> dict:
    """BatchNorm + ReLU forward and backward on one shape, and a copy of that tensor."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, side, side, generator=g).to(dtype)
    x = x.contiguous(memory_format=CL).requires_grad_()
    weight = torch.ones(channels, requires_grad=True)
    bias = torch.zeros(channels, requires_grad=True)
    mean, var = torch.zeros(channels), torch.ones(channels)
    out = torch.empty_like(x)

    def forward():
        return F.relu(F.batch_norm(x, mean, var, weight, bias, training=True))

    y = forward()
    dy = torch.randn(y.shape, generator=g).to(dtype).contiguous(memory_format=CL)
    return {"BN+ReLU forward": forward,
            "BN+ReLU backward": lambda: torch.autograd.grad(y, (x, weight, bias), dy,
                                                            retain_graph=True),
            "copy": lambda: out.copy_(x.detach())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = create_model(args.model, num_classes=10)
    cpu = torch.device("cpu")
    path = resnetlab_path(cpu)
    dtype = torch.bfloat16 if path.precision == "bf16" else torch.float32
    gemm, gemm_flop = gemm_call(dtype=dtype)
    rows, total, rates = [], Counter(), []
    for shape, count in sorted(conv_shapes(model, args.batch, args.size).items()):
        cases, flops = conv_cases(shape, args.batch, dtype)
        seconds = alternate({**cases, "gemm": gemm}, repeats=args.repeats, min_seconds=0.2)
        rate = gemm_flop / seconds["gemm"].median
        rates.append(rate)
        for name, s in seconds.items():
            if name == "gemm":
                continue
            achieved = flops / s.median
            rows.append({"kind": "conv", "shape": list(shape), "count": count, "pass": name,
                         "ms": 1e3 * s.median, "gflops": achieved / 1e9,
                         "of_gemm": achieved / rate})
            total["conv now"] += count * s.median
            total["conv at GEMM rate"] += count * flops / rate
    for (channels, side), count in sorted(norm_shapes(model, args.size).items()):
        seconds = alternate(norm_cases(channels, side, args.batch, dtype), repeats=args.repeats,
                            min_seconds=0.2)
        copy = seconds["copy"].median
        for name in ("BN+ReLU forward", "BN+ReLU backward"):
            rows.append({"kind": "norm", "shape": [channels, side], "count": count,
                         "pass": name, "ms": 1e3 * seconds[name].median,
                         "copies": seconds[name].median / copy})
            total["BN+ReLU now"] += count * seconds[name].median
        # The floor of a fused pass: forward ~1 copy (read x, write y; the statistics pass reads
        # x once more: +0.5), backward ~1.5 copies (read dy and x, write dx) plus the reduction.
        total["BN+ReLU fused floor"] += count * copy * (1.5 + 2.0)
    steps = alternate({p.label: bench_step(create_model(args.model, num_classes=10), p,
                                           batch_size=args.batch, image_size=args.size,
                                           num_classes=10, device=cpu)
                       for p in (STOCK, path)},
                      repeats=args.repeats, min_seconds=0.5)
    for label, s in steps.items():
        total[f"step: {label}"] = s.median
    for row in rows:
        shape = "x".join(map(str, row["shape"]))
        extra = (f"{row['gflops']:7.1f} GFLOP/s {100 * row['of_gemm']:5.1f} % of GEMM"
                 if row["kind"] == "conv" else f"{row['copies']:5.1f} copies")
        print(f"{row['kind']:4} {shape:>14} x{row['count']:<2} {row['pass']:17} "
              f"{row['ms']:7.2f} ms  {extra}")
    print(f"precision {str(dtype).removeprefix('torch.')}, {args.threads} thread(s); "
          f"GEMM {sorted(rates)[len(rates) // 2] / 1e9:.0f} GFLOP/s (median of its timings)")
    print("per step (ms): " + ", ".join(f"{k} {1e3 * v:.1f}" for k, v in total.items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": args.model, "batch": args.batch,
                                         "precision": str(dtype).removeprefix("torch."),
                                         "threads": args.threads, "rows": rows,
                                         "totals_ms": {k: 1e3 * v for k, v in total.items()}},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
