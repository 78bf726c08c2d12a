"""Data-parallel training on PyTorch's own engine: torchrun starts the processes,
DistributedDataParallel averages the gradients, this module is the glue.

``torchrun --nproc-per-node N -m resnetlab train ...`` runs the single-process code path of
:func:`resnetlab.train.train` in every process; :func:`setup` reads the environment torchrun
sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``), joins the
process group (``nccl`` on CUDA, ``gloo`` on CPU) and returns a :class:`Dist`, the handful of
operations where one process and several differ:

* the recipe's batch is the *global* batch: each rank takes ``batch_size / world_size`` rows of
  it, so learning rate and schedule need no change when the number of processes does;
* per-step loss/accuracy and evaluations are all-reduced, so every number is global;
* only rank 0 touches the file system (run directory, checkpoints, logs, export); it also
  reads the checkpoint to resume from and broadcasts it, so other nodes need no shared disk.

Without ``WORLD_SIZE > 1`` in the environment everything is a no-op: ``Dist()`` is one process.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from resnetlab.errors import ConfigError, ResnetlabError
from resnetlab.hardware import resolve_device
from resnetlab.train.evaluate import Evaluation, metrics_from_logits
from resnetlab.train.sync_batchnorm import convert_sync_batchnorm

T = TypeVar("T")

TIMEOUT_ENV = "RESNETLAB_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Dist:
    """This process's place in the job (``Dist()``: a single process, every method trivial)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device | None = None  # chosen by setup() for a distributed rank

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that prints and writes files."""
        return self.rank == 0

    def pick_device(self, requested: str | torch.device | None) -> str | torch.device | None:
        """The device this rank trains on (``cuda:LOCAL_RANK`` under torchrun on GPUs)."""
        return self.device if self.device is not None else requested

    def local_batch_size(self, global_batch: int) -> int:
        """Rows of each global batch this rank computes; the split must be exact."""
        if global_batch % self.world_size:
            lower = global_batch - global_batch % self.world_size
            raise ConfigError(
                f"batch size {global_batch} cannot be split evenly over {self.world_size} "
                f"processes; pass --batch-size a multiple of {self.world_size} (e.g. "
                f"{lower or self.world_size} or {lower + self.world_size})"
            )
        return global_batch // self.world_size

    def prepare(self, model: nn.Module, sync_bn: bool = False) -> tuple[nn.Module, nn.Module]:
        """``(model, net)``: ``model`` (BatchNorm synchronised if ``sync_bn``) holds the weights
        that are saved, averaged and evaluated; ``net`` runs the training forward (the DDP
        wrapper that all-reduces gradients in backward, or ``model`` itself)."""
        if not self.enabled:
            return model, model
        if sync_bn:
            model = convert_sync_batchnorm(model, self.device)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return model, nn.parallel.DistributedDataParallel(model, device_ids=ids)

    # ------------------------------------------------------------------ reductions
    def _reduce(self, values: torch.Tensor, op=dist.ReduceOp.SUM) -> torch.Tensor:
        if not self.enabled:
            return values
        values = values.to(self.device)
        dist.all_reduce(values, op=op)
        return values.cpu()

    def batch_stats(self, loss: torch.Tensor, correct: int, count: int) -> tuple[float, int, int]:
        """``(mean loss, correct, count)`` of the global batch from this rank's share."""
        if not self.enabled:
            return float(loss), correct, count
        stats = torch.tensor([float(loss) * count, correct, count], dtype=torch.float64)
        total_loss, total_correct, total = self._reduce(stats).tolist()
        return total_loss / total, round(total_correct), round(total)

    def maximum(self, value: float) -> float:
        """The largest ``value`` over ranks (timings that must lead every rank to one choice)."""
        if not self.enabled:
            return value
        return float(self._reduce(torch.tensor([value], dtype=torch.float64),
                                  dist.ReduceOp.MAX)[0])

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every rank (any picklable object)."""
        if not self.enabled:
            return value
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def on_main(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on rank 0 only (file-system work) and give every rank its result, or
        raise its :class:`ResnetlabError` on every rank, so all of them stop together."""
        if not self.enabled:
            return fn(*args, **kwargs)
        result, error = None, None
        if self.is_main:
            try:
                result = fn(*args, **kwargs)
            except ResnetlabError as exc:
                error = exc
        result, error = self.broadcast((result, error))
        if error is not None:
            raise error
        return result

    # ------------------------------------------------------------------ evaluation
    def shard(self, dataset):
        """This rank's contiguous part of an evaluation set (the parts cover it exactly once)."""
        if not self.enabled:
            return dataset
        per = math.ceil(len(dataset) / self.world_size)
        return dataset.subset(slice(self.rank * per, (self.rank + 1) * per))

    def evaluation(self, logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[str],
                   tta: bool = False) -> Evaluation:
        """The :class:`Evaluation` of the whole set from each rank's logits on its shard."""
        if not self.enabled:
            return metrics_from_logits(logits, labels, classes, tta=tta)
        k, n = len(classes), int(labels.shape[0])
        sums = torch.zeros(3, dtype=torch.float64)  # images, top-5 hits, summed loss
        confusion = torch.zeros(k, k, dtype=torch.int64)
        if n:
            part = metrics_from_logits(logits, labels, classes, tta=tta)
            sums += torch.tensor([n, round(part.top5 * n), part.loss * n], dtype=torch.float64)
            confusion = part.confusion.to(torch.int64)
        n_all, top5_hits, loss_sum = self._reduce(sums).tolist()
        confusion = self._reduce(confusion)
        total = max(1.0, n_all)
        per_class_total = confusion.sum(dim=1)
        per_class = {
            str(c): (float(confusion[i, i]) / float(per_class_total[i])
                     if per_class_total[i] else 0.0)
            for i, c in enumerate(classes)
        }
        return Evaluation(
            top1=float(confusion.trace()) / total, top5=top5_hits / total,
            loss=loss_sum / total, n=round(n_all), classes=list(classes),
            per_class=per_class, confusion=confusion, tta=tta,
        )


