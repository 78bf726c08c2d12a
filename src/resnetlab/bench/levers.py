"""One optimization at a time: what each lever alone does to the stock baseline.

Training levers (one SGD step of a CIFAR ResNet): channels_last, bf16 autocast,
``torch.compile``, a larger batch, ``resnetlab train``'s own step (its trainer's, with the
levers it picks, EMA and label smoothing; see :mod:`resnetlab.bench.training`), and the
OpenMP wait policy (threads spinning vs sleeping between parallel regions, which matters when
other processes share the cores; it must be set before torch starts, so each setting runs in
its own child process). Inference levers: every engine of :mod:`resnetlab.bench.inference`.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

import torch

from resnetlab.bench.inference import ENGINES, INT8_ENGINES, build_engine
from resnetlab.bench.machine import cxx_compiler, detect
from resnetlab.bench.suite import Log, build_model, num_classes_for, shared_weights
from resnetlab.bench.timing import Stats, alternate, speedup, time_calls
from resnetlab.bench.training import STOCK, bench_step, resnetlab_path


def _entry(task: str, lever: str, base: Stats, value: Stats, unit: str) -> dict[str, Any]:
    """A lever's row from per-image seconds of the baseline and of the lever."""
    return {"task": task, "lever": lever, "unit": unit, "baseline": base.inverse().to_dict(),
            "value": value.inverse().to_dict(), "speedup": speedup(base, value).to_dict()}


def training_levers(name: str = "resnet20", batch_size: int = 128, *, image_size: int = 32,
                    repeats: int = 3, min_seconds: float = 1.0, compile: bool = True,
                    log: Log = print) -> list[dict[str, Any]]:
    """Images/s of stock training with each lever alone, all timed alternately."""
    device = torch.device("cpu")
    fast = resnetlab_path(device)
    paths = {
        "channels_last": STOCK.with_levers("channels_last", channels_last=True),
        "bf16 autocast": STOCK.with_levers("bf16 autocast", precision="bf16"),
        f"batch {2 * batch_size}": STOCK,
        f"resnetlab default ({fast.label.removeprefix('resnetlab ')})": fast,
    }
    if compile and cxx_compiler():
        paths["torch.compile"] = STOCK.with_levers("torch.compile", compile=True)
        paths["resnetlab default + torch.compile"] = fast.with_levers("+compile", compile=True)
    classes = num_classes_for(image_size)
    model = build_model(name, classes, 0)
    batches = {"stock": batch_size} | {k: batch_size for k in paths}
    batches[f"batch {2 * batch_size}"] = 2 * batch_size
    steps = {"stock": bench_step(copy.deepcopy(model), STOCK, batch_size=batch_size,
                                 image_size=image_size, num_classes=classes, device=device)}
    for lever, path in paths.items():
        log(f"levers: training {name} with {lever}")
        steps[lever] = bench_step(copy.deepcopy(model), path, batch_size=batches[lever],
                                  image_size=image_size, num_classes=classes, device=device)
    seconds = alternate(steps, repeats=repeats, min_seconds=min_seconds, warmup=2)
    # Per-image seconds, so a larger batch compares fairly.
    per_image = {k: s.scaled(1.0 / batches[k]) for k, s in seconds.items()}
    task = f"train {name} b{batch_size}"
    return [_entry(task, lever, per_image["stock"], per_image[lever], "img/s")
            for lever in paths]


