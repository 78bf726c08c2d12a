"""The degradation lab's four nets, what one training step of each costs, and how to spend the
machine on them: one after the other on all threads, or side by side in worker processes.

Every figure here is measured at the start of the run, on the trainer step that
:func:`resnetlab.train.train` will run, so the plan follows the speed this machine has now
(the development machine has measured 2x apart on different days).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from resnetlab.lab.parallel import WorkerPool
from resnetlab.models import create_model
from resnetlab.train import train
from resnetlab.train.probe import first_batch, probe_trainer
from resnetlab.train.timer import StepTimer

NETS = ("plain20", "plain56", "resnet20", "resnet56")
RECIPE = "he2016"
PAPER_WIDTH = 16  # channels of the first stage in the paper (16, 32, 64)


def build_net(name: str, bundle, width: int = PAPER_WIDTH):
    """``name`` for ``bundle``'s classes and channels, with stages ``width``, 2x, 4x wide."""
    extra = {} if width == PAPER_WIDTH else {"stem_width": width,
                                              "widths": (width, 2 * width, 4 * width)}
    return create_model(name, num_classes=bundle.num_classes, in_chans=bundle.input_size[0],
                        **extra)


def step_seconds(name: str, bundle, overrides: dict, device, width: int,
                 steps: int = 3) -> float:
    """Fastest of ``steps`` training steps of a fresh ``name`` after one warm-up step: the
    trainer's step that :func:`resnetlab.train.train` will run (:data:`RECIPE` with
    ``overrides``, the device's default precision and layout)."""
    model = build_net(name, bundle, width)
    trainer = probe_trainer(model, bundle, RECIPE, overrides=overrides, device=device)
    x, y = first_batch(trainer)
    timer = StepTimer(device)
    times = [timer.time(lambda: trainer.train_step(x, y, 0)) for _ in range(steps + 1)]
    return min(times[1:])


def net_seconds(names, bundle, overrides: dict, device, width: int) -> dict[str, float]:
    """Seconds one iteration of each net costs, with each epoch's test-set evaluation spread
    over its steps. Module-level so that a worker process can run it."""
    batch_size = overrides["batch_size"]
    per_epoch = max(1, len(bundle.train) // batch_size)
    seconds = {}
    for name in names:
        step = step_seconds(name, bundle, overrides, device, width)
        # Evaluation is a forward pass (about a third of a step) over the test set per epoch.
        evaluation = step / 3 * len(bundle.test) / batch_size
        seconds[name] = step + evaluation / per_epoch
    return seconds


def longest_first(seconds: dict[str, float]) -> list[str]:
    """The order to hand nets to workers: the longest first, so the loads even out."""
    return sorted(seconds, key=seconds.get, reverse=True)


def makespan(seconds: dict[str, float], jobs: int) -> float:
    """Wall seconds per iteration when ``jobs`` workers take the nets longest first, each
    next net going to the worker that frees up first (what a process pool does)."""
    loads = [0.0] * jobs
    for name in longest_first(seconds):
        loads[loads.index(min(loads))] += seconds[name]
    return max(loads)


@dataclass
class Schedule:
    """How the nets are trained: ``jobs`` at once on ``threads`` each; the measured wall
    seconds of one iteration of all nets; ``pool`` holds the workers when ``jobs > 1``."""

    jobs: int
    threads: int
    per_iteration: float | None
    pool: WorkerPool | None = None
    serial: float | None = None  # what each way measured, when both were timed
    parallel: float | None = None
    parallel_jobs: int = 1  # the workers ``parallel`` was measured with
    order: tuple[str, ...] = ("plain56", "resnet56", "plain20", "resnet20")  # longest first

    def close(self, cancel: bool = False) -> None:
        """Stop the workers, if any (``cancel``: without waiting for their tasks)."""
        if self.pool is not None:
            self.pool.close(cancel=cancel)
            self.pool = None


def without_timing(jobs: int | None, threads: int | None) -> Schedule:
    """A schedule without timing (a fixed ``--iterations``): ``jobs`` (default 1) workers,
    each on ``threads`` (default: the cores shared out between them)."""
    jobs = max(1, min(jobs or 1, len(NETS)))
    if jobs == 1:
        return Schedule(1, threads or torch.get_num_threads(), None)
    threads = threads or max(1, cores() // jobs)  # the cores shared out between the workers
    return Schedule(jobs, threads, None, WorkerPool(jobs, threads=threads))


def train_net(name: str, bundle, width: int, overrides: dict, seed: int, device,
              run_dir: Path) -> dict:
    """Train ``name`` through :func:`resnetlab.train.train`; its history, seconds and run
    directory. Module-level so that a worker process can run it."""
    started = time.perf_counter()
    # Seeded here, so a net's initial weights depend on the seed only — not on which nets
    # were built before it in this process, nor on which process trains it.
    torch.manual_seed(seed)
    result = train(build_net(name, bundle, width), bundle, RECIPE, run_dir,
                   overrides=overrides, seed=seed, device=device, quiet=True,
                   overwrite=True, checkpoint_seconds=0)
    return {"history": [{k: r[k] for k in ("epoch", "step", "train_loss", "train_acc",
                                           "test_acc")} for r in result.history],
            "seconds": round(time.perf_counter() - started, 1),
            "run_dir": str(result.run_dir)}


def pick_threads(bundle, overrides: dict, device, width: int) -> int:
    """The intra-op thread count (1 or all) that trains ResNet-56 faster right now.

    On a machine shared with other jobs, two threads that wait for each other at every
    operation were measured up to 7x slower than one; on an idle machine they are faster.
    """
    most = torch.get_num_threads()
    if device.type != "cpu" or most == 1:
        return most
    timings = {}
    for threads in (1, most):
        torch.set_num_threads(threads)
        timings[threads] = step_seconds("resnet56", bundle, overrides, device, width, steps=2)
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return best


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def measure(bundle, overrides: dict, device, width: int, *, threads: int | None,
            jobs: int | None) -> Schedule:
    """Time the nets and choose how to train them.

    ``threads``/``jobs`` fixed by the caller are kept. Otherwise, on a CPU with several cores,
    both ways are timed — one after the other on the faster of 1 or all threads, and one
    worker per core on one thread each, timed *while all workers run*, so contention counts —
    and the faster is kept; its pool of workers stays open for the training.
    """
    if jobs is None:
        jobs = cores() if threads is None and device.type == "cpu" else 1
    jobs = max(1, min(jobs, len(NETS)))
    serial = None
    if jobs == 1 or threads is None:
        if threads is None:
            threads = pick_threads(bundle, overrides, device, width)
        torch.set_num_threads(threads)
        alone = net_seconds(NETS, bundle, overrides, device, width)
        serial = sum(alone.values())
        if jobs == 1:
            return Schedule(1, threads, serial, order=tuple(longest_first(alone)))
    pool = WorkerPool(jobs, threads=1 if serial is not None else threads)
    try:
        runs = pool.on_every_worker(net_seconds, NETS, bundle, overrides, device, width)
        together = {n: sum(r[n] for r in runs) / len(runs) for n in NETS}
        parallel = makespan(together, jobs)
    except BaseException:
        pool.close(cancel=True)
        raise
    if serial is not None and serial <= parallel:
        pool.close()
        return Schedule(1, threads, serial, serial=serial, parallel=parallel,
                        parallel_jobs=jobs, order=tuple(longest_first(alone)))
    return Schedule(jobs, pool.threads, parallel, pool, serial=serial, parallel=parallel,
                    parallel_jobs=jobs, order=tuple(longest_first(together)))