SINGLE = Dist()


class NullLog:
    """Stands in for :class:`~resnetlab.train.metrics.MetricsLog` on ranks that write nothing."""

    def append(self, row: dict) -> None:
        pass

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------- joining the job
def _env_int(name: str, default: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        if default is None:
            raise ConfigError(f"{name} is not set; launch with torchrun, which sets it")
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; launch with torchrun") from None


def _timeout() -> timedelta:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r} must be a number of seconds > 0")
    return timedelta(seconds=seconds)


def _rank_device(requested: str | torch.device | None, local_rank: int) -> torch.device:
    device = requested if isinstance(requested, torch.device) else resolve_device(requested)
    if device.type == "cuda":
        if device.index is None:
            visible = torch.cuda.device_count()
            if local_rank >= visible:
                raise ConfigError(
                    f"local rank {local_rank} has no GPU ({visible} visible); start at most "
                    f"{visible} processes per node (torchrun --nproc-per-node {visible})"
                )
            device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return device


def setup(device: str | torch.device | None = None) -> Dist:
    """Join the process group described by torchrun's environment (once per process).

    Returns ``Dist()`` when ``WORLD_SIZE`` is unset or 1. The backend follows the device:
    ``nccl`` for CUDA (each rank on ``cuda:LOCAL_RANK`` unless a GPU index is given), ``gloo``
    for CPU. A rendezvous that cannot be reached within ``$RESNETLAB_DIST_TIMEOUT`` seconds
    (default 1800, also the collective timeout) raises a one-line :class:`ConfigError`.
    """
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return Dist()
    if not dist.is_available():
        raise ConfigError("this torch build has no torch.distributed; install a standard build")
    rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK", 0)
    dev = _rank_device(device, local_rank)
    if not dist.is_initialized():
        missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(k)]
        if missing:
            raise ConfigError(f"WORLD_SIZE={world} but {' and '.join(missing)} unset; launch "
                              "with torchrun, which sets them")
        endpoint = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
        backend = "nccl" if dev.type == "cuda" else "gloo"
        timeout = _timeout()
        try:
            with _stderr_held_unless_failing():
                dist.init_process_group(backend, store=_attempt_store(rank, world, timeout),
                                        rank=rank, world_size=world, timeout=timeout,
                                        device_id=dev if dev.type == "cuda" else None)
        except (RuntimeError, ValueError, OSError) as exc:
            reason = " ".join(str(exc).split())[:400] or type(exc).__name__
            raise ConfigError(
                f"rank {rank} of {world} could not join the process group at {endpoint} "
                f"({reason}); check that --rdzv-endpoint (MASTER_ADDR:MASTER_PORT) names the "
                f"rank-0 host and an open port, and that all {world} processes were started"
            ) from None
        atexit.register(_leave)
    return Dist(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                device=dev)


