"""lab/parallel.py: every worker takes part in a probe, and a cancelled pool stops its workers
instead of leaving a running task for the interpreter to wait on (Ctrl-C in the lab)."""

from __future__ import annotations

import os
import time

from resnetlab.lab.parallel import WorkerPool


def test_a_probe_runs_once_in_every_worker_at_the_same_moment():
    with WorkerPool(2) as pool:
        pids = pool.on_every_worker(os.getpid)
    assert len(set(pids)) == 2 and os.getpid() not in pids


def test_cancelling_stops_running_tasks_and_their_workers():
    pool = WorkerPool(2)
    pool.on_every_worker(os.getpid)  # both workers started
    workers = list(pool._executor._processes.values())
    futures = [pool.submit(time.sleep, 600) for _ in range(2)]
    while not all(f.running() for f in futures):  # both tasks under way
        time.sleep(0.05)
    pool.close(cancel=True)
    assert workers and not any(w.is_alive() for w in workers)
