"""Worker processes that train independent networks side by side, each on its own threads.

Small nets (the degradation lab's 16×16 images and 8-32 channels) leave a second core mostly
idle: their operations are too short to split well between threads. Measured by the planner on
the idle 2-core development machine (2026-12-02, docs/lab.md): one iteration of the four
degradation nets cost 0.33 s trained one after the other on two threads and 0.25 s trained two
at a time in two one-thread processes (1.3x more iterations in the same budget; a run of 5,007
iterations then took 23.4 min). Processes rather than threads, so that each has its
own torch runtime and intra-op pool; ``spawn`` rather than ``fork``, because forking a process
whose OpenMP pool has already started can hang its children.

A task's arguments and result travel by pickling, so the functions handed to a pool must be
importable module-level functions.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

from resnetlab.errors import ConfigError

# How long a worker waits for its siblings at a barrier before giving up: long enough for a
# slow start (importing torch in every process), short enough that a dead worker is reported.
BARRIER_SECONDS = 300.0

_barrier = None


def _start_worker(threads: int, barrier) -> None:
    global _barrier
    torch.set_num_threads(threads)
    _barrier = barrier


def _together(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    _barrier.wait(BARRIER_SECONDS)
    return fn(*args, **kwargs)


class WorkerPool:
    """``jobs`` worker processes with ``threads`` intra-op threads each.

    :meth:`submit` queues one task (a free worker takes it); :meth:`on_every_worker` runs the
    same call once in every worker *at the same moment* — a barrier holds each worker until all
    have arrived — which is how a probe measures the speed the workers get while they compete
    for the machine. Use as a context manager: on an error, queued tasks are cancelled.
    """

    def __init__(self, jobs: int, threads: int = 1) -> None:
        if jobs < 1 or threads < 1:
            raise ValueError(f"jobs and threads must be >= 1, got {jobs} and {threads}")
        context = multiprocessing.get_context("spawn")
        self.jobs = jobs
        self.threads = threads
        self._executor = ProcessPoolExecutor(jobs, mp_context=context,
                                             initializer=_start_worker,
                                             initargs=(threads, context.Barrier(jobs)))

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` in the next free worker."""
        return self._executor.submit(fn, *args, **kwargs)

    def on_every_worker(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        """``fn(*args, **kwargs)`` in every worker at once; their results, one per worker.

        The barrier also guarantees one call per worker: a worker waiting at it cannot take a
        second call, and it opens only when ``jobs`` calls are waiting.
        """
        futures = [self._executor.submit(_together, fn, args, kwargs) for _ in range(self.jobs)]
        return [self.result(future) for future in futures]

    @staticmethod
    def result(future: Future) -> Any:
        """The task's result; its exception re-raised here; a worker that died is a
        one-line :class:`ConfigError` with the usual cause and the way around it."""
        try:
            return future.result()
        except BrokenProcessPool:
            raise ConfigError(
                "a worker process stopped before finishing its task: a script that runs the lab "
                "must keep its code under `if __name__ == \"__main__\":` (each worker imports "
                "the script again), or pass --jobs 1 (jobs=1)") from None

    def close(self, cancel: bool = False) -> None:
        """Stop the workers; ``cancel`` (an error, Ctrl-C) drops queued tasks and stops the
        running ones instead of waiting for them."""
        if not cancel:
            self._executor.shutdown(wait=True)
            return
        # shutdown() cannot stop a running task, and the interpreter would wait for it at exit:
        # a net half-way through a 15-minute run would keep Ctrl-C from returning.
        workers = list(getattr(self._executor, "_processes", {}).values())
        manager = getattr(self._executor, "_executor_manager_thread", None)
        self._executor.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.terminate()
        # The executor's own thread sees the workers stop and reaps them. Joining them here as
        # well would race it for each exit status: the loser's waitpid fails and leaves a worker
        # that is gone looking alive (a failure seen once in CI). Only if that thread hangs do we
        # reap (and, past the timeout, kill) the workers ourselves.
        if manager is not None:
            manager.join(timeout=30)
        if manager is None or manager.is_alive():
            for worker in workers:
                worker.join(timeout=10)
                if worker.is_alive():
                    worker.kill()
                    worker.join(timeout=10)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(cancel=kind is not None)