def _attempt_store(rank: int, world: int, timeout: timedelta) -> dist.Store:
    """The rendezvous store at ``MASTER_ADDR:MASTER_PORT``, private to this torchrun attempt.

    torchrun (torch 2.14) hands restarted workers the same agent store as the attempt before,
    keys included: a restarted rank could read the gloo address of a dead rank of the previous
    attempt and fail ("connectFullMesh failed ... Connection refused") or hang. The
    ``attempt_N`` prefix keeps each attempt's keys apart. Under torchrun the agent hosts the
    store; when processes are started by hand (environment variables only), rank 0 does.
    """
    agent_hosts = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world,
                          is_master=rank == 0 and not agent_hosts, timeout=timeout)
    return dist.PrefixStore(f"resnetlab/attempt_{restart_count()}", store)


@contextlib.contextmanager
def _stderr_held_unless_failing():
    """Hold what is written to file descriptor 2 inside the block, and pass it on unless the
    block fails: a failed rendezvous makes c10d's C++ logger print a stack trace per attempt,
    which would bury the one-line error that says what to fix."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if not failed:
                held.seek(0)
                os.write(2, held.read())


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def leave_error_to_rank_zero(exc: ResnetlabError) -> None:
    """On a rank other than 0 of a joined job, exit quietly with ``exc``'s exit code.

    Once the ranks have joined, they run the same code on the same (broadcast) inputs, so an
    error meets all of them at the same point and rank 0 reports it; the pause lets rank 0
    print before torchrun, seeing this process end, stops the others. Errors before joining
    (or when joining fails) are reported by every rank: each may have its own.
    """
    if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
        time.sleep(3.0)
        raise SystemExit(exc.exit_code) from None


def is_main_process() -> bool:
    """Rank 0 of a torchrun job, or a plain process (before or after :func:`setup`)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return _env_int("RANK", 0) == 0


# ---------------------------------------------------------------------- restarts
def restart_count() -> int:
    """How many times torchrun has restarted this job's workers (0 outside torchrun)."""
    return _env_int("TORCHELASTIC_RESTART_COUNT", 0)


def launch_settings(dist_: Dist, sync_bn: bool) -> dict[str, Any]:
    """What ``config.json`` records about the launch (also used to recognise a restart)."""
    return {"world_size": dist_.world_size, "sync_bn": bool(sync_bn and dist_.enabled),
            "elastic_run_id": os.environ.get("TORCHELASTIC_RUN_ID")}


def restart_action(run_dir: str | Path | None, resume_if_exists: bool) -> str:
    """What a new-run call does with ``run_dir``: ``"resume"`` it, ``"replace"`` it (a start
    of this very job that died before its first checkpoint) or ``"new"`` (the normal rules:
    refuse a non-empty directory unless --overwrite).

    ``resume_if_exists`` resumes any run that has a checkpoint. A torchrun restart
    (``TORCHELASTIC_RESTART_COUNT > 0``) resumes only a run its own job started: one whose
    ``config.json`` has this job's ``TORCHELASTIC_RUN_ID`` (``--rdzv-id``; a single-node
    torchrun draws a unique one), so a refused ``--out`` of an older run is never adopted.
    """
    if run_dir is None:
        if resume_if_exists:
            raise ConfigError("--resume-if-exists needs --out RUN_DIR, the run to continue "
                              "(or to start when it has no checkpoint)")
        if _env_int("TORCHELASTIC_MAX_RESTARTS", 0) > 0:
            # A default, time-stamped run directory would be a new one after each restart.
            raise ConfigError("torchrun --max-restarts needs --out RUN_DIR, so that restarted "
                              "workers find the checkpoints of the run they continue")
        return "new"
    has_checkpoint = (Path(run_dir) / "checkpoints" / "last.pt").is_file()
    if resume_if_exists and has_checkpoint:
        return "resume"
    if restart_count() == 0:
        return "new"
    try:
        config = json.loads((Path(run_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return "new"
    job = os.environ.get("TORCHELASTIC_RUN_ID")
    if not isinstance(config, dict) or config.get("elastic_run_id") != job:
        return "new"
    return "resume" if has_checkpoint else "replace"

