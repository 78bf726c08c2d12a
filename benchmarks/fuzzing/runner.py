"""Run one case in a forked child: memory limit, 30 s limit, output captured, files checked.

The campaign process imports torch and resnetlab once; each case forks from it (milliseconds),
so a crash, a hang or a leak stays in the child and the next case starts clean.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import traceback
from pathlib import Path

from benchmarks.fuzzing.case import Case
from benchmarks.fuzzing.classify import Outcome, classify

TIME_LIMIT_S = 30
MEMORY_LIMIT = 2 * 1024**3  # on top of what the campaign process itself maps


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """``relative path -> (size, mtime_ns)`` of everything under ``root`` (links not followed)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            found[str(path.relative_to(root))] = (st.st_size if not path.is_dir() else 0,
                                                  st.st_mtime_ns if not path.is_dir() else 0)
    return found


def _mapped_bytes() -> int:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmSize:"))
    return int(line.split()[1]) * 1024


def _run_in_child(case: Case) -> None:
    """The child's side: confine, redirect, run the target, write ``result.json``."""
    from benchmarks.fuzzing.targets import TARGETS
    from resnetlab.errors import ResnetlabError

    os.chdir(case.directory / "work")
    home = str(case.directory / "home")
    os.environ.update(HOME=home, RESNETLAB_CACHE=home, TORCH_HOME=home, MPLBACKEND="Agg",
                      XDG_CACHE_HOME=home)
    limit = _mapped_bytes() + MEMORY_LIMIT
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for fd, name in ((1, "stdout"), (2, "stderr")):
        target = os.open(case.directory / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
    # new Python streams on those descriptors: a test runner may have replaced sys.stderr
    sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
    try:
        value = TARGETS[case.target](*case.args)
        result = {"status": "cli", "rc": value} if case.target == "cli" else {"status": "returned"}
    except ResnetlabError as exc:
        result = {"status": "error", "message": str(exc), "exit_code": exc.exit_code}
    except AssertionError as exc:
        result = {"status": "wrong", "reason": f"accepted but wrong: {str(exc)[:200]}",
                  "detail": traceback.format_exc()}
    except BaseException as exc:  # noqa: BLE001 - everything else is exactly what we look for
        result = {"status": "crash", "reason": f"{type(exc).__name__}: {str(exc)[:200]}",
                  "detail": traceback.format_exc()}
    sys.stdout.flush()
    sys.stderr.flush()
    (case.directory / "result.json").write_text(json.dumps(result))


def _wait(pid: int) -> dict | None:
    """Wait for the child; a result dict for a hang or a kill, None when it exited normally."""
    fd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([fd], [], [], TIME_LIMIT_S)
    finally:
        os.close(fd)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return {"status": "hang", "reason": f"no result within {TIME_LIMIT_S} s"}
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"status": "killed", "reason": f"child killed by signal {os.WTERMSIG(status)}"}
    return None


def _fs_problems(case: Case, before: dict, keep: dict[Path, bytes], watched: list[tuple]) -> list:
    problems = []
    if case.marker.exists():
        problems.append("a pickle ran code: the marker file was created")
    after = snapshot(case.inputs)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        problems.append(f"input folder changed: {', '.join(changed[:5])}")
    for path, content in keep.items():
        if not path.is_file() or path.read_bytes() != content:
            problems.append(f"existing file {path.name} changed without --overwrite")
    for root, old in watched:
        if snapshot(root) != old:
            problems.append(f"files written outside the output directory, in {root}")
    allowed = {"in", "out", "work", "home", "stdout", "stderr", "result.json"}
    stray = sorted(p.name for p in case.directory.iterdir() if p.name not in allowed)
    if stray:
        problems.append(f"files written outside the output directory: {', '.join(stray)}")
    return problems


def run_case(case: Case, watched: list[tuple[Path, dict]]) -> Outcome:
    """Fork, run ``case`` in the child, classify. ``watched`` are (folder, snapshot) pairs that
    must not change (the seeds, the cases' parent folder)."""
    before = snapshot(case.inputs)
    keep = {p: p.read_bytes() for p in case.keep}
    pid = os.fork()
    if pid == 0:
        try:
            _run_in_child(case)
        finally:
            os._exit(0)
    result = _wait(pid)
    if result is None:
        path = case.directory / "result.json"
        result = json.loads(path.read_text()) if path.is_file() else {
            "status": "killed", "reason": "child exited without a result"}
        path.unlink(missing_ok=True)
    stderr_path = case.directory / "stderr"
    stderr = stderr_path.read_text(errors="replace") if stderr_path.is_file() else ""
    return classify(result, stderr, _fs_problems(case, before, keep, watched))
