"""How much of this CPU's fp32 arithmetic each issue-16 target would need.

A speed-up target over stock eager fp32 that keeps the arithmetic (same precision, same FLOPs)
needs ``target x stock rate`` FLOP/s. This script measures the CPU's fp32 peak (a hand-written
FMA loop, ``benchmarks/fma_peak.c``, built here with the system C compiler: every vector FMA
unit busy, nothing else) *alternately* with the stock cases and resnetlab's best engine, so all
see the same load, and prints for each target the share of the peak it needs. Above 100 %, no
fp32 kernel can reach it on this machine; only less arithmetic can (int8, or a fast
convolution algorithm such as Winograd's).

Cases: one training step at batch 128 of resnet20 / resnet56 (stock and resnetlab's path:
3 x 2 x MACs FLOPs per image, as ``resnetlab.bench.roofline``), ResNet-50 inference at 224
at batch 16 and batch 1 (eager fp32 = torchvision's model, and ONNX Runtime fp32, BN folded).
Run on a quiet machine::

    .venv/bin/python benchmarks/arithmetic_bound.py [--threads 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from resnetlab.bench.inference import build_engine
from resnetlab.bench.roofline import TRAIN_PASSES, macs_per_image
from resnetlab.bench.suite import shared_weights
from resnetlab.bench.timing import alternate
from resnetlab.bench.training import STOCK, bench_step, resnetlab_path
from resnetlab.hardware import cpuinfo
from resnetlab.models import create_model

SOURCE = Path(__file__).with_name("fma_peak.c")
# issue 16's targets: training >= 2.6x stock, ResNet-50 batch 16 >= 2.5x, batch 1 <= 0.5x time
TARGETS = {"train": 2.6, "infer16": 2.5, "infer1": 2.0}


class PeakKernel:
    """fma_peak.c compiled for this CPU's widest vectors and loaded with ctypes."""

    def __init__(self, workdir: Path) -> None:
        compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if compiler is None:
            raise SystemExit("no C compiler (cc/gcc/clang) on PATH: install gcc to measure "
                             "the peak")
        _, flags = cpuinfo()
        if not {"avx2", "fma"} <= set(flags):
            raise SystemExit("this CPU has no AVX2 + FMA; fma_peak.c is written for x86-64 "
                             "with FMA")
        wide = ["-mavx512f", "-DWIDE512"] if "avx512f" in flags else []
        library = Path(workdir) / "fma_peak.so"
        subprocess.run([compiler, "-O2", "-mavx2", "-mfma", *wide, "-shared", "-fPIC",
                        "-pthread", str(SOURCE), "-o", str(library)], check=True)
        self._lib = ctypes.CDLL(str(library))
        self._lib.fma_flops.restype = ctypes.c_double
        self._lib.fma_flops.argtypes = [ctypes.c_long, ctypes.c_int,
                                        ctypes.POINTER(ctypes.c_float)]
        self._lib.fma_flops_per_round.restype = ctypes.c_double
        self.per_round = self._lib.fma_flops_per_round()  # FLOPs of one round on one thread
        self.checksum = float("nan")  # of the last run: the threads' lane-0 sums, added

    def run(self, rounds: int, threads: int) -> float:
        """``rounds`` rounds of FMAs on each of ``threads`` threads; returns the FLOPs done."""
        checksum = ctypes.c_float()
        done = self._lib.fma_flops(rounds, threads, ctypes.byref(checksum))
        self.checksum = checksum.value
        return done


def cases(args: argparse.Namespace, peak: PeakKernel
          ) -> tuple[dict[str, Callable[[], object]], dict[str, float]]:
    """Every case to time, and the FLOPs one call of it does."""
    cpu = torch.device("cpu")
    calls: dict[str, Callable[[], object]] = {}
    flops: dict[str, float] = {}
    calls["fma peak"] = lambda: peak.run(args.rounds, args.threads)
    flops["fma peak"] = peak.per_round * args.rounds * args.threads
    for name in args.train_models:
        per_image = 2.0 * TRAIN_PASSES * macs_per_image(name, args.train_size, 10)
        for path in (STOCK, resnetlab_path(cpu)):
            key = f"train {name}: {path.label}"
            calls[key] = bench_step(create_model(name, num_classes=10), path,
                                    batch_size=args.train_batch, image_size=args.train_size,
                                    num_classes=10, device=cpu)
            flops[key] = per_image * args.train_batch
    if args.infer_model:
        baseline, model, _ = shared_weights(args.infer_model, args.infer_size, 0)
        images = torch.randn(args.infer_batch, 3, args.infer_size, args.infer_size,
                             generator=torch.Generator().manual_seed(1))
        per_image = 2.0 * macs_per_image(args.infer_model, args.infer_size, 1000)
        engines = {"eager fp32": build_engine("eager", baseline, images)}
        engines.update({e: build_engine(e, model, images) for e in args.engines})
        for label, engine in engines.items():
            for size in (args.infer_batch, 1):
                key = f"{args.infer_model} b{size}: {label}"
                calls[key] = lambda run=engine.run, x=images[:size]: run(x)
                flops[key] = per_image * size
    return calls, flops


def report(seconds: dict, flops: dict[str, float], args: argparse.Namespace) -> dict:
    """GFLOP/s and share of the peak of every case, and the share each target needs."""
    peak = flops["fma peak"] / seconds["fma peak"].median
    rows = {key: {"ms": 1e3 * s.median, "gflops": flops[key] / s.median / 1e9,
                  "of_peak": flops[key] / s.median / peak}
            for key, s in seconds.items()}
    needs = {}
    for key, row in rows.items():
        if "stock" in key:
            target = TARGETS["train"]
        elif key.endswith("eager fp32"):
            target = TARGETS["infer1" if " b1:" in key else "infer16"]
        else:
            continue
        needs[key] = {"target_speedup": target, "of_peak": target * row["of_peak"]}
    return {"threads": args.threads, "peak_gflops": peak / 1e9, "rows": rows, "needs": needs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--train-models", nargs="*", default=["resnet20", "resnet56"])
    parser.add_argument("--train-batch", type=int, default=128)
    parser.add_argument("--train-size", type=int, default=32)
    parser.add_argument("--infer-model", default="resnet50", help="'' to skip inference")
    parser.add_argument("--infer-size", type=int, default=224)
    parser.add_argument("--infer-batch", type=int, default=16)
    parser.add_argument("--engines", nargs="*", default=["onnx"])
    parser.add_argument("--rounds", type=int, default=20_000_000,
                        help="FMA rounds per thread per call (default: ~0.3 s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as workdir:
        calls, flops = cases(args, PeakKernel(Path(workdir)))
        seconds = alternate(calls, repeats=args.repeats, min_seconds=args.min_seconds)
    result = report(seconds, flops, args)
    print(f"fp32 FMA peak, {args.threads} thread(s): {result['peak_gflops']:.1f} GFLOP/s")
    for key, row in result["rows"].items():
        print(f"{key:48} {row['ms']:9.2f} ms  {row['gflops']:7.1f} GFLOP/s  "
              f"{100 * row['of_peak']:5.1f} % of peak")
    for key, need in result["needs"].items():
        print(f"target {need['target_speedup']}x over {key}: needs "
              f"{100 * need['of_peak']:.0f} % of the fp32 peak")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
