"""The lab: small experiments that show what residual networks do, each a figure + a verdict.

>>> from resnetlab.lab import run_experiment
>>> result, out = run_experiment("residual", quick=True)          # doctest: +SKIP
>>> result.results["allclose"]                                     # doctest: +SKIP
True

Every experiment writes ``results.json`` and PNG figures into its output directory (default
``runs/lab/<experiment>``); see ``docs/lab.md`` for the questions they answer. The verdict and
the figures' text are in English or Spanish (``lang="es"``, or ``RESNETLAB_LANG=es``; see
:mod:`resnetlab.i18n`); :func:`record_figures` hands over the drawn matplotlib figures.
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from resnetlab import i18n
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
from resnetlab.lab.plotting import record_figures

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
def _threads(count: int | None) -> Iterator[None]:
    """Run on ``count`` intra-op threads (``None``: leave as is); restored afterwards."""
    before = torch.get_num_threads()
    if count is not None:
        if count < 1:
            raise ConfigError(f"--threads must be >= 1, got {count}")
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_experiment(name: str, out_dir: str | Path | None = None, quick: bool = False,
                   seed: int = 0, threads: int | None = None, lang: str | None = None,
                   overwrite: bool = True, **options: Any) -> tuple[LabResult, Path]:
    """Run experiment ``name``, write ``results.json``; returns the result and its directory.

    ``options`` are the experiment's keyword arguments (see each module's ``run``); ``seed``
    seeds torch before the experiment (and is passed on to experiments that use it).
    ``threads`` sets torch's CPU threads for the run; by default quick runs and the experiments
    in :data:`SMALL_TENSORS` use one, because their tensors are tiny: thread synchronisation
    then costs more than it saves (on a busy 2-core machine we measured a ResNet-110 backward
    pass on 8×8 images 20x slower with two threads than with one).
    ``lang`` (``"en"``, ``"es"``) is the language of the verdict and the figures; default: the
    current one of :mod:`resnetlab.i18n` (``RESNETLAB_LANG``, else English).
    ``overwrite=False`` (what ``resnetlab lab`` does without ``--overwrite``) refuses a
    directory that holds an earlier ``results.json``; the default replaces it, so a notebook
    can be run again. A run that fails removes the directory if it made it.
    """
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    func = EXPERIMENTS[name]
    # Checked before anything is written: RESNETLAB_LANG=fr fails here, not after training.
    language = i18n.check_language(lang) if lang is not None else i18n.current_language()
    accepted = inspect.signature(func).parameters
    if "seed" in accepted:
        options["seed"] = seed
    if "threads" in accepted:  # the experiment may choose a count itself when none is given
        options["threads"] = threads
    out, made = prepare_out_dir(out_dir if out_dir is not None else default_out_dir(name),
                                overwrite)
    try:
        torch.manual_seed(seed)
        started = time.perf_counter()
        if threads is None and (quick or name in SMALL_TENSORS):
            threads = 1
        with i18n.language(language), _threads(threads):
            result = func(out, quick, **options)
        settings = {**options, "seed": seed, "threads": threads, "lang": language}
        write_results(out, result, quick=quick, seconds=time.perf_counter() - started,
                      settings=settings)
    except BaseException:
        if made is not None:  # a failed start (missing data, bad option) leaves nothing behind
            shutil.rmtree(made, ignore_errors=True)
        raise
    return result, out


__all__ = ["EXPERIMENTS", "LabResult", "record_figures", "run_experiment"]
