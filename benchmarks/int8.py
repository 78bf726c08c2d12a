"""int8 post-training quantization of a CIFAR ResNet-20: accuracy and CPU speed.

Trains ResNet-20 on the shared CIFAR-10 subset (recipe ``fast``, a time budget; an existing run
directory is reused), exports it to ONNX (BN folded), quantizes it to int8 with onnxruntime
(QDQ, per-channel weights) calibrated on training images, and reports on the subset's test batch:
top-1 of PyTorch fp32 / ONNX fp32 / ONNX int8 (single centre view, no flip TTA), int8-vs-fp32
prediction agreement, and speed (images/s at batch 16, latency at batch 1) of the three engines,
measured in one process, alternating engine by engine, median of the repeats.

    .venv/bin/python benchmarks/int8.py [--run-dir runs/int8-resnet20] [--time-budget 300]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from resnetlab.deploy import (
    export_onnx,
    fold_batchnorm,
    onnx_session,
    preprocess,
    quantize_onnx,
    run_onnx,
)
from resnetlab.deploy.calibration import from_dataset
from resnetlab.models import load_model

DEFAULT_DATA = (Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset"
                / "cifar-10-batches-py")


def train_run(run_dir: Path, data_dir: Path, time_budget: float | None, epochs: int | None,
              seed: int) -> None:
    """Train ResNet-20 with the ``fast`` recipe into ``run_dir`` (unless it is already done)."""
    if (run_dir / "model.safetensors").is_file():
        print(f"reusing the trained model in {run_dir}")
        return
    from resnetlab.data import load
    from resnetlab.train import train

    bundle = load("cifar10", data_dir)
    run = train("resnet20", bundle, recipe="fast", out_dir=run_dir,
                time_budget=None if epochs else time_budget, epochs=epochs, seed=seed,
                overwrite=True,
                data_spec={"name": "cifar10", "root": str(data_dir)})
    print(f"trained in {run.metrics.get('train_seconds', 0):.0f} s: test top-1 "
          f"{100 * run.metrics['test_top1']:.2f} % (with the recipe's flip TTA)")


def timed(fn: Callable[[], object], iterations: int) -> float:
    """Seconds per call of ``fn`` over ``iterations`` calls."""
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - start) / iterations


def speed(engines: dict[str, Callable[[np.ndarray], object]], x16: np.ndarray,
          x1: np.ndarray, repeats: int, iterations: int) -> dict[str, dict[str, float]]:
    """Median images/s at batch 16 and median ms at batch 1, engines interleaved per repeat."""
    for run in engines.values():  # warm-up: allocations, kernel choice, graph fusion
        for _ in range(3):
            run(x16)
            run(x1)
    samples: dict[str, dict[str, list[float]]] = {k: {"b16": [], "b1": []} for k in engines}
    for _ in range(repeats):
        for name, run in engines.items():
            samples[name]["b16"].append(timed(lambda r=run: r(x16), iterations))
            samples[name]["b1"].append(timed(lambda r=run: r(x1), iterations * 4))
    return {name: {"img_per_s_b16": 16 / statistics.median(s["b16"]),
                   "latency_ms_b1": 1000 * statistics.median(s["b1"])}
            for name, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/int8-resnet20"))
    parser.add_argument("--time-budget", type=float, default=300.0, help="training seconds")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of a budget")
    parser.add_argument("--calibration", type=int, default=500, help="training images")
    parser.add_argument("--method", default="minmax", help="calibration method")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train_run(args.run_dir, args.data_dir, args.time_budget, args.epochs, args.seed)
    model, meta = load_model(args.run_dir)
    fp32_path = args.run_dir / "bench" / "model.onnx"
    int8_path = args.run_dir / "bench" / "model.int8.onnx"
    calibration, _ = from_dataset("cifar10", args.data_dir, meta, count=args.calibration,
                                  seed=args.seed)
    export_onnx(fold_batchnorm(model), fp32_path, meta["input_size"], meta=meta,
                check_inputs=calibration[:64])
    quantize_onnx(fp32_path, int8_path, calibration, method=args.method)

    from resnetlab.data import load

    test = load("cifar10", args.data_dir).test
    x = preprocess(test.images, meta)
    labels = test.labels.numpy()
    fp32_session = onnx_session(fp32_path, args.threads)
    int8_session = onnx_session(int8_path, args.threads)

    @torch.inference_mode()
    def eager(batch: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(batch)).numpy()

    engines = {"PyTorch eager fp32": eager,
               "ONNX Runtime fp32": lambda b: run_onnx(fp32_session, b),
               "ONNX Runtime int8": lambda b: run_onnx(int8_session, b)}
    xs = x.numpy()
    preds = {name: np.concatenate([run(xs[i:i + 256]) for i in range(0, len(xs), 256)]
                                  ).argmax(1) for name, run in engines.items()}
    top1 = {name: 100.0 * float((p == labels).mean()) for name, p in preds.items()}
    agreement = 100.0 * float((preds["ONNX Runtime int8"] == preds["PyTorch eager fp32"]).mean())
    timing = speed(engines, xs[:16], xs[:1], args.repeats, args.iterations)

    result = {
        "model": meta["model"], "test_images": int(len(labels)),
        "calibration_images": int(len(calibration)), "method": args.method,
        "top1": top1, "int8_drop_points": top1["PyTorch eager fp32"] - top1["ONNX Runtime int8"],
        "agreement_int8_vs_fp32": agreement, "speed": timing, "threads": args.threads,
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        "int8_size_mb": int8_path.stat().st_size / 1e6, "fp32_size_mb":
            fp32_path.stat().st_size / 1e6,
    }
    print(f"\n{meta['model']} on {len(labels)} CIFAR-10 test images, {args.threads} threads\n")
    print("| engine | top-1 (%) | img/s, batch 16 | latency, batch 1 (ms) |")
    print("|---|---:|---:|---:|")
    for name in engines:
        print(f"| {name} | {top1[name]:.2f} | {timing[name]['img_per_s_b16']:.0f} | "
              f"{timing[name]['latency_ms_b1']:.2f} |")
    print(f"\nint8 drop: {result['int8_drop_points']:.2f} points; int8/fp32 prediction "
          f"agreement: {agreement:.2f} %; files: fp32 {result['fp32_size_mb']:.2f} MB, "
          f"int8 {result['int8_size_mb']:.2f} MB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