def inference_levers(name: str = "resnet50", image_size: int = 224, batch_size: int = 16, *,
                     repeats: int = 3, min_seconds: float = 1.0, engines: tuple[str, ...] = (),
                     log: Log = print) -> list[dict[str, Any]]:
    """Images/s (batch ``batch_size``) and batch-1 latency of every engine against eager."""
    baseline_model, model, _ = shared_weights(name, image_size, 0)
    engines = engines or tuple(e for e in ENGINES if e != "eager"
                               and (e != "compile" or cxx_compiler()))
    batch = torch.randn(batch_size, 3, image_size, image_size,
                        generator=torch.Generator().manual_seed(1))
    built = {"eager": build_engine("eager", baseline_model, batch)}
    with tempfile.TemporaryDirectory() as workdir:
        for engine in engines:
            log(f"levers: building {engine} for {name}")
            built[engine] = build_engine(engine, model, batch, workdir=workdir,
                                         calibration=batch if engine in INT8_ENGINES else None)
    out = []
    for size in (batch_size, 1):
        x = batch[:size].clone()
        log(f"levers: inference {name} batch {size}")
        seconds = alternate({k: (lambda e=e, x=x: e.run(x)) for k, e in built.items()},
                            repeats=repeats, min_seconds=min_seconds, warmup=1)
        task = f"infer {name} {image_size}px b{size}"
        out += [_entry(task, engine, seconds["eager"].scaled(1 / size),
                       seconds[engine].scaled(1 / size), "img/s") for engine in engines]
    return out


_CHILD = """
import json, sys, torch
from resnetlab.bench.levers import _child_measure
print(json.dumps(_child_measure(*sys.argv[1:])))
"""


def _child_measure(name: str, batch_size: str, repeats: str, min_seconds: str) -> list[float]:
    """Seconds per image of stock training steps (run in a child process)."""
    classes = num_classes_for(32)
    step = bench_step(build_model(name, classes, 0), STOCK, batch_size=int(batch_size),
                      image_size=32, num_classes=classes, device=torch.device("cpu"))
    step()
    step()
    return [time_calls(step, float(min_seconds)) / int(batch_size) for _ in range(int(repeats))]


def wait_policy_lever(name: str = "resnet20", batch_size: int = 128, *, repeats: int = 3,
                      min_seconds: float = 1.0, log: Log = print) -> dict[str, Any]:
    """Stock training with ``OMP_WAIT_POLICY`` unset (spinning) vs ``PASSIVE``, alternating
    child processes (the policy is read once, when the OpenMP runtime starts)."""
    samples: dict[str, list[float]] = {"unset": [], "PASSIVE": []}
    for r in range(repeats):
        for policy in (("unset", "PASSIVE") if r % 2 == 0 else ("PASSIVE", "unset")):
            env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
            if policy != "unset":
                env["OMP_WAIT_POLICY"] = policy
            log(f"levers: OMP_WAIT_POLICY={policy}, repeat {r + 1}")
            result = subprocess.run([sys.executable, "-c", _CHILD, name, str(batch_size), "1",
                                     str(min_seconds)], env=env, capture_output=True, text=True,
                                    check=True)
            samples[policy] += json.loads(result.stdout.strip().splitlines()[-1])
    return _entry(f"train {name} b{batch_size}", "OMP_WAIT_POLICY=PASSIVE",
                  Stats(tuple(samples["unset"])), Stats(tuple(samples["PASSIVE"])), "img/s")


def run_levers(*, train_model: str = "resnet20", train_batch: int = 128,
               infer_model: tuple[str, int] = ("resnet50", 224), infer_batch: int = 16,
               engines: tuple[str, ...] = (), repeats: int = 3, min_seconds: float = 1.0,
               compile: bool = True, wait_policy: bool = True, log: Log = print,
               command: str = "") -> dict[str, Any]:
    """Every lever alone; returns ``{"machine", "command", "levers": [...]}``."""
    levers = training_levers(train_model, train_batch, repeats=repeats,
                             min_seconds=min_seconds, compile=compile, log=log)
    if wait_policy:
        levers.append(wait_policy_lever(train_model, train_batch, repeats=repeats,
                                        min_seconds=min_seconds, log=log))
    levers += inference_levers(*infer_model, infer_batch, repeats=repeats,
                               min_seconds=min_seconds, engines=engines, log=log)
    return {"machine": detect().to_dict(), "command": command, "levers": levers}
