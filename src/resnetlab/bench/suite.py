"""The speed benchmark: stock PyTorch against resnetlab's fast paths, in one run.

For each task the stock baseline and resnetlab's candidates run alternately (see
:mod:`resnetlab.bench.timing`), several repeats, and the report keeps every sample: median,
extremes, and the per-repeat speed-up. Tasks:

- training images/s (one SGD step at a fixed batch) per training model;
- inference images/s at a batch and batch-1 latency per inference model and engine;
- peak working memory of each (see :mod:`resnetlab.bench.memory`);
- the data path: batched augmentation throughput against the fast training throughput;
- the GEMM rate of the machine and the throughput ceiling it implies per model.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.bench import roofline
from resnetlab.bench.inference import (
    ENGINES,
    FILE_ENGINES,
    INT8_ENGINES,
    Engine,
    build_engine,
    export_files,
)
from resnetlab.bench.machine import cxx_compiler, detect
from resnetlab.bench.memory import param_bytes, with_peak
from resnetlab.bench.profile import top_ops
from resnetlab.bench.timing import Stats, alternate, speedup
from resnetlab.bench.training import STOCK, bench_step, resnetlab_path
from resnetlab.data import Augment, ImageDataset, InMemoryLoader
from resnetlab.errors import ConfigError
from resnetlab.models import create_model

Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    """What to measure and how long; :data:`FULL` and :data:`QUICK` are the presets."""

    train_models: tuple[str, ...] = ("resnet20", "resnet56", "resnet18_cifar")
    train_batch: int = 128
    train_image: int = 32
    train_compile: bool = False
    infer_models: tuple[tuple[str, int], ...] = (("resnet50", 224), ("resnet18", 224),
                                                 ("resnet20", 32))
    infer_batch: int = 16
    engines: tuple[str, ...] = ("channels_last", "compile", "onnx", "onnx_int8")
    repeats: int = 3
    min_seconds: float = 1.0
    data_path: bool = True
    profile: bool = True
    gemm: bool = True
    device: str = "cpu"
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> BenchConfig:
        unknown = [e for e in self.engines if e not in ENGINES]
        if unknown:
            raise ConfigError(f"unknown engine {unknown[0]!r}; choose from {', '.join(ENGINES)}")
        if self.repeats < 1 or self.train_batch < 1 or self.infer_batch < 1:
            raise ConfigError("repeats and batch sizes must be >= 1; fix --repeats")
        if self.device != "cpu":
            raise ConfigError(f"the benchmark measures CPU paths only, got --device "
                              f"{self.device}; use --device cpu")
        return self


FULL = BenchConfig()
QUICK = BenchConfig(train_models=("resnet20",), train_batch=8, infer_models=(("resnet20", 32),),
                    infer_batch=4, engines=("channels_last", "fold_bn", "onnx", "onnx_int8"),
                    repeats=2, min_seconds=0.0, profile=False, gemm=False)


def num_classes_for(image_size: int) -> int:
    """ImageNet's 1000 classes for ImageNet-sized inputs, CIFAR's 10 for small ones."""
    return 1000 if image_size >= 64 else 10


def build_model(name: str, num_classes: int, seed: int) -> nn.Module:
    """A registered model with weights initialised from ``seed``."""
    torch.manual_seed(seed)
    return create_model(name, num_classes=num_classes)


def _with_gemm(cases: dict[str, Callable[[], object]], cfg: BenchConfig,
               dtype: torch.dtype = torch.float32) -> float | None:
    """Add a ``dtype`` GEMM case to ``cases`` (timed with them) if ``cfg.gemm``; returns its
    FLOPs."""
    if not cfg.gemm:
        return None
    cases["gemm"], flops = roofline.gemm_call(dtype=dtype)
    return flops


def _ceiling(name: str, image_size: int, gemm_seconds: Stats | None, flops: float | None,
             training: bool) -> dict[str, Any] | None:
    """Images/s the GEMM rate of each repeat would allow (see :mod:`resnetlab.bench.roofline`)."""
    if gemm_seconds is None or flops is None:
        return None
    macs = roofline.macs_per_image(name, image_size, num_classes_for(image_size))
    return Stats(tuple(roofline.ceiling_images_per_second(macs, f, training)
                       for f in gemm_seconds.inverse(flops).samples)).to_dict()


def bench_training(name: str, cfg: BenchConfig, log: Log) -> dict[str, Any]:
    """Stock vs resnetlab training throughput (and memory) of ``name`` at ``cfg.train_batch``."""
    device = torch.device(cfg.device)
    fast = resnetlab_path(device)
    paths = {"baseline": STOCK, "resnetlab": fast}
    if cfg.train_compile and cxx_compiler():
        paths["resnetlab_compile"] = fast.with_levers(fast.label + " + compile", compile=True)
    classes = num_classes_for(cfg.train_image)
    model = build_model(name, classes, cfg.seed)
    log(f"training {name}: batch {cfg.train_batch}, {', '.join(p.label for p in paths.values())}")
    steps, peaks = {}, {}
    for key, path in paths.items():
        def build(path=path):
            step = bench_step(copy.deepcopy(model), path, batch_size=cfg.train_batch,
                              image_size=cfg.train_image, num_classes=classes, device=device,
                              seed=cfg.seed)
            step()  # gradients and optimizer state exist from the first step on
            return step

        # Peak of weights + gradients + optimizer state + activations (+ compilation).
        steps[key], peaks[key] = with_peak(build, device)
    timed: dict[str, Callable[[], object]] = dict(steps)
    gemm_dtype = torch.bfloat16 if fast.precision == "bf16" else torch.float32
    gemm_flops = _with_gemm(timed, cfg, gemm_dtype)
    seconds = alternate(timed, repeats=cfg.repeats, min_seconds=cfg.min_seconds, warmup=1,
                        device=device)
    row: dict[str, Any] = {"model": name, "batch_size": cfg.train_batch,
                           "image_size": cfg.train_image, "weight_bytes": param_bytes(model),
                           "ceiling_dtype": str(gemm_dtype).removeprefix("torch."),
                           "ceiling_images_per_second": _ceiling(
                               name, cfg.train_image, seconds.get("gemm"), gemm_flops, True)}
    for key, path in paths.items():
        row[key] = {"label": path.label,
                    "images_per_second": seconds[key].inverse(cfg.train_batch).to_dict(),
                    "peak_bytes": peaks[key]}
        if key != "baseline":
            row[key]["speedup"] = speedup(seconds["baseline"], seconds[key]).to_dict()
    if cfg.profile and name == cfg.train_models[0]:  # benchmarks/speed_profile.py: the rest
        row["profile"] = top_ops(steps["resnetlab"], calls=1)
    return row


def shared_weights(name: str, image_size: int, seed: int
                   ) -> tuple[nn.Module, nn.Module, str]:
    """(baseline, resnetlab model, baseline label) with identical weights and BN statistics.

    The baseline is torchvision's model where one exists. BN running statistics are set from
    a few random batches, so activations have realistic scales (untouched statistics let them
    grow layer after layer, which no trained network does).
    """
    import torchvision

    model = build_model(name, num_classes_for(image_size), seed)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the batches below
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 3, image_size, image_size, generator=generator))
    model.eval()
    builder = getattr(torchvision.models, name, None)
    if builder is not None:
        baseline = builder(num_classes=num_classes_for(image_size))
        baseline.load_state_dict(model.state_dict())
        return baseline.eval(), model, f"torchvision {name} eager fp32"
    return copy.deepcopy(model), model, f"{name} eager fp32 (no torchvision model)"


def bench_inference(name: str, image_size: int, cfg: BenchConfig, log: Log
                    ) -> list[dict[str, Any]]:
    """Rows for batch ``cfg.infer_batch`` (images/s) and batch 1 (latency) of every engine."""
    baseline_model, model, baseline_label = shared_weights(name, image_size, cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    batch = torch.randn(cfg.infer_batch, 3, image_size, image_size, generator=generator)
    single = batch[:1].clone()
    skipped: dict[str, str] = {}
    engines, peaks = {}, {}
    with tempfile.TemporaryDirectory() as workdir:
        for engine in cfg.engines:
            if engine == "compile" and cxx_compiler() is None:
                skipped[engine] = "no C++ compiler"
                continue
            calibration = batch if engine in INT8_ENGINES else None
            if engine in FILE_ENGINES:  # deployment loads a file: export outside the peak
                export_files(engine, model, batch, Path(workdir), calibration)
            def start(engine=engine, calibration=calibration):
                return build_engine(engine, model, batch, workdir=workdir,
                                    calibration=calibration)

            engines[engine], peaks[engine] = with_peak(start)
            log(f"inference {name}: {engine} ready in {engines[engine].setup_seconds:.1f} s")
    base, peaks["baseline"] = with_peak(lambda: build_engine("eager", baseline_model, batch))
    agreement = {e: agreement_with(base, engine, batch) for e, engine in engines.items()}
    for engine, agreed in agreement.items():
        log(f"inference {name}: {engine} top-1 agreement with the baseline "
            f"{100 * agreed['top1']:.1f} % on {agreed['images']} images, max |diff| "
            f"{agreed['max_abs_diff']:.1e}")
    rows = []
    for size, x in ((cfg.infer_batch, batch), (1, single)):
        cases = {"baseline": lambda x=x: base.run(x)}
        cases.update({e: (lambda x=x, run=engine.run: run(x)) for e, engine in engines.items()})
        log(f"inference {name}: batch {size}, {len(cases)} engines")
        gemm_flops = _with_gemm(cases, cfg)
        seconds = alternate(cases, repeats=cfg.repeats, min_seconds=cfg.min_seconds, warmup=1)
        gemm_seconds = seconds.pop("gemm", None)
        row: dict[str, Any] = {
            "model": name, "image_size": image_size, "batch_size": size,
            "ceiling_images_per_second": _ceiling(name, image_size, gemm_seconds, gemm_flops,
                                                  False),
            "baseline": {"label": baseline_label, "weight_bytes": base.weight_bytes},
            "engines": {}, "skipped": skipped}
        for key, stats in seconds.items():
            entry = row["baseline"] if key == "baseline" else row["engines"].setdefault(key, {})
            entry.update({"images_per_second": stats.inverse(size).to_dict(),
                          "latency_ms": stats.scaled(1000.0).to_dict(),
                          # engine start + first batch of cfg.infer_batch images
                          "peak_bytes": peaks[key]})
            if key != "baseline":
                entry.update({"speedup": speedup(seconds["baseline"], stats).to_dict(),
                              "weight_bytes": engines[key].weight_bytes,
                              "setup_seconds": engines[key].setup_seconds,
                              "agreement": agreement[key]})
        row["best_fp32"] = _best(row, exclude=INT8_ENGINES)
        row["best_int8"] = _best(row, only=INT8_ENGINES)
        rows.append(row)
    return rows


def agreement_with(baseline: Engine, engine: Engine, images: torch.Tensor) -> dict[str, Any]:
    """How closely ``engine`` reproduces ``baseline`` on ``images``: the share of equal top-1
    classes and the largest absolute logit difference."""
    expected, got = baseline.run(images).float(), engine.run(images).float()
    return {"images": int(images.shape[0]),
            "top1": float((expected.argmax(1) == got.argmax(1)).float().mean()),
            "max_abs_diff": float((expected - got).abs().max())}


def _best(row: dict[str, Any], *, exclude: tuple[str, ...] = (),
          only: tuple[str, ...] | None = None) -> str | None:
    """The engine with the highest median speed-up among the allowed ones."""
    allowed = [e for e in row["engines"] if e not in exclude and (only is None or e in only)]
    return max(allowed, key=lambda e: row["engines"][e]["speedup"]["median"], default=None)


def bench_data(cfg: BenchConfig, train_images_per_second: float | None) -> dict[str, Any]:
    """Throughput of the training data path (index gather + batched crop/flip/normalize)."""
    generator = torch.Generator().manual_seed(cfg.seed)
    n = cfg.train_batch * 8
    images = torch.randint(0, 256, (n, 3, cfg.train_image, cfg.train_image),
                           dtype=torch.uint8, generator=generator)
    dataset = ImageDataset(images, torch.randint(0, 10, (n,), generator=generator),
                           [str(i) for i in range(10)], (0.5,) * 3, (0.25,) * 3, "random")
    loader = InMemoryLoader(dataset, cfg.train_batch, shuffle=True, drop_last=True,
                            seed=cfg.seed, augment=Augment(pad=4, flip=True))
    epoch = [0]

    def one_epoch() -> None:
        for _ in loader.iter_from(epoch[0], 0):
            pass
        epoch[0] += 1

    seconds = alternate({"data": one_epoch}, repeats=cfg.repeats, min_seconds=cfg.min_seconds)
    per_second = seconds["data"].inverse(len(loader) * cfg.train_batch)
    return {"batch_size": cfg.train_batch, "images_per_second": per_second.to_dict(),
            "train_images_per_second": train_images_per_second,
            "ratio": per_second.median / train_images_per_second
            if train_images_per_second else None}


def run_bench(cfg: BenchConfig = FULL, log: Log = print, command: str = "") -> dict[str, Any]:
    """Run every part of ``cfg`` and return the report (JSON-friendly)."""
    cfg.validate()
    started = time.perf_counter()
    report: dict[str, Any] = {"machine": detect().to_dict(), "command": command,
                              "config": asdict(cfg), "gemm": None, "training": [],
                              "inference": [], "data": None}
    if cfg.gemm:
        gemm = roofline.gemm_flops(repeats=cfg.repeats)
        report["gemm"] = {k: s.scaled(1e-9).to_dict() for k, s in gemm.items()}
        log("GEMM GFLOP/s: " + ", ".join(f"{k} {s.median / 1e9:.1f}" for k, s in gemm.items()))
    for name in cfg.train_models:
        report["training"].append(bench_training(name, cfg, log))
    for name, size in cfg.infer_models:
        report["inference"].extend(bench_inference(name, size, cfg, log))
    if cfg.data_path:
        first = report["training"][0]["resnetlab"]["images_per_second"]["median"] \
            if report["training"] else None
        report["data"] = bench_data(cfg, first)
    report["seconds"] = time.perf_counter() - started
    return report


def quick_config(**changes: Any) -> BenchConfig:
    """:data:`QUICK` with some fields replaced (tests use it to shrink further)."""
    return replace(QUICK, **changes)


def write_json(report: dict[str, Any], path: str | Path) -> Path:
    """Write ``report`` as indented JSON; returns the path."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return path
