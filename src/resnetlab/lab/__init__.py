"""The lab: small experiments that show what residual networks do, each a figure + a verdict.

>>> from resnetlab.lab import run_experiment
>>> result, out = run_experiment("residual", quick=True)          # doctest: +SKIP
>>> result.results["allclose"]                                     # doctest: +SKIP
True

Every experiment writes ``results.json`` and PNG figures into its output directory (default
``runs/lab/<experiment>``); see ``docs/lab.md`` for the questions they answer.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from resnetlab.errors import ConfigError
from resnetlab.lab import (
    batchnorm,
    degradation,
    depth,
    features,
    gradcam,
    gradient_flow,
    residual,
)
from resnetlab.lab.common import LabResult, default_out_dir, prepare_out_dir, write_results

EXPERIMENTS: dict[str, Callable[..., LabResult]] = {
    "features": features.run,
    "residual": residual.run,
    "gradient-flow": gradient_flow.run,
    "degradation": degradation.run,
    "batchnorm": batchnorm.run,
    "gradcam": gradcam.run,
    "depth": depth.run,
}


# Experiments whose tensors are always tiny (LeNet-5 on 28×28 images) run single-threaded.
SMALL_TENSORS = frozenset({"batchnorm"})


@contextlib.contextmanager
def _single_thread(enabled: bool) -> Iterator[None]:
    """Run on one intra-op thread while ``enabled``.

    Quick runs (and the experiments in :data:`SMALL_TENSORS`) push tiny tensors through many
    layers: thread synchronisation then costs more than it saves, and on a busy 2-core machine
    we measured a ResNet-110 backward pass on 8×8 images 20x slower with two threads than one.
    """
    before = torch.get_num_threads()
    if enabled:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_experiment(name: str, out_dir: str | Path | None = None, quick: bool = False,
                   seed: int = 0, **options: Any) -> tuple[LabResult, Path]:
    """Run experiment ``name``, write ``results.json``; returns the result and its directory.

    ``options`` are the experiment's keyword arguments (see each module's ``run``); ``seed``
    seeds torch before the experiment (and is passed on to experiments that use it).
    """
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    func = EXPERIMENTS[name]
    accepted = inspect.signature(func).parameters
    if "seed" in accepted:
        options["seed"] = seed
    out = prepare_out_dir(out_dir if out_dir is not None else default_out_dir(name))
    torch.manual_seed(seed)
    started = time.perf_counter()
    with _single_thread(quick or name in SMALL_TENSORS):
        result = func(out, quick, **options)
    settings = {"seed": seed, **{k: v for k, v in options.items() if k != "seed"}}
    write_results(out, result, quick=quick, seconds=time.perf_counter() - started,
                  settings=settings)
    return result, out


__all__ = ["EXPERIMENTS", "LabResult", "run_experiment"]
