"""One process per run directory: the ``.lock`` file and its holder.

A run holds ``RUN_DIR/.lock`` (JSON: pid, host, process start time, since) from before its
first write to its exit; a second ``train``/``finetune``/``--resume`` on the same directory
stops with :class:`RunLocked` (exit 2) naming the holder. A lock whose process is gone (killed,
crashed, the machine rebooted) is stale: the next run on the same host sees that the pid is not
alive, or is alive but is another process (its start time differs), and takes the lock over.

Why an ``O_EXCL``-style file and not ``fcntl.flock``: flock is released by the kernel when the
holder dies, which is what makes it attractive, but on network file systems (NFS, Lustre,
GPFS: where long runs live) it is emulated, local to one client, or fails with ``ENOSYS``, so
two nodes could both "hold" it; and it says nothing about *who* holds it. A file created
atomically (written in full to a temp file, then ``os.link``-ed to ``.lock``, which fails if
one exists) works on every file system that has hard links, shows the holder to the user, and
gets flock's one advantage back by the stale check. What it cannot do is judge a lock held
from another host: that one is reported with the instruction to delete it if that run is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from resnetlab.errors import ResnetlabError
from resnetlab.files import disk_error

LOCK = ".lock"


class RunLocked(ResnetlabError):
    """Another live process is training in this run directory (exit 2, a usage error)."""

    exit_code = 2


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux ``/proc``; None elsewhere or if gone): with
    the pid, it tells a live holder from an unrelated process that got its pid later."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22, counted after "pid (comm)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def holder(path: Path) -> dict[str, Any] | None:
    """The holder recorded in the lock file ``path`` (None if there is none or it is
    unreadable)."""
    try:
        info = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def is_stale(info: dict[str, Any] | None) -> bool:
    """Whether a lock's holder is certainly gone: it ran on this host and its pid is not
    alive, or belongs to a process started at another time. A lock from another host is
    never judged stale; an unreadable one is (locks are written in full before they appear)."""
    if info is None:
        return True
    if info.get("host") != socket.gethostname():
        return False
    pid = info.get("pid")
    if not isinstance(pid, int) or pid <= 0 or not _alive(pid):
        return True
    started = info.get("started")
    now = _start_time(pid)
    return started is not None and now is not None and started != now


def describe(info: dict[str, Any] | None) -> str:
    """"pid 123 on host since 2026-12-02T07:30:00+0000" (what the error shows)."""
    info = info or {}
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('since', '?')}"


def check_free(run_dir: Path) -> None:
    """Raise :class:`RunLocked` if a live process holds ``run_dir`` (before ``--overwrite``
    deletes it, say)."""
    path = Path(run_dir) / LOCK
    if path.exists():
        info = holder(path)
        if not is_stale(info):
            raise _locked(run_dir, info)


def _locked(run_dir: Path, info: dict[str, Any] | None) -> RunLocked:
    elsewhere = info is not None and info.get("host") != socket.gethostname()
    hint = (f"if that run is gone, delete {Path(run_dir) / LOCK}" if elsewhere
            else "wait for it to end or stop it")
    return RunLocked(f"run directory {run_dir} is in use by another resnetlab run "
                     f"({describe(info)}); {hint}, or choose another --out")


class RunLock:
    """``with RunLock(run_dir):`` holds ``run_dir/.lock`` for the block (see the module).

    Released on every way out of the block (return, exception, Ctrl-C); a SIGKILL leaves the
    file, which the next run finds stale. ``held=False`` makes a no-op lock (the other ranks of
    a torchrun job: rank 0 holds it for all)."""

    def __init__(self, run_dir: Path, held: bool = True) -> None:
        self.path = Path(run_dir) / LOCK
        self.held = held
        self.info = {"pid": os.getpid(), "host": socket.gethostname(),
                     "started": _start_time(os.getpid()),
                     "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Create the lock file, taking over a stale one; :class:`RunLocked` if held."""
        if not self.held:
            return
        for _ in range(3):  # a stale lock removed by us, then one more try (and a race)
            if self._create():
                return
            info = holder(self.path)
            if not is_stale(info):
                raise _locked(self.path.parent, info)
            # Re-read just before removing: another newcomer may have replaced the stale lock
            # with its own in the meantime, and that one must stay.
            if holder(self.path) == info:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        raise _locked(self.path.parent, holder(self.path))

    def _create(self) -> bool:
        """Write the holder to a temp file and hard-link it to ``.lock`` (atomic, fails if the
        lock exists); True if this process now holds it. Where hard links are not supported,
        ``O_EXCL`` (the lock may be seen empty for an instant, then read as stale)."""
        text = json.dumps(self.info).encode()
        directory = self.path.parent
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-lock.", dir=directory)
            try:
                os.write(fd, text)
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return False
            except OSError:  # no hard links here (some FUSE/SMB mounts)
                try:
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    return False
                with os.fdopen(fd, "wb") as fh:
                    fh.write(text)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        except OSError as exc:  # read-only, full or missing run directory: before any work
            raise disk_error(self.path, exc, "nothing was written; make the run directory "
                             "writable or choose another --out") from None
        return True

    def release(self) -> None:
        """Remove the lock if it is still this process's (never another run's)."""
        if self.held and holder(self.path) == self.info:
            with contextlib.suppress(OSError):
                self.path.unlink()
