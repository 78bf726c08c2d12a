"""Micro-batching: concurrent predict requests for one model run as one batch.

Requests wait in a bounded :class:`asyncio.Queue`; one worker per model takes the first, then
gathers more until it holds ``max_batch`` of them or ``batch_wait_ms`` has passed, and runs the
batch in a thread (the event loop keeps accepting requests meanwhile). A full queue refuses at
once (503 with ``Retry-After``) instead of letting latency grow without bound; a stopping
server refuses what is still queued the same way.

Waiting for more requests uses an :class:`asyncio.Event` set by :meth:`MicroBatcher.submit`
rather than a timed ``queue.get()``: cancelling a timed-out ``get`` may drop an item on
Python 3.10-3.11, cancelling an event wait loses nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from resnetlab.serve.errors import ApiError

RETRY_AFTER_SECONDS = 1


def _refusal() -> ApiError:
    return ApiError(503, "the server is shutting down; retry on another instance",
                    {"Retry-After": str(RETRY_AFTER_SECONDS)})


@dataclass
class _Job:
    item: Any
    future: asyncio.Future


class MicroBatcher:
    """Run ``run(items) -> results`` (same order) on batches of submitted items.

    ``on_batch(size, seconds)`` is told about every batch run and ``on_depth(n)`` about the
    queue's length (metrics).
    """

    def __init__(self, run: Callable[[list[Any]], Sequence[Any]], *, max_batch: int,
                 wait_ms: float, max_queue: int,
                 on_batch: Callable[[int, float], None] | None = None,
                 on_depth: Callable[[int], None] | None = None) -> None:
        self._run = run
        self.max_batch = max(1, int(max_batch))
        self.wait = max(0.0, float(wait_ms)) / 1000
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=max(1, int(max_queue)))
        self._arrived = asyncio.Event()
        self._on_batch = on_batch or (lambda size, seconds: None)
        self._on_depth = on_depth or (lambda depth: None)
        self._worker: asyncio.Task | None = None
        self._closed = False

    @property
    def depth(self) -> int:
        """Requests waiting for a batch."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the worker (call from the running event loop)."""
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def submit(self, item: Any) -> Any:
        """Queue ``item`` and wait for its result; a full queue raises a 503 :class:`ApiError`."""
        if self._closed:
            raise _refusal()
        job = _Job(item, asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise ApiError(503, f"the server is busy ({self._queue.maxsize} requests queued); "
                           f"retry in {RETRY_AFTER_SECONDS} s",
                           {"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
        self._on_depth(self.depth)
        self._arrived.set()
        return await job.future

    async def _gather(self, jobs: list[_Job]) -> None:
        """Add queued jobs to ``jobs`` (in place) until it is full or the wait is over."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while True:
            while len(jobs) < self.max_batch and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            remaining = deadline - loop.time()
            if len(jobs) >= self.max_batch or remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                deadline = loop.time()  # one last look at the queue, then run

    async def _work(self) -> None:
        jobs: list[_Job] = []
        try:
            while True:
                jobs = [await self._queue.get()]
                await self._gather(jobs)
                self._on_depth(self.depth)
                jobs = [j for j in jobs if not j.future.done()]  # a client that left
                if jobs:
                    await self._run_batch(jobs)
                jobs = []
        except asyncio.CancelledError:  # stopped: what it held gets a refusal
            self._fail(jobs, _refusal())
            raise

    async def _run_batch(self, jobs: list[_Job]) -> None:
        start = time.perf_counter()
        try:
            results = await asyncio.to_thread(self._run, [j.item for j in jobs])
        except Exception as exc:  # the error goes to every request of the batch
            self._fail(jobs, exc)
            return
        self._on_batch(len(jobs), time.perf_counter() - start)
        for job, result in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

    async def stop(self) -> None:
        """Refuse new requests, refuse those still queued (503), stop the worker."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        queued = []
        while not self._queue.empty():
            queued.append(self._queue.get_nowait())
        self._fail(queued, _refusal())
        self._on_depth(0)

    @staticmethod
    def _fail(jobs: list[_Job], exc: BaseException) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(exc)
